//! One mirror of the daemon for every interactive front end: what voiced
//! reported (its status, the server's shared state, chat, who is talking,
//! bookmarks, audio settings, a pending trust decision, shared files and
//! transfers), folded from the
//! link's [`Report`]s by [`Mirror::apply`]. Pure: no I/O and no clock; what it
//! asks for comes back as [`Command`]s, what a user should hear of as
//! [`News`], which each front end shows in its own way.

use std::collections::{BTreeMap, BTreeSet};

use voice_proto::acl::{Permissions, Subject, evaluate};
use voice_proto::pb::control::event::Kind;
use voice_proto::pb::control::{
    AudioConfig, Bookmark, ConnectRequest, ConnectionState, DevicesReply, Event, FileEntry,
    HistoryReply, InputLevel, StateReply, StatusReply, Transfer, TransferState, TrustPrompt,
    VoiceMode,
};
use voice_proto::pb::wire::{Change, Permission, Session, StateUpdate, change};
use voice_proto::state::RoomId;
use voice_proto::{Limits, State, StateHash};

use crate::chat::ChatLog;
use crate::command::{Answer, Command, FETCH_HISTORY};
use crate::history::{HistoryFetch, HistorySummary, SETTING_OFF};
use crate::link::Report;
use crate::tree::{Row, rows};
use crate::trust::{self, TrustAnswer};

/// Whether voiced's control socket answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonLink {
    /// First attempt under way.
    Connecting,
    /// voiced is reachable and its events stream in.
    Up,
    /// voiced is not reachable; the link retries every second.
    Down {
        /// Failed attempts in a row.
        attempts: u32,
        /// The last error, in words.
        error: String,
    },
}

/// Something a user should hear of, as a front end words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum News {
    /// voiced reported a connection status; it was `was` before.
    Status {
        /// The connection state before this status.
        was: ConnectionState,
    },
    /// A user connected to the server.
    UserConnected {
        /// Their display name.
        name: String,
        /// The room they are in.
        room: RoomId,
    },
    /// A user came into our room.
    UserJoinedYou {
        /// Their display name.
        name: String,
    },
    /// A user left our room for another.
    UserLeftYou {
        /// Their display name.
        name: String,
        /// Where they went.
        room: RoomId,
    },
    /// A user left the server.
    UserDisconnected {
        /// Their display name.
        name: String,
    },
    /// A user in our room started (`on`) or stopped recording what they
    /// hear.
    Recording {
        /// Their display name.
        name: String,
        /// Whether they record now.
        on: bool,
    },
    /// A chat message arrived in `room`.
    Chat {
        /// The room of the message.
        room: RoomId,
    },
    /// voiced reported an error (or sent something unusable).
    Error(String),
    /// An audio device came, went or was replaced.
    Device(String),
    /// The network under the connection changed, and what happened
    /// (moved with it, or connected again), in words.
    Network(String),
    /// A call failed.
    Failed {
        /// The call, in words.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// voiced asks for a trust decision: [`Mirror::trust`] holds it.
    TrustAsked,
    /// A file was shared from here.
    Shared {
        /// The file's name.
        name: String,
        /// Its magnet link (also posted in the room's chat).
        magnet: String,
    },
    /// A transfer came to its end: complete (the file is at its `path`) or
    /// failed (its `error` says why).
    TransferFinished(Transfer),
    /// A room's earlier chat arrived (asked for here, or fetched by voiced
    /// on its own); its messages are in the chat log.
    History(HistorySummary),
}

/// [`News::Recording`] in words, the same in every front end (the name
/// with bidi and invisible characters escaped).
pub fn recording_words(name: &str, on: bool) -> String {
    let name = crate::text::printable(name);
    if on {
        format!("{name} is recording this room")
    } else {
        format!("{name} stopped recording")
    }
}

/// The files shared in a room, as voiced last listed them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoomFiles {
    /// The room.
    pub room: u32,
    /// Its files, with their seeders.
    pub entries: Vec<FileEntry>,
}

/// What applying one report gave.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// Calls to make.
    pub commands: Vec<Command>,
    /// What to tell the user.
    pub news: Vec<News>,
}

/// Limits for mirroring a server's state: the server enforces its own (maybe
/// larger) limits, so a mirror accepts anything reasonable.
pub fn mirror_limits() -> Limits {
    Limits {
        max_name_len: 4096,
        max_description_len: 1 << 20,
        max_depth: 1024,
        max_rooms: 1 << 20,
        max_sessions: 1 << 20,
        max_roles: 1 << 16,
        max_acl_rules: 1 << 16,
        max_session_roles: 1 << 16,
        max_files: 1 << 20,
    }
}

