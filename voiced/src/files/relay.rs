//! Peer connections through the server, for peers that cannot reach each
//! other (NAT, firewalls). librqbit dials every peer through the loopback
//! SOCKS5 endpoint of [`super::socks`]; it tries a direct TCP connection
//! first and, when that fails or takes longer than [`DIRECT_TIMEOUT`],
//! opens a relay stream to the server naming the peer's session and swarm.
//! Relays the server opens to us are handed to our own BitTorrent listener.
//! Either way BitTorrent runs unchanged inside and librqbit checks every
//! piece as usual.
//!
//! This module keeps what that needs: which session and swarm an address
//! belongs to (from the tracker's answers), which addresses recently failed
//! a direct connection, and per torrent the relayed connections and bytes
//! the front ends show.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a direct connection may take before the relay is tried.
pub const DIRECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an address that failed directly goes straight to the relay.
const FAILED_FOR: Duration = Duration::from_secs(600);
/// Largest piece carried at once.
const CHUNK: usize = 64 * 1024;
/// Bytes of a BitTorrent handshake: length, "BitTorrent protocol",
/// reserved bits, info hash, peer id.
pub const HANDSHAKE_LEN: usize = 68;
/// A relayed connection that carries nothing for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Relay streams below chat and control, as on the server.
pub const PRIORITY: i32 = -10;
/// Addresses remembered at most (peers of every swarm we are in).
const MAX_ADDRESSES: usize = 4096;

/// How BitTorrent peers are reached (`bt_relay` in config.toml).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayMode {
    /// Directly, through the relay when that fails.
    #[default]
    Auto,
    /// Only through the relay.
    Always,
    /// Only directly.
    Never,
}

impl RelayMode {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Always,
            2 => Self::Never,
            _ => Self::Auto,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Self::Auto => 0,
            Self::Always => 1,
            Self::Never => 2,
        }
    }
}

/// A peer as the tracker named it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerRef {
    /// The swarm.
    pub info_hash: [u8; 20],
    /// Its room.
    pub room: u32,
    /// The peer's session on the server.
    pub session: u32,
}

/// A relay stream to the server, accepted by both ends.
pub type Streams = (quinn::SendStream, quinn::RecvStream);

/// Opens a relay to a peer (the engine, over the server connection).
pub type Opener = Arc<
    dyn Fn(PeerRef) -> Pin<Box<dyn Future<Output = Result<Streams, String>> + Send>> + Send + Sync,
>;

/// Relayed connections of one torrent.
#[derive(Debug, Default)]
pub struct TorrentRelays {
    /// Open now.
    pub open: AtomicU32,
    /// Bytes carried both ways.
    pub bytes: AtomicU64,
}

/// Figures of one torrent's relays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayFigures {
    /// Relayed connections open now.
    pub open: u32,
    /// Bytes carried both ways.
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct Book {
    peers: HashMap<SocketAddr, Vec<PeerRef>>,
    failed: HashMap<SocketAddr, Instant>,
    torrents: HashMap<[u8; 20], Arc<TorrentRelays>>,
}

/// The daemon's relay state (one per daemon).
#[derive(Debug, Default)]
pub struct Relay {
    mode: AtomicU8,
    book: Mutex<Book>,
}

impl Relay {
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The mode in force.
    pub fn mode(&self) -> RelayMode {
        RelayMode::from_u8(self.mode.load(Ordering::Relaxed))
    }

    /// Sets the mode (from config.toml).
    pub fn set_mode(&self, mode: RelayMode) {
        self.mode.store(mode.as_u8(), Ordering::Relaxed);
    }

