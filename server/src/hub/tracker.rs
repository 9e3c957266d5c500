//! The BitTorrent tracker over QUIC: publishing a torrent's info
//! dictionary, fetching it, announcing, scraping, and the sweep that drops
//! silent peers and swarms without a seeder (and their shared-state entry).
//!
//! Who sees what: a session must be in a room to publish there (with
//! `share_files`), to fetch a torrent, to join a swarm and to get peers.
//! A peer that joined stays (and keeps seeding) while it may still enter
//! the room; peer lists hold only such peers, never the asker, at most
//! [`MAX_PEERS`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voice_proto::acl::{Subject, evaluate};
use voice_proto::pb::wire::{
    Accepted, Change, FileRemove, PeerAddr, Permission, RequestFailed, SwarmCount, TorrentFetch,
    TorrentInfo, TorrentPublish, TrackerAnnounce, TrackerEvent, TrackerPeers, TrackerScrape,
    TrackerScrapeReply, change::Kind, server_msg::Msg,
};
use voice_proto::state::SessionId;

use super::{Hub, Inner};
use crate::tracker::{Peer, SwarmKey, TrackerLimits};

/// Most peers in one answer.
pub const MAX_PEERS: usize = 50;

/// Announces a peer may miss before it is dropped.
const MISSED_ANNOUNCES: u32 = 3;

pub(super) fn failed(request_id: u64, message: impl Into<String>) -> Msg {
    Msg::Failed(RequestFailed {
        request_id,
        message: message.into(),
    })
}

pub(super) fn swarm_key(room: u32, info_hash: &[u8]) -> Result<SwarmKey, String> {
    let hash: [u8; 20] = info_hash.try_into().map_err(|_| {
        format!(
            "an info hash has 20 bytes (BitTorrent v1); this one has {}",
            info_hash.len()
        )
    })?;
    Ok((room, hash))
}

impl Hub {
    pub(super) fn tracker_limits(&self) -> TrackerLimits {
        TrackerLimits {
            max_swarms_per_session: self.config.max_swarms_per_session,
            max_bytes: self.config.max_tracker_bytes,
        }
    }

    /// The interval peers are told to announce at.
    pub fn tracker_interval(&self) -> Duration {
        Duration::from_secs(self.config.tracker_interval_secs.max(1))
    }

    /// Checks that a session is in `room`.
    pub(super) fn in_room(inner: &Inner, id: SessionId, room: u32) -> Result<(), String> {
        let me = inner.state.session(id).ok_or("you are not connected")?;
        if inner.state.room(room).is_none() {
            return Err(format!("no room with id {room}"));
        }
        if me.room != room {
            return Err(format!(
                "you are in room {}, not in room {room}; join it to use its files",
                me.room
            ));
        }
        Ok(())
    }

    pub(super) fn may_enter(inner: &Inner, id: SessionId, room: u32) -> bool {
        inner.state.session(id).is_some_and(|s| {
            evaluate(&inner.state, Subject::from(s), room).contains(Permission::Enter)
        })
    }

    /// Keeps a torrent's info dictionary in a room's swarm, so others can
    /// fetch it; the sharer proposes the file's entry after this.
    pub async fn torrent_publish(&self, id: SessionId, req: TorrentPublish) {
        let mut inner = self.inner.lock().await;
        let msg = match self.publish_checked(&mut inner, id, &req) {
            Ok(()) => Msg::Accepted(Accepted {
                request_id: req.request_id,
                seq: inner.seq,
                assigned_id: 0,
            }),
            Err(message) => failed(req.request_id, message),
        };
        Self::reply(&inner, id, msg);
    }

