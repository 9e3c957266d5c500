//! The `voiced` command line and its entry point.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::daemon::Daemon;
use crate::paths::Paths;

/// Audio backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AudioBackend {
    /// Sound devices through cpal.
    Cpal,
    /// WAV file in, WAV file out, paced in real time.
    File,
    /// No audio.
    Null,
}

/// The voice chat client daemon.
#[derive(Debug, Parser)]
#[command(name = "voiced", version, about)]
pub struct Args {
    /// Control socket (default: $XDG_RUNTIME_DIR/voice/voiced.sock).
    #[arg(long, env = "VOICED_SOCKET")]
    pub socket: Option<PathBuf>,
    /// Audio backend.
    #[arg(long, value_enum, default_value = "null")]
    pub audio_backend: AudioBackend,
    /// Microphone input for the file backend.
    #[arg(long)]
    pub audio_in: Option<PathBuf>,
    /// Output of what is heard, for the file backend.
    #[arg(long)]
    pub audio_out: Option<PathBuf>,
    /// Stay in the foreground and log to stderr (voiced never forks; accepted
    /// for service managers and scripts).
    #[arg(long)]
    pub foreground: bool,
}

/// Runs the daemon until SIGTERM or Ctrl-C.
pub fn run(args: Args) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Plain text for journald and pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if args.audio_backend != AudioBackend::Null {
            tracing::warn!(backend = ?args.audio_backend, "this voiced has no audio engine yet; running without audio");
        }
        let paths = Paths::from_env()?;
        let daemon = Daemon::bind(paths, args.socket).await?;
        daemon.serve(shutdown_signal()).await?;
        Ok(())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: shutting down"),
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