    /// Records the peers the tracker gave for a swarm.
    pub fn learn(&self, room: u32, info_hash: [u8; 20], peers: &[(SocketAddr, u32)]) {
        let mut book = self.book();
        for (addr, session) in peers {
            if *session == 0 {
                continue;
            }
            let known = book.peers.len();
            let entry = book.peers.entry(*addr);
            if known >= MAX_ADDRESSES
                && matches!(entry, std::collections::hash_map::Entry::Vacant(_))
            {
                continue;
            }
            let refs = entry.or_default();
            let peer = PeerRef {
                info_hash,
                room,
                session: *session,
            };
            // The address may now be another session's (a reconnect).
            refs.retain(|r| r.info_hash != info_hash);
            refs.push(peer);
        }
    }

    /// Forgets a swarm's peers (the transfer ended).
    pub fn forget(&self, info_hash: &[u8; 20]) {
        let mut book = self.book();
        book.peers.retain(|_, refs| {
            refs.retain(|r| r.info_hash != *info_hash);
            !refs.is_empty()
        });
        book.torrents.remove(info_hash);
    }

    /// The peer at `addr` in swarm `info_hash`, if the tracker named one.
    pub fn peer(&self, addr: SocketAddr, info_hash: &[u8; 20]) -> Option<PeerRef> {
        self.book()
            .peers
            .get(&addr)
            .and_then(|refs| refs.iter().find(|r| r.info_hash == *info_hash).copied())
    }

    /// Whether the tracker named `addr` as a peer of any swarm.
    pub fn knows(&self, addr: SocketAddr) -> bool {
        self.book().peers.contains_key(&addr)
    }

    /// Whether a direct connection to `addr` failed lately.
    pub fn failed_lately(&self, addr: SocketAddr) -> bool {
        let mut book = self.book();
        match book.failed.get(&addr) {
            Some(at) if at.elapsed() < FAILED_FOR => true,
            Some(_) => {
                book.failed.remove(&addr);
                false
            }
            None => false,
        }
    }

    /// Notes a failed direct connection.
    pub fn direct_failed(&self, addr: SocketAddr) {
        let mut book = self.book();
        if book.failed.len() >= MAX_ADDRESSES {
            book.failed.retain(|_, at| at.elapsed() < FAILED_FOR);
            if book.failed.len() >= MAX_ADDRESSES {
                return;
            }
        }
        book.failed.insert(addr, Instant::now());
    }

    /// The counters of a torrent's relays.
    pub fn torrent(&self, info_hash: [u8; 20]) -> Arc<TorrentRelays> {
        self.book().torrents.entry(info_hash).or_default().clone()
    }

    /// A torrent's relay figures now.
    pub fn figures(&self, info_hash: &[u8; 20]) -> RelayFigures {
        self.book()
            .torrents
            .get(info_hash)
            .map(|t| RelayFigures {
                open: t.open.load(Ordering::Relaxed),
                bytes: t.bytes.load(Ordering::Relaxed),
            })
            .unwrap_or_default()
    }
}

/// Parses a BitTorrent handshake's info hash.
pub fn handshake_info_hash(handshake: &[u8; HANDSHAKE_LEN]) -> Option<[u8; 20]> {
    if handshake[0] != 19 || &handshake[1..20] != b"BitTorrent protocol" {
        return None;
    }
    handshake[28..48].try_into().ok()
}

/// Counts one relayed connection of a torrent while it lives.
struct Open(Arc<TorrentRelays>);

