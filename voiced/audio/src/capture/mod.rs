//! Capture chain: 10 ms frames → noise suppression and voice probability →
//! gate → Opus packets (DESIGN §8).

mod agc;
mod chain;
mod denoise;
mod gate;

pub use agc::AutoGain;
pub use chain::{CaptureChain, CaptureMode};
pub use denoise::{Denoiser, peak_dbfs};
pub use gate::{Gate, GateSettings, GateStep};
