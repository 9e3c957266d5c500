//! Files over BitTorrent: the embedded librqbit session ([`bt`]), the
//! loopback tracker that forwards its announces over the server connection
//! ([`tracker`]), the torrents' bytes ([`torrent`]), and the table of this
//! daemon's transfers with their cache directories (here).
//!
//! Torrent data lives only in the cache (`torrents` under the cache dir),
//! one directory per transfer: a shared file is copied there (the user's
//! original is never opened for writing), a download is written there and
//! copied to the download directory when complete. The cache is emptied at
//! start (what a crash left), on exit, and per transfer after `torrent_ttl`.

pub mod bt;
pub mod relay;
pub mod socks;
pub mod torrent;
pub mod tracker;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use librqbit::TorrentStatsState;
use voice_proto::pb::control::{Transfer as TransferMsg, TransferKind, TransferState};

pub use bt::Bt;

/// One transfer of this daemon.
#[derive(Clone)]
pub struct Transfer {
    /// Local id.
    pub id: u32,
    /// Share or download.
    pub kind: TransferKind,
    /// Where it stands (librqbit's progress is read live on top).
    pub state: TransferState,
    /// The torrent.
    pub info_hash: [u8; 20],
    /// Its room.
    pub room: u32,
    /// The file name.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// Its cache directory (removed with it).
    pub dir: PathBuf,
    /// Where a download goes when complete.
    pub dest_dir: PathBuf,
    /// The finished download, or the shared original.
    pub path: PathBuf,
    /// The shared-state entry (0 = none yet).
    pub file_id: u32,
    /// Why it failed.
    pub error: String,
    /// The torrent in the session, once added.
    pub handle: Option<bt::Handle>,
    /// When it started (for `torrent_ttl`).
    pub started: Instant,
    /// A completed download is being copied out.
    pub finishing: bool,
}

impl std::fmt::Debug for Transfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transfer")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Transfer {
    /// The transfer as the control API shows it, with live figures and
    /// those of its relayed connections.
    pub fn to_msg(&self, relays: relay::RelayFigures) -> TransferMsg {
        let mut msg = TransferMsg {
            id: self.id,
            kind: self.kind as i32,
            state: self.state as i32,
            name: self.name.clone(),
            info_hash: torrent::hex(&self.info_hash),
            size: self.size,
            room: self.room,
            file_id: self.file_id,
            path: self.path.to_string_lossy().into_owned(),
            error: self.error.clone(),
            ..TransferMsg::default()
        };
        if let Some(handle) = &self.handle {
            let stats = handle.stats();
            msg.done_bytes = stats.progress_bytes;
            msg.uploaded_bytes = stats.uploaded_bytes;
            if let Some(live) = &stats.live {
                msg.download_bps = live.download_speed.as_bytes();
                msg.upload_bps = live.upload_speed.as_bytes();
                msg.peers = live.snapshot.peer_stats.live;
            }
            if matches!(stats.state, TorrentStatsState::Initializing { .. })
                && self.state != TransferState::Failed
            {
                msg.state = TransferState::Checking as i32;
            }
        }
        if self.state == TransferState::Complete || self.state == TransferState::Seeding {
            msg.done_bytes = self.size;
        }
        msg.relayed_peers = relays.open;
        msg.relayed_bytes = relays.bytes;
        // librqbit counts every live peer; ours are the relayed ones.
        msg.peers = msg.peers.max(relays.open);
        msg.route = route(msg.peers, relays.open).to_owned();
        msg
    }
}

/// How a transfer's `peers` connections run, `relayed` of them through
/// the server.
pub fn route(peers: u32, relayed: u32) -> &'static str {
    match (peers, relayed) {
        (0, _) => "",
        (_, 0) => "direct",
        (p, r) if r >= p => "relayed",
        _ => "mixed",
    }
}

/// The transfers and the cache they live in.
#[derive(Debug)]
pub struct Files {
    /// Peer connections through the server.
    pub relay: Arc<relay::Relay>,
    root: PathBuf,
    table: Mutex<Table>,
    bt: tokio::sync::Mutex<Option<Arc<Bt>>>,
    /// The engine's transfer ticker runs.
    pub ticker_started: std::sync::atomic::AtomicBool,
    /// Room history snapshots in BitTorrent (served or being fetched), by
    /// info hash: their room, cache directory and when they were added.
    /// Not transfers: users do not see them in `Transfers`.
    pub history: Mutex<std::collections::HashMap<[u8; 20], (u32, PathBuf, std::time::Instant)>>,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u32,
    transfers: BTreeMap<u32, Transfer>,
}

