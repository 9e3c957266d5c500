//! Sample-rate conversion between a device and the engine's 48 kHz.

use rubato::{FftFixedInOut, Resampler};

use crate::AudioError;

/// Converts a mono stream from one rate to another, in any block sizes.
pub struct StreamResampler {
    inner: Option<FftFixedInOut<f32>>,
    pending: Vec<f32>,
    out: Vec<Vec<f32>>,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("active", &self.inner.is_some())
            .finish()
    }
}

impl StreamResampler {
    /// A converter from `from` Hz to `to` Hz (a pass-through when equal).
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        let inner = if from == to {
            None
        } else {
            let chunk = (from / 100).max(1) as usize;
            Some(
                FftFixedInOut::new(from as usize, to as usize, chunk, 1)
                    .map_err(|e| AudioError::Device(format!("resampler {from}→{to} Hz: {e}")))?,
            )
        };
        let out = match &inner {
            Some(r) => vec![vec![0.0; r.output_frames_max()]],
            None => Vec::new(),
        };
        Ok(Self {
            inner,
            pending: Vec::new(),
            out,
        })
    }

    /// Feeds `input`, appending converted samples to `output`.
    pub fn process(&mut self, input: &[f32], output: &mut Vec<f32>) {
        let Some(r) = self.inner.as_mut() else {
            output.extend_from_slice(input);
            return;
        };
        self.pending.extend_from_slice(input);
        loop {
            let need = r.input_frames_next();
            if self.pending.len() < need {
                break;
            }
            match r.process_into_buffer(&[&self.pending[..need]], &mut self.out, None) {
                Ok((used, produced)) => {
                    output.extend_from_slice(&self.out[0][..produced]);
                    self.pending.drain(..used);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "resampler failed; dropping a block");
                    self.pending.drain(..need);
                }
            }
        }
    }
}
