//! The loopback SOCKS5 endpoint librqbit dials every peer through
//! (RFC 1928 CONNECT with RFC 1929 username/password): it connects
//! directly when it can and through the server's relay when it cannot
//! (see [`super::relay`]).
//!
//! Only this daemon may use it: it listens on 127.0.0.1 only and demands a
//! random password; requests are read within 5 s. It connects only to our
//! loopback tracker and to addresses the server's tracker named as peers,
//! so it is no open proxy even to local programs that learn the password.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::relay::{self, HANDSHAKE_LEN, Opener, Relay, RelayMode};

/// Time to finish the SOCKS greeting, login and request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for librqbit's handshake and the relay to open after it.
const RELAY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections handled at once.
const MAX_CONNECTIONS: usize = 512;
/// Bytes copied at once each way on a direct connection.
const COPY_BUFFER: usize = 256 * 1024;

/// Reply codes (RFC 1928 §6).
mod reply {
    pub const SUCCEEDED: u8 = 0x00;
    pub const NOT_ALLOWED: u8 = 0x02;
    pub const HOST_UNREACHABLE: u8 = 0x04;
    pub const COMMAND_NOT_SUPPORTED: u8 = 0x07;
    pub const ADDRESS_NOT_SUPPORTED: u8 = 0x08;
}

/// A running endpoint.
#[derive(Debug, Clone)]
pub struct Socks {
    addr: SocketAddr,
    password: String,
}

/// What the endpoint connects through.
#[derive(Clone)]
pub struct Routes {
    /// Peers, failures and counters.
    pub relay: Arc<Relay>,
    /// Opens relay streams.
    pub opener: Opener,
    /// The loopback tracker (always reached directly).
    pub tracker: SocketAddr,
}

impl Socks {
    /// Binds 127.0.0.1 on a free port and serves until `cancel` (on the
    /// current runtime).
    pub async fn start(routes: Routes, cancel: CancellationToken) -> std::io::Result<Self> {
        let (listener, addr, password) = super::loopback_listener().await?;
        let expected = password.clone();
        super::serve_loopback(listener, MAX_CONNECTIONS, cancel, move |stream| {
            let routes = routes.clone();
            let expected = expected.clone();
            async move {
                if let Err(e) = serve(stream, &expected, &routes).await {
                    tracing::debug!(error = %e, "SOCKS connection failed");
                }
            }
        });
        Ok(Self { addr, password })
    }

    /// The proxy URL for librqbit.
    pub fn url(&self) -> String {
        format!("socks5://voiced:{}@{}", self.password, self.addr)
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads the greeting, the login and the CONNECT request; the target.
async fn negotiate(stream: &mut TcpStream, password: &str) -> std::io::Result<SocketAddr> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await?;
    if head[0] != 5 {
        return Err(bad("not SOCKS5"));
    }
    let mut methods = vec![0u8; usize::from(head[1])];
    stream.read_exact(&mut methods).await?;
    if !methods.contains(&2) {
        stream.write_all(&[5, 0xff]).await?;
        return Err(bad("no username/password method offered"));
    }
    stream.write_all(&[5, 2]).await?;
    // RFC 1929: version 1, user, password.
    let mut version = [0u8; 2];
    stream.read_exact(&mut version).await?;
    let mut user = vec![0u8; usize::from(version[1])];
    stream.read_exact(&mut user).await?;
    let mut len = [0u8; 1];
    stream.read_exact(&mut len).await?;
    let mut given = vec![0u8; usize::from(len[0])];
    stream.read_exact(&mut given).await?;
    if version[0] != 1 || given != password.as_bytes() {
        stream.write_all(&[1, 1]).await?;
        return Err(bad("wrong SOCKS password"));
    }
    stream.write_all(&[1, 0]).await?;
    let mut request = [0u8; 4];
    stream.read_exact(&mut request).await?;
    if request[0] != 5 {
        return Err(bad("not SOCKS5"));
    }
    let ip = match request[3] {
        1 => {
            let mut b = [0u8; 4];
            stream.read_exact(&mut b).await?;
            IpAddr::from(Ipv4Addr::from(b))
        }
        4 => {
            let mut b = [0u8; 16];
            stream.read_exact(&mut b).await?;
            IpAddr::from(Ipv6Addr::from(b))
        }
        _ => {
            send_reply(stream, reply::ADDRESS_NOT_SUPPORTED).await?;
            return Err(bad("only IP addresses are connected to"));
        }
    };
    let mut port = [0u8; 2];
    stream.read_exact(&mut port).await?;
    if request[1] != 1 {
        send_reply(stream, reply::COMMAND_NOT_SUPPORTED).await?;
        return Err(bad("only CONNECT is supported"));
    }
    Ok(SocketAddr::new(ip, u16::from_be_bytes(port)))
}

async fn send_reply(stream: &mut TcpStream, code: u8) -> std::io::Result<()> {
    stream.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]).await
}

