//! Encoder settings (DESIGN §8).

use crate::AudioError;

/// Opus encoder settings; 48 kHz mono VOIP is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// Frame duration in ms: 10, 20, 40 or 60.
    pub frame_ms: u32,
    /// Target bitrate in bit/s, 6,000–128,000.
    pub bitrate: u32,
    /// Discontinuous transmission (near-empty packets in silence).
    pub dtx: bool,
}

impl Default for OpusSettings {
    fn default() -> Self {
        Self {
            frame_ms: 20,
            bitrate: 32_000,
            dtx: true,
        }
    }
}

impl OpusSettings {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), AudioError> {
        if ![10, 20, 40, 60].contains(&self.frame_ms) {
            return Err(AudioError::InvalidSetting(format!(
                "frame duration {} ms (use 10, 20, 40 or 60)",
                self.frame_ms
            )));
        }
        if !(6_000..=128_000).contains(&self.bitrate) {
            return Err(AudioError::InvalidSetting(format!(
                "bitrate {} b/s (use 6000 to 128000)",
                self.bitrate
            )));
        }
        Ok(())
    }

    /// Samples per frame at 48 kHz.
    pub fn frame_samples(&self) -> usize {
        self.frame_ms as usize * 48
    }
}
