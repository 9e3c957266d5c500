//! The daemon: the engine plus its control socket, until shut down.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use voice_proto::pb::control::voiced_server::VoicedServer;

use crate::audio::{AudioEngine, NullAudio};
use crate::control::{ControlService, socket};
use crate::engine::Engine;
use crate::paths::Paths;

/// Why the daemon stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The socket is taken or cannot be made.
    #[error(transparent)]
    Socket(#[from] socket::SocketError),
    /// The engine cannot start (identity, config).
    #[error("{0}")]
    Engine(#[from] crate::error::Error),
    /// The gRPC server failed.
    #[error("control API: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// A daemon whose socket is bound (so clients may already connect).
pub struct Daemon {
    engine: Engine,
    listener: socket::Listener,
    socket: PathBuf,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl Daemon {
    /// Loads the engine from `paths` and binds `socket` (default: the one in
    /// `paths`).
    pub async fn bind(paths: Paths, socket: Option<PathBuf>) -> Result<Self, DaemonError> {
        Self::bind_with_audio(paths, socket, Arc::new(NullAudio::off())).await
    }

    /// Like [`Daemon::bind`], with an audio engine.
    pub async fn bind_with_audio(
        paths: Paths,
        socket: Option<PathBuf>,
        audio: Arc<dyn AudioEngine>,
    ) -> Result<Self, DaemonError> {
        let socket = socket.unwrap_or_else(|| paths.socket());
        let listener = socket::bind(&socket).await?;
        // Holding the socket, no other voiced writes these files: what a
        // killed one left half-written beside them goes.
        for file in [paths.config_file(), paths.known_servers_file()] {
            if let Some(dir) = file.parent() {
                let removed = crate::fsutil::remove_stale_temps(dir);
                if removed > 0 {
                    tracing::info!(dir = %dir.display(), removed, "removed temporary files of an interrupted write");
                }
            }
        }
        let engine = Engine::new(paths, audio)?;
        engine.attach_audio();
        tracing::info!(socket = %socket.display(), public_key = %engine.identity().public_hex(), "voiced listening");
        Ok(Self {
            engine,
            listener,
            socket,
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The socket path.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// Serves until `shutdown` completes, then disconnects cleanly; the
    /// socket is removed as soon as it stops accepting.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), DaemonError> {
        let stopping = tokio_util::sync::CancellationToken::new();
        let shutdown = {
            let stopping = stopping.clone();
            async move {
                shutdown.await;
                stopping.cancel();
            }
        };
        let service = VoicedServer::new(ControlService::new(self.engine.clone(), stopping))
            .max_decoding_message_size(1 << 20)
            .max_encoding_message_size(64 << 20);
        let result = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(self.listener.incoming(), shutdown)
            .await;
        self.engine.stop_files().await;
        self.engine.disconnect().await;
        self.engine.stop_audio();
        // The socket file went with the listener when tonic dropped it.
        tracing::info!("voiced stopped");
        Ok(result?)
    }
}