async fn serve(mut stream: TcpStream, password: &str, routes: &Routes) -> std::io::Result<()> {
    let target = tokio::time::timeout(REQUEST_TIMEOUT, negotiate(&mut stream, password))
        .await
        .map_err(|_| std::io::Error::other("SOCKS request timed out"))??;
    let _ = stream.set_nodelay(true);
    let relay = &routes.relay;
    if target == routes.tracker {
        return direct(stream, target, None).await;
    }
    if !relay.knows(target) {
        send_reply(&mut stream, reply::NOT_ALLOWED).await?;
        return Err(bad("not a peer the server named"));
    }
    let mode = relay.mode();
    let try_direct = match mode {
        RelayMode::Never => true,
        RelayMode::Always => false,
        RelayMode::Auto => !relay.failed_lately(target),
    };
    if try_direct {
        match tokio::time::timeout(relay::DIRECT_TIMEOUT, TcpStream::connect(target)).await {
            Ok(Ok(peer)) => return direct(stream, target, Some(peer)).await,
            Ok(Err(e)) => tracing::debug!(%target, error = %e, "direct peer connection failed"),
            Err(_) => tracing::debug!(%target, "direct peer connection timed out"),
        }
        relay.direct_failed(target);
    }
    if mode == RelayMode::Never {
        send_reply(&mut stream, reply::HOST_UNREACHABLE).await?;
        return Ok(());
    }
    // The swarm is in librqbit's handshake, sent once the proxy says yes.
    send_reply(&mut stream, reply::SUCCEEDED).await?;
    let opened = tokio::time::timeout(RELAY_TIMEOUT, async {
        let mut handshake = [0u8; HANDSHAKE_LEN];
        stream
            .read_exact(&mut handshake)
            .await
            .map_err(|e| e.to_string())?;
        let hash = relay::handshake_info_hash(&handshake)
            .ok_or("librqbit sent no BitTorrent handshake")?;
        let peer = relay
            .peer(target, &hash)
            .ok_or("the server named no such peer in this swarm")?;
        let streams = (routes.opener)(peer).await?;
        Ok::<_, String>((handshake, hash, streams))
    })
    .await;
    match opened {
        Ok(Ok((handshake, hash, streams))) => {
            tracing::debug!(%target, "peer connection relayed through the server");
            relay::pipe(stream, streams, &handshake, relay.torrent(hash)).await;
            Ok(())
        }
        Ok(Err(e)) => Err(std::io::Error::other(format!("relay to {target}: {e}"))),
        Err(_) => Err(std::io::Error::other(format!(
            "relay to {target} timed out"
        ))),
    }
}

/// Connects (unless already connected) and carries bytes both ways.
async fn direct(
    mut stream: TcpStream,
    target: SocketAddr,
    peer: Option<TcpStream>,
) -> std::io::Result<()> {
    let mut peer = match peer {
        Some(p) => p,
        None => match TcpStream::connect(target).await {
            Ok(p) => p,
            Err(e) => {
                send_reply(&mut stream, reply::HOST_UNREACHABLE).await?;
                return Err(e);
            }
        },
    };
    let _ = peer.set_nodelay(true);
    send_reply(&mut stream, reply::SUCCEEDED).await?;
    // Big buffers: the default 8 KiB makes this hop cost a third of a
    // direct transfer's throughput on loopback (files_bench).
    tokio::io::copy_bidirectional_with_sizes(&mut stream, &mut peer, COPY_BUFFER, COPY_BUFFER)
        .await?;
    Ok(())
}
