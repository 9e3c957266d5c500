//! What the window shows, kept apart from how it is drawn: the daemon's
//! status and mirrored state, chat, bookmarks, audio settings and the
//! notifications. [`Model::apply`] folds one report from the link into it.

mod apply;
mod notifications;

use std::collections::{BTreeMap, BTreeSet};

use voice_proto::State;
use voice_proto::acl::{Permissions, Subject, evaluate};
use voice_proto::pb::control::{
    AudioConfig, Bookmark, ConnectRequest, ConnectionState, DevicesReply, InputLevel, StatusReply,
    TrustPrompt, VoiceMode,
};
use voice_proto::pb::wire::{Permission, Session};
use voiced_client::chat::ChatLog;
use voiced_client::mirror::{Row, rows};

pub use notifications::{Level, Notification, Notifications};

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

/// Everything the window shows that comes from voiced.
#[derive(Clone, Debug)]
pub struct Model {
    /// voiced's control socket, for the "not running" view.
    pub socket: String,
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
    /// voiced answers UNIMPLEMENTED).
    pub audio: Option<AudioConfig>,
    /// Audio devices voiced reported.
    pub devices: Option<DevicesReply>,
    /// Why the audio settings or devices are not available, if they are not.
    pub audio_error: Option<String>,
    /// Local volume per user (session id → gain), as set from here.
    pub volumes: BTreeMap<u32, f32>,
    /// Users muted locally from here.
    pub local_mutes: BTreeSet<u32>,
    /// A trust decision voiced asks for.
    pub trust: Option<TrustPrompt>,
    /// The fingerprint last answered (voiced reports one refusal twice).
    pub answered_fingerprint: Option<String>,
    /// The last connect request made from here (a trust decision repeats it).
    pub last_connect: Option<ConnectRequest>,
    /// Joins, leaves and errors, newest last.
    pub notifications: Notifications,
}

impl Model {
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
            notifications: Notifications::default(),
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

    /// The display name of a session, or its id.
    pub fn name_of(&self, session: u32) -> String {
        self.state
            .as_ref()
            .and_then(|s| s.session(session))
            .map_or_else(|| format!("#{session}"), |s| s.name.clone())
    }

    /// The path of a room ("/Games/Chess"), or its id.
    pub fn room_path(&self, room: u32) -> String {
        self.state
            .as_ref()
            .and_then(|s| s.path(room))
            .unwrap_or_else(|| format!("#{room}"))
    }
}
