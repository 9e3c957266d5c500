//! `voice-proto`: everything the voice chat client and server must agree on.
//!
//! - [`pb`]: the generated protobuf types and gRPC services of the three interfaces
//!   (`wire` client↔server, `control` front end↔voiced, `admin` operator↔server);
//! - [`state`]: the shared state model, its canonical [`StateHash`], validated
//!   [`Change`](pb::wire::Change)s with their inverses, and proposals;
//! - [`acl`]: effective permissions of a session in a room and why;
//! - [`voice`]: the voice datagram headers; [`frame`]: the length-prefixed stream frames;
//! - [`auth`]: the handshake transcript that a client signs;
//! - [`torrent`]: the BitTorrent info dictionaries a sharer publishes to the tracker;
//! - [`history`]: the chat chain of a room and its canonical history snapshot.
//!
//! The crate does no I/O: every function is pure and every decoder has a size limit.

pub mod acl;
pub mod auth;
pub mod close;
pub mod frame;
pub mod hash;
pub mod history;
pub mod limits;
pub mod pb;
pub mod state;
pub mod text;
pub mod time;
pub mod torrent;
pub mod voice;

pub use hash::StateHash;
pub use limits::Limits;
pub use state::State;

/// The version number carried in `Challenge` and `Authenticate`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The QUIC ALPN of the client↔server protocol.
pub const ALPN: &[u8] = b"voice/1";

/// The UDP port a server listens on when none is given.
pub const DEFAULT_PORT: u16 = 7878;
