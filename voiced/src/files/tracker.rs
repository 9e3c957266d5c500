//! The loopback HTTP tracker librqbit announces to. librqbit has no
//! pluggable tracker and no call to add peers to a running torrent, so each
//! torrent gets one tracker URL, `http://127.0.0.1:PORT/SECRET/HASH/announce`,
//! and every announce is forwarded over the server connection
//! (`TrackerAnnounce`); the server's peers go back as a compact peer list.
//!
//! Only this daemon may use it: it listens on 127.0.0.1 only and answers
//! 404 to any path without its random secret. A request is read within
//! 5 s and 8 KiB; anything else is closed.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use voice_proto::pb::wire::TrackerEvent;

/// Longest request head read.
const MAX_REQUEST: usize = 8 << 10;
/// Time to send a request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests handled at once.
const MAX_CONNECTIONS: usize = 64;

/// An announce of one torrent, as librqbit sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    /// Which torrent.
    pub info_hash: [u8; 20],
    /// Bytes it still misses.
    pub left: u64,
    /// started, completed, stopped or none.
    pub event: TrackerEvent,
}

/// The server's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// Peers to try.
    pub peers: Vec<SocketAddr>,
    /// When to announce again.
    pub interval: Duration,
}

/// Where announces go (the engine, over the server connection).
pub type Forward = Arc<
    dyn Fn(Announce) -> Pin<Box<dyn Future<Output = Result<Answer, String>> + Send>> + Send + Sync,
>;

/// A running loopback tracker.
#[derive(Debug, Clone)]
pub struct LoopbackTracker {
    addr: SocketAddr,
    secret: String,
}

impl LoopbackTracker {
    /// Binds 127.0.0.1 on a free port and serves until `cancel` (on the
    /// current runtime).
    pub async fn start(forward: Forward, cancel: CancellationToken) -> std::io::Result<Self> {
        let (listener, addr, secret) = super::loopback_listener().await?;
        let served = secret.clone();
        super::serve_loopback(listener, MAX_CONNECTIONS, cancel, move |stream| {
            let forward = forward.clone();
            let secret = served.clone();
            async move {
                if let Err(e) = serve(stream, &secret, &forward).await {
                    tracing::debug!(error = %e, "loopback tracker request failed");
                }
            }
        });
        Ok(Self { addr, secret })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL a torrent announces to.
    pub fn url(&self, info_hash: &[u8; 20]) -> String {
        format!(
            "http://{}/{}/{}/announce",
            self.addr,
            self.secret,
            voice_proto::hash::hex(info_hash)
        )
    }
}

async fn serve(mut stream: TcpStream, secret: &str, forward: &Forward) -> std::io::Result<()> {
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream))
        .await
        .map_err(|_| std::io::Error::other("request head timed out"))??;
    let (status, body) = match parse_request(&head, secret) {
        Err(status) => (status, Vec::new()),
        Ok(announce) => match forward(announce).await {
            Ok(answer) => ("200 OK", encode_answer(&answer)),
            Err(reason) => ("200 OK", encode_failure(&reason)),
        },
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    stream.write_all(&response).await?;
    stream.shutdown().await
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(head);
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            return Ok(head);
        }
        if head.len() > MAX_REQUEST {
            return Err(std::io::Error::other("request head too long"));
        }
    }
}

/// Reads `GET /SECRET/HASH/announce?...`; an `Err` is the HTTP status.
fn parse_request(head: &[u8], secret: &str) -> Result<Announce, &'static str> {
    let line = head
        .split(|b| *b == b'\r')
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .ok_or("400 Bad Request")?;
    let mut parts = line.split(' ');
    if parts.next() != Some("GET") {
        return Err("405 Method Not Allowed");
    }
    let target = parts.next().ok_or("400 Bad Request")?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut segments = path.trim_start_matches('/').split('/');
    let (Some(got_secret), Some(hash), Some("announce"), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err("404 Not Found");
    };
    if !constant_time_eq(got_secret.as_bytes(), secret.as_bytes()) {
        return Err("404 Not Found");
    }
    let info_hash = super::torrent::parse_hash(hash).ok_or("404 Not Found")?;
    let mut left = None;
    let mut event = TrackerEvent::None;
    for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
        match k {
            "left" => left = v.parse::<u64>().ok(),
            "event" => {
                event = match v {
                    "started" => TrackerEvent::Started,
                    "completed" => TrackerEvent::Completed,
                    "stopped" => TrackerEvent::Stopped,
                    _ => TrackerEvent::None,
                }
            }
            _ => {}
        }
    }
    Ok(Announce {
        info_hash,
        left: left.ok_or("400 Bad Request")?,
        event,
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `d8:intervali..e5:peers..6:peers6..e` (compact peers, keys sorted).
fn encode_answer(answer: &Answer) -> Vec<u8> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for peer in &answer.peers {
        match peer {
            SocketAddr::V4(a) => {
                v4.extend_from_slice(&a.ip().octets());
                v4.extend_from_slice(&a.port().to_be_bytes());
            }
            SocketAddr::V6(a) => {
                v6.extend_from_slice(&a.ip().octets());
                v6.extend_from_slice(&a.port().to_be_bytes());
            }
        }
    }
    let mut out = format!(
        "d8:intervali{}e5:peers{}:",
        answer.interval.as_secs().max(1),
        v4.len()
    )
    .into_bytes();
    out.extend_from_slice(&v4);
    out.extend_from_slice(format!("6:peers6{}:", v6.len()).as_bytes());
    out.extend_from_slice(&v6);
    out.push(b'e');
    out
}

fn encode_failure(reason: &str) -> Vec<u8> {
    let mut out = format!("d14:failure reason{}:", reason.len()).into_bytes();
    out.extend_from_slice(reason.as_bytes());
    out.push(b'e');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announces_are_read_only_with_the_secret() {
        let hash = "ab".repeat(20);
        let head = format!(
            "GET /s3cret/{hash}/announce?info_hash=%AB%00&peer_id=x&port=1&left=42&event=started&compact=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        assert_eq!(
            parse_request(head.as_bytes(), "s3cret"),
            Ok(Announce {
                info_hash: [0xab; 20],
                left: 42,
                event: TrackerEvent::Started
            })
        );
        assert_eq!(
            parse_request(head.as_bytes(), "other"),
            Err("404 Not Found")
        );
        assert_eq!(
            parse_request(b"POST / HTTP/1.1\r\n\r\n", "s"),
            Err("405 Method Not Allowed")
        );
        let no_left = format!("GET /s/{hash}/announce?port=1 HTTP/1.1\r\n\r\n");
        assert_eq!(
            parse_request(no_left.as_bytes(), "s"),
            Err("400 Bad Request")
        );
    }

    #[test]
    fn answers_are_compact_bencode() {
        let answer = Answer {
            peers: vec![
                "127.0.0.1:6881".parse().unwrap(),
                "[::1]:80".parse().unwrap(),
            ],
            interval: Duration::from_secs(30),
        };
        let mut want = b"d8:intervali30e5:peers6:\x7f\x00\x00\x01\x1a\xe16:peers618:".to_vec();
        want.extend_from_slice(&[0; 15]);
        want.extend_from_slice(&[1, 0, 80]);
        want.push(b'e');
        assert_eq!(encode_answer(&answer), want);
        assert_eq!(encode_failure("no"), b"d14:failure reason2:noe");
    }
}
