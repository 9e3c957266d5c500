//! The control socket: one daemon per user. A socket that answers means a
//! daemon is already running; one that does not is stale and replaced.

use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

use crate::fsutil;

/// The socket cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// Another daemon answers on it.
    #[error("voiced is already running (it answers on {}); stop it first or use --socket PATH", .0.display())]
    AlreadyRunning(PathBuf),
    /// Creating or binding failed.
    #[error("cannot listen on {}: {source}", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Binds the socket at `path` with mode 0600 (its directory 0700 if new),
/// replacing a stale socket and refusing a live one.
pub async fn bind(path: &Path) -> Result<UnixListener, SocketError> {
    let io = |source| SocketError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        fsutil::create_private_dir(dir).map_err(io)?;
    }
    if std::fs::symlink_metadata(path).is_ok() {
        match tokio::net::UnixStream::connect(path).await {
            Ok(_) => return Err(SocketError::AlreadyRunning(path.to_path_buf())),
            Err(_) => {
                tracing::info!(socket = %path.display(), "replacing a stale socket");
                std::fs::remove_file(path).map_err(io)?;
            }
        }
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(listener)
}
