//! The authority over the shared state: one lock around the state and the
//! sessions' outgoing queues, so proposals are handled one at a time (first
//! processed wins) and every session sees the same updates in the same order.
//! Voice never takes this lock: it reads [`Routes`], a snapshot rebuilt after
//! every change.

mod bans;
mod commit;
mod events;
mod history;
mod intercept;
mod outbox;
mod persist;
mod relay;
mod requests;
mod routes;
mod tracker;

pub use bans::{MAX_REASON_CHARS, check_reason};

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use tokio::sync::Mutex;
use voice_proto::acl::{Subject, evaluate};
use voice_proto::limits::MessageLimits;
use voice_proto::pb::wire::{
    Change, ServerLimits, ServerMsg, Session, SessionRemove, StateUpdate, Welcome, change::Kind,
    server_msg::Msg,
};
use voice_proto::state::{Actor, Applied, ROOT, Rejection, SessionId};
use voice_proto::{Limits, State, close, frame};

pub use commit::CommitError;
pub use events::{BACKLOG_BYTES, BACKLOG_EVENTS, EventLog};
pub use history::{Histories, RoomChat};
pub use intercept::{Interceptor, Refused};
pub use outbox::{FRAME_OVERHEAD, Outbox, OutboxReader, SnapshotQueued, outbox};
pub use persist::META_ADMIN_TOKEN;
pub use routes::{Listener, Route, Routes};
pub use tracker::MAX_PEERS;

use voice_proto::pb::admin::{
    JoinQuestion, Moderation, StateChanged, intercept_question::Kind as InterceptKind,
    server_event::Kind as EventKind,
};

use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::throttle::Throttle;

/// Bytes of chat queued for one reader (1 MiB, about fifty of the longest
/// messages); past it, messages to that reader are dropped.
pub const CHAT_QUEUE_BYTES: usize = 1 << 20;

/// A connected session's handles.
#[derive(Debug)]
pub struct Link {
    /// Its connection.
    pub conn: crate::quic::Connection,
    /// Frames for its control stream, budgeted in bytes.
    pub control: Outbox,
    /// Frames for its chat stream (budgeted in bytes). The queue exists
    /// from `Welcome` on, so the lines relayed before the client's chat
    /// stream opens wait for it instead of being lost.
    pub chat: Outbox,
    /// The chat queue's reading half, until the chat stream takes it.
    pub chat_reader: Option<OutboxReader>,
    /// Its public key.
    pub key: Vec<u8>,
    /// It serves the chat it saw to members asking for history.
    pub share_history: bool,
}

/// What the lock protects.
#[derive(Debug)]
pub struct Inner {
    /// The shared state.
    pub state: State,
    /// Sequence number of the last update.
    pub seq: u64,
    /// Connected sessions.
    pub links: HashMap<SessionId, Link>,
    next_session: SessionId,
    next_chat: u64,
    write_budgets: commit::WriteBudgets,
    /// Who created each room a user created (per-key room quota).
    creators: HashMap<u32, Vec<u8>>,
    /// The BitTorrent swarms (memory only).
    pub tracker: crate::tracker::Tracker,
    /// Each room's chat numbering and chain, and history requests under way.
    pub histories: history::Histories,
    /// Numbered events for plugins (`Admin.Watch`).
    pub events: EventLog,
}

/// Why a session could not join.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The server is full.
    #[error("the server is full ({0} sessions); try again later")]
    Full(usize),
    /// The state refused the session (bad name...).
    #[error("{0}")]
    Refused(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The state cannot be sent in one frame.
    #[error("the server's state cannot be sent: {0}; tell the server's admin")]
    TooLarge(String),
}

/// A login that passed authentication, ready to join.
#[derive(Debug)]
pub struct Login {
    /// The connection.
    pub conn: crate::quic::Connection,
    /// Its public key.
    pub key: Vec<u8>,
    /// Display name.
    pub name: String,
    /// Requested room.
    pub room: u32,
    /// The admin token it presented.
    pub admin_token: String,
    /// It serves history to members of its room.
    pub share_history: bool,
}

/// The server's shared core.
#[derive(Debug)]
pub struct Hub {
    /// Held by whoever changes the state, across its flush (see `commit`);
    /// taken before `inner`, never while holding it.
    writer: Mutex<()>,
    inner: Mutex<Inner>,
    routes: Arc<ArcSwap<Routes>>,
    /// The database.
    pub store: Store,
    /// The configuration.
    pub config: Arc<Config>,
    /// The password in force (empty = open server).
    pub password: String,
    /// Failed-login throttling.
    pub throttle: Throttle,
    /// The file relay's budgets and counters.
    pub relays: Arc<crate::relay::Relays>,
    /// The plugin approving chat and logins (`Admin.Intercept`), if any.
    pub intercept: Interceptor,
}

