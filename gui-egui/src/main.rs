//! `voice-gui`: the desktop front end of the voice chat daemon.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Desktop front end of voiced. Closing the window never drops the call.
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let socket = args.socket.unwrap_or_else(voiced_client::socket_path);
    voice_gui::run(socket)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("voice-gui could not open its window (is a display available?)")?;
    Ok(())
}