/// Everything a front end knows of voiced.
#[derive(Clone, Debug)]
pub struct Mirror {
    /// Whether voiced answers.
    pub daemon: DaemonLink,
    /// The last connection status voiced reported.
    pub status: StatusReply,
    /// The server's shared state, when connected.
    pub state: Option<State>,
    /// Users talking right now (session ids).
    pub talking: BTreeSet<u32>,
    /// The last microphone level (with `Watch` levels).
    pub level: Option<InputLevel>,
    /// Chat of every room.
    pub chat: ChatLog,
    /// Saved servers.
    pub bookmarks: Vec<Bookmark>,
    /// The identity's default display name.
    pub default_name: String,
    /// Audio settings voiced reported (`None` until it answers; an audio-less
    /// voiced refuses).
    pub audio: Option<AudioConfig>,
    /// Audio devices voiced reported.
    pub devices: Option<DevicesReply>,
    /// Why the audio settings or devices are not available, if they are not.
    pub audio_error: Option<String>,
    /// Local volume per user (session id → gain), as set from here.
    pub volumes: BTreeMap<u32, f32>,
    /// Users muted locally from here.
    pub local_mutes: BTreeSet<u32>,
    /// A trust decision voiced asks for and the user has not answered.
    pub trust: Option<TrustPrompt>,
    /// The fingerprint last answered (voiced reports one refusal twice: an
    /// event and the failed call).
    pub answered_fingerprint: Option<String>,
    /// The last connect request made from here (a trust decision repeats it).
    pub last_connect: Option<ConnectRequest>,
    /// The files of a room, once a front end asked for them (`None` until
    /// then): kept fresh while the room's files, its room or our transfers
    /// change.
    pub files: Option<RoomFiles>,
    /// Every transfer of voiced by its local id, the latest report of each
    /// (gone ones dropped).
    pub transfers: BTreeMap<u32, Transfer>,
    /// The history of each room asked for here or arrived (room id → where
    /// its fetch stands).
    pub history: BTreeMap<u32, HistoryFetch>,
    /// A full state was asked for after a mismatch and has not come yet:
    /// updates meanwhile wait for it instead of asking again.
    resync_pending: bool,
}

impl Default for Mirror {
    fn default() -> Self {
        Self::new()
    }
}

impl Mirror {
    /// A mirror that has not reached voiced yet.
    pub fn new() -> Self {
        Self {
            daemon: DaemonLink::Connecting,
            status: StatusReply::default(),
            state: None,
            talking: BTreeSet::new(),
            level: None,
            chat: ChatLog::default(),
            bookmarks: Vec::new(),
            default_name: String::new(),
            audio: None,
            devices: None,
            audio_error: None,
            volumes: BTreeMap::new(),
            local_mutes: BTreeSet::new(),
            trust: None,
            answered_fingerprint: None,
            last_connect: None,
            files: None,
            transfers: BTreeMap::new(),
            history: BTreeMap::new(),
            resync_pending: false,
        }
    }

    /// Folds one report from the link in.
    pub fn apply(&mut self, report: Report<Answer>) -> Applied {
        let mut out = Applied::default();
        match report {
            Report::Up => {
                self.daemon = DaemonLink::Up;
                self.resync_pending = false;
                // Audio settings and devices are asked for where they are
                // shown: an audio-less voiced refuses them, news only there.
                out.commands = vec![
                    Command::LoadBookmarks,
                    Command::LoadChatHistory,
                    Command::LoadIdentity,
                    Command::LoadTransfers,
                ];
                self.refresh_files(&mut out);
            }
            Report::Down { error } => {
                let attempts = match &self.daemon {
                    DaemonLink::Down { attempts, .. } => attempts.saturating_add(1),
                    _ => 1,
                };
                self.daemon = DaemonLink::Down { attempts, error };
                self.talking.clear();
                self.level = None;
                self.resync_pending = false;
                // Calls under way are lost with voiced.
                self.history.retain(|_, h| *h != HistoryFetch::Loading);
            }
            Report::Event(event) => self.on_event(event, &mut out),
            Report::Answer(answer) => self.on_answer(answer, &mut out),
            Report::Failed {
                what,
                message,
                trust,
            } => {
                if what == Command::LoadState.what() {
                    // The next update that does not fit asks again.
                    self.resync_pending = false;
                }
                if let Some(prompt) = trust {
                    self.ask_trust(prompt, &mut out);
                } else if Command::is_audio(what) {
                    self.audio_error = Some(message.clone());
                } else if what == FETCH_HISTORY {
                    // A failure names no room: it ends every fetch under way
                    // (a front end fetches one room's at a time).
                    for fetch in self.history.values_mut() {
                        if *fetch == HistoryFetch::Loading {
                            *fetch = HistoryFetch::Failed(message.clone());
                        }
                    }
                }
                out.news.push(News::Failed { what, message });
            }
        }
        out
    }

