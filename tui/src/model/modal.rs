//! Dialogs drawn over the screen.

use voice_proto::pb::control::TrustPrompt;

use super::access::{AclView, RolesView};
use super::audio::AudioView;

/// What a one-line prompt asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptKind {
    /// Name of a new room under `parent`.
    NewRoom {
        /// The parent room's id.
        parent: u32,
    },
    /// New name of a room.
    Rename {
        /// The room's id.
        room: u32,
    },
}

/// One entry of the connect dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectEntry {
    /// Leave the current server.
    Disconnect,
    /// A saved bookmark, by index.
    Bookmark(usize),
    /// The address field for a server not saved.
    Address,
    /// The password field that goes with the address.
    Password,
}

/// The connect dialog: bookmarks and an address field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectDialog {
    /// The highlighted entry (index into the dialog's entries).
    pub selected: usize,
    /// The typed address (host or host:port).
    pub address: String,
    /// The typed server password (may be empty).
    pub password: String,
}

/// A dialog over the screen; it takes every key while open.
#[derive(Clone, Debug, PartialEq)]
pub enum Modal {
    /// The key help.
    Help,
    /// A one-line text prompt.
    Prompt {
        /// What the text is for.
        kind: PromptKind,
        /// The text typed so far.
        text: String,
    },
    /// Confirm deleting a room.
    ConfirmDelete {
        /// The room's id.
        room: u32,
        /// Its name, for the question.
        name: String,
    },
    /// Connect to a server.
    Connect(ConnectDialog),
    /// An unknown or changed server certificate.
    Trust(TrustPrompt),
    /// A room's access rules and who may do what there.
    Acl(AclView),
    /// A user's roles, to grant or revoke.
    Roles(RolesView),
    /// The audio settings: echo cancellation, automatic gain and noise
    /// suppression to switch, the codec and devices shown.
    Audio(AudioView),
    /// "Why can't I …?": the last refusal ([`App::refusal`](super::App::refusal)) in full.
    Why,
}
