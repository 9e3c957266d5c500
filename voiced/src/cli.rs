//! The `voiced` command line and its entry point.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use voice_audio::EngineConfig;
use voice_audio::backend::BackendConfig;

use crate::audio::{AudioEngine, DeviceAudio, HeadlessAudio, NullAudio};
use crate::daemon::Daemon;
use crate::paths::Paths;

/// Audio backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AudioBackend {
    /// Sound devices through cpal.
    Cpal,
    /// WAV file in, WAV file out, paced in real time.
    File,
    /// No sound devices: a headless bot (the engine starts when a file is
    /// played or a recording starts).
    Null,
}

/// The voice chat client daemon.
#[derive(Debug, Parser)]
#[command(name = "voiced", version, about)]
pub struct Args {
    /// Control socket (default: $XDG_RUNTIME_DIR/voice/voiced.sock; on
    /// Windows the named pipe `\\.\pipe\voiced-USERNAME`).
    #[arg(long, env = "VOICED_SOCKET", value_parser = voiced_client::local::socket_arg)]
    pub socket: Option<PathBuf>,
    /// Audio backend.
    #[arg(long, value_enum, default_value = "cpal")]
    pub audio_backend: AudioBackend,
    /// Microphone: a WAV file played in real time (file backend), or an
    /// input device name (cpal; default: the system's default input).
    #[arg(long, value_name = "IN.wav|DEVICE")]
    pub audio_in: Option<PathBuf>,
    /// What is heard: a WAV file written on a wall-clock timeline (file
    /// backend), or an output device name (cpal).
    #[arg(long, value_name = "OUT.wav|DEVICE")]
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
        let paths = Paths::from_env()?;
        let audio = audio_engine(&args);
        let daemon = Daemon::bind_with_audio(paths, args.socket.clone(), audio).await?;
        daemon.serve(shutdown_signal()).await?;
        Ok(())
    })
}

/// The audio engine the flags ask for. A sound system that cannot start
/// leaves the daemon running without audio, saying why.
fn audio_engine(args: &Args) -> Arc<dyn AudioEngine> {
    let name = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
    let backend = match args.audio_backend {
        AudioBackend::Null => return Arc::new(HeadlessAudio::new()),
        AudioBackend::Cpal => BackendConfig::Cpal {
            input: name(&args.audio_in),
            output: name(&args.audio_out),
        },
        AudioBackend::File => BackendConfig::File {
            input: args.audio_in.clone(),
            output: args.audio_out.clone(),
        },
    };
    // Real devices have an echo path: cancel it and level the microphone
    // (the control API turns either off, e.g. for a headset).
    let real = matches!(backend, BackendConfig::Cpal { .. });
    let config = EngineConfig {
        backend,
        echo_cancellation: real,
        auto_gain: real,
        ..EngineConfig::default()
    };
    match DeviceAudio::start(config) {
        Ok(a) => {
            tracing::info!(backend = a.backend(), "audio started");
            Arc::new(a)
        }
        Err(e) => {
            let why = format!(
                "audio could not start ({e}); voiced runs without audio: check the sound system, then restart voiced"
            );
            tracing::error!("{why}");
            Arc::new(NullAudio::because(why))
        }
    }
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
    #[cfg(windows)]
    {
        use tokio::signal::windows::{ctrl_close, ctrl_shutdown};
        match (ctrl_close(), ctrl_shutdown()) {
            (Ok(mut close), Ok(mut shutdown)) => {
                tokio::select! {
                    _ = close.recv() => tracing::info!("console closed: shutting down"),
                    _ = shutdown.recv() => tracing::info!("system shutdown: shutting down"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: shutting down"),
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
