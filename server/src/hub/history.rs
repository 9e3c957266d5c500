//! Room history from peers, the server's part: it keeps each room's chat
//! sequence and chain, passes a member's request to the members who share
//! history and may read the room, settles one range they can all serve,
//! publishes what they seed as an expiring swarm and tells the asker.
//!
//! Nothing of the chat itself is kept: only, per room, the last sequence
//! number and the chain after it (40 bytes).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use voice_proto::acl::{Subject, evaluate};
use voice_proto::history::{CHAIN_START, Chain};
use voice_proto::pb::wire::{
    ChatMessage, HistoryFound, HistoryOffer, HistoryQuery, HistoryRequest, HistoryServe,
    HistorySettle, HistorySource, Permission, SharedFile, TrackerAnnounce, TrackerEvent,
    server_msg::Msg,
};
use voice_proto::state::SessionId;

use super::{Hub, Inner, encode};

/// Members asked at most per request.
pub const MAX_ASKED: usize = 16;
/// History requests waiting for their members at once, server-wide.
pub const MAX_PENDING: usize = 64;
/// How long members have to say what they hold.
const OFFER_WAIT: Duration = Duration::from_secs(3);
/// How long members have to build and seed the snapshot.
const SERVE_WAIT: Duration = Duration::from_secs(20);
/// After the first member serves, how long the others have.
const SERVE_STRAGGLERS: Duration = Duration::from_secs(2);

/// One room's chat numbering.
#[derive(Debug, Clone, Copy)]
pub struct RoomChat {
    /// The last sequence number given (0 = none since the server started).
    pub last_seq: u64,
    /// The chain after that message.
    pub chain: Chain,
}

/// The chat numbering of every room, and the history requests under way.
#[derive(Debug, Default)]
pub struct Histories {
    /// Sequence numbers of this run start above `base`.
    base: u64,
    rooms: HashMap<u32, RoomChat>,
    next_query: u64,
    pending: HashMap<u64, Pending>,
}

#[derive(Debug)]
struct Pending {
    requester: SessionId,
    room: u32,
    /// Members asked for an offer.
    asked: HashSet<SessionId>,
    /// Members asked to serve.
    settled: HashSet<SessionId>,
    answers: mpsc::Sender<Answer>,
}

#[derive(Debug)]
enum Answer {
    Offer(SessionId, HistoryOffer),
    Serve(SessionId, HistoryServe),
}

impl Histories {
    /// Numbering that starts above `base` (higher than any number an
    /// earlier run of the server gave).
    pub fn new(base: u64) -> Self {
        Self {
            base,
            ..Self::default()
        }
    }

    /// Numbers a message of `room` and threads it into the room's chain.
    pub fn stamp(&mut self, message: &mut ChatMessage) {
        let base = self.base;
        let room = self.rooms.entry(message.room).or_insert(RoomChat {
            last_seq: base,
            chain: CHAIN_START,
        });
        room.last_seq += 1;
        message.seq = room.last_seq;
        message.prev_chain = room.chain.to_vec();
        room.chain =
            voice_proto::history::chain_next(&room.chain, &voice_proto::history::line(message));
    }

    /// A room's numbering, when it has had chat since the server started.
    pub fn room(&self, room: u32) -> Option<RoomChat> {
        self.rooms.get(&room).copied()
    }

    /// Forgets rooms that no longer exist.
    pub fn retain_rooms(&mut self, exists: impl Fn(u32) -> bool) {
        self.rooms.retain(|room, _| exists(*room));
    }
}

impl Hub {
    /// A member asks for a room's earlier chat.
    pub async fn history_request(self: &Arc<Self>, id: SessionId, req: HistoryRequest) {
        let started = {
            let mut inner = self.inner.lock().await;
            match self.history_start(&mut inner, id, &req) {
                Ok(started) => started,
                Err(message) => {
                    Self::reply(&inner, id, super::tracker::failed(req.request_id, message));
                    return;
                }
            }
        };
        let hub = self.clone();
        tokio::spawn(async move { hub.history_run(id, req, started).await });
    }