    /// Records a call this front end makes that the mirror must remember (a
    /// connect request, repeated after a trust decision); returns it.
    pub fn sent(&mut self, command: Command) -> Command {
        if let Command::Connect(request) = &command {
            self.last_connect = Some(request.clone());
        }
        command
    }

    /// The user answered the pending trust prompt (if any): it is cleared
    /// and the calls that carry the answer out come back.
    pub fn answer_trust(&mut self, answer: TrustAnswer) -> Vec<Command> {
        let Some(prompt) = self.trust.take() else {
            return Vec::new();
        };
        self.answered_fingerprint = Some(prompt.fingerprint.clone());
        let commands = trust::answer(&prompt, self.last_connect.as_ref(), answer);
        commands.into_iter().map(|c| self.sent(c)).collect()
    }

    fn on_answer(&mut self, answer: Answer, out: &mut Applied) {
        match answer {
            Answer::Status(status) => self.on_status(status, out),
            Answer::State(reply) => self.on_state(reply, out),
            Answer::Bookmarks(bookmarks) => self.bookmarks = bookmarks,
            Answer::ChatHistory(messages) => self.chat.extend(messages),
            Answer::Identity(identity) => self.default_name = identity.display_name,
            Answer::Audio(config) => {
                self.audio = Some(config);
                self.audio_error = None;
            }
            Answer::Devices(devices) => self.devices = Some(devices),
            Answer::DeviceSelected => out.commands.push(Command::LoadDevices),
            Answer::Shared(reply) => {
                out.news.push(News::Shared {
                    name: reply.name,
                    magnet: reply.magnet,
                });
                self.refresh_files(out);
            }
            Answer::Files { room, files } => {
                self.files = Some(RoomFiles {
                    room,
                    entries: files,
                });
            }
            // Events may already have told more of a transfer just added.
            Answer::Transfer(t) => {
                if crate::files::transfer_state(&t) != TransferState::Gone {
                    self.transfers.entry(t.id).or_insert(t);
                }
            }
            Answer::Transfers(all) => {
                self.transfers = all
                    .into_iter()
                    .filter(|t| crate::files::transfer_state(t) != TransferState::Gone)
                    .map(|t| (t.id, t))
                    .collect();
            }
            Answer::TransferCancelled(id) => {
                self.transfers.remove(&id);
            }
            Answer::History(reply) => self.on_history(reply, out),
            // The new rules come back through the state; the front end that
            // saved them closes its editor.
            Answer::AclSet(_) => {}
        }
    }

    fn on_event(&mut self, event: Event, out: &mut Applied) {
        let Some(kind) = event.kind else { return };
        match kind {
            Kind::Connection(status) => self.on_status(status, out),
            Kind::State(reply) => self.on_state(reply, out),
            Kind::Update(update) => self.on_update(update, out),
            Kind::Chat(message) => {
                out.news.push(News::Chat { room: message.room });
                self.chat.push(message);
            }
            Kind::Talking(t) => {
                if t.talking {
                    self.talking.insert(t.session);
                } else {
                    self.talking.remove(&t.session);
                }
            }
            Kind::Level(level) => self.level = Some(level),
            // Words only: a trust decision comes as `Trust`, never from text.
            Kind::Error(e) => out.news.push(News::Error(e.message)),
            Kind::Device(d) => {
                if self.devices.is_some() {
                    out.commands.push(Command::LoadDevices);
                }
                out.news.push(News::Device(d.message));
            }
            Kind::Trust(prompt) => self.ask_trust(prompt, out),
            Kind::Transfer(t) => self.on_transfer(t, out),
            Kind::History(reply) => self.on_history(reply, out),
            Kind::Network(change) => {
                out.news
                    .push(News::Network(crate::status::network_change(&change)));
            }
            // What plays and records is in the status that follows; a file
            // or recording that failed is news.
            Kind::Media(m) => {
                if !m.error.is_empty() {
                    out.news.push(News::Error(m.error));
                }
            }
        }
    }

    /// A room's earlier chat: its messages go into the chat log (above the
    /// room's live chat), the room's fetch is done; news once per snapshot
    /// (the call's answer and the event both bring it).
    fn on_history(&mut self, reply: HistoryReply, out: &mut Applied) {
        let summary = HistorySummary::of(&reply);
        self.chat.extend(reply.messages.into_iter().map(|mut m| {
            // What came in a history reply is history, whatever it says.
            m.history = true;
            m.room = reply.room;
            m
        }));
        let done = HistoryFetch::Loaded(summary.clone());
        if self.history.get(&summary.room) != Some(&done) {
            self.history.insert(summary.room, done);
            out.news.push(News::History(summary));
        }
    }

    /// Starts fetching the earlier chat of `room`, unless a fetch of it is
    /// under way: marks it loading and returns the call to make.
    pub fn fetch_history(&mut self, room: u32) -> Option<Command> {
        if self.history.get(&room) == Some(&HistoryFetch::Loading) {
            return None;
        }
        self.history.insert(room, HistoryFetch::Loading);
        Some(Command::FetchHistory(room))
    }

