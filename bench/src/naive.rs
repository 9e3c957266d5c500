//! The naive quinn relay: what someone writes with quinn in an afternoon,
//! run beside `voice-server` as the anchor of its figures (issue 25), and
//! the bench's side of its one-message join.
//!
//! A client connects as to `voice-server` (ALPN `voice/1`, a self-signed
//! certificate), opens a bidirectional stream, writes its room number (4
//! bytes, big-endian) and finishes the stream; the relay puts the
//! connection in that room and answers with the speaker id it gave it (4
//! bytes, big-endian). From then on the client sends and receives voice/1
//! datagrams: the relay decodes each (`voice::decode_client`), rewrites it
//! for listeners (`voice::relay`, as the server does) and sends it to every
//! other connection of the room with `send_datagram`, one after the other.
//! No login, no rate limits, no routing snapshot: quinn's default
//! transport settings, rooms in one `RwLock<HashMap>`, a task per
//! connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use voice_proto::voice;

use crate::client::ClientError;

/// Bytes of the join request (the room) and of its answer (the speaker id).
pub const JOIN_LEN: usize = 4;

/// The UDP socket buffers, as `voice-server` sets them (its `SOCKET_BUFFER`
/// in server/src/server.rs): a burst to many listeners must not be dropped
/// by the kernel before quinn sends it.
pub const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// Why the naive relay cannot start.
#[derive(Debug, thiserror::Error)]
pub enum NaiveRelayError {
    /// The self-signed certificate could not be made.
    #[error("cannot generate a self-signed certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the certificate or the settings.
    #[error("TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    /// quinn cannot use the TLS configuration.
    #[error("QUIC TLS setup: {0}")]
    Quic(String),
    /// The UDP socket could not be bound.
    #[error("cannot listen on UDP {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Connections by speaker id, by room.
type Rooms = RwLock<HashMap<u32, HashMap<u32, quinn::Connection>>>;

/// A bound naive relay, not yet serving.
#[derive(Debug)]
pub struct NaiveRelay {
    endpoint: quinn::Endpoint,
}

impl NaiveRelay {
    /// Binds a QUIC endpoint on `addr` with a fresh self-signed certificate
    /// for "localhost", ALPN `voice/1` and quinn's default transport settings
    /// (which accept datagrams).
    pub fn bind(addr: SocketAddr) -> Result<Self, NaiveRelayError> {
        let config = server_config()?;
        let bind = |source| NaiveRelayError::Bind { addr, source };
        let socket = std::net::UdpSocket::bind(addr).map_err(bind)?;
        let state = quinn::udp::UdpSocketState::new((&socket).into()).map_err(bind)?;
        // Best effort, as in the server: a smaller buffer only drops sooner.
        let _ = state.set_recv_buffer_size((&socket).into(), SOCKET_BUFFER);
        let _ = state.set_send_buffer_size((&socket).into(), SOCKET_BUFFER);
        let endpoint = quinn::Endpoint::new(
            quinn::EndpointConfig::default(),
            Some(config),
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(bind)?;
        Ok(Self { endpoint })
    }

    /// The address the relay listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// Accepts connections, a task each, until `shutdown` completes; then
    /// closes every connection.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let rooms: Arc<Rooms> = Arc::default();
        let next_id = AtomicU32::new(1);
        let accept = async {
            while let Some(incoming) = self.endpoint.accept().await {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(serve(incoming, rooms.clone(), id));
            }
        };
        tokio::select! {
            () = accept => {}
            () = shutdown => {}
        }
        self.endpoint.close(0u32.into(), b"relay stopped");
    }
}

/// The QUIC server settings of the bench's relays: a fresh self-signed
/// certificate for "localhost", ALPN `voice/1` and quinn's default transport
/// settings (which accept datagrams).
pub fn server_config() -> Result<quinn::ServerConfig, NaiveRelayError> {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let chain: Vec<CertificateDer<'static>> = vec![generated.cert.der().clone()];
    let mut tls = rustls::ServerConfig::builder_with_provider(voice_net::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    tls.alpn_protocols = vec![voice_proto::ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| NaiveRelayError::Quic(e.to_string()))?;
    Ok(quinn::ServerConfig::with_crypto(Arc::new(quic)))
}

/// Prints the line scripts and tests wait for, `listening: ADDR`, at once
/// (stdout may be a pipe).
pub fn announce(addr: SocketAddr) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening: {addr}")?;
    out.flush()
}

/// One connection: its join, then its datagrams to the rest of its room.
async fn serve(incoming: quinn::Incoming, rooms: Arc<Rooms>, id: u32) {
    let Ok(conn) = incoming.await else {
        return;
    };
    let Ok((mut send, mut recv)) = conn.accept_bi().await else {
        return;
    };
    let Ok(request) = recv.read_to_end(JOIN_LEN).await else {
        return;
    };
    let Ok(room) = <[u8; JOIN_LEN]>::try_from(request.as_slice()) else {
        conn.close(1u32.into(), b"the join request is a 4-byte room number");
        return;
    };
    let room = u32::from_be_bytes(room);
    rooms
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(room)
        .or_default()
        .insert(id, conn.clone());
    if send.write_all(&id.to_be_bytes()).await.is_ok() && send.finish().is_ok() {
        let mut out = Vec::new();
        while let Ok(datagram) = conn.read_datagram().await {
            let Ok(packet) = voice::decode_client(&datagram, voice::DEFAULT_MAX_PAYLOAD) else {
                continue;
            };
            voice::relay(&mut out, id, &packet);
            let forwarded = bytes::Bytes::copy_from_slice(&out);
            let rooms = rooms.read().unwrap_or_else(PoisonError::into_inner);
            for (other, listener) in rooms.get(&room).into_iter().flatten() {
                if *other != id {
                    let _ = listener.send_datagram(forwarded.clone());
                }
            }
        }
    }
    let mut rooms = rooms.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(members) = rooms.get_mut(&room) {
        members.remove(&id);
        if members.is_empty() {
            rooms.remove(&room);
        }
    }
}

/// Joins `room` of a naive relay on an open connection; returns the
/// speaker id the relay gave this connection.
pub async fn join(conn: &quinn::Connection, room: u32) -> Result<u32, ClientError> {
    let stream = |e: &dyn std::fmt::Display| ClientError::Stream(format!("naive join: {e}"));
    let (mut send, mut recv) = conn.open_bi().await.map_err(ClientError::Closed)?;
    send.write_all(&room.to_be_bytes())
        .await
        .map_err(|e| stream(&e))?;
    send.finish().map_err(|e| stream(&e))?;
    let answer = recv.read_to_end(JOIN_LEN).await.map_err(|e| stream(&e))?;
    let id = <[u8; JOIN_LEN]>::try_from(answer.as_slice()).map_err(|_| {
        ClientError::Unexpected(format!(
            "the naive relay answered the join with {} bytes, not a 4-byte speaker id",
            answer.len()
        ))
    })?;
    Ok(u32::from_be_bytes(id))
}
