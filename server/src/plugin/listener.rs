//! The plugin TCP listener (`plugin_listen`): TLS with the server's own
//! certificate (the resolver the QUIC endpoint uses, so renewals and
//! reloads reach it too), HTTP/2 gRPC, the `Admin` service behind the
//! token gate ([`PluginAuthLayer`]). Everything a peer can make the server
//! hold is bounded: connections (in all and per address), handshake time
//! and the time to a first authenticated call (both `handshake_timeout_ms`),
//! idle time, HTTP/2 streams, header and message sizes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::ResolvesServerCert;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use voice_proto::pb::admin::admin_server::AdminServer;

use crate::admin::AdminService;
use crate::hub::Hub;
use crate::plugin::auth::{PluginAuthLayer, PluginPeer};
use crate::plugin::slots::ConnectionSlots;
use crate::plugin::stream::{ConnectionTimes, PluginStream};
use crate::plugin::tokens::PluginTokens;
use crate::server::StartError;
use crate::throttle::Throttle;
use crate::tls::{TlsError, provider};

/// Connections one address (IPv4, or IPv6 /64) may hold.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 8;
/// HTTP/2 streams (calls) open at once on one connection.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 16;
/// Largest request message, in bytes.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;
/// Largest header block (all metadata of a call), in bytes.
pub const MAX_HEADER_BYTES: u32 = 16 << 10;
/// A connection that sends nothing (not even an HTTP/2 PING) this long is
/// closed.
pub const IDLE: Duration = Duration::from_secs(300);
/// How long a unary call may take before the server answers it.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Streams reset by the peer before the server saw them, per connection
/// (HTTP/2 rapid reset).
const MAX_PENDING_RESETS: usize = 32;
/// Calls in flight get this long to finish when the server stops; then
/// the connections are closed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Connections handed over between the handshake and the gRPC server.
const HANDOVER_QUEUE: usize = 16;

/// Binds the plugin listener's TCP port.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Io {
            what: format!("cannot bind the plugin listener (plugin_listen) {addr}"),
            source,
        })
}

/// The rustls configuration of the listener: the server's certificate
/// resolver, TLS 1.2 and 1.3, HTTP/2 only.
pub fn tls_config(
    resolver: Arc<dyn ResolvesServerCert>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    tls.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(tls))
}

/// What the listener needs.
#[derive(Debug)]
pub struct PluginListener {
    /// The bound port.
    pub listener: TcpListener,
    /// Its TLS configuration.
    pub tls: Arc<rustls::ServerConfig>,
    /// The tokens it checks.
    pub tokens: Arc<PluginTokens>,
    /// Connections open at once (all addresses).
    pub max_connections: usize,
    /// Time for the TLS handshake.
    pub handshake_timeout: Duration,
    /// Failed authentications per address.
    pub throttle: Arc<Throttle>,
}

impl PluginListener {
    /// Serves until `cancel`.
    pub fn serve(self, hub: Arc<Hub>, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<PluginStream>>(HANDOVER_QUEUE);
        let incoming = tokio_stream::wrappers::ReceiverStream::new(rx);
        let service = AdminServer::new(AdminService::new(hub).ending_streams_at(cancel.clone()))
            .max_decoding_message_size(MAX_REQUEST_BYTES);
        let gate = PluginAuthLayer::new(self.tokens.clone(), self.throttle.clone());
        let grpc = tonic::transport::Server::builder()
            .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
            .concurrency_limit_per_connection(MAX_STREAMS_PER_CONNECTION as usize)
            .http2_max_header_list_size(MAX_HEADER_BYTES)
            .http2_max_pending_accept_reset_streams(Some(MAX_PENDING_RESETS))
            .timeout(CALL_TIMEOUT)
            .layer(gate)
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, cancel.clone().cancelled_owned());
        let accept = self.accept(tx, cancel);
        tokio::spawn(async move {
            let (served, ()) = tokio::join!(grpc, accept);
            if let Err(e) = served {
                tracing::error!(error = %e, "plugin listener failed");
            }
        })
    }

    /// Accepts connections and hands them over after their handshake.
    async fn accept(
        self,
        tx: tokio::sync::mpsc::Sender<std::io::Result<PluginStream>>,
        cancel: CancellationToken,
    ) {
        let slots = ConnectionSlots::new(self.max_connections, MAX_CONNECTIONS_PER_ADDRESS);
        let acceptor = TlsAcceptor::from(self.tls.clone());
        let handshakes = TaskTracker::new();
        if let Ok(addr) = self.listener.local_addr() {
            tracing::info!(%addr, "plugin listener (TLS, gRPC) ready");
        }
        loop {
            let (tcp, remote) = tokio::select! {
                () = cancel.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of descriptors and the like: wait, do not spin.
                        tracing::warn!(error = %e, "plugin listener: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            if self.throttle.is_refused(remote.ip()) {
                tracing::debug!(%remote, "plugin connection refused: failed authentications");
                continue;
            }
            let slot = match slots.take(remote.ip()) {
                Ok(slot) => slot,
                Err(why) => {
                    tracing::debug!(%remote, "plugin connection refused: {why}");
                    continue;
                }
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            let timeout = self.handshake_timeout;
            let stop = cancel.clone();
            handshakes.spawn(async move {
                let _ = tcp.set_nodelay(true);
                match handshake(&acceptor, tcp, timeout).await {
                    Ok(tls) => {
                        tracing::info!(%remote, "plugin connection");
                        let peer = PluginPeer::new(remote);
                        let times = ConnectionTimes {
                            first_call: timeout,
                            idle: IDLE,
                            grace: SHUTDOWN_GRACE,
                        };
                        let stream = PluginStream::new(tls, peer, times, slot, stop);
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Err(why) => tracing::debug!(%remote, "plugin TLS handshake failed: {why}"),
                }
            });
        }
        handshakes.close();
        handshakes.wait().await;
    }
}

/// The TLS handshake within `timeout`.
async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    timeout: Duration,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("not done in {} ms", timeout.as_millis())),
    }
}