    fn publish_checked(
        &self,
        inner: &mut Inner,
        id: SessionId,
        req: &TorrentPublish,
    ) -> Result<(), String> {
        let info = voice_proto::torrent::parse_info(&req.info, self.config.max_torrent_info_bytes)
            .map_err(|e| e.to_string())?;
        if !info.private {
            return Err(
                "the torrent is not marked private; peers must come only from this server's \
                 tracker (set private = 1 in its info dictionary)"
                    .to_owned(),
            );
        }
        let max = self.config.max_file_size;
        if info.size > max {
            return Err(format!(
                "the file has {} bytes; this server shares files of at most {max} bytes \
                 (max_file_size)",
                info.size
            ));
        }
        Self::in_room(inner, id, req.room)?;
        let me = inner.state.session(id).ok_or("you are not connected")?;
        if !evaluate(&inner.state, Subject::from(me), req.room).contains(Permission::ShareFiles) {
            return Err(voice_proto::acl::lacking(
                &inner.state,
                Subject::from(me),
                Permission::ShareFiles,
                req.room,
            ));
        }
        let key = me.public_key.clone();
        let hash = voice_proto::torrent::info_hash(&req.info);
        let limits = self.tracker_limits();
        inner
            .tracker
            .publish(
                (req.room, hash),
                bytes::Bytes::copy_from_slice(&req.info),
                info.name,
                info.size,
                id,
                &key,
                limits,
                Instant::now(),
                None,
            )
            .map_err(|e| e.to_string())
    }

    /// Sends a torrent's info dictionary to a session in its room.
    pub async fn torrent_fetch(&self, id: SessionId, req: TorrentFetch) {
        let inner = self.inner.lock().await;
        let outcome = swarm_key(req.room, &req.info_hash).and_then(|key| {
            Self::in_room(&inner, id, req.room)?;
            let swarm = inner.tracker.swarm(&key).ok_or_else(|| {
                format!("no file with this info hash is shared in room {}", req.room)
            })?;
            Ok(swarm.info.to_vec())
        });
        let msg = match outcome {
            Ok(info) => Msg::TorrentInfo(TorrentInfo {
                request_id: req.request_id,
                info_hash: req.info_hash,
                info,
            }),
            Err(message) => failed(req.request_id, message),
        };
        Self::reply(&inner, id, msg);
    }

    /// Records an announce and answers with peers.
    pub async fn announce(&self, id: SessionId, req: TrackerAnnounce) {
        let mut inner = self.inner.lock().await;
        let msg = match self.announce_checked(&mut inner, id, &req) {
            Ok(peers) => Msg::Peers(peers),
            Err(message) => failed(req.request_id, message),
        };
        Self::reply(&inner, id, msg);
    }

    pub(super) fn announce_checked(
        &self,
        inner: &mut Inner,
        id: SessionId,
        req: &TrackerAnnounce,
    ) -> Result<TrackerPeers, String> {
        let key = swarm_key(req.room, &req.info_hash)?;
        let stopping = req.event == TrackerEvent::Stopped as i32;
        let now = Instant::now();
        let limits = self.tracker_limits();
        let interval_ms = u32::try_from(self.tracker_interval().as_millis()).unwrap_or(u32::MAX);
        let here = Self::in_room(inner, id, req.room);
        if stopping {
            if inner.tracker.swarm(&key).is_some() {
                inner
                    .tracker
                    .announce(&key, id, None, limits, now)
                    .map_err(|e| e.to_string())?;
            }
            return Ok(TrackerPeers {
                request_id: req.request_id,
                info_hash: req.info_hash.clone(),
                interval_ms,
                ..TrackerPeers::default()
            });
        }
        let swarm = inner
            .tracker
            .swarm(&key)
            .ok_or_else(|| format!("no file with this info hash is shared in room {}", req.room))?;
        // Joining needs presence in the room; staying, only leave to enter it.
        let member = swarm.peers.contains_key(&id);
        if !member {
            here.clone()?;
        } else if !Self::may_enter(inner, id, req.room) {
            inner
                .tracker
                .announce(&key, id, None, limits, now)
                .map_err(|e| e.to_string())?;
            return Err(format!(
                "you may no longer enter room {}; you left its swarm",
                req.room
            ));
        }
        let port = u16::try_from(req.port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("the port {} is not a TCP port (1 to 65535)", req.port))?;
        let ip = inner
            .links
            .get(&id)
            .map(|l| l.conn.remote_address().ip().to_canonical())
            .ok_or("you are not connected")?;
        let peer = Peer {
            addr: SocketAddr::new(ip, port),
            left: req.left,
            last_seen: now,
        };
        inner
            .tracker
            .announce(&key, id, Some(peer), limits, now)
            .map_err(|e| e.to_string())?;
        let swarm = inner.tracker.swarm(&key).ok_or("the swarm is gone")?;
        let seeders = swarm.seeders();
        let leechers = swarm.peers.len() - seeders;
        let mut peers = Vec::new();
        if here.is_ok() {
            let mut others: Vec<(SessionId, &Peer)> = swarm
                .peers
                .iter()
                .filter(|(sid, _)| **sid != id && Self::may_enter(inner, **sid, req.room))
                .map(|(sid, p)| (*sid, p))
                .collect();
            // A downloader wants seeders first; a seeder, downloaders.
            others.sort_by_key(|(_, p)| (p.left == 0) == (req.left == 0));
            peers = others
                .into_iter()
                .take(MAX_PEERS)
                .map(|(session, p)| PeerAddr {
                    session,
                    ..PeerAddr::from(p.addr)
                })
                .collect();
        }
        Ok(TrackerPeers {
            request_id: req.request_id,
            info_hash: req.info_hash.clone(),
            peers,
            interval_ms,
            seeders: u32::try_from(seeders).unwrap_or(u32::MAX),
            leechers: u32::try_from(leechers).unwrap_or(u32::MAX),
        })
    }

