//! `voice-testkit`: the real parts a test runs against, in a temp dir.
//!
//! - [`TestServer`]: a voice-server in this process (real QUIC on 127.0.0.1,
//!   sled and a self-signed certificate in a temp dir);
//! - [`TestDaemon`]: a voiced in this process, serving its control API on a
//!   real Unix socket in a temp dir laid out like a user's home
//!   ([`paths_in`]), with a [`TestDaemon::client`] of it;
//! - [`DaemonProcess`]: a voiced that can be killed like a process;
//!   [`VoicedChild`]: a `voiced` binary as a child process;
//!   [`xdg_env`]: a `voiced` binary on the same paths;
//! - [`connect`] and [`connect_as_admin`]: a daemon joins a server;
//! - [`runtime`]: a runtime of their own for tests whose thread is busy
//!   elsewhere (running a CLI, stepping a window).
//!
//! Everything stops when dropped; `stop` waits for a clean stop and fails
//! the test if it was not.
//!
//! Dev-only: never a dependency of shipped code.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failure here is a test failure

mod child;
mod client;
mod daemon;
mod server;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub use child::VoicedChild;
pub use client::{Client, connect, connect_as_admin};
pub use daemon::{Audio, DaemonProcess, TestDaemon};
pub use server::TestServer;
/// The crates the kit starts, for tests that need more of them.
pub use {voice_server, voiced};

/// Generous bound for a start or stop on a loaded machine; it bounds a
/// hang and times nothing.
pub const WAIT: Duration = Duration::from_secs(30);

/// The password a [`TestServer`] asks for unless configured otherwise.
pub const PASSWORD: &str = "secret";

/// voiced's directories under `dir`, laid out as XDG would lay them out
/// (`config/voice`, `data/voice`, `cache/voice`, `run/voice`).
pub fn paths_in(dir: &Path) -> voiced::Paths {
    voiced::Paths {
        config_dir: dir.join("config/voice"),
        data_dir: dir.join("data/voice"),
        cache_dir: dir.join("cache/voice"),
        runtime_dir: dir.join("run/voice"),
    }
}

/// Points a `voiced` or `voicectl` process at [`paths_in`]`(dir)` through
/// the XDG variables, and away from the caller's `VOICED_SOCKET`.
pub fn xdg_env<'a>(command: &'a mut Command, dir: &Path) -> &'a mut Command {
    command
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("XDG_RUNTIME_DIR", dir.join("run"))
        .env_remove("VOICED_SOCKET")
}

/// A two-thread runtime for a test whose own thread stays free (a CLI run
/// with `assert_cmd`, a window stepped frame by frame): start the parts with
/// `block_on`, and they keep running on its threads.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a test runtime")
}
