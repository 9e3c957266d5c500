//! The `voice-tui` command line, in the library so that packaging can
//! generate its man page and shell completions from the same definition.

use std::path::PathBuf;

use clap::Parser;

/// Terminal front end of voiced. Closing it never drops the call.
#[derive(Parser, Debug)]
#[command(name = "voice-tui", version, about)]
pub struct Args {
    /// voiced's control socket (default: $VOICED_SOCKET, else
    /// $XDG_RUNTIME_DIR/voice/voiced.sock, else /tmp/voice-$UID/voiced.sock;
    /// on Windows a named pipe, `\\.\pipe\voiced-USERNAME`).
    #[arg(long, value_name = "PATH", value_parser = voiced_client::local::socket_arg)]
    pub socket: Option<PathBuf>,
}
