//! One connection attempt: QUIC + TLS with voiced's trust rules, then the
//! voice/1 handshake (Hello, Challenge, Authenticate, Welcome) and the chat
//! stream.

use std::net::SocketAddr;
use std::sync::Arc;

use voice_net::login::{LoginError, hello};
use voice_proto::pb::wire::{StreamKind, Welcome};

use super::frames::{self, FrameReader, StreamError};
use crate::identity::Identity;
use crate::trust::{Accept, KnownServer, TrustDecision, TrustVerifier, format_time_ms};

/// Everything one attempt needs.
#[derive(Clone, Debug)]
pub struct DialParams {
    /// `host:port`.
    pub server: String,
    /// Server password.
    pub password: String,
    /// Display name to log in with.
    pub display_name: String,
    /// One-time admin token.
    pub admin_token: String,
    /// Room to join (0 = root).
    pub room: u32,
    /// Serve the chat we see to members asking for history.
    pub share_history: bool,
    /// The pin of this server, if any.
    pub pinned: Option<KnownServer>,
    /// What the user accepted.
    pub accept: Accept,
    /// Trusted roots (system + CA file).
    pub roots: rustls::RootCertStore,
}

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The name does not resolve.
    #[error("cannot resolve {0}: {1}")]
    Resolve(String, String),
    /// The certificate is not trusted yet.
    #[error(
        "the certificate of {server} is not trusted (self-signed or unknown CA); its SHA-256 fingerprint is {fingerprint}. If that is the server's fingerprint, run `voicectl trust {server} {fingerprint}` or `voicectl connect {server} --accept-fingerprint {fingerprint}`"
    )]
    UnknownCertificate {
        /// `host:port`.
        server: String,
        /// Fingerprint seen.
        fingerprint: String,
    },
    /// The certificate changed since it was pinned.
    #[error(
        "the certificate of {server} CHANGED: it is now {fingerprint}, but {pinned} was pinned on {since}. This may be an attack. If the server really got a new certificate, run `voicectl trust {server} {fingerprint}`"
    )]
    ChangedCertificate {
        /// `host:port`.
        server: String,
        /// Fingerprint seen.
        fingerprint: String,
        /// Fingerprint pinned.
        pinned: String,
        /// When it was pinned.
        since: String,
        /// When it was pinned, Unix ms.
        pinned_ms: u64,
    },
    /// The server closed the connection with a code and reason.
    #[error("the server refused the login ({}): {reason}", voice_proto::close::name(*code))]
    Refused {
        /// `voice_proto::close` code.
        code: u32,
        /// The server's reason.
        reason: String,
    },
    /// Network or protocol failure.
    #[error("{0}")]
    Network(String),
    /// The server broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl DialError {
    /// Whether trying again later could help (a network problem), as
    /// opposed to a decision of the server or the user.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Network(_) | Self::Resolve(..) => true,
            Self::Refused { code, .. } => voice_proto::close::should_reconnect(*code),
            _ => false,
        }
    }
}

impl From<quinn::ConnectionError> for DialError {
    fn from(e: quinn::ConnectionError) -> Self {
        match e {
            quinn::ConnectionError::ApplicationClosed(c) => Self::Refused {
                code: u32::try_from(c.error_code.into_inner()).unwrap_or(u32::MAX),
                reason: String::from_utf8_lossy(&c.reason).into_owned(),
            },
            other => Self::Network(other.to_string()),
        }
    }
}

impl From<LoginError> for DialError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Open(c) | LoginError::Closed(c) => c.into(),
            LoginError::Read(r) => StreamError::from(r).into(),
            LoginError::Write(w) => StreamError::from(w).into(),
            LoginError::Ended(_) => StreamError::Finished.into(),
            other @ (LoginError::Unexpected { .. }
            | LoginError::Version { .. }
            | LoginError::Exporter) => Self::Protocol(other.to_string()),
        }
    }
}

impl From<StreamError> for DialError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::Read(quinn::ReadError::ConnectionLost(c))
            | StreamError::Write(quinn::WriteError::ConnectionLost(c)) => c.into(),
            StreamError::Frame(f) => Self::Protocol(f.to_string()),
            other => Self::Network(other.to_string()),
        }
    }
}

/// A logged-in connection.
pub struct Dialed {
    /// The QUIC connection.
    pub conn: quinn::Connection,
    /// Control stream, send side.
    pub control_tx: quinn::SendStream,
    /// Control stream, receive side.
    pub control_rx: FrameReader,
    /// Chat stream, send side.
    pub chat_tx: quinn::SendStream,
    /// Chat stream, receive side.
    pub chat_rx: FrameReader,
    /// The server's welcome.
    pub welcome: Welcome,
    /// The trust decision about its certificate.
    pub trust: TrustDecision,
    /// The endpoint (kept alive with the connection).
    pub endpoint: quinn::Endpoint,
}