    /// Where the history fetch of `room` stands (`None`: never asked for
    /// here, nor arrived).
    pub fn history_of(&self, room: u32) -> Option<&HistoryFetch> {
        self.history.get(&room)
    }

    /// Whether a front end offers to load the earlier messages of `room`:
    /// connected and in it, voiced's `history` setting is not "off", and
    /// its history is neither loading nor here already (a failed fetch may
    /// be tried again).
    pub fn offers_history(&self, room: u32) -> bool {
        self.connection() == ConnectionState::Connected
            && self.state.is_some()
            && room == self.current_room()
            && self.status.history != SETTING_OFF
            && matches!(
                self.history.get(&room),
                None | Some(HistoryFetch::Failed(_))
            )
            && !self.chat.has_history(room)
    }

    /// Keeps the latest report of a transfer; a change of state is news
    /// when it ends, and changes the seeders of the files shown.
    fn on_transfer(&mut self, t: Transfer, out: &mut Applied) {
        let state = crate::files::transfer_state(&t);
        let was = self.transfers.get(&t.id).map(crate::files::transfer_state);
        if state == TransferState::Gone {
            self.transfers.remove(&t.id);
        } else {
            self.transfers.insert(t.id, t.clone());
        }
        if was == Some(state) {
            return;
        }
        if matches!(state, TransferState::Complete | TransferState::Failed) {
            out.news.push(News::TransferFinished(t));
        }
        self.refresh_files(out);
    }

    /// Asks for the files of the current room again, when a front end shows
    /// them.
    fn refresh_files(&self, out: &mut Applied) {
        if self.files.is_some()
            && !out
                .commands
                .iter()
                .any(|c| matches!(c, Command::LoadFiles(_)))
        {
            out.commands.push(Command::LoadFiles(self.current_room()));
        }
    }

    /// The files of the current room as voiced last listed them (`None`
    /// until they are asked for, or while another room's are held).
    pub fn files_here(&self) -> Option<&[FileEntry]> {
        self.files
            .as_ref()
            .filter(|f| f.room == self.current_room())
            .map(|f| f.entries.as_slice())
    }

    /// The transfers, by id.
    pub fn transfer_list(&self) -> impl Iterator<Item = &Transfer> {
        self.transfers.values()
    }

    fn on_status(&mut self, status: StatusReply, out: &mut Applied) {
        let was = self.connection();
        self.status = status;
        if self.connection() != ConnectionState::Connected {
            self.talking.clear();
            if was == ConnectionState::Connected {
                self.state = None;
                self.resync_pending = false;
                if let Some(files) = self.files.as_mut() {
                    files.entries.clear();
                }
            }
        }
        out.news.push(News::Status { was });
    }

    fn on_state(&mut self, reply: StateReply, out: &mut Applied) {
        self.resync_pending = false;
        let snapshot = reply.state.unwrap_or_default();
        match State::from_snapshot(&snapshot, mirror_limits()) {
            Ok(state) => {
                if reply.session_id != 0 {
                    self.status.session_id = reply.session_id;
                }
                self.state = Some(state);
                self.refresh_files(out);
            }
            Err(e) => out
                .news
                .push(News::Error(format!("voiced sent an invalid state: {e}"))),
        }
    }

    fn on_update(&mut self, update: StateUpdate, out: &mut Applied) {
        if self.resync_pending {
            // The full state asked for includes this change.
            return;
        }
        let Some(state) = self.state.as_mut() else {
            self.resync(out);
            return;
        };
        let Some(change) = update.change else { return };
        // Who the change is about, read before it applies (a leaving user's
        // name, whether they were recording).
        let mover = session_of(&change)
            .and_then(|id| state.session(id))
            .map(|s| (s.name.clone(), s.room, s.recording));
        let applied = state.apply(&change).is_ok();
        let matches =
            StateHash::from_slice(&update.resulting_hash).is_none_or(|h| h == state.hash());
        if !applied || !matches {
            self.resync(out);
            return;
        }
        let state = &*state;
        self.talking.retain(|s| state.session(*s).is_some());
        if self.touches_files(&change) {
            self.refresh_files(out);
        }
        self.announce(&change, mover, out);
    }

    /// Asks for the full state once; later updates wait for it.
    fn resync(&mut self, out: &mut Applied) {
        self.resync_pending = true;
        out.commands.push(Command::LoadState);
    }

    /// Whether a change alters the files shown: a file added or removed, a
    /// room removed (its files go), or we moved to another room.
    fn touches_files(&self, change: &Change) -> bool {
        let Some(shown) = self.files.as_ref() else {
            return false;
        };
        match &change.kind {
            Some(change::Kind::AddFile(_) | change::Kind::RemoveFile(_)) => true,
            Some(change::Kind::RemoveRoom(_)) => true,
            Some(change::Kind::MoveSession(m)) => {
                m.session == self.session_id() && m.room != shown.room
            }
            _ => false,
        }
    }

