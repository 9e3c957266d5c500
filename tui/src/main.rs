//! `voice-tui`: the terminal front end of the voice chat daemon.

use anyhow::Context;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = voice_tui::cli::Args::parse();
    let socket = args.socket.unwrap_or_else(voice_tui::socket_path);
    voice_tui::run(socket).context("voice-tui needs an interactive terminal")?;
    Ok(())
}
