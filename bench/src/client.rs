//! A minimal voice/1 client: QUIC connection with a pinned (or any)
//! certificate, the login (`Hello` → `Challenge` → `Authenticate` →
//! `Welcome`) and length-prefixed frames on a stream.
//!
//! The load generator uses it for every simulated client, and the server's
//! integration tests build their test client on it.

use std::net::SocketAddr;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use voice_net::login::LoginError;
use voice_net::{FrameReader, ReadError};
use voice_proto::frame::{self, FrameError};
use voice_proto::pb::wire::{ServerMsg, Welcome, client_msg, server_msg::Msg};

pub use voice_net::tls::ServerCert;

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

impl From<LoginError> for ClientError {
    fn from(e: LoginError) -> Self {
        if let Some(f) = e.frame_error() {
            return Self::Frame(f.clone());
        }
        match e {
            LoginError::Closed(reason) => Self::Closed(reason),
            LoginError::Open(_) | LoginError::Write(_) | LoginError::Read(_) => {
                Self::Stream(e.to_string())
            }
            other => Self::Unexpected(other.to_string()),
        }
    }
}

/// The client transport settings of docs/protocol.md (keep-alive every 5 s,
/// 30 s idle timeout, small datagram buffers: stale voice is dropped). The
/// receive buffer is kept small too, as thousands of simulated clients share
/// one process.
pub fn transport() -> quinn::TransportConfig {
    let mut t = voice_net::transport::client();
    t.datagram_receive_buffer_size(Some(voice_net::transport::DATAGRAM_BUFFER));
    t
}

/// A quinn client configuration speaking ALPN `voice/1` over TLS 1.3.
pub fn client_config(
    cert: ServerCert,
    transport: quinn::TransportConfig,
) -> Result<quinn::ClientConfig, ClientError> {
    voice_net::client_config(Arc::new(cert), transport)
        .map_err(|e| ClientError::Config(e.to_string()))
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
    endpoint_at(server, ip, config)
}

/// A client endpoint on an ephemeral port of `ip` (for a server on IPv4
/// loopback, any 127.x.y.z address: many simulated users, many addresses).
pub fn endpoint_at(
    server: SocketAddr,
    ip: std::net::IpAddr,
    config: quinn::ClientConfig,
) -> Result<quinn::Endpoint, ClientError> {
    let local = SocketAddr::new(ip, 0);
    let mut endpoint = quinn::Endpoint::client(local).map_err(|e| ClientError::Connect {
        addr: server,
        reason: format!("cannot bind a UDP socket on {local}: {e}"),
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
    reader: FrameReader<ServerMsg>,
}

impl Framed {
    /// Frames on a stream; server frames up to [`frame::SERVER_MAX_FRAME`].
    pub fn new(send: quinn::SendStream, recv: quinn::RecvStream) -> Self {
        Self {
            send,
            reader: FrameReader::new(recv, frame::SERVER_MAX_FRAME),
        }
    }

    /// Writes one client message.
    pub async fn send(&mut self, msg: client_msg::Msg) -> Result<(), ClientError> {
        voice_net::frames::write(&mut self.send, msg)
            .await
            .map_err(|e| match e {
                voice_net::WriteError::Frame(f) => ClientError::Frame(f),
                voice_net::WriteError::Stream(e) => ClientError::Stream(e.to_string()),
            })
    }

    /// The next frame's bytes; `None` when the stream or connection ends.
    pub async fn next_frame(&mut self) -> Result<Option<bytes::Bytes>, ClientError> {
        ended_is_none(self.reader.next_frame().await)
    }

    /// The send half and the frame reader, for a task that writes while
    /// another reads.
    pub fn into_parts(self) -> (quinn::SendStream, FrameReader<ServerMsg>) {
        (self.send, self.reader)
    }

    /// The next server message; `None` when the stream or connection ends.
    pub async fn next(&mut self) -> Result<Option<Msg>, ClientError> {
        Ok(ended_is_none(self.reader.next().await)?.and_then(|m| m.msg))
    }
}

/// A read's outcome with the end of the stream or connection as `None`.
fn ended_is_none<T>(read: Result<Option<T>, ReadError>) -> Result<Option<T>, ClientError> {
    match read {
        Ok(item) => Ok(item),
        Err(ReadError::Frame(f)) => Err(f.into()),
        Err(ReadError::Truncated | ReadError::Stream(_)) => Ok(None),
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
    /// Serve the chat it sees to members asking for room history.
    pub share_history: bool,
}

/// A finished login.
#[derive(Debug)]
pub struct LoggedIn {
    /// The control stream, positioned after `Welcome`.
    pub control: Framed,
    /// The server's `Welcome` (session id, snapshot, hash, limits).
    pub welcome: Welcome,
}

/// Runs the voice/1 login on an open connection ([`voice_net::login()`]).
/// When the server refuses, the error carries its close code and reason.
pub async fn login(conn: &quinn::Connection, creds: Credentials) -> Result<LoggedIn, ClientError> {
    let logged = voice_net::login(
        conn,
        &voice_net::Login {
            key: &creds.key,
            password: &creds.password,
            display_name: &creds.name,
            admin_token: &creds.admin_token,
            room: creds.room,
            client: "voice-bench",
            share_history: creds.share_history,
        },
    )
    .await?;
    Ok(LoggedIn {
        control: Framed {
            send: logged.send,
            reader: logged.reader,
        },
        welcome: logged.welcome,
    })
}
