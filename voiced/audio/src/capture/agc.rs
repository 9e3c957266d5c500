//! Automatic gain control on the microphone: WebRTC's AGC2 adaptive
//! digital controller through `sonora` (speech level estimated with its
//! own voice detector, gain changed at most 6 dB a second, a limiter
//! after it), run after echo cancellation and before noise suppression.
//!
//! While the far end plays (echo possible), the controller does not adapt:
//! the gain it last applied is held. Otherwise it would hear the echo
//! canceller's faint residue as a quiet talker and raise its gain until
//! that residue opened the voice gate (seen on a real echo path: the far
//! side heard itself about 20 dB down after its first sentence).

use sonora::config::{AdaptiveDigital, GainController2};
use sonora::{AudioProcessing, Config, StreamConfig};

use crate::{FRAME_10MS, SAMPLE_RATE};

/// The gain controller, in 10 ms blocks of 48 kHz mono.
pub struct AutoGain {
    apm: AudioProcessing,
    failed: bool,
    /// The gain the controller applied lately (linear, smoothed), held
    /// while the far end plays.
    gain: f32,
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
        Self {
            apm,
            failed: false,
            gain: 1.0,
        }
    }

    /// One block, its gain adjusted in place. With `hold` (the far end is
    /// playing) the controller is not run: the gain it last applied is.
    pub fn process(&mut self, frame: &mut [f32; FRAME_10MS], hold: bool) {
        if hold {
            for x in frame.iter_mut() {
                *x = (*x * self.gain).clamp(-1.0, 1.0);
            }
            return;
        }
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
            return;
        }
        // The gain it applied, from blocks loud enough to tell (−60 dBFS RMS).
        let energy = |x: &[f32]| x.iter().map(|v| v * v).sum::<f32>();
        let (before, after) = (energy(&input), energy(&frame[..]));
        if before > 1e-6 * FRAME_10MS as f32 {
            let measured = (after / before).sqrt();
            self.gain = 0.9 * self.gain + 0.1 * measured;
        }
    }

    /// The gain applied lately (linear).
    pub fn gain(&self) -> f32 {
        self.gain
    }
}
