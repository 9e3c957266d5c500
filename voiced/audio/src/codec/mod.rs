//! Opus through `opusic-c` (bundled libopus ≥ 1.5, deep PLC and NoLACE).

mod decoder;
mod encoder;
mod settings;

pub use decoder::VoiceDecoder;
pub use encoder::{VoiceEncoder, expected_loss_for};
pub use settings::OpusSettings;

/// The libopus version linked in.
pub fn libopus_version() -> &'static str {
    opusic_c::version()
}
