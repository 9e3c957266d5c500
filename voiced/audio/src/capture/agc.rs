//! Automatic gain control on the microphone: WebRTC's AGC2 adaptive
//! digital controller through `sonora` (speech level estimated with its
//! own voice detector, gain changed at most 6 dB a second, a limiter
//! after it), run after echo cancellation and before noise suppression.

use sonora::config::{AdaptiveDigital, GainController2};
use sonora::{AudioProcessing, Config, StreamConfig};

use crate::{FRAME_10MS, SAMPLE_RATE};

/// The gain controller, in 10 ms blocks of 48 kHz mono.
pub struct AutoGain {
    apm: AudioProcessing,
    failed: bool,
}

impl std::fmt::Debug for AutoGain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoGain").finish_non_exhaustive()
    }
}

impl Default for AutoGain {
    fn default() -> Self {
        Self::new()
    }
}

impl AutoGain {
    /// AGC2 with WebRTC's adaptive digital defaults, except that it starts
    /// at 0 dB rather than 15 dB: a microphone already at a good level is
    /// not blasted for the seconds the controller takes to measure it.
    pub fn new() -> Self {
        let stream = StreamConfig::new(SAMPLE_RATE, 1);
        let config = Config {
            gain_controller2: Some(GainController2 {
                adaptive_digital: Some(AdaptiveDigital {
                    initial_gain_db: 0.0,
                    ..AdaptiveDigital::default()
                }),
                ..GainController2::default()
            }),
            ..Config::default()
        };
        let apm = AudioProcessing::builder()
            .config(config)
            .capture_config(stream)
            .render_config(stream)
            .build();
        Self { apm, failed: false }
    }

    /// One block, its gain adjusted in place.
    pub fn process(&mut self, frame: &mut [f32; FRAME_10MS]) {
        let input = *frame;
        if let Err(e) = self
            .apm
            .process_capture_f32(&[&input[..]], &mut [&mut frame[..]])
        {
            *frame = input;
            if !self.failed {
                self.failed = true;
                tracing::warn!(error = %e, "gain control failed; the microphone goes out as captured");
            }
        }
    }
}
