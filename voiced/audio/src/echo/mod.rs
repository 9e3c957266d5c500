//! Acoustic echo cancellation (issue 21): what the speaker plays (the
//! far-end reference) is removed from what the microphone captures.
//!
//! Two pure-Rust ports of WebRTC's AEC3 were measured with the same
//! shape, 10 ms blocks of 48 kHz mono in and out, by `examples/echo`
//! (which keeps the other, `aec3`, as a dev-dependency); [`EchoCanceller`]
//! names the one chosen by those figures (docs/adr-echo-cancellation.md). Neither takes a configured
//! delay: AEC3 estimates the playback-to-capture delay itself.
//!
//! [`EchoStage`] is what the capture chain runs: the chosen canceller fed
//! with every block the engine plays, guarded so that a microphone with
//! nothing played lately goes out untouched.

mod sonora_aec3;
mod stage;

pub use sonora_aec3::SonoraCanceller;
pub use stage::{EchoStage, LATENCY};

/// The canceller the capture chain is to use.
pub type EchoCanceller = SonoraCanceller;

/// Samples in one block: 10 ms at 48 kHz, the engine's frame.
pub const BLOCK: usize = crate::FRAME_10MS;

/// A canceller refused a block.
#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    /// A block was not 10 ms of 48 kHz mono.
    #[error("echo canceller blocks are {BLOCK} samples (10 ms at 48 kHz), got {got}")]
    BlockSize {
        /// Samples in the block passed.
        got: usize,
    },
    /// The underlying canceller failed.
    #[error("echo canceller ({candidate}) failed: {message}")]
    Canceller {
        /// Which crate failed.
        candidate: &'static str,
        /// Its own words.
        message: String,
    },
}

fn check_block(block: &[f32]) -> Result<(), EchoError> {
    if block.len() == BLOCK {
        Ok(())
    } else {
        Err(EchoError::BlockSize { got: block.len() })
    }
}

#[cfg(test)]
mod tests;
