//! Files over BitTorrent, as the user sees them: share a file in a room,
//! list a room's files, download one, follow and cancel transfers. The
//! server is the tracker; librqbit moves the data between peers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use voice_proto::pb::control::{
    FileEntry, ShareReply, Transfer as TransferMsg, TransferKind, TransferState, event,
};
use voice_proto::pb::wire::{
    FileRemove, PeerAddr, SharedFile, TorrentFetch, TorrentPublish, TrackerAnnounce, TrackerEvent,
    TrackerScrape, change::Kind, client_msg,
};

use crate::engine::link::Reply;
use crate::engine::{Engine, Inner, resolve};
use crate::error::Error;
use crate::files::relay::Opener;
use crate::files::tracker::{Announce, Answer, Forward};
use crate::files::{Bt, Transfer, remove_dir, torrent, unique_path};

/// How often transfers are looked at (progress events, completion, expiry).
const TICK: Duration = Duration::from_millis(500);
/// How soon librqbit announces again while the server is unreachable.
const OFFLINE_INTERVAL: Duration = Duration::from_secs(5);

fn failed(e: impl std::fmt::Display) -> Error {
    Error::Failed(e.to_string())
}

impl Engine {
    /// The room a request names (empty = mine).
    pub(super) fn files_room(&self, room: &str) -> Result<u32, Error> {
        self.with_state(|s, me| {
            if room.trim().is_empty() {
                s.session(me)
                    .map(|m| m.room)
                    .ok_or_else(|| Error::Failed("our session is not in the state".into()))
            } else {
                resolve::room(s, room)
            }
        })
    }

    /// The BitTorrent session, started on first use.
    pub(super) async fn bt(&self) -> Result<Arc<Bt>, Error> {
        let weak = Arc::downgrade(&self.inner);
        let (port, limit, mode) = {
            let st = self.lock();
            (
                st.config.bt_port,
                st.config.bt_upload_limit,
                st.config.bt_relay,
            )
        };
        let root = self.inner.files.root().to_path_buf();
        let relay = self.inner.files.relay.clone();
        relay.set_mode(mode);
        let started = self
            .inner
            .files
            .bt(|| async move {
                let opener_engine = weak.clone();
                let forward: Forward = Arc::new(move |announce| {
                    let weak = weak.clone();
                    Box::pin(async move { forward_announce(weak, announce).await })
                });
                let opener: Opener = Arc::new(move |peer| {
                    let weak = opener_engine.clone();
                    Box::pin(async move { super::relays::open(weak, peer).await })
                });
                Bt::start(&root, port, limit, forward, relay, opener).await
            })
            .await
            .map_err(Error::Failed)?;
        self.start_transfer_ticker();
        Ok(started)
    }

    /// Sends a tracker request and waits for its answer.
    pub(super) async fn tracker_request(
        &self,
        make: impl FnOnce(u64) -> client_msg::Msg,
    ) -> Result<Reply, Error> {
        let link = self.link()?;
        let id = link.next_id();
        match self.request(&link, id, make(id)).await? {
            Reply::Failed(why) => Err(Error::Failed(why)),
            other => Ok(other),
        }
    }

    /// Announces to the server; the peers it returns.
    pub(super) async fn announce(
        &self,
        room: u32,
        info_hash: [u8; 20],
        left: u64,
        event: TrackerEvent,
    ) -> Result<Answer, Error> {
        let port = match self.inner.files.running().await {
            Some(bt) => bt.port(),
            None => return Err(Error::Failed("BitTorrent is not running".into())),
        };
        let reply = self
            .tracker_request(|request_id| {
                client_msg::Msg::Announce(TrackerAnnounce {
                    request_id,
                    room,
                    info_hash: info_hash.to_vec(),
                    port: u32::from(port),
                    left,
                    event: event as i32,
                })
            })
            .await?;
        let Reply::Peers(peers) = reply else {
            return Err(Error::Failed("unexpected answer to an announce".into()));
        };
        let interval = Duration::from_millis(u64::from(peers.interval_ms.max(1000)));
        let named: Vec<(std::net::SocketAddr, u32)> = peers
            .peers
            .iter()
            .filter_map(|p| PeerAddr::socket_addr(p).map(|a| (a, p.session)))
            .collect();
        // Who is behind each address, should a direct connection fail.
        self.inner.files.relay.learn(room, info_hash, &named);
        let peers = named.into_iter().map(|(a, _)| a).collect();
        Ok(Answer { peers, interval })
    }
}

