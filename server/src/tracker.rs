//! The BitTorrent tracker's memory: swarms keyed by room and info hash, each
//! with the published info dictionary and its peers. Nothing here is ever
//! written to disk; every byte it holds is counted against a budget.
//!
//! The hub holds it under its lock and decides who may see what (see
//! `hub::tracker`); this module only keeps the books.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use voice_proto::state::SessionId;

/// A swarm's key: its room and info hash.
pub type SwarmKey = (u32, [u8; 20]);

/// Bytes counted for a swarm beyond its info dictionary.
const SWARM_OVERHEAD: usize = 256;
/// Bytes counted for one peer.
const PEER_COST: usize = 96;
/// Room history swarms one room holds at once.
pub const HISTORY_SWARMS_PER_ROOM: usize = 4;

/// One peer of a swarm.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Where other peers reach it: the address of its QUIC connection with
    /// the port it announced.
    pub addr: SocketAddr,
    /// Bytes it still misses (0 = a seeder).
    pub left: u64,
    /// Its last announce.
    pub last_seen: Instant,
}

/// One shared torrent.
#[derive(Clone, Debug)]
pub struct Swarm {
    /// The bencoded info dictionary as published.
    pub info: Bytes,
    /// The name in it.
    pub name: String,
    /// The total size in it.
    pub size: u64,
    /// The session that published it.
    pub publisher: SessionId,
    /// Key of the user who published it.
    pub publisher_key: Vec<u8>,
    /// The shared-state file entry, once proposed.
    pub file_id: Option<u32>,
    /// Peers by session.
    pub peers: HashMap<SessionId, Peer>,
    /// Since when it has had no seeder (`None` while it has one).
    pub seederless_since: Option<Instant>,
    /// When it goes whatever its peers (room history snapshots).
    pub expires: Option<Instant>,
}

impl Swarm {
    /// Peers with the whole file.
    pub fn seeders(&self) -> usize {
        self.peers.values().filter(|p| p.left == 0).count()
    }

    /// Bytes counted for it.
    fn cost(&self) -> usize {
        SWARM_OVERHEAD + self.info.len() + self.name.len() + self.peers.len() * PEER_COST
    }
}

/// Why a tracker request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    /// The session is in too many swarms.
    #[error(
        "you are in {0} swarms already, the most one session may (max_swarms_per_session): \
         cancel a download or stop sharing a file first"
    )]
    TooManySwarms(usize),
    /// The memory budget is spent.
    #[error(
        "the server's tracker is full ({0} bytes, max_tracker_bytes); try again later or tell \
         the server's admin"
    )]
    Full(usize),
    /// No such swarm.
    #[error("no file with this info hash is shared in room {0}")]
    UnknownSwarm(u32),
}

/// Every swarm, with the bytes they hold.
#[derive(Debug, Default)]
pub struct Tracker {
    swarms: HashMap<SwarmKey, Swarm>,
    bytes: usize,
}

/// Limits the tracker enforces.
#[derive(Clone, Copy, Debug)]
pub struct TrackerLimits {
    /// Swarms a session may be in (as a peer or as the publisher of a
    /// swarm not yet joined).
    pub max_swarms_per_session: usize,
    /// Bytes for all swarms.
    pub max_bytes: usize,
}

/// What one sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Swarms dropped, with their file entry if they had one.
    pub dropped: Vec<(SwarmKey, Option<u32>)>,
    /// Peers dropped for missing their announces.
    pub stale_peers: usize,
}

impl Tracker {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// A swarm.
    pub fn swarm(&self, key: &SwarmKey) -> Option<&Swarm> {
        self.swarms.get(key)
    }

    /// Every swarm of a room.
    pub fn swarms_in(&self, room: u32) -> impl Iterator<Item = (&SwarmKey, &Swarm)> {
        self.swarms.iter().filter(move |(k, _)| k.0 == room)
    }

    /// Swarms a session is a peer of or published.
    /// Room history swarms count apart (see [`Tracker::publish`]).
    pub fn swarms_of(&self, session: SessionId) -> usize {
        self.swarms
            .values()
            .filter(|s| s.expires.is_none())
            .filter(|s| s.publisher == session || s.peers.contains_key(&session))
            .count()
    }

