//! A latency histogram shared by every receiver: 5 µs buckets up to 1 s,
//! atomic counters (no lock per packet).

use std::sync::atomic::{AtomicU64, Ordering};

/// Bucket width in µs.
const BUCKET_US: u64 = 5;
/// Buckets (the last one holds everything at or above 1 s).
const BUCKETS: usize = 200_000;

/// Counts of latencies.
#[derive(Debug)]
pub struct Histogram {
    buckets: Vec<AtomicU64>,
    max_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max_us: AtomicU64::new(0),
        }
    }

    /// Records one latency in µs.
    pub fn record(&self, us: u64) {
        let i = ((us / BUCKET_US) as usize).min(BUCKETS - 1);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        for b in &self.buckets {
            b.store(0, Ordering::Relaxed);
        }
        self.max_us.store(0, Ordering::Relaxed);
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The largest latency, in ms.
    pub fn max_ms(&self) -> f64 {
        self.max_us.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// The `q` quantile (0–1) in ms (bucket midpoint); `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                let us = i as f64 * BUCKET_US as f64 + BUCKET_US as f64 / 2.0;
                return Some(us / 1000.0);
            }
        }
        Some(self.max_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_uniform_spread() {
        let h = Histogram::new();
        assert_eq!(h.quantile_ms(0.5), None);
        for us in 0..1000 {
            h.record(us);
        }
        let p50 = h.quantile_ms(0.5).unwrap();
        let p99 = h.quantile_ms(0.99).unwrap();
        assert!((0.49..=0.51).contains(&p50), "{p50}");
        assert!((0.985..=0.995).contains(&p99), "{p99}");
        h.record(5_000_000);
        assert_eq!(h.max_ms(), 5000.0);
        h.clear();
        assert_eq!(h.count(), 0);
    }
}
