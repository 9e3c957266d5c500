//! The admin gRPC service (`admin.proto`) on a local Unix socket (mode 0600),
//! with the plugin token service beside it, and the `voice-server admin …`
//! client.

pub mod client;
mod service;
pub mod token_commands;

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use voice_proto::pb::admin::admin_server::AdminServer;
use voice_proto::pb::admin::plugin_tokens_server::PluginTokensServer;

use crate::hub::Hub;
use crate::plugin::{PluginTokens, PluginTokensService};
use crate::server::StartError;

pub use service::AdminService;

/// Binds the admin socket (mode 0600), replacing a stale one.
pub async fn bind(path: &Path) -> Result<tokio::net::UnixListener, StartError> {
    let io = |what: &str| {
        let what = format!("{what} {}", path.display());
        move |source| StartError::Io { what, source }
    };
    if path.exists() {
        // A live server answers on it; a stale socket is replaced.
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(StartError::Io {
                what: format!("admin socket {}", path.display()),
                source: std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "another server is running on this data dir",
                ),
            });
        }
        std::fs::remove_file(path).map_err(io("cannot remove stale socket"))?;
    }
    // The socket only ever appears at `path` private: it is bound in a new
    // directory of mode 0700 beside it, restricted to 0600, then renamed
    // into place, so no other user can connect between bind and chmod.
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    static STAGING: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = STAGING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let staging = parent.join(format!(".admin-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(io("cannot create a private directory beside"))?;
    let private = staging.join("s");
    let bound = tokio::net::UnixListener::bind(&private)
        .map_err(io("cannot bind"))
        .and_then(|listener| {
            std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600))
                .map_err(io("cannot restrict"))?;
            std::fs::rename(&private, path).map_err(io("cannot move the socket to"))?;
            Ok(listener)
        });
    let _ = std::fs::remove_dir_all(&staging);
    bound
}

/// Serves the admin socket (the admin service and the plugin tokens) until
/// `cancel`.
pub fn serve(
    hub: Arc<Hub>,
    tokens: Arc<PluginTokens>,
    listener: tokio::net::UnixListener,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
    // Watch streams end with the server (a graceful shutdown waits for them).
    let service = AdminServer::new(AdminService::new(hub).ending_streams_at(cancel.clone()));
    tokio::spawn(async move {
        let result = tonic::transport::Server::builder()
            .add_service(service)
            .add_service(PluginTokensServer::new(PluginTokensService::new(tokens)))
            .serve_with_incoming_shutdown(incoming, cancel.cancelled_owned())
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "admin socket failed");
        }
    })
}