    /// Publishes a torrent (or confirms one published before, by anyone).
    /// A file's swarm (`expires` `None`) counts against its publisher's key
    /// until it is dropped. A room history snapshot's swarm goes at
    /// `expires`, or as soon as it has no seeder; it counts against nobody's
    /// `max_swarms_per_session` (a member serves it because others ask, so
    /// askers could otherwise use up its allowance for files): instead a
    /// room holds at most [`HISTORY_SWARMS_PER_ROOM`], and a new one
    /// replaces the one due to go first.
    #[allow(clippy::too_many_arguments)]
    pub fn publish(
        &mut self,
        key: SwarmKey,
        info: Bytes,
        name: String,
        size: u64,
        publisher: SessionId,
        publisher_key: &[u8],
        limits: TrackerLimits,
        now: Instant,
        expires: Option<Instant>,
    ) -> Result<(), TrackerError> {
        if self.swarms.contains_key(&key) {
            return Ok(());
        }
        if expires.is_some() {
            self.make_room_for_history(key.0);
        } else {
            // Published swarms count against the key, not only the session:
            // logging in again does not buy another allowance while the old
            // swarms wait out their grace.
            let mine = self
                .swarms
                .values()
                .filter(|s| s.expires.is_none())
                .filter(|s| s.publisher_key == publisher_key || s.peers.contains_key(&publisher))
                .count();
            if mine >= limits.max_swarms_per_session {
                return Err(TrackerError::TooManySwarms(mine));
            }
        }
        let swarm = Swarm {
            info,
            name,
            size,
            publisher,
            publisher_key: publisher_key.to_vec(),
            file_id: None,
            peers: HashMap::new(),
            seederless_since: Some(now),
            expires,
        };
        let cost = swarm.cost();
        if self.bytes + cost > limits.max_bytes {
            return Err(TrackerError::Full(limits.max_bytes));
        }
        self.bytes += cost;
        self.swarms.insert(key, swarm);
        Ok(())
    }

    /// Drops the room's history swarm due to go first when the room holds
    /// [`HISTORY_SWARMS_PER_ROOM`] already.
    fn make_room_for_history(&mut self, room: u32) {
        let history: Vec<(SwarmKey, Instant)> = self
            .swarms
            .iter()
            .filter(|(k, _)| k.0 == room)
            .filter_map(|(k, s)| s.expires.map(|t| (*k, t)))
            .collect();
        if history.len() >= HISTORY_SWARMS_PER_ROOM
            && let Some((oldest, _)) = history.iter().min_by_key(|(_, t)| *t)
            && let Some(gone) = self.swarms.remove(oldest)
        {
            self.bytes -= gone.cost();
        }
    }

    /// Notes the shared-state entry of a swarm.
    pub fn attach_file(&mut self, key: &SwarmKey, file_id: u32) {
        if let Some(swarm) = self.swarms.get_mut(key) {
            swarm.file_id = Some(file_id);
        }
    }

    /// Records an announce; `stopped` leaves the swarm.
    pub fn announce(
        &mut self,
        key: &SwarmKey,
        session: SessionId,
        peer: Option<Peer>,
        limits: TrackerLimits,
        now: Instant,
    ) -> Result<(), TrackerError> {
        let joined_elsewhere = self.swarms_of(session);
        let bytes = self.bytes;
        let swarm = self
            .swarms
            .get_mut(key)
            .ok_or(TrackerError::UnknownSwarm(key.0))?;
        match peer {
            None => {
                if swarm.peers.remove(&session).is_some() {
                    self.bytes -= PEER_COST;
                }
            }
            Some(peer) => {
                if !swarm.peers.contains_key(&session) {
                    if swarm.publisher != session
                        && swarm.expires.is_none()
                        && joined_elsewhere >= limits.max_swarms_per_session
                    {
                        return Err(TrackerError::TooManySwarms(joined_elsewhere));
                    }
                    if bytes + PEER_COST > limits.max_bytes {
                        return Err(TrackerError::Full(limits.max_bytes));
                    }
                    self.bytes += PEER_COST;
                }
                swarm.peers.insert(session, peer);
            }
        }
        if swarm.seeders() > 0 {
            swarm.seederless_since = None;
        } else if swarm.seederless_since.is_none() {
            swarm.seederless_since = Some(now);
        }
        Ok(())
    }

