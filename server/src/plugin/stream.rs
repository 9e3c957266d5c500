//! One plugin connection after its TLS handshake: it holds its connection
//! slot, and is closed when no call on it passed the token gate in time
//! (so a peer without a token cannot sit on a slot), when the peer sends
//! nothing for the idle time (an HTTP/2 PING counts, so a client with
//! keepalive holds a quiet stream), and when the server stops (after a
//! grace for calls in flight).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::Connected;

use crate::plugin::auth::PluginPeer;
use crate::plugin::slots::ConnectionSlot;

/// When a connection is closed.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionTimes {
    /// Without an authenticated call this long after the handshake.
    pub first_call: Duration,
    /// Without a byte from the peer this long.
    pub idle: Duration,
    /// This long after the server started stopping.
    pub grace: Duration,
}

/// A plugin's TLS connection.
pub struct PluginStream {
    tls: TlsStream<TcpStream>,
    peer: PluginPeer,
    idle_for: Duration,
    idle: Pin<Box<tokio::time::Sleep>>,
    /// Until the first authenticated call.
    first_call: Option<Pin<Box<tokio::time::Sleep>>>,
    closing: Pin<Box<dyn Future<Output = ()> + Send + Sync>>,
    _slot: ConnectionSlot,
}

impl std::fmt::Debug for PluginStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginStream")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl PluginStream {
    /// A connection from `peer`, closed as `times` say (`grace` counted
    /// from `stop`).
    pub fn new(
        tls: TlsStream<TcpStream>,
        peer: PluginPeer,
        times: ConnectionTimes,
        slot: ConnectionSlot,
        stop: CancellationToken,
    ) -> Self {
        Self {
            tls,
            peer,
            idle_for: times.idle,
            idle: Box::pin(tokio::time::sleep(times.idle)),
            first_call: Some(Box::pin(tokio::time::sleep(times.first_call))),
            closing: Box::pin(async move {
                stop.cancelled().await;
                tokio::time::sleep(times.grace).await;
            }),
            _slot: slot,
        }
    }
}

impl Connected for PluginStream {
    type ConnectInfo = PluginPeer;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.peer.clone()
    }
}

impl PluginStream {
    /// Whether the time for a first authenticated call ran out without one.
    fn no_call_in_time(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = &mut self.first_call else {
            return false;
        };
        if self.peer.authenticated() {
            self.first_call = None;
            return false;
        }
        deadline.as_mut().poll(cx).is_ready()
    }
}

impl AsyncRead for PluginStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.tls).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    let deadline = tokio::time::Instant::now() + self.idle_for;
                    self.idle.as_mut().reset(deadline);
                }
                Poll::Ready(result)
            }
            Poll::Pending if self.no_call_in_time(cx) => {
                tracing::info!(peer = %self.peer.addr, "plugin connection closed: no authenticated call in time");
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no authenticated call in time",
                )))
            }
            Poll::Pending if self.closing.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the server is shutting down",
                )))
            }
            Poll::Pending => match self.idle.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    tracing::info!(peer = %self.peer.addr, "plugin connection idle; closed");
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the plugin connection was idle too long",
                    )))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for PluginStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tls).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tls).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tls).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tls).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tls.is_write_vectored()
    }
}