    /// Whether a full state was asked for and has not come yet.
    pub fn resync_pending(&self) -> bool {
        self.resync_pending
    }

    fn ask_trust(&mut self, prompt: TrustPrompt, out: &mut Applied) {
        if self.answered_fingerprint.as_deref() == Some(prompt.fingerprint.as_str())
            || self.trust.as_ref() == Some(&prompt)
        {
            return;
        }
        self.trust = Some(prompt);
        out.news.push(News::TrustAsked);
    }

    /// News of a user who came, left, entered or left our room, or started
    /// or stopped recording in it: one change is about one session
    /// (removing a room moves its users one by one), so the change itself
    /// says who and where. `before` is the session's name, room and
    /// recording mark before the change.
    fn announce(&self, change: &Change, before: Option<(String, RoomId, bool)>, out: &mut Applied) {
        let Some(state) = self.state.as_ref() else {
            return;
        };
        let own = self.session_id();
        let here = self.current_room();
        let news = match (&change.kind, before) {
            (Some(change::Kind::AddSession(s)), _) if s.id != own => {
                let Some(now) = state.session(s.id) else {
                    return;
                };
                News::UserConnected {
                    name: now.name.clone(),
                    room: now.room,
                }
            }
            (Some(change::Kind::RemoveSession(r)), Some((name, _, _))) if r.id != own => {
                News::UserDisconnected { name }
            }
            (Some(change::Kind::SetSessionFlags(f)), Some((name, room, was)))
                if f.session != own && room == here && f.recording.is_some_and(|on| on != was) =>
            {
                News::Recording { name, on: !was }
            }
            (Some(change::Kind::MoveSession(m)), Some((name, was, _)))
                if m.session != own && was != m.room =>
            {
                if m.room == here {
                    News::UserJoinedYou { name }
                } else if was == here {
                    News::UserLeftYou { name, room: m.room }
                } else {
                    return;
                }
            }
            _ => return,
        };
        out.news.push(news);
    }

    /// The connection state to the server.
    pub fn connection(&self) -> ConnectionState {
        crate::status::connection_state(&self.status)
    }

    /// The voice mode voiced reported.
    pub fn voice_mode(&self) -> VoiceMode {
        crate::status::voice_mode(&self.status)
    }

    /// This client's session id (0 when not connected).
    pub fn session_id(&self) -> u32 {
        self.status.session_id
    }

    /// This client's own session in the shared state.
    pub fn own_session(&self) -> Option<&Session> {
        self.state.as_ref()?.session(self.session_id())
    }

    /// The room this client is in.
    pub fn current_room(&self) -> u32 {
        self.own_session().map_or(self.status.room, |s| s.room)
    }

    /// Whether someone is talking: voiced's talking events, or our own
    /// transmitting microphone.
    pub fn is_talking(&self, session: u32) -> bool {
        self.talking.contains(&session)
            || (session == self.session_id()
                && session != 0
                && self.level.as_ref().is_some_and(|l| l.transmitting))
    }

    /// A user's local volume (1.0 unless changed here).
    pub fn volume(&self, session: u32) -> f32 {
        self.volumes.get(&session).copied().unwrap_or(1.0)
    }

    /// The rows of the room tree in display order.
    pub fn rows(&self) -> Vec<Row> {
        self.state.as_ref().map(rows).unwrap_or_default()
    }

    /// What this client may do in `room`, from the mirrored ACL (the server
    /// decides; this only hides what it would refuse anyway).
    pub fn permissions_in(&self, room: u32) -> Permissions {
        match (self.state.as_ref(), self.own_session()) {
            (Some(state), Some(own)) => evaluate(state, Subject::from(own), room),
            _ => Permissions::NONE,
        }
    }

    /// Whether this client may do `permission` in `room`.
    pub fn may(&self, permission: Permission, room: u32) -> bool {
        self.permissions_in(room).contains(permission)
    }

    /// The display name of a session, or `#id`.
    pub fn name_of(&self, session: u32) -> String {
        self.state
            .as_ref()
            .and_then(|s| s.session(session))
            .map_or_else(|| format!("#{session}"), |s| s.name.clone())
    }

    /// The path of a room (`/Games/Chess`), or `#id`.
    pub fn room_path(&self, room: u32) -> String {
        self.state
            .as_ref()
            .and_then(|s| s.path(room))
            .unwrap_or_else(|| format!("#{room}"))
    }
}