    fn history_start(
        &self,
        inner: &mut Inner,
        id: SessionId,
        req: &HistoryRequest,
    ) -> Result<Started, String> {
        let room = req.room;
        Self::in_room(inner, id, room)?;
        let me = inner.state.session(id).ok_or("you are not connected")?;
        if !evaluate(&inner.state, Subject::from(me), room).contains(Permission::ReadHistory) {
            return Err(format!(
                "{}; ask an administrator for it",
                voice_proto::acl::lacking(
                    &inner.state,
                    Subject::from(me),
                    Permission::ReadHistory,
                    room
                )
            ));
        }
        if inner.histories.pending.values().any(|p| p.requester == id) {
            return Err("a history request of yours is still under way; wait for it".to_owned());
        }
        if inner.histories.pending.len() >= MAX_PENDING {
            return Err(
                "the server is busy with other history requests; try again in a moment".to_owned(),
            );
        }
        let chat = inner.histories.room(room).ok_or_else(|| {
            format!("no chat was sent in room {room} since the server started: there is no history to fetch")
        })?;
        let asked: HashSet<SessionId> = inner
            .state
            .sessions_in(room)
            .filter(|s| s.id != id)
            .filter(|s| inner.links.get(&s.id).is_some_and(|l| l.share_history))
            .filter(|s| {
                evaluate(&inner.state, Subject::from(*s), room).contains(Permission::ReadHistory)
            })
            .map(|s| s.id)
            .take(MAX_ASKED)
            .collect();
        if asked.is_empty() {
            return Err(format!(
                "no other member of room {room} shares history (members who turned history sharing off are not asked)"
            ));
        }
        inner.histories.next_query += 1;
        let query_id = inner.histories.next_query;
        let (tx, rx) = mpsc::channel(4 * MAX_ASKED);
        let query = encode(Msg::HistoryQuery(HistoryQuery {
            query_id,
            room,
            last_seq: chat.last_seq,
        }));
        for member in &asked {
            if let Some(link) = inner.links.get(member) {
                let _ = link.control.push(query.clone());
            }
        }
        inner.histories.pending.insert(
            query_id,
            Pending {
                requester: id,
                room,
                asked: asked.clone(),
                settled: HashSet::new(),
                answers: tx,
            },
        );
        Ok(Started {
            query_id,
            last_seq: chat.last_seq,
            chain: chat.chain,
            asked,
            answers: rx,
        })
    }

    async fn history_run(&self, id: SessionId, req: HistoryRequest, mut run: Started) {
        let outcome = self.history_settle(&req, &mut run).await;
        let mut inner = self.inner.lock().await;
        inner.histories.pending.remove(&run.query_id);
        let msg = match outcome {
            Ok(found) => Msg::HistoryFound(found),
            Err(message) => super::tracker::failed(req.request_id, message),
        };
        Self::reply(&inner, id, msg);
    }

    async fn history_settle(
        &self,
        req: &HistoryRequest,
        run: &mut Started,
    ) -> Result<HistoryFound, String> {
        let room = req.room;
        // What each member holds.
        let mut offers: HashMap<SessionId, u64> = HashMap::new();
        let deadline = tokio::time::Instant::now() + OFFER_WAIT;
        while offers.len() < run.asked.len() {
            match tokio::time::timeout_at(deadline, run.answers.recv()).await {
                Ok(Some(Answer::Offer(member, offer))) => {
                    offers.entry(member).or_insert(offer.first_seq);
                }
                Ok(Some(Answer::Serve(..))) => {}
                Ok(None) | Err(_) => break,
            }
        }
        let holding: Vec<(SessionId, u64)> = offers
            .into_iter()
            .filter(|(_, first)| *first != 0 && *first <= run.last_seq)
            .collect();
        // The longest range offered; every member holding all of it serves.
        let Some(first_seq) = holding.iter().map(|(_, first)| *first).min() else {
            return Err(format!(
                "none of the {} members asked holds room {room}'s chat through its last line; \
                 history reaches back only to what members present then saw",
                run.asked.len()
            ));
        };
        let serving: HashSet<SessionId> = holding
            .iter()
            .filter(|(_, first)| *first == first_seq)
            .map(|(member, _)| *member)
            .collect();
        {
            let mut inner = self.inner.lock().await;
            let mut files: Vec<SharedFile> = inner
                .state
                .files()
                .values()
                .filter(|f| f.room == room)
                .cloned()
                .collect();
            files.sort_by_key(|f| f.id);
            let settle = encode(Msg::HistorySettle(HistorySettle {
                query_id: run.query_id,
                room,
                first_seq,
                last_seq: run.last_seq,
                files,
            }));
            if let Some(pending) = inner.histories.pending.get_mut(&run.query_id) {
                pending.settled = serving.clone();
            }
            for member in &serving {
                if let Some(link) = inner.links.get(member) {
                    let _ = link.control.push(settle.clone());
                }
            }
        }
        // What they seed.
        let expected = voice_proto::history::file_name(room, first_seq, run.last_seq);
        let mut served: HashMap<[u8; 20], u32> = HashMap::new();
        let mut answered = HashSet::new();
        let mut refusals = Vec::new();
        let mut deadline = tokio::time::Instant::now() + SERVE_WAIT;
        while answered.len() < serving.len() {
            let serve = match tokio::time::timeout_at(deadline, run.answers.recv()).await {
                Ok(Some(Answer::Serve(member, serve))) if serving.contains(&member) => {
                    if !answered.insert(member) {
                        continue;
                    }
                    (member, serve)
                }
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break,
            };
            let (member, serve) = serve;
            if !serve.error.is_empty() {
                refusals.push(voice_proto::text::strip_controls(&serve.error));
                continue;
            }
            let mut inner = self.inner.lock().await;
            match self.history_publish(&mut inner, member, room, &expected, &serve) {
                Ok(hash) => {
                    *served.entry(hash).or_default() += 1;
                    let soon = tokio::time::Instant::now() + SERVE_STRAGGLERS;
                    deadline = deadline.min(soon);
                }
                Err(e) => refusals.push(e),
            }
        }
        if served.is_empty() {
            let why = refusals
                .first()
                .cloned()
                .unwrap_or_else(|| "they did not answer in time".to_owned());
            return Err(format!(
                "the members holding room {room}'s history could not serve it: {why}"
            ));
        }
        let mut sources: Vec<HistorySource> = served
            .into_iter()
            .map(|(hash, seeders)| HistorySource {
                info_hash: hash.to_vec(),
                seeders,
            })
            .collect();
        sources.sort_by(|a, b| {
            b.seeders
                .cmp(&a.seeders)
                .then(a.info_hash.cmp(&b.info_hash))
        });
        Ok(HistoryFound {
            request_id: req.request_id,
            room,
            first_seq,
            last_seq: run.last_seq,
            chain: run.chain.to_vec(),
            sources,
        })
    }