impl Engine {
    /// Shares a file in a room (empty = mine): copies it into the cache,
    /// hashes it into a private torrent, publishes the torrent to the
    /// server's tracker, seeds it, lists it in the room and posts its
    /// magnet link in the room's chat.
    pub async fn share(&self, path: &str, room: &str) -> Result<ShareReply, Error> {
        let room = self.files_room(room)?;
        let link = self.link()?;
        let path = PathBuf::from(path);
        if !path.is_absolute() {
            return Err(Error::Invalid(format!(
                "{} is not an absolute path; voiced runs elsewhere, give the whole path",
                path.display()
            )));
        }
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| Error::NotFound(format!("cannot read {}: {e}", path.display())))?;
        if !meta.is_file() {
            return Err(Error::Invalid(format!(
                "{} is not a file; share one file at a time",
                path.display()
            )));
        }
        let size = meta.len();
        if size == 0 {
            return Err(Error::Invalid(format!(
                "{} is empty; there is nothing to share",
                path.display()
            )));
        }
        if link.max_file_size > 0 && size > link.max_file_size {
            return Err(Error::Invalid(format!(
                "{} has {size} bytes; this server shares files of at most {} bytes (max_file_size)",
                path.display(),
                link.max_file_size
            )));
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "the name of {} is not valid UTF-8; rename the file to share it",
                    path.display()
                ))
            })?
            .to_owned();
        if name.chars().any(char::is_control) {
            return Err(Error::Invalid(
                "the file name holds a control character; rename the file to share it".into(),
            ));
        }
        let bt = self.bt().await?;
        let dir = self.inner.files.new_dir().map_err(Error::Failed)?;
        let cached = dir.join(&name);
        let outcome = self
            .share_from(&bt, &path, &cached, &dir, &name, size, room)
            .await;
        match outcome {
            Ok(reply) => Ok(reply),
            Err(e) => {
                if let Some(hash) = self
                    .inner
                    .files
                    .all()
                    .iter()
                    .find(|t| t.dir == dir)
                    .map(|t| (t.id, t.info_hash))
                {
                    self.inner.files.take(hash.0);
                    bt.remove(hash.1, false).await;
                }
                remove_dir(&dir);
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn share_from(
        &self,
        bt: &Bt,
        original: &Path,
        cached: &Path,
        dir: &Path,
        name: &str,
        size: u64,
        room: u32,
    ) -> Result<ShareReply, Error> {
        // A copy: librqbit opens what it seeds for writing, and a file that
        // changed after hashing would be "repaired" in place.
        let (from, to) = (original.to_path_buf(), cached.to_path_buf());
        tokio::task::spawn_blocking(move || std::fs::copy(&from, &to))
            .await
            .map_err(failed)?
            .map_err(|e| {
                Error::Failed(format!(
                    "cannot copy {} into the cache: {e}",
                    original.display()
                ))
            })?;
        let (from, owned_name) = (cached.to_path_buf(), name.to_owned());
        let info = tokio::task::spawn_blocking(move || torrent::hash_file(&from, &owned_name))
            .await
            .map_err(failed)?
            .map_err(|e| Error::Failed(format!("cannot hash {}: {e}", original.display())))?;
        let info_hash = voice_proto::torrent::info_hash(&info);
        if let Some(existing) = self.inner.files.by_hash(&info_hash) {
            return Err(Error::Invalid(format!(
                "this file is already a transfer here (id {}); `voicectl transfers` lists them",
                existing.id
            )));
        }
        let published = info.clone();
        self.tracker_request(move |request_id| {
            client_msg::Msg::TorrentPublish(TorrentPublish {
                request_id,
                room,
                info: published,
            })
        })
        .await?;
        let id = self.inner.files.insert(Transfer {
            id: 0,
            kind: TransferKind::Share,
            state: TransferState::Checking,
            info_hash,
            room,
            name: name.to_owned(),
            size,
            dir: dir.to_path_buf(),
            dest_dir: PathBuf::new(),
            path: original.to_path_buf(),
            file_id: 0,
            error: String::new(),
            handle: None,
            started: Instant::now(),
            finishing: false,
        });
        let handle = bt
            .add(&info, dir, Vec::new(), true)
            .await
            .map_err(Error::Failed)?;
        self.inner
            .files
            .update(id, |t| t.handle = Some(handle.clone()));
        // Every piece must check out before it is offered.
        loop {
            let stats = handle.stats();
            match stats.state {
                librqbit::TorrentStatsState::Live if stats.finished => break,
                librqbit::TorrentStatsState::Live => {
                    return Err(Error::Failed(format!(
                        "{} changed while it was hashed; share it again",
                        original.display()
                    )));
                }
                librqbit::TorrentStatsState::Error | librqbit::TorrentStatsState::Paused => {
                    return Err(Error::Failed(format!(
                        "cannot seed {name}: {}",
                        stats.error.unwrap_or_else(|| "paused".into())
                    )));
                }
                librqbit::TorrentStatsState::Initializing { .. } => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        self.inner
            .files
            .update(id, |t| t.state = TransferState::Seeding);
        self.announce(room, info_hash, 0, TrackerEvent::Started)
            .await?;
        // Someone shared the same file here already: seed theirs.
        let listed = self.with_state(|s, _| {
            Ok(s.files()
                .values()
                .find(|f| f.room == room && f.info_hash == info_hash)
                .map(|f| f.id))
        })?;
        let owner_key = self.identity().public_key().to_bytes().to_vec();
        let file = SharedFile {
            id: 0,
            info_hash: info_hash.to_vec(),
            name: name.to_owned(),
            size,
            room,
            owner_key,
        };
        let file_id = match listed {
            Some(id) => id,
            None => {
                self.propose(move |_, _| Ok(Kind::AddFile(file.clone())))
                    .await?
            }
        };
        self.inner.files.update(id, |t| t.file_id = file_id);
        let magnet = torrent::magnet(&info_hash, name, size);
        let room_ref = room.to_string();
        if listed.is_none()
            && let Err(e) = self.send_chat(&magnet, &room_ref).await
        {
            tracing::info!(error = %e, "the magnet link was not posted in chat");
        }
        self.emit_transfer(id);
        Ok(ShareReply {
            id: file_id,
            name: name.to_owned(),
            size,
            info_hash: torrent::hex(&info_hash),
            magnet,
        })
    }

    /// The files shared in a room (empty = mine), with their swarms.
    pub async fn files(&self, room: &str) -> Result<Vec<FileEntry>, Error> {
        let room = self.files_room(room)?;
        let mut entries = self.with_state(|s, _| {
            Ok(s.files()
                .values()
                .filter(|f| f.room == room)
                .map(|f| {
                    let sharer = s
                        .sessions()
                        .values()
                        .find(|x| x.public_key == f.owner_key)
                        .map(|x| x.name.clone())
                        .unwrap_or_else(|| voice_proto::hash::hex(&f.owner_key));
                    let hash: [u8; 20] = f.info_hash.as_slice().try_into().unwrap_or([0; 20]);
                    FileEntry {
                        id: f.id,
                        name: f.name.clone(),
                        size: f.size,
                        sharer,
                        info_hash: voice_proto::hash::hex(&f.info_hash),
                        room: f.room,
                        magnet: torrent::magnet(&hash, &f.name, f.size),
                        sharer_key: voice_proto::hash::hex(&f.owner_key),
                        ..FileEntry::default()
                    }
                })
                .collect::<Vec<_>>())
        })?;
        if entries.is_empty() {
            return Ok(entries);
        }
        let reply = self
            .tracker_request(|request_id| {
                client_msg::Msg::Scrape(TrackerScrape { request_id, room })
            })
            .await?;
        if let Reply::Scrape(scrape) = reply {
            for entry in &mut entries {
                if let Some(count) = scrape
                    .swarms
                    .iter()
                    .find(|c| voice_proto::hash::hex(&c.info_hash) == entry.info_hash)
                {
                    entry.seeders = count.seeders;
                    entry.leechers = count.leechers;
                }
            }
        }
        Ok(entries)
    }

    /// Starts downloading a shared file (magnet link, info hash or file
    /// id) into `to` (empty = the download directory).
    pub async fn download(&self, file: &str, to: &str) -> Result<TransferMsg, Error> {
        let entry = self.with_state(|s, _| {
            let found = match torrent::parse_hash(file) {
                Some(hash) => s.files().values().find(|f| f.info_hash == hash).cloned(),
                None => match file.trim().parse::<u32>() {
                    Ok(id) => s.files().get(&id).cloned(),
                    Err(_) => {
                        return Err(Error::Invalid(format!(
                            "{file:?} is neither a magnet link nor a file id; `voicectl files` lists them"
                        )));
                    }
                },
            };
            found.ok_or_else(|| {
                Error::NotFound(format!(
                    "no shared file {file} on this server (it may have gone with its last seeder); \
                     `voicectl files` lists them"
                ))
            })
        })?;
        let hash: [u8; 20] = entry
            .info_hash
            .as_slice()
            .try_into()
            .map_err(|_| Error::Invalid("only BitTorrent v1 files can be downloaded".into()))?;
        if let Some(existing) = self.inner.files.by_hash(&hash) {
            return Ok(self.inner.files.msg(&existing));
        }
        let dest_dir = self.download_dir(to)?;
        let room = entry.room;
        let reply = self
            .tracker_request(|request_id| {
                client_msg::Msg::TorrentFetch(TorrentFetch {
                    request_id,
                    room,
                    info_hash: hash.to_vec(),
                })
            })
            .await?;
        let Reply::TorrentInfo(info) = reply else {
            return Err(Error::Failed("unexpected answer to a torrent fetch".into()));
        };
        let parsed = torrent::verify(&info.info, &hash).map_err(Error::Failed)?;
        if parsed.files != 1 {
            return Err(Error::Invalid(
                "this torrent holds a directory; only single files can be downloaded".into(),
            ));
        }
        let bt = self.bt().await?;
        let answer = self
            .announce(room, hash, parsed.size, TrackerEvent::Started)
            .await?;
        let dir = self.inner.files.new_dir().map_err(Error::Failed)?;
        let id = self.inner.files.insert(Transfer {
            id: 0,
            kind: TransferKind::Download,
            state: TransferState::Downloading,
            info_hash: hash,
            room,
            name: parsed.name.clone(),
            size: parsed.size,
            dir: dir.clone(),
            dest_dir,
            path: PathBuf::new(),
            file_id: entry.id,
            error: String::new(),
            handle: None,
            started: Instant::now(),
            finishing: false,
        });
        match bt.add(&info.info, &dir, answer.peers, false).await {
            Ok(handle) => {
                self.inner.files.update(id, |t| t.handle = Some(handle));
            }
            Err(e) => {
                self.inner.files.take(id);
                remove_dir(&dir);
                return Err(Error::Failed(e));
            }
        }
        self.emit_transfer(id);
        self.inner
            .files
            .get(id)
            .map(|t| self.inner.files.msg(&t))
            .ok_or_else(|| Error::Failed("the transfer was cancelled".into()))
    }

    /// Where a download goes: `to`, else `download_dir` in config.toml,
    /// else the XDG download directory, else the home directory.
    fn download_dir(&self, to: &str) -> Result<PathBuf, Error> {
        let dir = if !to.trim().is_empty() {
            PathBuf::from(to)
        } else if let Some(dir) = self.lock().config.download_dir.clone() {
            dir
        } else {
            directories::UserDirs::new()
                .and_then(|u| {
                    u.download_dir()
                        .map(Path::to_path_buf)
                        .or_else(|| Some(u.home_dir().to_path_buf()))
                })
                .ok_or_else(|| {
                    Error::Invalid(
                        "no download directory: pass --to DIR or set download_dir in config.toml"
                            .into(),
                    )
                })?
        };
        if !dir.is_absolute() {
            return Err(Error::Invalid(format!(
                "{} is not an absolute path; give the whole path",
                dir.display()
            )));
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Invalid(format!("cannot use {}: {e}", dir.display())))?;
        Ok(dir)
    }

    /// Every transfer of this daemon.
    pub fn transfers(&self) -> Vec<TransferMsg> {
        self.inner
            .files
            .all()
            .iter()
            .map(|t| self.inner.files.msg(t))
            .collect()
    }

    /// Stops a transfer: its torrent and cache copy go; a share is also
    /// taken out of the room's list.
    pub async fn cancel_transfer(&self, id: u32) -> Result<(), Error> {
        let transfer = self.inner.files.take(id).ok_or_else(|| {
            Error::NotFound(format!("no transfer {id}; `voicectl transfers` lists them"))
        })?;
        self.drop_transfer(transfer, true).await;
        Ok(())
    }

    /// Removes a transfer taken out of the table.
    async fn drop_transfer(&self, transfer: Transfer, unlist: bool) {
        if let Some(bt) = self.inner.files.running().await {
            bt.remove(transfer.info_hash, false).await;
        }
        remove_dir(&transfer.dir);
        if self.link().is_ok() {
            let _ = self
                .announce(transfer.room, transfer.info_hash, 0, TrackerEvent::Stopped)
                .await;
            let listed = self
                .with_state(|s, _| Ok(s.files().contains_key(&transfer.file_id)))
                .unwrap_or(false);
            if unlist && transfer.kind == TransferKind::Share && listed {
                let file = transfer.file_id;
                if let Err(e) = self
                    .propose(move |_, _| Ok(Kind::RemoveFile(FileRemove { id: file })))
                    .await
                {
                    tracing::info!(error = %e, "a cancelled share stays listed until its swarm ends");
                }
            }
        }
        let mut msg = self.inner.files.msg(&transfer);
        msg.state = TransferState::Gone as i32;
        self.inner.files.relay.forget(&transfer.info_hash);
        self.emit(event::Kind::Transfer(msg));
    }

    fn emit_transfer(&self, id: u32) {
        if let Some(t) = self.inner.files.get(id) {
            self.emit(event::Kind::Transfer(self.inner.files.msg(&t)));
        }
    }

    /// Stops BitTorrent and empties the cache (daemon exit).
    pub async fn stop_files(&self) {
        self.inner.files.shutdown().await;
    }

    /// Starts the task that follows transfers (once per engine).
    fn start_transfer_ticker(&self) {
        start_once(&self.inner, |weak| {
            tokio::spawn(async move {
                let mut every = tokio::time::interval(TICK);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    let Some(inner) = weak.upgrade() else { return };
                    let engine = Engine { inner };
                    engine.tick_transfers().await;
                }
            });
        });
    }

    /// Progress events, finished downloads copied out, expired transfers
    /// dropped.
    async fn tick_transfers(&self) {
        let ttl = Duration::from_secs(self.lock().config.torrent_ttl);
        for t in self.inner.files.all() {
            if t.started.elapsed() >= ttl {
                if let Some(t) = self.inner.files.take(t.id) {
                    tracing::info!(name = %t.name, "torrent_ttl passed: cache copy removed");
                    self.drop_transfer(t, false).await;
                }
                continue;
            }
            let done = t.handle.as_ref().is_some_and(|h| h.stats().finished);
            if t.kind == TransferKind::Download
                && t.state == TransferState::Downloading
                && done
                && !t.finishing
            {
                self.inner.files.update(t.id, |t| t.finishing = true);
                let engine = self.clone();
                tokio::spawn(async move { engine.finish_download(t).await });
                continue;
            }
            if matches!(
                t.state,
                TransferState::Downloading | TransferState::Checking
            ) {
                self.emit(event::Kind::Transfer(self.inner.files.msg(&t)));
            }
        }
    }

    /// Copies a complete download out of the cache (the cache copy seeds on).
    async fn finish_download(&self, t: Transfer) {
        let from = t.dir.join(&t.name);
        let to = unique_path(&t.dest_dir, &t.name);
        let target = to.clone();
        let copied = tokio::task::spawn_blocking(move || std::fs::copy(&from, &target)).await;
        let outcome = match copied {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("cannot write {}: {e}", to.display())),
            Err(e) => Err(e.to_string()),
        };
        self.inner.files.update(t.id, |x| {
            x.finishing = false;
            match &outcome {
                Ok(()) => {
                    x.state = TransferState::Complete;
                    x.path = to.clone();
                }
                Err(e) => {
                    x.state = TransferState::Failed;
                    x.error = e.clone();
                }
            }
        });
        if outcome.is_ok() {
            let _ = self
                .announce(t.room, t.info_hash, 0, TrackerEvent::Completed)
                .await;
        }
        self.emit_transfer(t.id);
    }
}

/// Runs `start` once per engine (the ticker).
fn start_once(inner: &Arc<Inner>, start: impl FnOnce(Weak<Inner>)) {
    if !inner
        .files
        .ticker_started
        .swap(true, std::sync::atomic::Ordering::AcqRel)
    {
        start(Arc::downgrade(inner));
    }
}

/// An announce of librqbit's, forwarded to the server for the torrent's
/// room with our BitTorrent port.
async fn forward_announce(engine: Weak<Inner>, announce: Announce) -> Result<Answer, String> {
    let inner = engine.upgrade().ok_or("voiced is stopping")?;
    let engine = Engine { inner };
    let (room, history) = match engine.inner.files.by_hash(&announce.info_hash) {
        Some(transfer) => (transfer.room, false),
        None => engine
            .inner
            .files
            .history
            .lock()
            .ok()
            .and_then(|h| h.get(&announce.info_hash).map(|(room, ..)| (*room, true)))
            .ok_or("not a transfer of this daemon")?,
    };
    match engine
        .announce(room, announce.info_hash, announce.left, announce.event)
        .await
    {
        Ok(answer) => Ok(answer),
        // Offline for now: no peers, ask again soon (a failure would make
        // librqbit back off for up to ten minutes).
        Err(Error::NotConnected) => Ok(Answer {
            peers: Vec::new(),
            interval: OFFLINE_INTERVAL,
        }),
        // A history snapshot is seeded before the server publishes its
        // swarm: the first announce may come too early.
        Err(_) if history => Ok(Answer {
            peers: Vec::new(),
            interval: OFFLINE_INTERVAL,
        }),
        Err(e) => Err(e.to_string()),
    }
}
