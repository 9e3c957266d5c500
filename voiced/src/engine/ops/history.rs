//! Room history from peers, voiced's part: saying how much of a room's
//! chat this daemon holds when the server asks, building and seeding the
//! snapshot the server settled, and fetching one for the user (checked
//! against the server's chain before anything is shown).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use voice_proto::history::{self, Chain};
use voice_proto::pb::control::{HistoryReply, event};
use voice_proto::pb::wire::{
    HistoryFound, HistoryOffer, HistoryQuery, HistoryRequest, HistoryServe, HistorySettle,
    HistorySource, RoomHistory, TorrentFetch, TrackerEvent, client_msg,
};

use crate::config::HistoryMode;
use crate::engine::Engine;
use crate::engine::link::Reply;
use crate::error::Error;
use crate::files::{Bt, remove_dir, torrent};

/// How long the server may take to find members serving the history (it
/// waits up to 3 s for their offers and 20 s for their snapshots).
const FOUND_WITHIN: Duration = Duration::from_secs(40);
/// How long a snapshot may take to download.
const DOWNLOAD_WITHIN: Duration = Duration::from_secs(60);
/// How long a member waits for chat still on its way before it answers
/// what it holds.
const HELD_WAIT: Duration = Duration::from_secs(2);
/// Room history snapshots held at once (served or being fetched).
const MAX_HISTORY_TORRENTS: usize = 8;
/// How often a torrent's progress is looked at.
const POLL: Duration = Duration::from_millis(20);