    /// Publishes a member's snapshot as an expiring swarm with the member
    /// as its seeder; its info hash.
    fn history_publish(
        &self,
        inner: &mut Inner,
        member: SessionId,
        room: u32,
        expected: &str,
        serve: &HistoryServe,
    ) -> Result<[u8; 20], String> {
        let info =
            voice_proto::torrent::parse_info(&serve.info, self.config.max_torrent_info_bytes)
                .map_err(|e| e.to_string())?;
        if !info.private || info.files != 1 || info.name != expected {
            return Err(format!(
                "a member served a torrent that is not the private single file {expected}"
            ));
        }
        if info.size > self.config.max_history_bytes {
            return Err(format!(
                "the snapshot has {} bytes; this server serves histories of at most {} bytes \
                 (max_history_bytes)",
                info.size, self.config.max_history_bytes
            ));
        }
        let key = inner
            .links
            .get(&member)
            .map(|l| l.key.clone())
            .ok_or("the member left")?;
        let hash = voice_proto::torrent::info_hash(&serve.info);
        let limits = self.tracker_limits();
        let now = Instant::now();
        inner
            .tracker
            .publish(
                (room, hash),
                bytes::Bytes::copy_from_slice(&serve.info),
                info.name,
                info.size,
                member,
                &key,
                limits,
                now,
                Some(now + Duration::from_secs(self.config.history_swarm_secs)),
            )
            .map_err(|e| e.to_string())?;
        let announce = TrackerAnnounce {
            request_id: 0,
            room,
            info_hash: hash.to_vec(),
            port: serve.port,
            left: 0,
            event: TrackerEvent::Started as i32,
        };
        self.announce_checked(inner, member, &announce)?;
        Ok(hash)
    }

    /// A member says what it holds.
    pub async fn history_offer(&self, id: SessionId, offer: HistoryOffer) {
        let inner = self.inner.lock().await;
        if let Some(p) = inner.histories.pending.get(&offer.query_id)
            && p.asked.contains(&id)
        {
            let _ = p.answers.try_send(Answer::Offer(id, offer));
        }
    }

    /// A member seeds what was settled.
    pub async fn history_serve(&self, id: SessionId, serve: HistoryServe) {
        let inner = self.inner.lock().await;
        if let Some(p) = inner.histories.pending.get(&serve.query_id)
            && p.settled.contains(&id)
        {
            let _ = p.answers.try_send(Answer::Serve(id, serve));
        }
    }

    /// The room a pending request is about (tests and logs).
    pub async fn history_pending(&self) -> Vec<(u64, u32)> {
        let inner = self.inner.lock().await;
        inner
            .histories
            .pending
            .iter()
            .map(|(q, p)| (*q, p.room))
            .collect()
    }
}

/// A request under way.
#[derive(Debug)]
struct Started {
    query_id: u64,
    last_seq: u64,
    chain: Chain,
    asked: HashSet<SessionId>,
    answers: mpsc::Receiver<Answer>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_number_their_own_chat_and_chain_it() {
        let mut h = Histories::new(1 << 32);
        let mut a = ChatMessage {
            room: 1,
            text: "a".into(),
            ..ChatMessage::default()
        };
        let mut b = ChatMessage {
            room: 2,
            text: "b".into(),
            ..ChatMessage::default()
        };
        let mut c = ChatMessage {
            room: 1,
            text: "c".into(),
            ..ChatMessage::default()
        };
        h.stamp(&mut a);
        h.stamp(&mut b);
        h.stamp(&mut c);
        assert_eq!(
            (a.seq, b.seq, c.seq),
            ((1 << 32) + 1, (1 << 32) + 1, (1 << 32) + 2)
        );
        assert_eq!(a.prev_chain, CHAIN_START.to_vec());
        let after_a =
            voice_proto::history::chain_next(&CHAIN_START, &voice_proto::history::line(&a));
        assert_eq!(c.prev_chain, after_a.to_vec());
        let room = h.room(1).unwrap();
        assert_eq!(room.last_seq, c.seq);
        assert_eq!(
            room.chain,
            voice_proto::history::chain_next(&after_a, &voice_proto::history::line(&c))
        );
        h.retain_rooms(|r| r == 2);
        assert!(h.room(1).is_none());
    }
}
