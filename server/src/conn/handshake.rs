//! The login: `Hello` → `Challenge` → `Authenticate` → `Welcome` (docs/protocol.md).

use rand::RngCore;
use voice_proto::pb::wire::{Challenge, StreamKind, client_msg, server_msg::Msg};
use voice_proto::state::SessionId;
use voice_proto::{PROTOCOL_VERSION, auth, close, frame};

use super::{FrameReader, ReadError};
use crate::hub::{Hub, JoinError, Login, encode};

/// A login that failed: the close code and the reason for the user.
#[derive(Debug)]
pub struct Refusal {
    /// Close code (`voice_proto::close`).
    pub code: u32,
    /// Message for the user.
    pub reason: String,
    /// Counts as a failed login for throttling.
    pub counts: bool,
}

impl Refusal {
    fn new(code: u32, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
            counts: false,
        }
    }

    fn failed(reason: impl Into<String>) -> Self {
        Self {
            code: close::AUTH_FAILED,
            reason: reason.into(),
            counts: true,
        }
    }
}

impl From<ReadError> for Refusal {
    fn from(e: ReadError) -> Self {
        Refusal::new(close::PROTOCOL_ERROR, format!("during login: {e}"))
    }
}

/// A finished login.
#[derive(Debug)]
pub struct Joined {
    /// The session.
    pub id: SessionId,
    /// The control stream's send half.
    pub send: crate::quic::SendStream,
    /// The control stream's frames.
    pub reader: FrameReader,
    /// The session's outgoing queue (starts with `Welcome`).
    pub queue: crate::hub::OutboxReader,
}

/// Runs the login on a new connection (the caller applies the deadline).
pub async fn handshake(hub: &Hub, conn: &crate::quic::Connection) -> Result<Joined, Refusal> {
    let (mut send, recv) = conn
        .accept_bi()
        .await
        .map_err(|e| Refusal::new(close::PROTOCOL_ERROR, format!("no control stream: {e}")))?;
    let mut reader = FrameReader::new(recv, frame::PRE_AUTH_MAX_FRAME);
    let hello = match reader.next().await?.and_then(|m| m.msg) {
        Some(client_msg::Msg::Hello(hello)) => hello,
        _ => {
            return Err(Refusal::new(
                close::PROTOCOL_ERROR,
                "the control stream must start with Hello",
            ));
        }
    };
    if hello.protocol_version != PROTOCOL_VERSION {
        return Err(Refusal::new(
            close::VERSION_MISMATCH,
            format!(
                "this server speaks protocol version {PROTOCOL_VERSION}, not {}",
                hello.protocol_version
            ),
        ));
    }
    if hello.kind != StreamKind::Control as i32 {
        return Err(Refusal::new(
            close::PROTOCOL_ERROR,
            "the first stream must be the control stream",
        ));
    }
    let mut nonce = [0u8; auth::NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let challenge = encode(Msg::Challenge(Challenge {
        protocol_version: PROTOCOL_VERSION,
        nonce: nonce.to_vec(),
        server_name: hub.config.server_name.clone(),
    }));
    send.write_all(&challenge)
        .await
        .map_err(|e| Refusal::new(close::PROTOCOL_ERROR, format!("cannot send: {e}")))?;
    let authenticate = match reader.next().await?.and_then(|m| m.msg) {
        Some(client_msg::Msg::Authenticate(a)) => a,
        _ => {
            return Err(Refusal::new(
                close::PROTOCOL_ERROR,
                "expected Authenticate after Challenge",
            ));
        }
    };
    if authenticate.protocol_version != PROTOCOL_VERSION {
        return Err(Refusal::new(
            close::VERSION_MISMATCH,
            format!("this server speaks protocol version {PROTOCOL_VERSION}"),
        ));
    }
    let mut exporter = [0u8; auth::EXPORTER_LEN];
    conn.export_keying_material(&mut exporter, auth::EXPORTER_LABEL, b"")
        .map_err(|_| Refusal::new(close::PROTOCOL_ERROR, "TLS exporter unavailable"))?;
    auth::verify(
        &authenticate.public_key,
        &authenticate.signature,
        &nonce,
        &exporter,
    )
    .map_err(|e| Refusal::failed(e.to_string()))?;
    if !hub.password.is_empty() && !auth::password_matches(&authenticate.password, &hub.password) {
        return Err(Refusal::failed("wrong server password"));
    }
    match hub.active_ban(&authenticate.public_key) {
        Ok(Some(ban)) => {
            let reason = if ban.reason.is_empty() {
                "you are banned from this server".to_owned()
            } else {
                format!("you are banned from this server: {}", ban.reason)
            };
            return Err(Refusal::new(close::BANNED, reason));
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, "cannot read bans");
            return Err(Refusal::new(
                close::SHUTDOWN,
                "the server cannot read its database",
            ));
        }
    }
    let login = Login {
        conn: conn.clone(),
        key: authenticate.public_key,
        name: authenticate.display_name,
        room: authenticate.room,
        admin_token: authenticate.admin_token,
        share_history: authenticate.share_history,
    };
    let (id, queue) = hub.join(login).await.map_err(|e| match e {
        JoinError::Full(_) => Refusal::new(close::SERVER_FULL, e.to_string()),
        JoinError::Refused(reason) => Refusal::new(close::AUTH_FAILED, reason),
        JoinError::TooLarge(_) => {
            tracing::error!(error = %e, "cannot send the state at login");
            Refusal::new(close::SERVER_FULL, e.to_string())
        }
        JoinError::Store(e) => {
            tracing::error!(error = %e, "database failure at login");
            Refusal::new(close::SHUTDOWN, "the server cannot write its database")
        }
    })?;
    reader.set_max(frame::CLIENT_MAX_FRAME);
    Ok(Joined {
        id,
        send,
        reader,
        queue,
    })
}
