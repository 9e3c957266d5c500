//! `voice-tui`: the terminal front end of the voice chat daemon.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Terminal front end of voiced. Closing it never drops the call.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// voiced's control socket (default: $VOICED_SOCKET, else
    /// $XDG_RUNTIME_DIR/voice/voiced.sock, else /tmp/voice-$UID/voiced.sock;
    /// on Windows a named pipe, `\\.\pipe\voiced-USERNAME`).
    #[arg(long, value_name = "PATH", value_parser = voiced_client::local::socket_arg)]
    socket: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let socket = args.socket.unwrap_or_else(voice_tui::socket_path);
    voice_tui::run(socket).context("voice-tui needs an interactive terminal")?;
    Ok(())
}
