//! AEC3 through `aec3` (aec3-rs), another Rust port of WebRTC's AEC3,
//! driven through its linear pipeline with only the high-pass filter and
//! the canceller on. Only the harness uses it (a dev-dependency): the
//! engine runs sonora (docs/adr-echo-cancellation.md).

use aec3::nodes::audio::AudioFormat;
use aec3::pipelines::linear::{self, LinearPipeline};
use voice_audio::SAMPLE_RATE;
use voice_audio::echo::{BLOCK, EchoError};

fn check_block(block: &[f32]) -> Result<(), EchoError> {
    if block.len() == BLOCK {
        Ok(())
    } else {
        Err(EchoError::BlockSize { got: block.len() })
    }
}

/// Echo canceller on the `aec3` crate.
pub struct Aec3RsCanceller {
    pipeline: LinearPipeline,
}

impl std::fmt::Debug for Aec3RsCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aec3RsCanceller").finish_non_exhaustive()
    }
}

impl Aec3RsCanceller {
    /// A canceller for 48 kHz mono in 10 ms blocks.
    pub fn new() -> Result<Self, EchoError> {
        let format = AudioFormat::ten_ms(SAMPLE_RATE, 1);
        let pipeline = linear::builder(format, format)
            .enable_noise_suppression(false)
            .enable_gain_controller2(false)
            .enable_post_filter(false)
            .build()
            .map_err(failed)?;
        Ok(Self { pipeline })
    }

    /// Takes one block of what was played (`far`) and the capture of the
    /// same 10 ms (`near`), and writes the capture with the echo removed
    /// into `out`. All three are [`super::BLOCK`] samples; `out` is silence
    /// when the pipeline has no block to give yet.
    pub fn process(&mut self, far: &[f32], near: &[f32], out: &mut [f32]) -> Result<(), EchoError> {
        check_block(far)?;
        check_block(near)?;
        check_block(out)?;
        self.pipeline.handle_render_frame(far).map_err(failed)?;
        self.pipeline
            .process_capture_frame(near, out)
            .map_err(failed)?;
        Ok(())
    }
}

fn failed(e: aec3::graph::GraphError) -> EchoError {
    EchoError::Canceller {
        candidate: "aec3",
        message: e.to_string(),
    }
}
