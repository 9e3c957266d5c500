//! RNNoise (nnnoiseless): noise suppression and voice probability.

use nnnoiseless::DenoiseState;

use crate::FRAME_10MS;

/// RNNoise works on 16-bit sample values held in `f32`.
const SCALE: f32 = 32_768.0;

/// Noise suppression for one microphone.
pub struct Denoiser {
    state: Box<DenoiseState<'static>>,
    scaled: [f32; FRAME_10MS],
    out: [f32; FRAME_10MS],
}

impl std::fmt::Debug for Denoiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Denoiser").finish_non_exhaustive()
    }
}

impl Default for Denoiser {
    fn default() -> Self {
        Self::new()
    }
}

impl Denoiser {
    /// A fresh suppressor with the built-in model.
    pub fn new() -> Self {
        Self {
            state: DenoiseState::new(),
            scaled: [0.0; FRAME_10MS],
            out: [0.0; FRAME_10MS],
        }
    }

    /// Denoises one 10 ms frame in place (±1.0 range); returns the voice
    /// probability (0–1).
    pub fn process(&mut self, frame: &mut [f32; FRAME_10MS]) -> f32 {
        for (s, x) in self.scaled.iter_mut().zip(frame.iter()) {
            *s = x * SCALE;
        }
        let vad = self.state.process_frame(&mut self.out, &self.scaled);
        for (x, o) in frame.iter_mut().zip(self.out.iter()) {
            *x = (o / SCALE).clamp(-1.0, 1.0);
        }
        vad
    }
}

/// Peak level of a frame in dBFS, −100 for digital silence.
pub fn peak_dbfs(frame: &[f32]) -> f32 {
    let peak = frame.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if peak <= 1e-5 {
        -100.0
    } else {
        20.0 * peak.log10()
    }
}