/// The session a change adds, removes or moves, if any.
fn session_of(change: &Change) -> Option<u32> {
    match change.kind.as_ref()? {
        change::Kind::RemoveSession(r) => Some(r.id),
        change::Kind::MoveSession(m) => Some(m.session),
        change::Kind::SetSessionFlags(f) if f.recording.is_some() => Some(f.session),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use voice_proto::pb::control::{ErrorEvent, StateReply};
    use voice_proto::pb::wire::{
        Change, ChatMessage, Room, SessionFlags, SessionMove, SessionRemove, change,
    };

    use super::*;

    fn event(kind: Kind) -> Report<Answer> {
        Report::Event(Event { kind: Some(kind) })
    }

    /// A state with the root, a "Den" (id 1), us (session 1) in the root.
    fn connected() -> Mirror {
        let mut mirror = Mirror::new();
        mirror.apply(Report::Up);
        let mut state = State::new("Root", mirror_limits());
        let den = Room {
            id: 1,
            parent: 0,
            name: "Den".into(),
            ..Room::default()
        };
        let me = Session {
            id: 1,
            name: "me".into(),
            public_key: vec![1; 32],
            ..Session::default()
        };
        for kind in [change::Kind::AddRoom(den), change::Kind::AddSession(me)] {
            state.apply(&Change { kind: Some(kind) }).unwrap();
        }
        let reply = StateReply {
            state: Some(state.snapshot()),
            hash: Vec::new(),
            session_id: 1,
        };
        let applied = mirror.apply(event(Kind::State(reply)));
        assert!(mirror.state.is_some(), "{applied:?}");
        mirror
    }

    fn update(mirror: &mut Mirror, kind: change::Kind) -> Applied {
        mirror.apply(event(Kind::Update(StateUpdate {
            seq: 0,
            change: Some(Change { kind: Some(kind) }),
            resulting_hash: Vec::new(),
            actor: 0,
        })))
    }

    #[test]
    fn comings_and_goings_are_news() {
        let mut mirror = connected();
        let bob = Session {
            id: 2,
            name: "bob".into(),
            public_key: vec![2; 32],
            room: 1,
            ..Session::default()
        };
        let mut news = update(&mut mirror, change::Kind::AddSession(bob)).news;
        let to_root = SessionMove {
            session: 2,
            room: 0,
        };
        news.extend(update(&mut mirror, change::Kind::MoveSession(to_root)).news);
        let gone = SessionRemove { id: 2 };
        news.extend(update(&mut mirror, change::Kind::RemoveSession(gone)).news);
        let bob = || "bob".to_owned();
        assert_eq!(
            news,
            [
                News::UserConnected {
                    name: bob(),
                    room: 1
                },
                News::UserJoinedYou { name: bob() },
                News::UserDisconnected { name: bob() },
            ]
        );
    }

    #[test]
    fn recording_in_our_room_is_news_once() {
        let mut mirror = connected();
        let bob = Session {
            id: 2,
            name: "bob".into(),
            public_key: vec![2; 32],
            room: 0,
            ..Session::default()
        };
        update(&mut mirror, change::Kind::AddSession(bob));
        let mark = |on| {
            change::Kind::SetSessionFlags(SessionFlags {
                session: 2,
                recording: Some(on),
                ..SessionFlags::default()
            })
        };
        let mut news = update(&mut mirror, mark(true)).news;
        // Said again, it changes nothing and is no news.
        news.extend(update(&mut mirror, mark(true)).news);
        news.extend(update(&mut mirror, mark(false)).news);
        let bob = || "bob".to_owned();
        assert_eq!(
            news,
            [
                News::Recording {
                    name: bob(),
                    on: true
                },
                News::Recording {
                    name: bob(),
                    on: false
                },
            ]
        );
        // Elsewhere it shows in the tree but is not news.
        let away = SessionMove {
            session: 2,
            room: 1,
        };
        update(&mut mirror, change::Kind::MoveSession(away));
        assert!(update(&mut mirror, mark(true)).news.is_empty());
        assert!(mirror.state.as_ref().unwrap().session(2).unwrap().recording);
    }

    #[test]
    fn a_mismatch_asks_for_the_state_once_until_it_comes() {
        let mut mirror = Mirror::new();
        let gone = || change::Kind::RemoveSession(SessionRemove { id: 9 });
        // No state yet: ask once, then wait.
        assert_eq!(update(&mut mirror, gone()).commands, [Command::LoadState]);
        assert!(mirror.resync_pending());
        assert!(update(&mut mirror, gone()).commands.is_empty());
        let mut mirror = connected();
        assert_eq!(update(&mut mirror, gone()).commands, [Command::LoadState]);
        assert!(update(&mut mirror, gone()).commands.is_empty());
        assert!(update(&mut mirror, gone()).commands.is_empty());
        // A failed request lets the next mismatch ask again.
        mirror.apply(Report::Failed {
            what: Command::LoadState.what(),
            message: "busy".into(),
            trust: None,
        });
        assert_eq!(update(&mut mirror, gone()).commands, [Command::LoadState]);
        // The state came: the next mismatch asks again.
        let state = mirror.state.as_ref().unwrap().snapshot();
        mirror.apply(Report::Answer(Answer::State(StateReply {
            state: Some(state),
            hash: Vec::new(),
            session_id: 1,
        })));
        assert!(!mirror.resync_pending());
        assert_eq!(update(&mut mirror, gone()).commands, [Command::LoadState]);
        // A wrong hash is a mismatch too.
        let mut mirror = connected();
        let den = change::Kind::MoveSession(SessionMove {
            session: 1,
            room: 1,
        });
        let applied = mirror.apply(event(Kind::Update(StateUpdate {
            seq: 0,
            change: Some(Change { kind: Some(den) }),
            resulting_hash: vec![7; 32],
            actor: 0,
        })));
        assert_eq!(applied.commands, [Command::LoadState]);
    }

    #[test]
    fn a_trust_prompt_comes_only_as_data_and_once() {
        let fp = "ab".repeat(32);
        let old_words = format!(
            "the certificate of 127.0.0.1:7878 is not trusted (self-signed); \
             its SHA-256 fingerprint is {fp}. … CHANGED: it is now {fp}, but {fp} was pinned"
        );
        let mut mirror = connected();
        // Text that reaches an error, a failed call or chat raises nothing.
        mirror.apply(event(Kind::Error(ErrorEvent {
            message: old_words.clone(),
        })));
        mirror.apply(Report::Failed {
            what: "connect",
            message: old_words.clone(),
            trust: None,
        });
        mirror.apply(event(Kind::Chat(ChatMessage {
            text: old_words,
            ..ChatMessage::default()
        })));
        assert!(mirror.trust.is_none());
        // The typed prompt does, once, even when voiced reports it twice.
        let prompt = TrustPrompt {
            server: "127.0.0.1:7878".into(),
            fingerprint: fp.clone(),
            ..TrustPrompt::default()
        };
        let first = mirror.apply(event(Kind::Trust(prompt.clone())));
        assert_eq!(first.news, [News::TrustAsked]);
        mirror.last_connect = Some(ConnectRequest {
            server: "127.0.0.1".into(),
            password: "pw".into(),
            ..ConnectRequest::default()
        });
        let commands = mirror.answer_trust(TrustAnswer::Always);
        assert!(
            matches!(&commands[..], [Command::Connect(r)] if r.accept_fingerprint == fp && r.password == "pw")
        );
        assert!(mirror.trust.is_none());
        // The failed call's copy arrives after the answer.
        let late = mirror.apply(Report::Failed {
            what: "connect",
            message: "refused".into(),
            trust: Some(prompt),
        });
        assert!(mirror.trust.is_none());
        assert_eq!(
            late.news,
            [News::Failed {
                what: "connect",
                message: "refused".into()
            }]
        );
    }

    #[test]
    fn transfers_keep_their_latest_report_and_files_follow_their_changes() {
        use voice_proto::pb::control::{FileEntry, TransferKind};
        use voice_proto::pb::wire::{FileRemove, SharedFile};

        let file = SharedFile {
            id: 1,
            info_hash: vec![7; 20],
            name: "a.bin".into(),
            size: 10,
            room: 0,
            owner_key: vec![1; 32],
        };
        // Files are asked for by a front end; until then nothing is fetched.
        let mut mirror = connected();
        assert!(mirror.files_here().is_none());
        let added = update(&mut mirror, change::Kind::AddFile(file.clone()));
        assert!(added.commands.is_empty());
        let removed = update(&mut mirror, change::Kind::RemoveFile(FileRemove { id: 1 }));
        assert!(removed.commands.is_empty());
        // From then on they stay fresh.
        mirror.apply(Report::Answer(Answer::Files {
            room: 0,
            files: vec![FileEntry {
                id: 1,
                name: "a.bin".into(),
                ..FileEntry::default()
            }],
        }));
        assert_eq!(mirror.files_here().map(<[_]>::len), Some(1));
        let added = update(&mut mirror, change::Kind::AddFile(file));
        assert_eq!(added.commands, [Command::LoadFiles(0)]);

        let report = |id, state: TransferState, done| {
            event(Kind::Transfer(Transfer {
                id,
                kind: TransferKind::Download as i32,
                state: state as i32,
                name: "a.bin".into(),
                size: 10,
                done_bytes: done,
                ..Transfer::default()
            }))
        };
        let started = mirror.apply(report(3, TransferState::Downloading, 2));
        assert_eq!(started.commands, [Command::LoadFiles(0)]);
        // Progress alone is no news and asks for nothing.
        let progress = mirror.apply(report(3, TransferState::Downloading, 6));
        assert_eq!(progress, Applied::default());
        assert_eq!(mirror.transfers[&3].done_bytes, 6);
        // The answer of the Download call comes late: it does not undo progress.
        mirror.apply(Report::Answer(Answer::Transfer(Transfer {
            id: 3,
            state: TransferState::Checking as i32,
            ..Transfer::default()
        })));
        assert_eq!(mirror.transfers[&3].done_bytes, 6);
        let done = mirror.apply(report(3, TransferState::Complete, 10));
        assert!(matches!(&done.news[..], [News::TransferFinished(t)] if t.id == 3));
        mirror.apply(report(3, TransferState::Gone, 10));
        assert!(mirror.transfers.is_empty());
        // The list replaces what was kept, without gone ones.
        mirror.apply(Report::Answer(Answer::Transfers(vec![
            Transfer {
                id: 4,
                ..Transfer::default()
            },
            Transfer {
                id: 5,
                state: TransferState::Gone as i32,
                ..Transfer::default()
            },
        ])));
        assert_eq!(mirror.transfers.keys().copied().collect::<Vec<_>>(), [4]);
        mirror.apply(Report::Answer(Answer::TransferCancelled(4)));
        assert!(mirror.transfers.is_empty());
    }

    #[test]
    fn history_is_offered_fetched_once_merged_and_its_failure_kept() {
        use voice_proto::pb::control::{ConnectionState, HistoryReply};

        let mut mirror = connected();
        mirror.apply(event(Kind::Connection(StatusReply {
            state: ConnectionState::Connected as i32,
            session_id: 1,
            history: "ask".into(),
            ..StatusReply::default()
        })));
        mirror.apply(event(Kind::Chat(ChatMessage {
            id: 50,
            seq: 5,
            time_ms: 9_000,
            text: "live".into(),
            ..ChatMessage::default()
        })));
        assert!(mirror.offers_history(0));
        assert!(!mirror.offers_history(1), "only the room we are in");
        assert_eq!(mirror.fetch_history(0), Some(Command::FetchHistory(0)));
        assert!(!mirror.offers_history(0));
        assert_eq!(mirror.fetch_history(0), None, "one fetch at a time");
        // It failed: the words stay with the room, which is offered again.
        let failed = mirror.apply(Report::Failed {
            what: Command::FetchHistory(0).what(),
            message: "no other member of room 0 shares history".into(),
            trust: None,
        });
        assert_eq!(
            mirror.history_of(0),
            Some(&HistoryFetch::Failed(
                "no other member of room 0 shares history".into()
            ))
        );
        assert!(matches!(
            &failed.news[..],
            [News::Failed {
                what: "load earlier messages",
                ..
            }]
        ));
        assert!(mirror.offers_history(0));
        // Again, and this time it comes, as the answer and as the event.
        assert!(mirror.fetch_history(0).is_some());
        let old = |seq: u64| ChatMessage {
            seq,
            time_ms: seq * 1000,
            history: true,
            text: format!("old {seq}"),
            ..ChatMessage::default()
        };
        let reply = HistoryReply {
            room: 0,
            messages: vec![old(3), old(4), old(5)],
            first_seq: 3,
            last_seq: 5,
            bytes: 2048,
            seeders: 2,
            ..HistoryReply::default()
        };
        let answered = mirror.apply(Report::Answer(Answer::History(reply.clone())));
        let again = mirror.apply(event(Kind::History(reply)));
        assert!(
            matches!(&answered.news[..], [News::History(s)] if s.to_string() == "3 earlier messages from 2 members (2.0 KiB)")
        );
        assert!(again.news.is_empty(), "{again:?}");
        let texts: Vec<_> = mirror.chat.in_room(0).map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["old 3", "old 4", "live"]);
        assert!(!mirror.offers_history(0));
        // With voiced's history setting off, nothing is offered.
        let mut off = connected();
        off.status.state = ConnectionState::Connected as i32;
        assert!(off.offers_history(0));
        off.status.history = "off".into();
        assert!(!off.offers_history(0));
        // A fetch under way when voiced goes is over.
        off.status.history = "auto".into();
        assert!(off.fetch_history(0).is_some());
        off.apply(Report::Down {
            error: "gone".into(),
        });
        assert_eq!(off.history_of(0), None);
    }

    #[test]
    fn audio_calls_refused_by_an_audio_less_voiced_say_why_where_audio_is_shown() {
        let mut mirror = Mirror::new();
        mirror.apply(Report::Failed {
            what: Command::LoadDevices.what(),
            message: "this voiced has no audio engine yet".into(),
            trust: None,
        });
        assert_eq!(
            mirror.audio_error.as_deref(),
            Some("this voiced has no audio engine yet")
        );
        mirror.apply(Report::Down {
            error: "gone".into(),
        });
        mirror.apply(Report::Down {
            error: "still gone".into(),
        });
        assert_eq!(
            mirror.daemon,
            DaemonLink::Down {
                attempts: 2,
                error: "still gone".into()
            }
        );
    }
}
