//! `voiced`: one user's voice chat client.
//!
//! - [`engine`]: the client engine (connection manager, mirrored state, chat,
//!   voice settings, identity, bookmarks, trust), embeddable in any process;
//! - [`daemon`] and [`control`]: the engine behind the gRPC control API on a
//!   local socket; [`cli`]: the `voiced` binary's entry point;
//! - [`client`]: what front ends need to reach the daemon (cheap);
//! - [`files`]: files over BitTorrent (librqbit, the loopback tracker, the cache);
//! - [`paths`], [`identity`], [`config`], [`trust`], [`connection`].

pub mod audio;
pub mod cli;
pub mod client;
pub mod config;
pub mod connection;
pub mod control;
pub mod daemon;
pub mod engine;
pub mod error;
pub mod files;
use voice_net::fsutil;
pub mod identity;
pub mod paths;
pub mod trust;

pub use daemon::Daemon;
pub use engine::Engine;
pub use error::Error;
pub use paths::{Paths, socket_path};
