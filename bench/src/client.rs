//! A minimal voice/1 client: QUIC connection with a pinned (or any)
//! certificate, the login (`Hello` → `Challenge` → `Authenticate` →
//! `Welcome`) and length-prefixed frames on a stream.
//!
//! The load generator uses it for every simulated client, and the server's
//! integration tests build their test client on it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use prost::Message;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use voice_proto::frame::{self, FrameDecoder, FrameError};
use voice_proto::pb::wire::{
    Authenticate, ClientMsg, Hello, ServerMsg, StreamKind, Welcome, client_msg, server_msg::Msg,
};
use voice_proto::{PROTOCOL_VERSION, auth};

/// Which server certificate a client accepts.
#[derive(Debug, Clone)]
pub enum ServerCert {
    /// Only the certificate with this SHA-256 fingerprint (hex, as the
    /// server's banner prints it).
    Pinned(String),
    /// Any certificate whose handshake signature verifies (a load generator
    /// on a test network; never for real use).
    Any,
}

/// Why a client could not connect or log in.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TLS or QUIC configuration was refused.
    #[error("client configuration: {0}")]
    Config(String),
    /// The QUIC connection could not be opened.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The server.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The server closed the connection (code and reason as it sent them).
    #[error("the server closed the connection: {0}")]
    Closed(quinn::ConnectionError),
    /// A stream failed.
    #[error("stream failed: {0}")]
    Stream(String),
    /// The server sent a frame this client cannot read.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The server answered out of order.
    #[error("unexpected message during login: {0}")]
    Unexpected(String),
}