    /// Seeders and leechers of a room's shared files.
    pub async fn scrape(&self, id: SessionId, req: TrackerScrape) {
        let inner = self.inner.lock().await;
        let msg = match Self::in_room(&inner, id, req.room) {
            Ok(()) => {
                let mut swarms: Vec<SwarmCount> = inner
                    .tracker
                    .swarms_in(req.room)
                    .filter(|(_, s)| s.file_id.is_some())
                    .map(|((_, hash), s)| {
                        let seeders = s.seeders();
                        SwarmCount {
                            info_hash: hash.to_vec(),
                            seeders: u32::try_from(seeders).unwrap_or(u32::MAX),
                            leechers: u32::try_from(s.peers.len() - seeders).unwrap_or(u32::MAX),
                        }
                    })
                    .collect();
                swarms.sort_by(|a, b| a.info_hash.cmp(&b.info_hash));
                Msg::Scrape(TrackerScrapeReply {
                    request_id: req.request_id,
                    swarms,
                })
            }
            Err(message) => failed(req.request_id, message),
        };
        Self::reply(&inner, id, msg);
    }

    /// Drops silent peers and seederless swarms; a dropped swarm's file
    /// leaves the shared state. Returns the files removed.
    pub async fn sweep_swarms(&self) -> Vec<u32> {
        let stale = self.tracker_interval() * MISSED_ANNOUNCES;
        let grace = Duration::from_secs(self.config.swarm_grace_secs);
        let swept = {
            let mut inner = self.inner.lock().await;
            let Inner {
                tracker,
                state,
                histories,
                ..
            } = &mut *inner;
            histories.retain_rooms(|room| state.room(room).is_some());
            tracker.sweep(Instant::now(), stale, grace, |id| {
                state.files().contains_key(&id)
            })
        };
        let mut removed = Vec::new();
        for ((room, hash), file) in swept.dropped {
            let Some(file) = file else { continue };
            let exists = self.inner.lock().await.state.files().contains_key(&file);
            if !exists {
                continue;
            }
            let change = Change {
                kind: Some(Kind::RemoveFile(FileRemove { id: file })),
            };
            match self.server_change(change).await {
                Ok(_) => {
                    tracing::info!(
                        room,
                        file,
                        info_hash = %voice_proto::hash::hex(&hash),
                        "no seeder left: file removed"
                    );
                    removed.push(file);
                }
                Err(e) => tracing::warn!(file, error = %e, "cannot remove a file without seeder"),
            }
        }
        removed
    }

    /// Runs the sweep every second until cancelled.
    pub async fn sweep_swarms_forever(
        self: std::sync::Arc<Self>,
        cancel: tokio_util::sync::CancellationToken,
    ) {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = every.tick() => {}
            }
            self.sweep_swarms().await;
            self.sweep_relays().await;
        }
    }
}
