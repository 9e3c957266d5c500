//! The control socket: one daemon per user. A socket that answers means a
//! daemon is already running; one that does not is stale and replaced.
//!
//! A Unix domain socket (mode 0600 in a 0700 directory) or, on Windows, a
//! named pipe that only its owner may open, both through `interprocess`, so
//! the same listener and connection code serves either.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use interprocess::local_socket::ListenerOptions;
use interprocess::local_socket::tokio::{Listener as LocalListener, Stream as LocalStream};
use interprocess::local_socket::traits::tokio::Listener as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use voiced_client::local;

/// The socket cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// Another daemon answers on it.
    #[error("voiced is already running (it answers on {}); stop it first or use --socket PATH", .0.display())]
    AlreadyRunning(PathBuf),
    /// Creating or binding failed (the cause follows in the error chain).
    #[error("cannot listen on {}", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// A bound control socket, not yet serving.
#[derive(Debug)]
pub struct Listener {
    inner: LocalListener,
}

/// Binds the socket at `path` (its directory made 0700 if new, and refused
/// unless it is ours and not writable by others; the socket 0600 from the
/// start, with no window in which others could connect), replacing a stale
/// socket and refusing a live one.
pub async fn bind(path: &Path) -> Result<Listener, SocketError> {
    let io = |source| SocketError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = local::name(path).map_err(io)?;
    if local::connect(path).await.is_ok() {
        return Err(SocketError::AlreadyRunning(path.to_path_buf()));
    }
    #[cfg(unix)]
    {
        if let Some(dir) = path.parent() {
            crate::fsutil::create_private_dir(dir).map_err(io)?;
            // A directory someone else made or may write to could hand our
            // socket to them (see `voiced_client::owner`).
            voiced_client::owner::check_dir(dir).map_err(io)?;
        }
        if std::fs::symlink_metadata(path).is_ok() {
            tracing::info!(socket = %path.display(), "replacing a stale socket");
            std::fs::remove_file(path).map_err(io)?;
        }
    }
    let options = ListenerOptions::new().name(name);
    #[cfg(unix)]
    let options = {
        use interprocess::os::unix::local_socket::ListenerOptionsExt;
        options.mode(0o600)
    };
    #[cfg(windows)]
    let options = {
        use interprocess::os::windows::local_socket::ListenerOptionsExt;
        options.security_descriptor(owner_only().map_err(io)?)
    };
    match options.create_tokio() {
        Ok(inner) => Ok(Listener { inner }),
        // Another daemon took the name between the probe and the bind.
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            Err(SocketError::AlreadyRunning(path.to_path_buf()))
        }
        Err(e) => Err(io(e)),
    }
}

/// A named pipe security descriptor that lets only the pipe's owner (the
/// user running voiced) and the system open it; the default one lets
/// everyone read.
#[cfg(windows)]
fn owner_only() -> io::Result<interprocess::os::windows::security_descriptor::SecurityDescriptor> {
    let sddl = widestring::U16CString::from_str("D:P(A;;GA;;;OW)(A;;GA;;;SY)")
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    interprocess::os::windows::security_descriptor::SecurityDescriptor::deserialize(&sddl)
}

impl Listener {
    /// The accepted connections, for tonic's `serve_with_incoming*`. When the
    /// stream is dropped the listener goes with it and, on Unix, its socket
    /// file is removed. On Unix a connection from another user (the uid the
    /// kernel reports for it) is closed at once and never served.
    pub fn incoming(self) -> impl Stream<Item = io::Result<Connection>> + Send + 'static {
        futures_util::stream::unfold(self.inner, |listener| async move {
            loop {
                let accepted = listener.accept().await;
                match accepted {
                    Ok(stream) if !from_me(&stream) => continue,
                    accepted => return Some((accepted.map(Connection), listener)),
                }
            }
        })
    }
}

/// Whether the peer of an accepted connection runs as this user (logged
/// when not).
#[cfg(unix)]
fn from_me(stream: &LocalStream) -> bool {
    use interprocess::local_socket::traits::StreamCommon as _;
    let peer = stream.peer_creds().ok().and_then(|c| c.euid());
    let me = voiced_client::owner::my_uid();
    match voiced_client::owner::check_peer(peer, me, Path::new("the control socket"), "client") {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("refused a control connection: {e}");
            false
        }
    }
}

/// Whether the peer of an accepted connection runs as this user: the named
/// pipe's security descriptor already admits no one else.
#[cfg(not(unix))]
fn from_me(_stream: &LocalStream) -> bool {
    true
}

/// One front end's connection to the control socket.
#[derive(Debug)]
pub struct Connection(LocalStream);

impl tonic::transport::server::Connected for Connection {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