impl Open {
    fn new(t: Arc<TorrentRelays>) -> Self {
        t.open.fetch_add(1, Ordering::Relaxed);
        Self(t)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Carries a local TCP connection (librqbit's) over a relay stream until
/// either side ends; `first` goes to the stream before anything read from
/// `tcp` (the dialer's handshake, already read from `tcp`).
pub async fn pipe(tcp: TcpStream, streams: Streams, first: &[u8], counters: Arc<TorrentRelays>) {
    let _open = Open::new(counters.clone());
    let (mut send, mut recv) = streams;
    let _ = send.set_priority(PRIORITY);
    let (mut tcp_read, mut tcp_write) = tcp.into_split();
    if !first.is_empty() && send.write_all(first).await.is_err() {
        return;
    }
    counters
        .bytes
        .fetch_add(first.len() as u64, Ordering::Relaxed);
    let stop = tokio_util::sync::CancellationToken::new();
    let up = async {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = tokio::select! {
                _ = stop.cancelled() => break,
                r = tokio::time::timeout(IDLE_TIMEOUT, tcp_read.read(&mut buf)) => match r {
                    Ok(Ok(0)) => {
                        let _ = send.finish();
                        return;
                    }
                    Ok(Ok(n)) => n,
                    _ => break,
                },
            };
            if send.write_all(&buf[..n]).await.is_err() {
                break;
            }
            counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        stop.cancel();
        let _ = send.reset(1u32.into());
    };
    let down = async {
        loop {
            let chunk = tokio::select! {
                _ = stop.cancelled() => break,
                r = tokio::time::timeout(IDLE_TIMEOUT, recv.read_chunk(CHUNK, true)) => match r {
                    Ok(Ok(Some(chunk))) => chunk,
                    Ok(Ok(None)) => {
                        let _ = tcp_write.shutdown().await;
                        return;
                    }
                    _ => break,
                },
            };
            if tcp_write.write_all(&chunk.bytes).await.is_err() {
                break;
            }
            counters
                .bytes
                .fetch_add(chunk.bytes.len() as u64, Ordering::Relaxed);
        }
        stop.cancel();
        let _ = recv.stop(1u32.into());
    };
    tokio::join!(up, down);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    #[test]
    fn peers_are_found_by_address_and_swarm() {
        let relay = Relay::default();
        relay.learn(3, [1; 20], &[(addr(1), 7), (addr(2), 8), (addr(3), 0)]);
        relay.learn(3, [2; 20], &[(addr(1), 7)]);
        assert_eq!(
            relay.peer(addr(1), &[2; 20]),
            Some(PeerRef {
                info_hash: [2; 20],
                room: 3,
                session: 7
            })
        );
        assert_eq!(relay.peer(addr(2), &[2; 20]), None);
        // Without a session the server cannot relay to it.
        assert!(!relay.knows(addr(3)));
        // A reconnect gives the address to another session.
        relay.learn(3, [1; 20], &[(addr(1), 9)]);
        assert_eq!(relay.peer(addr(1), &[1; 20]).map(|p| p.session), Some(9));
        relay.forget(&[1; 20]);
        assert_eq!(relay.peer(addr(2), &[1; 20]), None);
        assert!(relay.knows(addr(1)));
    }

    #[test]
    fn failed_addresses_are_remembered() {
        let relay = Relay::default();
        assert!(!relay.failed_lately(addr(1)));
        relay.direct_failed(addr(1));
        assert!(relay.failed_lately(addr(1)));
        assert!(!relay.failed_lately(addr(2)));
    }

    #[test]
    fn the_mode_reads_from_config_words() {
        #[derive(Deserialize)]
        struct C {
            m: RelayMode,
        }
        for (word, mode) in [
            ("auto", RelayMode::Auto),
            ("always", RelayMode::Always),
            ("never", RelayMode::Never),
        ] {
            let c: C = toml::from_str(&format!("m = \"{word}\"")).unwrap();
            assert_eq!(c.m, mode);
            let relay = Relay::default();
            relay.set_mode(mode);
            assert_eq!(relay.mode(), mode);
        }
        assert!(toml::from_str::<C>("m = \"sometimes\"").is_err());
    }

    #[test]
    fn handshakes_name_their_torrent() {
        let mut h = [0u8; HANDSHAKE_LEN];
        h[0] = 19;
        h[1..20].copy_from_slice(b"BitTorrent protocol");
        h[28..48].copy_from_slice(&[5; 20]);
        assert_eq!(handshake_info_hash(&h), Some([5; 20]));
        h[3] = b'x';
        assert_eq!(handshake_info_hash(&h), None);
    }
}