    /// Removes a session from every swarm (its connection closed).
    pub fn leave(&mut self, session: SessionId, now: Instant) {
        for swarm in self.swarms.values_mut() {
            if swarm.peers.remove(&session).is_some() {
                self.bytes -= PEER_COST;
                if swarm.seeders() == 0 && swarm.seederless_since.is_none() {
                    swarm.seederless_since = Some(now);
                }
            }
        }
    }

    /// Drops peers silent for `stale` and swarms without a seeder for
    /// `grace`, and swarms whose file entry `exists` no longer.
    pub fn sweep(
        &mut self,
        now: Instant,
        stale: Duration,
        grace: Duration,
        exists: impl Fn(u32) -> bool,
    ) -> Swept {
        let mut swept = Swept::default();
        for swarm in self.swarms.values_mut() {
            let before = swarm.peers.len();
            swarm
                .peers
                .retain(|_, p| now.saturating_duration_since(p.last_seen) < stale);
            let gone = before - swarm.peers.len();
            swept.stale_peers += gone;
            self.bytes -= gone * PEER_COST;
            if swarm.seeders() == 0 && swarm.seederless_since.is_none() {
                swarm.seederless_since = Some(now);
            }
        }
        let dropped: Vec<SwarmKey> = self
            .swarms
            .iter()
            .filter(|(_, s)| {
                let grace = if s.expires.is_some() {
                    Duration::ZERO
                } else {
                    grace
                };
                s.seederless_since
                    .is_some_and(|t| now.saturating_duration_since(t) >= grace)
                    || s.file_id.is_some_and(|id| !exists(id))
                    || s.expires.is_some_and(|t| now >= t)
            })
            .map(|(k, _)| *k)
            .collect();
        for key in dropped {
            if let Some(swarm) = self.swarms.remove(&key) {
                self.bytes -= swarm.cost();
                swept.dropped.push((key, swarm.file_id));
            }
        }
        swept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: TrackerLimits = TrackerLimits {
        max_swarms_per_session: 2,
        max_bytes: 4096,
    };

    fn peer(left: u64, now: Instant) -> Peer {
        Peer {
            addr: "127.0.0.1:6881".parse().unwrap(),
            left,
            last_seen: now,
        }
    }

    fn publish(t: &mut Tracker, n: u8, by: SessionId, now: Instant) -> Result<(), TrackerError> {
        t.publish(
            (1, [n; 20]),
            Bytes::from_static(b"d4:infoe"),
            "f".into(),
            1,
            by,
            &[by as u8; 32],
            LIMITS,
            now,
            None,
        )
    }

    fn publish_history(t: &mut Tracker, n: u8, by: SessionId, now: Instant, secs: u64) {
        t.publish(
            (1, [n; 20]),
            Bytes::from_static(b"d4:infoe"),
            "h".into(),
            1,
            by,
            &[by as u8; 32],
            LIMITS,
            now,
            Some(now + Duration::from_secs(secs)),
        )
        .unwrap();
        t.announce(&(1, [n; 20]), by, Some(peer(0, now)), LIMITS, now)
            .unwrap();
    }

    #[test]
    fn history_swarms_count_apart_and_a_room_holds_a_few() {
        let now = Instant::now();
        let mut t = Tracker::default();
        // Serving history does not use up the member's allowance for files.
        for n in 1..=3 {
            publish_history(&mut t, n, 7, now, 300 + u64::from(n));
        }
        assert_eq!(t.swarms_of(7), 0);
        publish(&mut t, 10, 7, now).unwrap();
        publish(&mut t, 11, 7, now).unwrap();
        assert!(matches!(
            publish(&mut t, 12, 7, now),
            Err(TrackerError::TooManySwarms(2))
        ));
        // A joiner with a full allowance still fetches history.
        for n in [10, 11] {
            t.announce(&(1, [n; 20]), 8, Some(peer(1, now)), LIMITS, now)
                .unwrap();
        }
        assert_eq!(t.swarms_of(8), 2);
        t.announce(&(1, [1; 20]), 8, Some(peer(1, now)), LIMITS, now)
            .unwrap();
        // The fifth history swarm of the room replaces the one due first.
        publish_history(&mut t, 4, 7, now, 310);
        publish_history(&mut t, 5, 7, now, 320);
        assert!(!t.swarms.contains_key(&(1, [1; 20])), "the oldest went");
        let left = t.swarms.values().filter(|s| s.expires.is_some()).count();
        assert_eq!(left, HISTORY_SWARMS_PER_ROOM);
        let counted: usize = t.swarms.values().map(Swarm::cost).sum();
        assert_eq!(t.bytes, counted, "bytes follow what is held");
    }

    #[test]
    fn a_swarm_without_seeder_goes_after_the_grace() {
        let now = Instant::now();
        let mut t = Tracker::default();
        publish(&mut t, 1, 7, now).unwrap();
        t.attach_file(&(1, [1; 20]), 42);
        t.announce(&(1, [1; 20]), 7, Some(peer(0, now)), LIMITS, now)
            .unwrap();
        t.announce(&(1, [1; 20]), 8, Some(peer(10, now)), LIMITS, now)
            .unwrap();
        let grace = Duration::from_secs(5);
        let stale = Duration::from_secs(90);
        assert_eq!(
            t.sweep(now + grace * 2, stale, grace, |_| true),
            Swept::default()
        );
        t.leave(7, now + Duration::from_secs(1));
        assert!(
            t.sweep(now + Duration::from_secs(3), stale, grace, |_| true)
                .dropped
                .is_empty()
        );
        let swept = t.sweep(now + Duration::from_secs(6), stale, grace, |_| true);
        assert_eq!(swept.dropped, vec![((1, [1; 20]), Some(42))]);
        assert_eq!(t.bytes(), 0, "every byte is given back");
    }

    #[test]
    fn silent_peers_and_removed_files_are_dropped() {
        let now = Instant::now();
        let mut t = Tracker::default();
        publish(&mut t, 1, 7, now).unwrap();
        t.attach_file(&(1, [1; 20]), 42);
        t.announce(&(1, [1; 20]), 7, Some(peer(0, now)), LIMITS, now)
            .unwrap();
        let grace = Duration::from_secs(60);
        let swept = t.sweep(
            now + Duration::from_secs(91),
            Duration::from_secs(90),
            grace,
            |_| true,
        );
        assert_eq!(swept.stale_peers, 1);
        assert!(swept.dropped.is_empty());
        let swept = t.sweep(now, Duration::from_secs(90), grace, |id| id != 42);
        assert_eq!(swept.dropped.len(), 1);
        assert_eq!(t.bytes(), 0);
    }

    #[test]
    fn swarms_per_session_and_bytes_are_bounded() {
        let now = Instant::now();
        let mut t = Tracker::default();
        publish(&mut t, 1, 7, now).unwrap();
        publish(&mut t, 2, 7, now).unwrap();
        assert_eq!(
            publish(&mut t, 9, 7, now),
            Err(TrackerError::TooManySwarms(2))
        );
        // The same key in a new session gets no new allowance.
        let again = t.publish(
            (1, [9; 20]),
            Bytes::from_static(b"d4:infoe"),
            "f".into(),
            1,
            70,
            &[7; 32],
            LIMITS,
            now,
            None,
        );
        assert_eq!(again, Err(TrackerError::TooManySwarms(2)));
        for n in 1..=2 {
            t.announce(&(1, [n; 20]), 7, Some(peer(0, now)), LIMITS, now)
                .unwrap();
        }
        assert_eq!(
            publish(&mut t, 3, 7, now),
            Err(TrackerError::TooManySwarms(2))
        );
        publish(&mut t, 3, 8, now).unwrap();
        assert_eq!(
            t.announce(&(1, [3; 20]), 7, Some(peer(0, now)), LIMITS, now),
            Err(TrackerError::TooManySwarms(2))
        );
        let mut n = 10;
        let err = loop {
            if let Err(e) = publish(&mut t, n, 100 + SessionId::from(n), now) {
                break e;
            }
            n += 1;
        };
        assert_eq!(err, TrackerError::Full(4096));
        assert!(t.bytes() <= 4096);
        assert_eq!(
            t.announce(&(2, [1; 20]), 7, Some(peer(0, now)), LIMITS, now),
            Err(TrackerError::UnknownSwarm(2))
        );
    }
}
