//! A peak limiter for the mix: instant attack, smooth release.

/// Keeps the mix below full scale without hard clipping on overlaps.
#[derive(Debug, Clone)]
pub struct Limiter {
    ceiling: f32,
    gain: f32,
    release: f32,
}

impl Default for Limiter {
    fn default() -> Self {
        Self::new(0.9, 0.1)
    }
}

impl Limiter {
    /// A limiter to `ceiling` (linear) releasing over about `release_secs`.
    pub fn new(ceiling: f32, release_secs: f32) -> Self {
        let release = 1.0 - (-1.0 / (release_secs * crate::SAMPLE_RATE as f32)).exp();
        Self {
            ceiling,
            gain: 1.0,
            release,
        }
    }

    /// The current gain.
    pub fn gain(&self) -> f32 {
        self.gain
    }

    /// Limits a block in place.
    pub fn process(&mut self, block: &mut [f32]) {
        for x in block {
            let peak = x.abs() * self.gain;
            if peak > self.ceiling {
                self.gain = self.ceiling / x.abs();
            } else {
                self.gain += (1.0 - self.gain) * self.release;
            }
            *x = (*x * self.gain).clamp(-1.0, 1.0);
        }
    }
}
