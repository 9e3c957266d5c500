//! AEC3 through `sonora`, a Rust port of WebRTC's audio processing module.

use sonora::config::EchoCanceller as AecSettings;
use sonora::{AudioProcessing, Config, StreamConfig};

use super::{BLOCK, EchoError, check_block};
use crate::SAMPLE_RATE;

/// Echo canceller on `sonora`'s AEC3 (with its high-pass filter; no noise
/// suppression or gain control, which the capture chain does itself).
pub struct SonoraCanceller {
    apm: AudioProcessing,
}

impl std::fmt::Debug for SonoraCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SonoraCanceller").finish_non_exhaustive()
    }
}

impl Default for SonoraCanceller {
    fn default() -> Self {
        Self::new()
    }
}

impl SonoraCanceller {
    /// A canceller for 48 kHz mono in 10 ms blocks.
    pub fn new() -> Self {
        let stream = StreamConfig::new(SAMPLE_RATE, 1);
        let config = Config {
            echo_canceller: Some(AecSettings::default()),
            ..Default::default()
        };
        let apm = AudioProcessing::builder()
            .config(config)
            .capture_config(stream)
            .render_config(stream)
            .build();
        Self { apm }
    }

    /// Takes one block of what was played (`far`) and the capture of the
    /// same 10 ms (`near`), and writes the capture with the echo removed
    /// into `out`. All three are [`BLOCK`] samples.
    pub fn process(&mut self, far: &[f32], near: &[f32], out: &mut [f32]) -> Result<(), EchoError> {
        self.render(far)?;
        self.capture(near, out)
    }

    /// Takes one block of what is being played: the reference the echo
    /// is looked for in. Called as blocks go to the device; AEC3 buffers
    /// them and finds the delay to the capture itself.
    pub fn render(&mut self, far: &[f32]) -> Result<(), EchoError> {
        check_block(far)?;
        let mut far_out = [0.0f32; BLOCK];
        self.apm
            .process_render_f32(&[far], &mut [&mut far_out])
            .map_err(failed)
    }

    /// Takes one block of the capture and writes it with the echo of what
    /// was rendered removed into `out`.
    pub fn capture(&mut self, near: &[f32], out: &mut [f32]) -> Result<(), EchoError> {
        check_block(near)?;
        check_block(out)?;
        self.apm
            .process_capture_f32(&[near], &mut [out])
            .map_err(failed)
    }

    /// The playback-to-capture delay AEC3 has estimated, if it has one.
    pub fn estimated_delay_ms(&self) -> Option<i32> {
        self.apm.statistics().delay_ms
    }
}

fn failed(e: sonora::Error) -> EchoError {
    EchoError::Canceller {
        candidate: "sonora",
        message: e.to_string(),
    }
}
