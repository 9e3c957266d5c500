//! The model: everything the screen shows, and nothing else.

mod access;
mod audio;
mod chat;
mod files;
mod modal;
mod tree;

use std::collections::BTreeMap;

use voice_proto::pb::control::ConnectionState;

use crate::action::Command;

pub use access::{AclTab, AclView, RolesView};
pub use audio::{AudioSwitch, AudioView};
pub use chat::ChatLog;
pub use files::{FilesRow, Pane};
pub use modal::{ConnectDialog, ConnectEntry, Modal, PromptKind};
pub use tree::{Row, RowKind};
pub use voiced_client::mirror::{DaemonLink, Mirror, mirror_limits};
pub use voiced_client::refusal::{Reading, Refusal, needs};

/// Which part of the screen takes typed keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// The room tree: keys are commands.
    Tree,
    /// The chat input line: keys are text.
    Chat,
    /// The files pane: keys select, download and cancel.
    Files,
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
    /// What voiced reported (the front-end core's mirror): its link, status,
    /// the server's state, chat, bookmarks, volumes set from here.
    pub mirror: Mirror,
    /// Chat lines scrolled up from the newest (0 = follow).
    pub chat_scroll: usize,
    /// The selected row of the tree.
    pub selected: Option<RowKind>,
    /// Where typed keys go.
    pub focus: Focus,
    /// The chat input line.
    pub input: String,
    /// What the right-hand pane shows.
    pub pane: Pane,
    /// The selected row of the files pane.
    pub files_selected: Option<FilesRow>,
    /// When the files were last asked for (Unix ms; seeders change without
    /// a change of state, so an open pane asks again now and then).
    pub files_asked_ms: u64,
    /// A dialog over the screen.
    pub modal: Option<Modal>,
    /// Push-to-talk key state.
    pub ptt: PushToTalk,
    /// The last error or notice, shown in the status bar.
    pub notice: Option<String>,
    /// The last refused call, read in full by the "why can't I …?" overlay.
    pub refusal: Option<Refusal>,
    /// The last call of each kind made (by its words), so a failure, which
    /// names only the kind, can say which room it was about.
    pub asked: BTreeMap<&'static str, Command>,
    /// Unix time in milliseconds, from the last tick.
    pub now_ms: u64,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// Set when the user asked to quit.
    pub quit: bool,
}

impl App {
    /// A fresh model that has not reached voiced yet.
    pub fn new(socket: impl Into<String>) -> Self {
        Self {
            socket: socket.into(),
            mirror: Mirror::new(),
            chat_scroll: 0,
            selected: None,
            focus: Focus::Tree,
            input: String::new(),
            pane: Pane::Chat,
            files_selected: None,
            files_asked_ms: 0,
            modal: None,
            ptt: PushToTalk::default(),
            notice: None,
            refusal: None,
            asked: BTreeMap::new(),
            now_ms: 0,
            size: (80, 24),
            quit: false,
        }
    }

    /// Index of the selected row in [`Mirror::rows`] (0 when none).
    pub fn selected_index(&self, rows: &[Row]) -> usize {
        self.selected
            .and_then(|s| rows.iter().position(|r| r.kind == s))
            .unwrap_or(0)
    }

    /// Whether the status bar shows the last refusal (so its why can be
    /// opened from there).
    pub fn refusal_shown(&self) -> bool {
        match (&self.refusal, &self.notice) {
            (Some(refusal), Some(notice)) => *notice == refusal.notice(),
            _ => false,
        }
    }

    /// The room of the selected row (a user row gives the user's room).
    pub fn selected_room(&self) -> Option<u32> {
        let state = self.mirror.state.as_ref()?;
        match self.selected? {
            RowKind::Room(id) => state.room(id).map(|r| r.id),
            RowKind::User(s) => state.session(s).map(|s| s.room),
        }
    }
}

impl App {
    /// The rows of the files pane: the current room's files, then every
    /// transfer.
    pub fn files_rows(&self) -> Vec<FilesRow> {
        let files = self.mirror.files_here().unwrap_or_default();
        files
            .iter()
            .map(|f| FilesRow::File(f.id))
            .chain(
                self.mirror
                    .transfers
                    .keys()
                    .map(|id| FilesRow::Transfer(*id)),
            )
            .collect()
    }

    /// Index of the selected row of the files pane (0 when none or gone).
    pub fn files_selected_index(&self, rows: &[FilesRow]) -> usize {
        self.files_selected
            .and_then(|s| rows.iter().position(|r| *r == s))
            .unwrap_or(0)
    }

    /// The entries of the connect dialog: "disconnect" while connected or
    /// trying, every bookmark, then the address and password fields.
    pub fn connect_entries(&self) -> Vec<ConnectEntry> {
        let mut entries = Vec::new();
        if self.mirror.connection() != ConnectionState::Disconnected {
            entries.push(ConnectEntry::Disconnect);
        }
        entries.extend((0..self.mirror.bookmarks.len()).map(ConnectEntry::Bookmark));
        entries.push(ConnectEntry::Address);
        entries.push(ConnectEntry::Password);
        entries
    }
}
