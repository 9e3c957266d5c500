//! `voice-net`: the QUIC and TLS pieces that the server, the client daemon
//! (`voiced`) and the load generator (`voice-bench`) share, so each exists
//! once:
//!
//! - [`transport`]: the quinn transport settings of docs/protocol.md, for a
//!   client and for the server, with [`congestion`]'s window floor for live
//!   voice;
//! - [`tls`]: certificate fingerprints, the crypto provider, and a client
//!   configuration speaking ALPN `voice/1` with a caller's [`tls::CertPolicy`];
//! - [`frames`]: length-prefixed envelopes on QUIC streams (read with a size
//!   limit, write one);
//! - [`login`]: the client side of the login (`Hello` → `Challenge` →
//!   `Authenticate` → `Welcome`);
//! - [`fsutil`]: private files written atomically and durably (the
//!   daemon's config and identity, the server's certificate and secrets).
//!
//! What needs no I/O (frame decoding, limits, the signed transcript) lives
//! in `voice-proto`; this crate adds quinn and rustls around it.

pub mod congestion;
pub mod frames;
pub mod fsutil;
pub mod login;
pub mod tls;
pub mod transport;

pub use frames::{ChunkRead, FrameReader, ReadError, WriteError};
pub use login::{LoggedIn, Login, LoginError, login};
pub use tls::{CertPolicy, ConfigError, ServerCert, client_config, fingerprint};