/// Encodes one server message as a frame; an empty frame (which closes
/// the peer with a protocol error) when it passes the frame limit. Only
/// full snapshots can come near that limit, and they go through
/// [`encode_checked`].
pub fn encode(msg: Msg) -> Bytes {
    encode_checked(msg).unwrap_or_default()
}

/// Encodes one server message as a frame, or says why it cannot be sent.
pub fn encode_checked(msg: Msg) -> Result<Bytes, String> {
    let envelope = ServerMsg { msg: Some(msg) };
    frame::encode_to_bytes(&envelope, frame::SERVER_MAX_FRAME).map_err(|e| e.to_string())
}

/// What a user is told when the intercepting plugin refused `what`: its
/// reason without control characters, cut at a kick reason's length.
fn refused_by_plugin(what: &str, why: &str) -> String {
    let why: String = voice_proto::text::strip_controls(why.trim())
        .chars()
        .take(MAX_REASON_CHARS)
        .collect();
    if why.is_empty() {
        format!("a server plugin refused your {what}")
    } else {
        format!("a server plugin refused your {what}: {why}")
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Hub {
    /// A hub over a loaded state.
    pub fn new(state: State, store: Store, config: Arc<Config>, password: String) -> Self {
        let throttle = Throttle::new(
            config.throttle_failures,
            std::time::Duration::from_secs(config.throttle_window_secs),
            std::time::Duration::from_secs(config.throttle_refuse_secs),
        );
        let creators = store.room_creators().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read who created the rooms; room quotas start afresh");
            Vec::new()
        });
        // Chat sequence numbers of this run start above every earlier run's.
        let chat_base = store.next_chat_run().map(|run| run << 32).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot count server runs; chat numbers start from the clock");
            now_ms() << 20
        });
        let creators = creators
            .into_iter()
            .filter(|(id, _)| state.room(*id).is_some())
            .collect();
        Self {
            writer: Mutex::new(()),
            inner: Mutex::new(Inner {
                state,
                seq: 0,
                links: HashMap::new(),
                next_session: 1,
                next_chat: 1,
                write_budgets: commit::WriteBudgets::default(),
                creators,
                tracker: crate::tracker::Tracker::default(),
                histories: history::Histories::new(chat_base),
                // Event numbers of this run also start above every earlier run's.
                events: EventLog::new(chat_base),
            }),
            routes: Arc::new(ArcSwap::from_pointee(Routes::default())),
            store,
            relays: Arc::new(crate::relay::Relays::new(&config)),
            intercept: Interceptor::default(),
            config,
            password,
            throttle,
        }
    }

    /// The voice routing table (lock-free read, no reference count touched
    /// in the common case).
    pub fn routes(&self) -> arc_swap::Guard<Arc<Routes>> {
        self.routes.load()
    }

    /// A per-reader cache of the routing table: reading it costs one pointer
    /// comparison until the table changes.
    pub fn routes_cache(&self) -> arc_swap::Cache<Arc<ArcSwap<Routes>>, Arc<Routes>> {
        arc_swap::Cache::new(self.routes.clone())
    }

    /// Locks the state (admin requests and tests).
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, Inner> {
        self.inner.lock().await
    }

    /// The server limits announced in `Welcome`.
    pub fn server_limits(&self, limits: &Limits) -> ServerLimits {
        limits.to_server_limits(MessageLimits {
            max_message_len: self.config.max_message_len,
            max_voice_payload: self.config.max_voice_payload,
            max_frame_len: frame::CLIENT_MAX_FRAME,
            max_file_size: self.config.max_file_size,
            max_torrent_info_bytes: self.config.max_torrent_info_bytes,
        })
    }

    /// Adds an authenticated session; its queue starts with `Welcome`.
    pub async fn join(&self, login: Login) -> Result<(SessionId, OutboxReader), JoinError> {
        if self.config.intercept_joins {
            let question = InterceptKind::Join(JoinQuestion {
                public_key: voice_proto::hash::hex(&login.key),
                name: login.name.clone(),
                address: login.conn.remote_address().to_string(),
            });
            self.intercept
                .ask(question, self.intercept_deadline())
                .await
                .map_err(|Refused(why)| JoinError::Refused(refused_by_plugin("login", &why)))?;
        }
        // Full before anything is written for this key.
        let full = {
            let inner = self.inner.lock().await;
            inner.links.len() >= self.config.max_sessions
                && !inner.links.values().any(|l| l.key == login.key)
        };
        if full {
            return Err(JoinError::Full(self.config.max_sessions));
        }
        let roles = self.login_roles(&login).await?;
        let _writer = self.writer.lock().await;
        let mut inner = self.inner.lock().await;
        // The same key logged in again: the old session gives way.
        let old: Vec<SessionId> = inner
            .links
            .iter()
            .filter(|(_, l)| l.key == login.key)
            .map(|(id, _)| *id)
            .collect();
        for id in old {
            if let Some(link) = inner.links.remove(&id) {
                link.conn
                    .close(close::REPLACED.into(), b"you logged in again elsewhere");
            }
            self.remove_session_locked(&mut inner, id);
        }
        if inner.links.len() >= self.config.max_sessions {
            return Err(JoinError::Full(self.config.max_sessions));
        }
        let mut id = inner.next_session;
        while id == 0 || inner.state.session(id).is_some() {
            id = id.wrapping_add(1);
        }
        inner.next_session = id.wrapping_add(1);
        let subject = Subject {
            key: &login.key,
            roles: &roles,
        };
        let Some(room) = self.landing_room(&inner, subject, login.room) else {
            return Err(JoinError::Refused(
                "the server's permissions let you enter no room (enter is denied in every room); ask an administrator"
                    .to_owned(),
            ));
        };
        let session = Session {
            id,
            public_key: login.key.clone(),
            name: login.name.clone(),
            room,
            roles,
            ..Session::default()
        };
        let change = Change {
            kind: Some(Kind::AddSession(session)),
        };
        let hash = inner.state.hash();
        let applied = inner
            .state
            .propose(Actor::Server, &hash, &change)
            .map_err(|e| JoinError::Refused(e.to_string()))?;
        self.broadcast_locked(&mut inner, &applied, 0);
        let (tx, rx) = outbox(self.config.max_queue_bytes);
        let welcome = Welcome {
            session_id: id,
            seq: inner.seq,
            snapshot: Some(inner.state.snapshot()),
            hash: inner.state.hash().to_vec(),
            server_name: self.config.server_name.clone(),
            welcome_text: self.config.welcome_text.clone(),
            limits: Some(self.server_limits(inner.state.limits())),
        };
        let frame = encode_checked(Msg::Welcome(welcome)).map_err(JoinError::TooLarge)?;
        if let Err(over) = tx.push_snapshot(|| frame) {
            return Err(JoinError::TooLarge(format!(
                "the state ({} bytes) is larger than a session's queue ({} bytes, max_queue_bytes)",
                over.queued, over.budget
            )));
        }
        let (chat, chat_reader) = outbox(CHAT_QUEUE_BYTES);
        inner.links.insert(
            id,
            Link {
                conn: login.conn,
                control: tx,
                chat,
                chat_reader: Some(chat_reader),
                key: login.key,
                share_history: login.share_history,
            },
        );
        self.rebuild_routes(&inner);
        Ok((id, rx))
    }

    /// Where a joining session is placed: the room it asked for when it
    /// exists, has space and grants it Enter; otherwise the root when that
    /// grants Enter; otherwise the first room (breadth first) that grants
    /// Enter and has space. `None` when no room lets it in.
    fn landing_room(&self, inner: &Inner, subject: Subject<'_>, requested: u32) -> Option<u32> {
        let enters = |room: u32| {
            evaluate(&inner.state, subject, room).contains(voice_proto::pb::wire::Permission::Enter)
        };
        if inner.state.room(requested).is_some()
            && !self.room_full(inner, requested)
            && enters(requested)
        {
            return Some(requested);
        }
        if enters(ROOT) {
            return Some(ROOT);
        }
        let mut queue = std::collections::VecDeque::from([ROOT]);
        while let Some(room) = queue.pop_front() {
            if room != ROOT && enters(room) && !self.room_full(inner, room) {
                return Some(room);
            }
            queue.extend(inner.state.children(room));
        }
        None
    }

    /// Whether a room holds `max_sessions_per_room` sessions already.
    pub(crate) fn room_full(&self, inner: &Inner, room: u32) -> bool {
        let max = self.config.max_sessions_per_room;
        max != 0 && inner.state.sessions_in(room).count() >= max
    }

    /// Removes a session that left.
    pub async fn leave(&self, id: SessionId) {
        let _writer = self.writer.lock().await;
        let mut inner = self.inner.lock().await;
        inner.links.remove(&id);
        self.remove_session_locked(&mut inner, id);
        self.rebuild_routes(&inner);
    }

    fn remove_session_locked(&self, inner: &mut Inner, id: SessionId) {
        inner.tracker.leave(id, std::time::Instant::now());
        if inner.state.session(id).is_none() {
            return;
        }
        let change = Change {
            kind: Some(Kind::RemoveSession(SessionRemove { id })),
        };
        let hash = inner.state.hash();
        if let Ok(applied) = inner.state.propose(Actor::Server, &hash, &change) {
            self.broadcast_locked(inner, &applied, 0);
        }
    }

    /// Hands a session's chat queue to its chat stream, once: the queue
    /// and its reader, holding what was relayed to the session since it
    /// joined. `None` when the session is gone or its stream took it.
    pub async fn take_chat(&self, id: SessionId) -> Option<(Outbox, OutboxReader)> {
        let mut inner = self.inner.lock().await;
        let link = inner.links.get_mut(&id)?;
        let reader = link.chat_reader.take()?;
        Some((link.chat.clone(), reader))
    }

    /// Sends every applied step to every session, numbering them.
    fn broadcast_locked(&self, inner: &mut Inner, applied: &[Applied], actor: SessionId) {
        for step in applied {
            inner.seq += 1;
            let frame = encode(Msg::Update(StateUpdate {
                seq: inner.seq,
                change: Some(step.change.clone()),
                resulting_hash: step.hash.to_vec(),
                actor,
            }));
            for link in inner.links.values() {
                queue(link, frame.clone());
            }
            inner.events.push(EventKind::State(StateChanged {
                change: Some(step.change.clone()),
                resulting_hash: step.hash.to_vec(),
                actor,
            }));
        }
    }

    /// Applies a change as the server (admin requests); a lasting one is
    /// on disk before it is applied and broadcast (see `commit`).
    pub async fn server_change(&self, change: Change) -> Result<Vec<Applied>, ServerChangeError> {
        let _writer = self.writer.lock().await;
        let hash = self.inner.lock().await.state.hash();
        match self.commit(Actor::Server, &hash, &change).await {
            Ok((applied, _)) => Ok(applied),
            Err(CommitError::Rejected(r)) => Err(r.into()),
            Err(CommitError::Store(e)) => Err(e.into()),
            Err(e @ (CommitError::Limit(_) | CommitError::RateLimited(_))) => {
                Err(ServerChangeError::Limit(e.to_string()))
            }
        }
    }

    /// Closes a session's connection.
    pub async fn disconnect(&self, id: SessionId, code: u32, reason: &str) -> bool {
        let _writer = self.writer.lock().await;
        let mut inner = self.inner.lock().await;
        let Some(link) = inner.links.remove(&id) else {
            return false;
        };
        link.conn.close(code.into(), reason.as_bytes());
        self.remove_session_locked(&mut inner, id);
        self.rebuild_routes(&inner);
        true
    }

    /// How long an intercepting plugin is waited for.
    pub fn intercept_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.config.intercept_deadline_ms)
    }

    /// Records a kick or ban for plugins.
    pub async fn moderated(&self, moderation: Moderation) {
        self.inner
            .lock()
            .await
            .events
            .push(EventKind::Moderation(moderation));
    }

    /// Closes every connection (shutdown).
    pub async fn close_all(&self, code: u32, reason: &str) {
        let inner = self.inner.lock().await;
        for link in inner.links.values() {
            link.conn.close(code.into(), reason.as_bytes());
        }
    }
}

/// A server-side change that failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerChangeError {
    /// The state refused it.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The database failed; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A server limit refused it.
    #[error("{0}")]
    Limit(String),
}

/// Queues a frame for a session; one that cannot keep up is closed.
fn queue(link: &Link, frame: Bytes) {
    if let Err(over) = link.control.push(frame) {
        close_slow(link, over);
    }
}

/// Closes a session whose queue passed its byte budget.
fn close_slow(link: &Link, over: outbox::Overflow) {
    let reason = format!(
        "your connection did not keep up: {} bytes were waiting for it (the limit is {}); \
         reconnect to get the current state",
        over.queued, over.budget
    );
    link.conn
        .close(close::SLOW_READER.into(), reason.as_bytes());
}

impl Hub {
    /// Bytes waiting in a session's control queue (for tests and status).
    pub async fn queued_bytes(&self, id: SessionId) -> Option<usize> {
        let inner = self.inner.lock().await;
        inner.links.get(&id).map(|l| l.control.queued_bytes())
    }
}