/// Splits `host[:port]` (IPv6 in brackets) into host and port.
pub fn split_server(server: &str) -> Result<(String, u16), String> {
    let server = server.trim();
    if server.is_empty() {
        return Err("no server given".into());
    }
    if let Some(rest) = server.strip_prefix('[') {
        let (host, tail) = rest
            .split_once(']')
            .ok_or_else(|| format!("{server:?}: missing `]`"))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("{server:?}: bad port"))?,
            None if tail.is_empty() => voice_proto::DEFAULT_PORT,
            None => return Err(format!("{server:?}: unexpected text after `]`")),
        };
        return Ok((host.to_owned(), port));
    }
    match server.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Ok((
            host.to_owned(),
            port.parse()
                .map_err(|_| format!("{server:?}: bad port {port:?}"))?,
        )),
        // A bare IPv6 address.
        Some(_) => Ok((server.to_owned(), voice_proto::DEFAULT_PORT)),
        None => Ok((server.to_owned(), voice_proto::DEFAULT_PORT)),
    }
}

/// `host:port` in the form used as the key of `known_servers`.
pub fn normalize_server(server: &str) -> Result<String, String> {
    let (host, port) = split_server(server)?;
    Ok(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{}:{port}", host.to_ascii_lowercase())
    })
}

/// The `Hello` client string: this daemon and its version.
pub fn client_name() -> String {
    format!("voiced {}", env!("CARGO_PKG_VERSION"))
}

/// Connects, checks the certificate and logs in.
pub async fn dial(params: &DialParams, identity: &Identity) -> Result<Dialed, DialError> {
    let (host, port) = split_server(&params.server).map_err(DialError::Network)?;
    let addr: SocketAddr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| DialError::Resolve(params.server.clone(), e.to_string()))?
        .next()
        .ok_or_else(|| DialError::Resolve(params.server.clone(), "no address".into()))?;
    let bind: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let endpoint = quinn::Endpoint::client(bind)
        .map_err(|e| DialError::Network(format!("cannot open a UDP socket: {e}")))?;
    let verifier = Arc::new(TrustVerifier::new(
        voice_net::tls::provider(),
        params.roots.clone(),
        params.pinned.clone(),
        params.accept.clone(),
    ));
    let config = voice_net::client_config(verifier.clone(), voice_net::transport::client())
        .map_err(|e| DialError::Network(e.to_string()))?;
    let connecting = endpoint
        .connect_with(config, addr, &host)
        .map_err(|e| DialError::Network(format!("cannot connect to {}: {e}", params.server)))?;
    let conn = match connecting.await {
        Ok(c) => c,
        Err(e) => {
            return Err(match verifier.decision() {
                Some(TrustDecision::Unknown { fingerprint }) => DialError::UnknownCertificate {
                    server: params.server.clone(),
                    fingerprint,
                },
                Some(TrustDecision::Changed {
                    fingerprint,
                    previous,
                }) => DialError::ChangedCertificate {
                    server: params.server.clone(),
                    fingerprint,
                    pinned: previous.fingerprint,
                    since: format_time_ms(previous.first_seen_ms),
                    pinned_ms: previous.first_seen_ms,
                },
                _ => match e {
                    quinn::ConnectionError::TimedOut => DialError::Network(format!(
                        "no answer from {} (is the server running and the UDP port open?)",
                        params.server
                    )),
                    other => DialError::from(other),
                },
            });
        }
    };
    let trust = verifier
        .decision()
        .ok_or_else(|| DialError::Protocol("the certificate was never checked".into()))?;

    let client = client_name();
    let logged = voice_net::login(
        &conn,
        &voice_net::Login {
            key: identity.signing_key(),
            password: &params.password,
            display_name: &params.display_name,
            admin_token: &params.admin_token,
            room: params.room,
            client: &client,
            share_history: params.share_history,
        },
    )
    .await?;
    let (mut chat_tx, chat_rx) = conn.open_bi().await?;
    // Chat yields to the control stream.
    let _ = chat_tx.set_priority(-1);
    frames::write(&mut chat_tx, hello(StreamKind::Chat, &client)).await?;
    Ok(Dialed {
        conn,
        control_tx: logged.send,
        control_rx: logged.reader.into(),
        chat_tx,
        chat_rx: FrameReader::new(chat_rx),
        welcome: logged.welcome,
        trust,
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_parse() {
        assert_eq!(split_server("h").unwrap(), ("h".into(), 7878));
        assert_eq!(split_server("h:1").unwrap(), ("h".into(), 1));
        assert_eq!(split_server("[::1]:5").unwrap(), ("::1".into(), 5));
        assert_eq!(split_server("::1").unwrap(), ("::1".into(), 7878));
        assert!(split_server("h:x").is_err());
        assert!(split_server("").is_err());
        assert_eq!(normalize_server("Example.ORG").unwrap(), "example.org:7878");
        assert_eq!(normalize_server("::1").unwrap(), "[::1]:7878");
    }
}