impl Files {
    /// The transfers of a daemon whose cache is `cache_dir`; empties what
    /// an earlier run left in it.
    pub fn new(cache_dir: &Path) -> Self {
        let root = cache_dir.join("torrents");
        remove_dir(&root);
        Self {
            relay: Arc::new(relay::Relay::default()),
            root,
            table: Mutex::new(Table {
                next_id: 1,
                transfers: BTreeMap::new(),
            }),
            bt: tokio::sync::Mutex::new(None),
            ticker_started: std::sync::atomic::AtomicBool::new(false),
            history: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Where torrent data lives.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session, started on first use with `start`.
    pub async fn bt<F, Fut>(&self, start: F) -> Result<Arc<Bt>, String>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Bt, String>>,
    {
        let mut slot = self.bt.lock().await;
        if let Some(bt) = &*slot {
            return Ok(bt.clone());
        }
        let bt = Arc::new(start().await?);
        *slot = Some(bt.clone());
        Ok(bt)
    }

    /// The session if it runs.
    pub async fn running(&self) -> Option<Arc<Bt>> {
        self.bt.lock().await.clone()
    }

    /// A fresh cache directory for a transfer (mode 0700 where new).
    pub fn new_dir(&self) -> Result<PathBuf, String> {
        let mut rand = [0u8; 8];
        getrandom::getrandom(&mut rand).map_err(|e| e.to_string())?;
        let dir = self.root.join(voice_proto::hash::hex(&rand));
        // Private: downloads in progress are nobody else's to read.
        crate::fsutil::create_private_dir(&dir)
            .map_err(|e| format!("cannot make the cache directory {}: {e}", dir.display()))?;
        Ok(dir)
    }

    /// Records a new transfer; returns its id.
    pub fn insert(&self, mut transfer: Transfer) -> u32 {
        let mut table = self.lock();
        let id = table.next_id;
        table.next_id = table.next_id.wrapping_add(1).max(1);
        transfer.id = id;
        table.transfers.insert(id, transfer);
        id
    }

    /// Changes a transfer; `None` when it is gone.
    pub fn update<T>(&self, id: u32, f: impl FnOnce(&mut Transfer) -> T) -> Option<T> {
        self.lock().transfers.get_mut(&id).map(f)
    }

    /// A copy of a transfer.
    pub fn get(&self, id: u32) -> Option<Transfer> {
        self.lock().transfers.get(&id).cloned()
    }

    /// The transfer of a torrent.
    pub fn by_hash(&self, hash: &[u8; 20]) -> Option<Transfer> {
        self.lock()
            .transfers
            .values()
            .find(|t| t.info_hash == *hash)
            .cloned()
    }

    /// Takes a transfer out of the table.
    pub fn take(&self, id: u32) -> Option<Transfer> {
        self.lock().transfers.remove(&id)
    }

    /// A transfer as the control API shows it.
    pub fn msg(&self, t: &Transfer) -> TransferMsg {
        t.to_msg(self.relay.figures(&t.info_hash))
    }

    /// Every transfer.
    pub fn all(&self) -> Vec<Transfer> {
        self.lock().transfers.values().cloned().collect()
    }

    /// Stops the session and empties the cache (daemon exit).
    pub async fn shutdown(&self) {
        self.lock().transfers.clear();
        if let Some(bt) = self.bt.lock().await.take() {
            match Arc::try_unwrap(bt) {
                Ok(bt) => bt.stop().await,
                Err(bt) => drop(bt),
            }
        }
        remove_dir(&self.root);
    }
}

/// A listener on 127.0.0.1 (a free port), its address, and a random
/// secret (32 hex digits) for whoever may use it.
pub async fn loopback_listener()
-> std::io::Result<(tokio::net::TcpListener, std::net::SocketAddr, String)> {
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let mut secret = [0u8; 16];
    getrandom::getrandom(&mut secret).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok((listener, addr, voice_proto::hash::hex(&secret)))
}

/// Serves `listener` until `cancel` (on the current runtime): each
/// connection in a task of its own, at most `max` at once (more are
/// closed at once), every task ending with `cancel`.
pub fn serve_loopback<F, Fut>(
    listener: tokio::net::TcpListener,
    max: usize,
    cancel: tokio_util::sync::CancellationToken,
    handle: F,
) where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(tokio::sync::Semaphore::new(max));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = cancel.cancelled() => return,
                a = listener.accept() => a,
            };
            let Ok((stream, _)) = accepted else { continue };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                continue;
            };
            let work = handle(stream);
            let stop = cancel.clone();
            tokio::spawn(async move {
                let _permit = permit;
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = work => {}
                }
            });
        }
    });
}

/// Removes a directory tree, logging (not failing) when it cannot.
pub fn remove_dir(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot empty the torrent cache")
        }
    }
}

/// `name` in `dir`, or `name (1)`, `name (2)`... when taken: a download
/// never replaces a file.
pub fn unique_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    (1..)
        .map(|n| dir.join(format!("{stem} ({n}){ext}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_how_peers_connect() {
        assert_eq!(route(0, 0), "");
        assert_eq!(route(3, 0), "direct");
        assert_eq!(route(3, 1), "mixed");
        assert_eq!(route(2, 2), "relayed");
    }

    #[test]
    fn downloads_never_replace_a_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(unique_path(dir.path(), "a.txt"), dir.path().join("a.txt"));
        std::fs::write(dir.path().join("a.txt"), b"x").unwrap();
        std::fs::write(dir.path().join("a (1).txt"), b"x").unwrap();
        assert_eq!(
            unique_path(dir.path(), "a.txt"),
            dir.path().join("a (2).txt")
        );
        std::fs::write(dir.path().join("noext"), b"x").unwrap();
        assert_eq!(
            unique_path(dir.path(), "noext"),
            dir.path().join("noext (1)")
        );
    }

    #[test]
    fn the_cache_is_emptied_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let left = dir.path().join("torrents/abc");
        std::fs::create_dir_all(&left).unwrap();
        std::fs::write(left.join("data"), b"x").unwrap();
        let files = Files::new(dir.path());
        assert!(!files.root().exists());
        let fresh = files.new_dir().unwrap();
        assert!(fresh.starts_with(dir.path().join("torrents")));
    }
}
