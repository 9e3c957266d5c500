//! What flows into [`update`](crate::update::update) (actions) and out of it (commands).

use crossterm::event::{KeyEvent, MouseEvent};
use voice_proto::pb::control::{Bookmark, ConnectRequest, Event, VoiceMode};
use voice_proto::pb::wire::ChatMessage;

/// Something that happened: a key, the mouse, the daemon, or the clock.
#[derive(Clone, Debug)]
pub enum Action {
    /// A key event from the terminal.
    Key(KeyEvent),
    /// A mouse event from the terminal.
    Mouse(MouseEvent),
    /// The terminal has a new size (columns, rows).
    Resize(u16, u16),
    /// The clock: Unix time in milliseconds (drives countdowns).
    Tick(u64),
    /// Whether the terminal reports key releases (push-to-talk can be held).
    KeyReleases(bool),
    /// The control socket answered and the event stream is open.
    DaemonUp,
    /// voiced could not be reached, or the event stream ended.
    DaemonDown {
        /// Why, in words.
        error: String,
    },
    /// An event from voiced's `Watch` stream.
    Daemon(Event),
    /// The saved bookmarks.
    Bookmarks(Vec<Bookmark>),
    /// Chat kept by voiced (all rooms).
    ChatHistory(Vec<ChatMessage>),
    /// A call failed; `what` names it.
    CallFailed {
        /// The call, in words ("join", "send chat").
        what: String,
        /// The daemon's answer.
        message: String,
    },
}

/// A call to voiced that the background task makes; results come back as [`Action`]s.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Join a room (id, path or name).
    Join(String),
    /// Send chat to a room (empty = the current one).
    SendChat {
        /// The message.
        text: String,
        /// Target room (id as text), empty for the current room.
        room: String,
    },
    /// Mute or unmute the microphone.
    SetMute(bool),
    /// Deafen or undeafen.
    SetDeaf(bool),
    /// Press (`true`) or release push-to-talk.
    PushToTalk(bool),
    /// Choose the voice mode.
    SetVoiceMode(VoiceMode),
    /// Set a user's local playback volume.
    SetUserVolume {
        /// Session id of the user.
        session: u32,
        /// Linear gain 0.0..=4.0.
        volume: f32,
    },
    /// Create a room.
    CreateRoom {
        /// Parent room id.
        parent: u32,
        /// Name of the new room.
        name: String,
    },
    /// Rename a room.
    RenameRoom {
        /// The room's id.
        room: u32,
        /// Its new name.
        name: String,
    },
    /// Delete a room.
    DeleteRoom(u32),
    /// Connect to a server.
    Connect(ConnectRequest),
    /// Leave the server.
    Disconnect,
    /// Trust a server's certificate fingerprint.
    Trust {
        /// host:port.
        server: String,
        /// Hex SHA-256 fingerprint.
        fingerprint: String,
        /// Pin it for good (else for this daemon run).
        permanent: bool,
    },
    /// Fetch the bookmarks.
    LoadBookmarks,
    /// Save a bookmark.
    SaveBookmark(Bookmark),
    /// Remove a bookmark by name.
    RemoveBookmark(String),
    /// Fetch the chat voiced kept.
    LoadChatHistory,
    /// Fetch the full state (after a mismatch).
    LoadState,
}
