//! Playback chain: per-speaker jitter buffers, FEC then PLC, per-user volume
//! and local mute, mixing with a limiter, deafen (DESIGN §8).

mod jitter;
mod limiter;
mod mixer;
mod output_queue;
mod speaker;

pub use jitter::{JitterBuffer, JitterSettings, Playout};
pub use limiter::Limiter;
pub use mixer::{MAX_SPEAKERS, Mixer};
pub use output_queue::OutputQueue;
pub use speaker::SpeakerStream;
