//! Audio engine of `voiced`: capture, noise suppression and voice detection,
//! Opus, per-speaker jitter buffers, mixing, and device backends.
//!
//! It knows nothing of the network or the daemon. Its two interfaces are
//! "PCM from a device in, Opus packets with `(seq, end_of_burst)` out" and
//! "Opus packets per speaker in ([`IncomingPacket`]), mixed PCM to a device
//! out", plus [`AudioEvent`]s for meters and device changes (DESIGN §8). It
//! takes no wire types, so it can be embedded in any client; the caller
//! translates its datagrams.

pub mod backend;
pub mod capture;
pub mod codec;
pub mod echo;
mod engine;
mod error;
mod events;
pub mod media;
pub mod playback;
mod priority;
mod voice_queue;
mod wake;

pub use engine::{Engine, EngineConfig};
pub use error::AudioError;
pub use events::{AudioEvent, Direction, Speaker, StallAction};
pub use voice_queue::{VOICE_QUEUE, VoiceQueueStats};

/// The engine's sample rate: everything inside runs at 48 kHz mono.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 10 ms processing frame (the noise suppressor's frame).
pub const FRAME_10MS: usize = 480;

/// One Opus packet leaving the capture chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingPacket {
    /// Sender's sequence number, one per packet, wrapping.
    pub seq: u32,
    /// The packet ends a talk burst (it may then carry no Opus data).
    pub end_of_burst: bool,
    /// The Opus packet; empty only on an end-of-burst marker.
    pub opus: Vec<u8>,
}

/// One Opus packet from a remote speaker, as the caller received it (the
/// caller's transport decides how it travels; the engine only needs these
/// four fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncomingPacket<'a> {
    /// Who sent it (a session id or any other stable number per speaker).
    pub speaker: u32,
    /// The sender's sequence number, one per packet, wrapping.
    pub seq: u32,
    /// The packet ends the speaker's talk burst.
    pub end_of_burst: bool,
    /// The Opus packet; may be empty on an end-of-burst marker.
    pub opus: &'a [u8],
}