fn failed(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Engine {
    /// The server asks what this daemon holds of a room's chat.
    pub(crate) fn history_query(&self, query: HistoryQuery) {
        let engine = self.clone();
        tokio::spawn(async move { engine.answer_query(query).await });
    }

    async fn answer_query(&self, query: HistoryQuery) {
        let deadline = Instant::now() + HELD_WAIT;
        let first_seq = loop {
            let (share, held, behind) = {
                let st = self.lock();
                (
                    st.config.history_share,
                    st.chat.held_from(query.room, query.last_seq),
                    st.chat
                        .run(query.room)
                        .is_some_and(|r| r.last_seq < query.last_seq),
                )
            };
            match held {
                _ if !share => break 0,
                Some(first) => break first,
                // The last lines may still be on the chat stream.
                None if behind && Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await;
                }
                None => break 0,
            }
        };
        tracing::debug!(
            room = query.room,
            first_seq,
            last_seq = query.last_seq,
            "history offer"
        );
        if let Ok(link) = self.link() {
            let _ = link
                .send_control(client_msg::Msg::HistoryOffer(HistoryOffer {
                    query_id: query.query_id,
                    first_seq,
                }))
                .await;
        }
    }

    /// The server settled a range for this daemon to serve.
    pub(crate) fn history_settle(&self, settle: HistorySettle) {
        let engine = self.clone();
        tokio::spawn(async move {
            let query_id = settle.query_id;
            let serve = match engine.serve_settled(settle).await {
                Ok((info, port)) => HistoryServe {
                    query_id,
                    info,
                    error: String::new(),
                    port: u32::from(port),
                },
                Err(error) => {
                    tracing::info!(%error, "cannot serve room history");
                    HistoryServe {
                        query_id,
                        error,
                        ..HistoryServe::default()
                    }
                }
            };
            if let Ok(link) = engine.link() {
                let _ = link
                    .send_control(client_msg::Msg::HistoryServe(serve))
                    .await;
            }
        });
    }

    /// Builds the settled snapshot and seeds it; its info dictionary and
    /// our BitTorrent port.
    async fn serve_settled(&self, settle: HistorySettle) -> Result<(Vec<u8>, u16), String> {
        let (room, first_seq, last_seq) = (settle.room, settle.first_seq, settle.last_seq);
        let (lines, seed_secs) = {
            let st = self.lock();
            if !st.config.history_share {
                return Err("history sharing is off".to_owned());
            }
            (
                st.chat.lines(room, first_seq, last_seq),
                st.config.history_seed_secs,
            )
        };
        let (before, lines) = lines.ok_or_else(|| {
            format!("this member no longer holds every line from {first_seq} through {last_seq}")
        })?;
        let mut files = settle.files;
        files.retain(|f| f.room == room);
        files.sort_by_key(|f| f.id);
        files.dedup_by_key(|f| f.id);
        let snapshot = RoomHistory {
            version: history::VERSION,
            room,
            first_seq,
            last_seq,
            chain_before: before.to_vec(),
            lines,
            files,
        };
        let bytes = history::encode(&snapshot);
        let name = history::file_name(room, first_seq, last_seq);
        let info = torrent::info_of(&name, &bytes, history::PIECE_LENGTH);
        let hash = voice_proto::torrent::info_hash(&info);
        let bt = self.bt().await.map_err(failed)?;
        if self.history_dir(&hash).is_none() {
            self.make_room_for_history(&bt).await;
            let dir = self.inner.files.new_dir()?;
            tokio::fs::write(dir.join(&name), &bytes)
                .await
                .map_err(|e| format!("cannot write the snapshot into the cache: {e}"))?;
            self.keep_history_torrent(hash, room, dir.clone());
            if let Err(e) = seed(&bt, &info, &dir).await {
                self.drop_history_torrent(&bt, hash).await;
                return Err(e);
            }
            let engine = self.clone();
            let bt_for_expiry = bt.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(seed_secs)).await;
                engine.drop_history_torrent(&bt_for_expiry, hash).await;
            });
        }
        tracing::info!(
            room,
            first_seq,
            last_seq,
            bytes = bytes.len(),
            info_hash = %torrent::hex(&hash),
            "serving room history"
        );
        Ok((info, bt.port()))
    }

    fn history_dir(&self, hash: &[u8; 20]) -> Option<PathBuf> {
        let book = self.inner.files.history.lock().ok()?;
        book.get(hash).map(|(_, dir, _)| dir.clone())
    }

    fn keep_history_torrent(&self, hash: [u8; 20], room: u32, dir: PathBuf) {
        if let Ok(mut book) = self.inner.files.history.lock() {
            book.insert(hash, (room, dir, Instant::now()));
        }
    }

    /// Makes room for one more snapshot: past [`MAX_HISTORY_TORRENTS`]
    /// the oldest goes (a server asking again and again costs at most that
    /// many snapshots of disk and seeding).
    async fn make_room_for_history(&self, bt: &Bt) {
        let oldest = {
            let Ok(book) = self.inner.files.history.lock() else {
                return;
            };
            if book.len() < MAX_HISTORY_TORRENTS {
                return;
            }
            book.iter()
                .min_by_key(|(_, (.., added))| *added)
                .map(|(hash, _)| *hash)
        };
        if let Some(hash) = oldest {
            tracing::info!(info_hash = %torrent::hex(&hash), "too many room histories held; the oldest goes");
            self.drop_history_torrent(bt, hash).await;
        }
    }

    async fn drop_history_torrent(&self, bt: &Bt, hash: [u8; 20]) {
        let dir = self
            .inner
            .files
            .history
            .lock()
            .ok()
            .and_then(|mut book| book.remove(&hash));
        bt.remove(hash, true).await;
        if let Some((_, dir, _)) = dir {
            remove_dir(&dir);
        }
    }

    /// Asks the room's members (empty = my room) for its earlier chat,
    /// downloads the snapshot they serve, checks it against the server's
    /// chain, keeps it for `ChatHistory` and tells every watcher.
    pub async fn fetch_history(&self, room: &str) -> Result<HistoryReply, Error> {
        let started = Instant::now();
        let (mode, max_bytes) = {
            let st = self.lock();
            (st.config.history, st.config.history_bytes)
        };
        if mode == HistoryMode::Off {
            return Err(Error::Invalid(
                "room history is off (history = \"off\" in config.toml); set it to \"ask\" or \
                 \"auto\" to fetch a room's earlier chat"
                    .into(),
            ));
        }
        let room = self.files_room(room)?;
        let link = self.link()?;
        let id = link.next_id();
        let request = client_msg::Msg::HistoryRequest(HistoryRequest {
            request_id: id,
            room,
        });
        let found = match self
            .request_within(&link, id, request, FOUND_WITHIN)
            .await?
        {
            Reply::History(found) => found,
            Reply::Failed(why) => return Err(Error::Failed(why)),
            other => {
                return Err(Error::Failed(format!(
                    "unexpected answer to a history request: {other:?}"
                )));
            }
        };
        let chain = history::chain_from(&found.chain)
            .ok_or_else(|| Error::Failed("the server sent a chain that is not 32 bytes".into()))?;
        let mut refused = Vec::new();
        for source in &found.sources {
            match self.fetch_source(&found, &chain, source, max_bytes).await {
                Ok((snapshot, size, peers)) => {
                    let messages: Vec<_> = snapshot
                        .lines
                        .iter()
                        .map(|line| history::message(room, line))
                        .collect();
                    let reply = HistoryReply {
                        room,
                        messages: messages.clone(),
                        first_seq: found.first_seq,
                        last_seq: found.last_seq,
                        info_hash: voice_proto::hash::hex(&source.info_hash),
                        bytes: size,
                        seeders: source.seeders,
                        peers,
                        elapsed_ms: u32::try_from(started.elapsed().as_millis())
                            .unwrap_or(u32::MAX),
                        files: snapshot.files,
                    };
                    self.lock().chat.set_fetched(room, messages);
                    self.emit(event::Kind::History(reply.clone()));
                    tracing::info!(
                        room,
                        lines = reply.messages.len(),
                        bytes = size,
                        peers,
                        elapsed_ms = reply.elapsed_ms,
                        "room history fetched"
                    );
                    return Ok(reply);
                }
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        info_hash = %voice_proto::hash::hex(&source.info_hash),
                        "a room history snapshot was refused"
                    );
                    refused.push(e);
                }
            }
        }
        Err(Error::Failed(format!(
            "no history snapshot of room {room} checked out: {}",
            refused.join("; ")
        )))
    }

    /// Downloads one served snapshot and checks it; the snapshot, its size
    /// and how many peers sent data.
    async fn fetch_source(
        &self,
        found: &HistoryFound,
        chain: &Chain,
        source: &HistorySource,
        max_bytes: usize,
    ) -> Result<(RoomHistory, u64, u32), String> {
        let room = found.room;
        let hash: [u8; 20] = source
            .info_hash
            .as_slice()
            .try_into()
            .map_err(|_| "the info hash is not 20 bytes".to_owned())?;
        let name = history::file_name(room, found.first_seq, found.last_seq);
        let (bytes, peers) = match self.history_dir(&hash) {
            // We serve this very snapshot ourselves.
            Some(dir) => (read(&dir.join(&name)).await?, 0),
            None => self.download_snapshot(room, hash, &name, max_bytes).await?,
        };
        let size = bytes.len() as u64;
        let snapshot = history::verify(
            &bytes,
            max_bytes,
            room,
            found.first_seq,
            found.last_seq,
            chain,
        )
        .map_err(failed)?;
        Ok((snapshot, size, peers))
    }

    async fn download_snapshot(
        &self,
        room: u32,
        hash: [u8; 20],
        name: &str,
        max_bytes: usize,
    ) -> Result<(Vec<u8>, u32), String> {
        let reply = self
            .tracker_request(|request_id| {
                client_msg::Msg::TorrentFetch(TorrentFetch {
                    request_id,
                    room,
                    info_hash: hash.to_vec(),
                })
            })
            .await
            .map_err(failed)?;
        let Reply::TorrentInfo(info) = reply else {
            return Err("unexpected answer to a torrent fetch".to_owned());
        };
        let parsed = torrent::verify(&info.info, &hash)?;
        if parsed.files != 1 || parsed.name != name {
            return Err(format!("the torrent served is not the snapshot {name}"));
        }
        if parsed.size > max_bytes as u64 {
            return Err(format!(
                "the snapshot has {} bytes, more than history_bytes ({max_bytes}) in config.toml",
                parsed.size
            ));
        }
        let bt = self.bt().await.map_err(failed)?;
        let answer = self
            .announce(room, hash, parsed.size, TrackerEvent::Started)
            .await
            .map_err(failed)?;
        self.make_room_for_history(&bt).await;
        let dir = self.inner.files.new_dir()?;
        self.keep_history_torrent(hash, room, dir.clone());
        let outcome = async {
            tracing::debug!(room, peers = ?answer.peers, "room history: seeders from the tracker");
            let named = answer
                .peers
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len();
            let handle = bt.add_spread(&info.info, &dir, answer.peers).await?;
            let deadline = Instant::now() + DOWNLOAD_WITHIN;
            loop {
                let stats = handle.stats();
                if stats.finished {
                    break;
                }
                if let Some(e) = stats.error {
                    return Err(format!("the snapshot download failed: {e}"));
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "the snapshot did not arrive within {} s ({} of {} bytes)",
                        DOWNLOAD_WITHIN.as_secs(),
                        stats.progress_bytes,
                        parsed.size
                    ));
                }
                tokio::time::sleep(POLL).await;
            }
            // Every connection that sent data, also those gone once the
            // snapshot was complete (librqbit's filter type is only
            // reachable through serde). A member that dialled us while we
            // dialled it is two connections under two addresses, and
            // librqbit keeps no peer id to tell them apart: the count is
            // capped at the members the tracker named.
            let connections = handle.live().map_or(0, |live| {
                live.per_peer_stats_snapshot(toml::from_str("state = \"all\"").unwrap_or_default())
                    .peers
                    .values()
                    .filter(|p| p.counters.fetched_bytes > 0)
                    .count()
            });
            let bytes = read(&dir.join(name)).await?;
            let peers = connections.min(named);
            Ok((bytes, u32::try_from(peers).unwrap_or(u32::MAX)))
        }
        .await;
        self.drop_history_torrent(&bt, hash).await;
        outcome
    }

    /// With `history = "auto"`: fetches a room's history on joining it when
    /// others are there (quietly: a room without history is no error).
    pub(crate) fn auto_history(&self, room: u32) {
        let (auto, others) = {
            let st = self.lock();
            let me = st.link.as_ref().map_or(0, |l| l.session_id);
            let others = st
                .mirror
                .as_ref()
                .is_some_and(|m| m.state().sessions_in(room).any(|s| s.id != me));
            (st.config.history == HistoryMode::Auto, others)
        };
        if !auto || !others {
            return;
        }
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.fetch_history(&room.to_string()).await {
                tracing::info!(room, error = %e, "no room history fetched on joining");
            }
        });
    }
}

/// Seeds a snapshot written into `dir`, once librqbit has checked it.
async fn seed(bt: &Bt, info: &[u8], dir: &std::path::Path) -> Result<(), String> {
    let handle = bt.add(info, dir, Vec::new(), true).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = handle.stats();
        match stats.state {
            librqbit::TorrentStatsState::Live if stats.finished => return Ok(()),
            librqbit::TorrentStatsState::Error | librqbit::TorrentStatsState::Paused => {
                return Err(format!(
                    "cannot seed the snapshot: {}",
                    stats.error.unwrap_or_else(|| "paused".into())
                ));
            }
            _ if Instant::now() >= deadline => {
                return Err("the snapshot was not checked within 10 s".to_owned());
            }
            _ => tokio::time::sleep(POLL).await,
        }
    }
}

async fn read(path: &std::path::Path) -> Result<Vec<u8>, String> {
    tokio::fs::read(path)
        .await
        .map_err(|e| format!("cannot read the snapshot {}: {e}", path.display()))
}