/// Accepts exactly one certificate, or any (see [`ServerCert`]); handshake
/// signatures are always verified.
#[derive(Debug)]
struct Verifier {
    cert: ServerCert,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.cert {
            ServerCert::Any => Ok(ServerCertVerified::assertion()),
            ServerCert::Pinned(expected) => {
                let fp = voice_proto::hash::hex(&Sha256::digest(end_entity.as_ref()));
                if fp.eq_ignore_ascii_case(expected) {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(rustls::Error::General(format!(
                        "certificate fingerprint {fp} is not the pinned {expected}"
                    )))
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The client transport settings of docs/protocol.md: keep-alive every 5 s,
/// 30 s idle timeout, small datagram buffers (stale voice is dropped).
pub fn transport() -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(Duration::from_secs(5)));
    t.max_idle_timeout(quinn::IdleTimeout::try_from(Duration::from_secs(30)).ok());
    t.datagram_send_buffer_size(64 * 1024);
    t.datagram_receive_buffer_size(Some(64 * 1024));
    t
}

/// A quinn client configuration speaking ALPN `voice/1` over TLS 1.3.
pub fn client_config(
    cert: ServerCert,
    transport: quinn::TransportConfig,
) -> Result<quinn::ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| ClientError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { cert, provider }))
        .with_no_client_auth();
    tls.alpn_protocols = vec![voice_proto::ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| ClientError::Config(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// A client endpoint on an ephemeral port: on loopback for a server on
/// loopback, else on the wildcard address of the server's family.
pub fn endpoint(
    server: SocketAddr,
    config: quinn::ClientConfig,
) -> Result<quinn::Endpoint, ClientError> {
    let ip: std::net::IpAddr = match (server.ip().is_loopback(), server.is_ipv6()) {
        (true, _) => server.ip(),
        (false, true) => std::net::Ipv6Addr::UNSPECIFIED.into(),
        (false, false) => std::net::Ipv4Addr::UNSPECIFIED.into(),
    };
    let local = SocketAddr::new(ip, 0);
    let mut endpoint = quinn::Endpoint::client(local).map_err(|e| ClientError::Connect {
        addr: server,
        reason: format!("cannot bind a UDP socket: {e}"),
    })?;
    endpoint.set_default_client_config(config);
    Ok(endpoint)
}

/// Opens a QUIC connection (no voice/1 login yet).
pub async fn connect(
    endpoint: &quinn::Endpoint,
    server: SocketAddr,
) -> Result<quinn::Connection, ClientError> {
    let connecting = endpoint
        .connect(server, "localhost")
        .map_err(|e| ClientError::Connect {
            addr: server,
            reason: e.to_string(),
        })?;
    connecting.await.map_err(|e| match e {
        quinn::ConnectionError::ApplicationClosed(_) => ClientError::Closed(e),
        other => ClientError::Connect {
            addr: server,
            reason: other.to_string(),
        },
    })
}

/// Length-prefixed protobuf frames on one bidirectional stream, client side.
#[derive(Debug)]
pub struct Framed {
    /// The send half.
    pub send: quinn::SendStream,
    /// The receive half.
    pub recv: quinn::RecvStream,
    decoder: FrameDecoder,
}

impl Framed {
    /// Frames on a stream; server frames up to [`frame::SERVER_MAX_FRAME`].
    pub fn new(send: quinn::SendStream, recv: quinn::RecvStream) -> Self {
        Self {
            send,
            recv,
            decoder: FrameDecoder::new(frame::SERVER_MAX_FRAME),
        }
    }

    /// Writes one client message.
    pub async fn send(&mut self, msg: client_msg::Msg) -> Result<(), ClientError> {
        let bytes = frame::encode_to_bytes(&ClientMsg { msg: Some(msg) }, frame::CLIENT_MAX_FRAME)?;
        self.send
            .write_all(&bytes)
            .await
            .map_err(|e| ClientError::Stream(e.to_string()))
    }

    /// The next frame's bytes; `None` when the stream or connection ends.
    pub async fn next_frame(&mut self) -> Result<Option<bytes::Bytes>, ClientError> {
        loop {
            if let Some(f) = self.decoder.next_frame()? {
                return Ok(Some(f));
            }
            match self
                .recv
                .read_chunk(self.decoder.wanted().max(1), true)
                .await
            {
                Ok(Some(c)) => self.decoder.push(&c.bytes),
                Ok(None) | Err(_) => return Ok(None),
            }
        }
    }

    /// The next server message; `None` when the stream or connection ends.
    pub async fn next(&mut self) -> Result<Option<Msg>, ClientError> {
        match self.next_frame().await? {
            Some(f) => {
                let envelope =
                    ServerMsg::decode(f).map_err(|e| FrameError::Malformed(e.to_string()))?;
                Ok(envelope.msg)
            }
            None => Ok(None),
        }
    }
}

/// What a client logs in with.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The client's identity.
    pub key: SigningKey,
    /// The server password ("" on an open server).
    pub password: String,
    /// Display name.
    pub name: String,
    /// The one-time admin token, or "".
    pub admin_token: String,
    /// Room to join (0 = root).
    pub room: u32,
}

/// A finished login.
#[derive(Debug)]
pub struct LoggedIn {
    /// The control stream, positioned after `Welcome`.
    pub control: Framed,
    /// The server's `Welcome` (session id, snapshot, hash, limits).
    pub welcome: Welcome,
}

/// Runs the voice/1 login on an open connection. When the server refuses,
/// the error carries its close code and reason.
pub async fn login(conn: &quinn::Connection, creds: Credentials) -> Result<LoggedIn, ClientError> {
    let closed = |conn: &quinn::Connection, what: &str| match conn.close_reason() {
        Some(reason) => ClientError::Closed(reason),
        None => ClientError::Unexpected(what.to_owned()),
    };
    let (send, recv) = conn
        .open_bi()
        .await
        .map_err(|e| ClientError::Stream(e.to_string()))?;
    let mut control = Framed::new(send, recv);
    control
        .send(client_msg::Msg::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            kind: StreamKind::Control as i32,
            client: "voice-bench".into(),
        }))
        .await?;
    let challenge = match control.next().await? {
        Some(Msg::Challenge(c)) => c,
        Some(other) => return Err(ClientError::Unexpected(format!("{other:?}"))),
        None => return Err(wait_closed(conn, "no Challenge").await),
    };
    let mut exporter = [0u8; auth::EXPORTER_LEN];
    conn.export_keying_material(&mut exporter, auth::EXPORTER_LABEL, b"")
        .map_err(|_| closed(conn, "TLS exporter unavailable"))?;
    let signature = auth::sign(&creds.key, &challenge.nonce, &exporter);
    control
        .send(client_msg::Msg::Authenticate(Authenticate {
            protocol_version: PROTOCOL_VERSION,
            public_key: creds.key.verifying_key().to_bytes().to_vec(),
            signature: signature.to_bytes().to_vec(),
            password: creds.password,
            display_name: creds.name,
            admin_token: creds.admin_token,
            room: creds.room,
        }))
        .await?;
    match control.next().await? {
        Some(Msg::Welcome(welcome)) => Ok(LoggedIn { control, welcome }),
        Some(other) => Err(ClientError::Unexpected(format!("{other:?}"))),
        None => Err(wait_closed(conn, "no Welcome").await),
    }
}

/// The server's close reason once it arrives (a refusal closes the
/// connection right after the stream ends).
async fn wait_closed(conn: &quinn::Connection, what: &str) -> ClientError {
    match tokio::time::timeout(Duration::from_secs(5), conn.closed()).await {
        Ok(reason) => ClientError::Closed(reason),
        Err(_) => ClientError::Unexpected(what.to_owned()),
    }
}
