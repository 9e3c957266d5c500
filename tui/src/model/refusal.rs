//! A refused call, and why: voiced's message, the permission the call needs
//! and where, and what the mirrored rules say about it. One reading for
//! every failed call (join, chat, move, mute, kick, share, history, roles…).

use voice_proto::acl::{Subject, why};
use voice_proto::pb::wire::Permission;
use voice_proto::state::{ROOT, RoomId};

use crate::action::{Call, Command};
use crate::model::Mirror;

/// What the rules mirrored here say about the permission a refused call
/// needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reading {
    /// It is missing, and why (`voice_proto::acl::why`: the deciding rule,
    /// or that none grants it, or where `traverse` is missing).
    Lacking(String),
    /// The mirrored rules grant it: the refusal is about something else
    /// (or the rules changed since).
    Held,
    /// Nothing to read: the call needs no known permission, or no server
    /// state is mirrored.
    Unknown,
}

/// A call that failed, with the reasons this client can give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The call, in words ("join", "send chat", "grant role").
    pub what: &'static str,
    /// voiced's message (the server's refusal names permission, room and
    /// rule).
    pub message: String,
    /// The permission the call needs and the room where it is evaluated,
    /// when the call says.
    pub needs: Option<(Permission, RoomId)>,
    /// What the mirrored rules say about it.
    pub reading: Reading,
}

impl Refusal {
    /// Reads a failure of `what` with voiced's `message`; `call` is the
    /// last call of that kind made from here (it names the room).
    pub fn new(mirror: &Mirror, call: Option<&Call>, what: &'static str, message: String) -> Self {
        let needs = call.and_then(|c| needs(mirror, c));
        let reading = match (needs, mirror.state.as_ref(), mirror.own_session()) {
            (Some((permission, room)), Some(state), Some(own)) => {
                if mirror.may(permission, room) {
                    Reading::Held
                } else {
                    Reading::Lacking(why(state, Subject::from(own), permission, room))
                }
            }
            _ => Reading::Unknown,
        };
        Self {
            what,
            message,
            needs,
            reading,
        }
    }

    /// Whether `call` only fetches something for the screen (bookmarks,
    /// files, state…): its failure is news, not a refused action.
    pub fn is_fetch(call: &Call) -> bool {
        matches!(
            call,
            Call::Core(
                Command::LoadBookmarks
                    | Command::LoadChatHistory
                    | Command::LoadState
                    | Command::LoadStatus
                    | Command::LoadIdentity
                    | Command::LoadAudioSettings
                    | Command::LoadDevices
                    | Command::LoadFiles(_)
                    | Command::LoadTransfers
            )
        )
    }

    /// The status bar's words: "join failed: …".
    pub fn notice(&self) -> String {
        format!("{} failed: {}", self.what, self.message)
    }
}

/// The permission `call` needs and the room where the server evaluates it
/// (as `voice_proto::acl::authorize` and the server's requests do); `None`
/// for calls no permission guards.
pub fn needs(mirror: &Mirror, call: &Call) -> Option<(Permission, RoomId)> {
    let state = mirror.state.as_ref()?;
    let room = |reference: &str| {
        if reference.trim().is_empty() {
            Some(mirror.current_room())
        } else {
            state.resolve_room(reference).ok()
        }
    };
    let room_of = |session: u32| state.session(session).map(|s| s.room);
    let command = match call {
        Call::Role(_) => return Some((Permission::ManageRoles, ROOT)),
        Call::Core(command) => command,
    };
    match command {
        Command::Join(to) => Some((Permission::Enter, room(to)?)),
        Command::SendChat { room: to, .. } => Some((Permission::TextMessage, room(to)?)),
        Command::MoveUser { session, room } if *session == mirror.session_id() => {
            Some((Permission::Enter, *room))
        }
        Command::MoveUser { session, room } => {
            // Needed where the user is and where they go: the first missing.
            let from = room_of(*session)?;
            let to = (Permission::MoveUsers, *room);
            let here = (Permission::MoveUsers, from);
            Some(if mirror.may(here.0, here.1) { to } else { here })
        }
        Command::ServerMute { session, .. } => Some((Permission::MuteDeafen, room_of(*session)?)),
        Command::Kick { .. } => Some((Permission::Kick, ROOT)),
        Command::CreateRoom { parent, .. } => Some((Permission::MakeRoom, *parent)),
        Command::RenameRoom { room, .. } | Command::DeleteRoom(room) => {
            Some((Permission::EditRoom, *room))
        }
        Command::Share { room: to, .. } => Some((Permission::ShareFiles, room(to)?)),
        Command::FetchHistory(room) => Some((Permission::ReadHistory, *room)),
        _ => None,
    }
}
