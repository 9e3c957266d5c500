//! Capped exponential backoff with jitter for reconnecting.

use std::time::Duration;

/// Reconnect delays: `base * 2^attempt`, capped, then scaled by a random
/// factor in [0.5, 1.0] so many clients of a restarted server spread out.
#[derive(Clone, Debug)]
pub struct Backoff {
    /// First delay.
    pub base: Duration,
    /// Longest delay.
    pub cap: Duration,
}

impl Default for Backoff {
    /// 100 ms doubling up to 1 s: a restarted server sees its clients back
    /// within about 2 s (an attempt itself gives up after 2 s).
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
        }
    }
}

impl Backoff {
    /// The delay before attempt number `attempt` (0-based), with `jitter`
    /// in [0, 1].
    pub fn delay_with(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX));
        let capped = exp.min(self.cap);
        capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// The delay before attempt number `attempt`, with random jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let mut b = [0u8; 2];
        let jitter = match getrandom::getrandom(&mut b) {
            Ok(()) => f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX),
            Err(_) => 1.0,
        };
        self.delay_with(attempt, jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_and_jitters_within_bounds() {
        let b = Backoff::default();
        assert_eq!(b.delay_with(0, 1.0), Duration::from_millis(100));
        assert_eq!(b.delay_with(2, 1.0), Duration::from_millis(400));
        assert_eq!(b.delay_with(30, 1.0), Duration::from_millis(1000));
        assert_eq!(b.delay_with(30, 0.0), Duration::from_millis(500));
        for n in 0..40 {
            let d = b.delay(n);
            assert!(d <= b.cap && d >= b.base / 2, "{d:?}");
        }
    }
}
