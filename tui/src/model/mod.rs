//! The model: everything the screen shows, and nothing else.

mod chat;
mod modal;
mod tree;

use std::collections::{BTreeMap, BTreeSet};

use voice_proto::State;
use voice_proto::pb::control::{
    Bookmark, ConnectRequest, ConnectionState, InputLevel, StatusReply, VoiceMode,
};
use voice_proto::pb::wire::Session;

pub use chat::ChatLog;
pub use modal::{ConnectDialog, ConnectEntry, Modal, PromptKind};
pub use tree::{Row, RowKind};

/// Whether the control socket of voiced answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonLink {
    /// First attempt under way.
    Connecting,
    /// voiced is reachable and its events stream in.
    Up,
    /// voiced is not reachable; retried every second.
    Down {
        /// Failed attempts in a row.
        attempts: u32,
        /// The last error, in words.
        error: String,
    },
}

/// Which part of the screen takes typed keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// The room tree: keys are commands.
    Tree,
    /// The chat input line: keys are text.
    Chat,
}

/// Push-to-talk: how the key works and whether it is held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushToTalk {
    /// The terminal reports key releases, so the key is held to talk.
    pub hold: bool,
    /// Talking through push-to-talk right now.
    pub active: bool,
}

/// The whole model of the terminal front end.
#[derive(Clone, Debug)]
pub struct App {
    /// The control socket's path, for the help text.
    pub socket: String,
    /// Whether voiced answers.
    pub daemon: DaemonLink,
    /// The last connection status voiced reported.
    pub status: StatusReply,
    /// The server's shared state, when connected.
    pub state: Option<State>,
    /// Users talking right now (session ids).
    pub talking: BTreeSet<u32>,
    /// The last microphone level.
    pub level: Option<InputLevel>,
    /// Chat of every room.
    pub chat: ChatLog,
    /// Chat lines scrolled up from the newest (0 = follow).
    pub chat_scroll: usize,
    /// The selected row of the tree.
    pub selected: Option<RowKind>,
    /// Where typed keys go.
    pub focus: Focus,
    /// The chat input line.
    pub input: String,
    /// A dialog over the screen.
    pub modal: Option<Modal>,
    /// Saved servers.
    pub bookmarks: Vec<Bookmark>,
    /// Push-to-talk key state.
    pub ptt: PushToTalk,
    /// Local volume set per user (session id → gain).
    pub volumes: BTreeMap<u32, f32>,
    /// The last error or notice, shown in the status bar.
    pub notice: Option<String>,
    /// Unix time in milliseconds, from the last tick.
    pub now_ms: u64,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// The last connect request made from here (a trust decision repeats it,
    /// password included).
    pub last_connect: Option<ConnectRequest>,
    /// The certificate fingerprint the user last answered a trust prompt for.
    pub answered_fingerprint: Option<String>,
    /// Set when the user asked to quit.
    pub quit: bool,
}

impl App {
    /// A fresh model that has not reached voiced yet.
    pub fn new(socket: impl Into<String>) -> Self {
        Self {
            socket: socket.into(),
            daemon: DaemonLink::Connecting,
            status: StatusReply::default(),
            state: None,
            talking: BTreeSet::new(),
            level: None,
            chat: ChatLog::default(),
            chat_scroll: 0,
            selected: None,
            focus: Focus::Tree,
            input: String::new(),
            modal: None,
            bookmarks: Vec::new(),
            ptt: PushToTalk::default(),
            volumes: BTreeMap::new(),
            notice: None,
            now_ms: 0,
            size: (80, 24),
            last_connect: None,
            answered_fingerprint: None,
            quit: false,
        }
    }

    /// The connection state to the server.
    pub fn connection(&self) -> ConnectionState {
        voiced_client::status::connection_state(&self.status)
    }

    /// The voice mode voiced reported.
    pub fn voice_mode(&self) -> VoiceMode {
        voiced_client::status::voice_mode(&self.status)
    }

    /// This client's session id on the server (0 when not connected).
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

    /// Whether someone is talking: from voiced's talking events, or our own
    /// transmitting microphone.
    pub fn is_talking(&self, session: u32) -> bool {
        self.talking.contains(&session)
            || (session == self.session_id()
                && session != 0
                && self.level.as_ref().is_some_and(|l| l.transmitting))
    }

    /// The local volume of a user (1.0 unless changed).
    pub fn volume(&self, session: u32) -> f32 {
        self.volumes.get(&session).copied().unwrap_or(1.0)
    }

    /// The rows of the room tree in display order.
    pub fn rows(&self) -> Vec<Row> {
        self.state.as_ref().map(tree::rows).unwrap_or_default()
    }

    /// Index of the selected row in [`App::rows`] (0 when none).
    pub fn selected_index(&self, rows: &[Row]) -> usize {
        self.selected
            .and_then(|s| rows.iter().position(|r| r.kind == s))
            .unwrap_or(0)
    }

    /// The room of the selected row (a user row gives the user's room).
    pub fn selected_room(&self) -> Option<u32> {
        let state = self.state.as_ref()?;
        match self.selected? {
            RowKind::Room(id) => state.room(id).map(|r| r.id),
            RowKind::User(s) => state.session(s).map(|s| s.room),
        }
    }
}

pub use voiced_client::mirror::mirror_limits;

impl App {
    /// The entries of the connect dialog: "disconnect" while connected or
    /// trying, every bookmark, then the address and password fields.
    pub fn connect_entries(&self) -> Vec<ConnectEntry> {
        let mut entries = Vec::new();
        if self.connection() != ConnectionState::Disconnected {
            entries.push(ConnectEntry::Disconnect);
        }
        entries.extend((0..self.bookmarks.len()).map(ConnectEntry::Bookmark));
        entries.push(ConnectEntry::Address);
        entries.push(ConnectEntry::Password);
        entries
    }
}
