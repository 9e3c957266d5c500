//! The client side of the voice/1 login (docs/protocol.md): open the
//! control stream, `Hello` → `Challenge` → `Authenticate` (signed over the
//! challenge nonce and the TLS exporter) → `Welcome`.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use voice_proto::frame::{FrameError, SERVER_MAX_FRAME};
use voice_proto::pb::wire::{
    Authenticate, Challenge, Hello, ServerMsg, StreamKind, Welcome, client_msg, server_msg,
};
use voice_proto::{PROTOCOL_VERSION, auth};

use crate::frames::{self, FrameReader, ReadError, WriteError};

/// How long a client waits for the server's close (code and reason) after
/// the server stopped answering during the login: a refusing server ends
/// the stream and closes the connection right after.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// What a client logs in with.
#[derive(Clone, Copy, Debug)]
pub struct Login<'a> {
    /// The client's identity; the server knows the user by its public key.
    pub key: &'a SigningKey,
    /// The server password ("" on an open server).
    pub password: &'a str,
    /// Display name.
    pub display_name: &'a str,
    /// The one-time admin token, or "".
    pub admin_token: &'a str,
    /// Room to join (0 = root).
    pub room: u32,
    /// The client's name and version, sent in `Hello` (for the server's logs).
    pub client: &'a str,
    /// Serve the chat it sees to members asking for room history.
    pub share_history: bool,
}

/// A finished login.
#[derive(Debug)]
pub struct LoggedIn {
    /// The control stream's send half.
    pub send: quinn::SendStream,
    /// The control stream's envelopes, positioned after `Welcome`.
    pub reader: FrameReader<ServerMsg>,
    /// The server's `Welcome` (session id, snapshot, hash, limits).
    pub welcome: Welcome,
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The control stream could not be opened.
    #[error("cannot open the control stream: {0}")]
    Open(quinn::ConnectionError),
    /// The connection closed; a server that refuses the login closes it
    /// with a `voice_proto::close` code and a reason for the user.
    #[error("the server closed the connection: {0}")]
    Closed(quinn::ConnectionError),
    /// Sending failed.
    #[error("cannot send: {0}")]
    Write(#[from] WriteError),
    /// Reading failed, or the server sent a frame that does not decode.
    #[error("cannot read: {0}")]
    Read(#[from] ReadError),
    /// The server ended the control stream without closing the connection.
    #[error("the server ended the control stream before {0}")]
    Ended(&'static str),
    /// The server answered out of order.
    #[error("expected {expected}, got {got}")]
    Unexpected {
        /// The message the login waited for.
        expected: &'static str,
        /// What came instead.
        got: String,
    },
    /// The server speaks another protocol version.
    #[error("the server speaks protocol version {server}, this client {PROTOCOL_VERSION}")]
    Version {
        /// The server's version.
        server: u32,
    },
    /// The TLS session offers no keying material to sign.
    #[error("TLS exporter unavailable")]
    Exporter,
}

impl LoginError {
    /// The frame error when the server broke the protocol (a frame that
    /// does not decode or exceeds the limit).
    pub fn frame_error(&self) -> Option<&FrameError> {
        match self {
            Self::Read(ReadError::Frame(e)) | Self::Write(WriteError::Frame(e)) => Some(e),
            _ => None,
        }
    }
}

/// `Hello` opening a stream of `kind`, from `client` (name and version).
pub fn hello(kind: StreamKind, client: &str) -> client_msg::Msg {
    client_msg::Msg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        kind: kind as i32,
        client: client.to_owned(),
    })
}

/// Runs the login on an open connection. When the server refuses, the
/// error is [`LoginError::Closed`] with its close code and reason.
pub async fn login(conn: &quinn::Connection, login: &Login<'_>) -> Result<LoggedIn, LoginError> {
    let (mut send, recv) = conn.open_bi().await.map_err(LoginError::Open)?;
    let mut reader = FrameReader::<ServerMsg>::new(recv, SERVER_MAX_FRAME);
    send_or_closed(conn, &mut send, hello(StreamKind::Control, login.client)).await?;
    let challenge = match next(conn, &mut reader, "Challenge").await? {
        server_msg::Msg::Challenge(c) => c,
        other => return Err(unexpected("Challenge", &other)),
    };
    let Challenge {
        protocol_version,
        nonce,
        ..
    } = challenge;
    if protocol_version != PROTOCOL_VERSION {
        return Err(LoginError::Version {
            server: protocol_version,
        });
    }
    let mut exporter = [0u8; auth::EXPORTER_LEN];
    conn.export_keying_material(&mut exporter, auth::EXPORTER_LABEL, b"")
        .map_err(|_| LoginError::Exporter)?;
    let signature = auth::sign(login.key, &nonce, &exporter);
    let authenticate = client_msg::Msg::Authenticate(Authenticate {
        protocol_version: PROTOCOL_VERSION,
        public_key: login.key.verifying_key().to_bytes().to_vec(),
        signature: signature.to_bytes().to_vec(),
        password: login.password.to_owned(),
        display_name: login.display_name.to_owned(),
        admin_token: login.admin_token.to_owned(),
        room: login.room,
        share_history: login.share_history,
    });
    send_or_closed(conn, &mut send, authenticate).await?;
    match next(conn, &mut reader, "Welcome").await? {
        server_msg::Msg::Welcome(welcome) => Ok(LoggedIn {
            send,
            reader,
            welcome,
        }),
        other => Err(unexpected("Welcome", &other)),
    }
}

fn unexpected(expected: &'static str, got: &server_msg::Msg) -> LoginError {
    LoginError::Unexpected {
        expected,
        got: format!("{got:?}"),
    }
}

/// Writes `msg`; a write refused because the connection closed reports the
/// close.
async fn send_or_closed(
    conn: &quinn::Connection,
    send: &mut quinn::SendStream,
    msg: client_msg::Msg,
) -> Result<(), LoginError> {
    match frames::write(send, msg).await {
        Ok(()) => Ok(()),
        Err(WriteError::Stream(e)) => Err(closed_or(conn, WriteError::Stream(e).into()).await),
        Err(e) => Err(e.into()),
    }
}

/// The next server message; when the stream ends or fails, the server's
/// close if it comes within [`CLOSE_WAIT`].
async fn next(
    conn: &quinn::Connection,
    reader: &mut FrameReader<ServerMsg>,
    expected: &'static str,
) -> Result<server_msg::Msg, LoginError> {
    match reader.next().await {
        Ok(Some(ServerMsg { msg: Some(msg) })) => Ok(msg),
        // The reader refuses empty envelopes; this is for completeness.
        Ok(Some(ServerMsg { msg: None })) => Err(ReadError::Frame(FrameError::Unknown).into()),
        Ok(None) => Err(closed_or(conn, LoginError::Ended(expected)).await),
        Err(ReadError::Frame(e)) => Err(ReadError::Frame(e).into()),
        Err(e) => Err(closed_or(conn, e.into()).await),
    }
}

/// The connection's close once it comes (a refusal closes it right after
/// the stream ends), else `otherwise`.
async fn closed_or(conn: &quinn::Connection, otherwise: LoginError) -> LoginError {
    match tokio::time::timeout(CLOSE_WAIT, conn.closed()).await {
        Ok(reason) => LoginError::Closed(reason),
        Err(_) => otherwise,
    }
}
