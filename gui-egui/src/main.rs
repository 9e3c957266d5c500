//! `voice-gui`: the desktop front end of the voice chat daemon.

use anyhow::Context;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = voice_gui::cli::Args::parse();
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
