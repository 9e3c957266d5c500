//! "Why can't I …?": a refused call turned into the question a user would
//! ask and its answer. The server's message is the answer (it names the
//! permission, the room and the deciding rule); where the mirrored state
//! says this client lacks the permission the call needs, the same words are
//! worked out locally ([`voiced_client::refusal`]), which also explains
//! a control before it is tried.

use voice_proto::pb::wire::Permission;
use voiced_client::refusal::{is_fetch, lacking_words, needs};
use voiced_client::text::{printable, printable_multiline};

use crate::link::Command;
use crate::model::Mirror;

/// A refusal explained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// "Why can't I join /Den?" (names escaped).
    pub question: String,
    /// voiced's or the server's answer (escaped).
    pub reason: String,
    /// What the mirrored rules say, when they say this client lacks the
    /// permission and in other words than `reason` (escaped).
    pub local: Option<String>,
}

/// What a call needs: the action in words, and the permission and room it
/// is checked against (`None` for calls no permission governs).
pub struct Need {
    /// "join /Den", "kick Bob".
    pub action: String,
    /// The permission and the room it is needed in
    /// ([`voiced_client::refusal::needs`]).
    pub permission: Option<(Permission, u32)>,
}

/// What `call` needs, for the actions a user takes (`None` for the
/// window's own fetches, which are no one's action).
pub fn need(mirror: &Mirror, call: &Command) -> Option<Need> {
    let room = |id: u32| printable(&mirror.room_path(id)).into_owned();
    let user = |id: u32| printable(&mirror.name_of(id)).into_owned();
    let named_room = |text: &str| -> String {
        let resolved = if text.trim().is_empty() {
            Some(mirror.current_room())
        } else {
            mirror
                .state
                .as_ref()
                .and_then(|s| s.resolve_room(text).ok())
        };
        resolved.map_or_else(|| printable(text).into_owned(), room)
    };
    // Fetches, and calls with a place of their own to say how they went.
    if is_fetch(call) || matches!(call, Command::Trust { .. } | Command::FetchHistory(_)) {
        return None;
    }
    let action = match call {
        Command::Join(target) => format!("join {}", named_room(target)),
        Command::SendChat { room: target, .. } => format!("chat in {}", named_room(target)),
        Command::Share { room: target, .. } => format!("share in {}", named_room(target)),
        Command::MoveUser { session, room: to } => {
            format!("move {} to {}", user(*session), room(*to))
        }
        Command::ServerMute { session, .. } => {
            format!("server-mute or deafen {}", user(*session))
        }
        Command::Kick { session, .. } => format!("kick {}", user(*session)),
        Command::CreateRoom { parent, .. } => format!("create a room in {}", room(*parent)),
        Command::RenameRoom { room: id, .. } => format!("rename {}", room(*id)),
        Command::DeleteRoom(id) => format!("delete {}", room(*id)),
        Command::SetAcl { room: id, .. } => format!("change access to {}", room(*id)),
        Command::GrantRole { session, role } => {
            format!("grant {} to {}", printable(role), user(*session))
        }
        Command::RevokeRole { session, role } => {
            format!("revoke {} from {}", printable(role), user(*session))
        }
        Command::SetMute(_) => "mute".to_owned(),
        Command::SetDeaf(_) => "deafen".to_owned(),
        Command::PushToTalk(_) => "talk".to_owned(),
        Command::SetVoiceMode(_) => "change the voice mode".to_owned(),
        Command::SetUserVolume { .. } => "change a volume".to_owned(),
        Command::SetUserLocalMute { .. } => "mute a user for me".to_owned(),
        Command::Connect(_) => "connect".to_owned(),
        Command::Disconnect => "disconnect".to_owned(),
        Command::Download { .. } => "download".to_owned(),
        Command::CancelTransfer(_) => "cancel the transfer".to_owned(),
        Command::SaveBookmark(_) => "save the bookmark".to_owned(),
        Command::RemoveBookmark(_) => "remove the bookmark".to_owned(),
        Command::SetAudioSettings(_) => "change the audio settings".to_owned(),
        Command::SelectDevice { .. } => "select the device".to_owned(),
        Command::Trust { .. }
        | Command::LoadBookmarks
        | Command::LoadChatHistory
        | Command::LoadState
        | Command::LoadStatus
        | Command::LoadIdentity
        | Command::LoadAudioSettings
        | Command::LoadDevices
        | Command::LoadFiles(_)
        | Command::LoadTransfers
        | Command::FetchHistory(_) => return None,
    };
    Some(Need {
        action,
        permission: needs(mirror, call),
    })
}

/// Why this client lacks `permission` in `room` by the mirrored rules, in
/// the words the server uses (escaped); `None` when it holds it (or
/// nothing is mirrored).
pub fn locally_lacking(mirror: &Mirror, permission: Permission, room: u32) -> Option<String> {
    lacking_words(mirror, permission, room).map(|words| printable(&words).into_owned())
}

/// The refusal of `call`, answered with `message`; `None` for calls that
/// are no one's action.
pub fn refusal(mirror: &Mirror, call: &Command, message: &str) -> Option<Refusal> {
    let need = need(mirror, call)?;
    let reason = printable_multiline(message).into_owned();
    let local = need
        .permission
        .and_then(|(permission, room)| locally_lacking(mirror, permission, room))
        .filter(|local| !reason.contains(local.as_str()));
    Some(Refusal {
        question: question(&need.action),
        reason,
        local,
    })
}

/// "Why can't I ACTION?"
pub fn question(action: &str) -> String {
    format!("Why can't I {action}?")
}

/// Why a control for `need` is disabled, before it is tried: the local
/// answer, when the mirrored rules refuse it.
pub fn before_trying(mirror: &Mirror, need: &Need) -> Option<Refusal> {
    let (permission, room) = need.permission?;
    let reason = locally_lacking(mirror, permission, room)?;
    Some(Refusal {
        question: question(&need.action),
        reason,
        local: None,
    })
}

#[cfg(test)]
mod tests {
    use voice_proto::Limits;
    use voice_proto::State;
    use voice_proto::pb::control::{ConnectionState, StatusReply};
    use voice_proto::pb::wire::{AclRule, Change, Room, RoomAcl, Session, acl_rule, change::Kind};
    use voice_proto::state::ROOT;

    use super::*;

    fn apply(s: &mut State, kind: Kind) {
        let applied = s.apply(&Change { kind: Some(kind) });
        assert!(applied.is_ok(), "{applied:?}");
    }

    /// Root ─ Den(1) where everyone is denied enter; we are session 5 in the root.
    fn mirror() -> Mirror {
        let mut s = State::new("Root", Limits::default());
        apply(
            &mut s,
            Kind::SetRoomAcl(RoomAcl {
                room: ROOT,
                inherit_acl: true,
                rules: voice_proto::acl::default_root_acl(),
            }),
        );
        apply(
            &mut s,
            Kind::AddRoom(Room {
                id: 1,
                parent: ROOT,
                name: "Den".into(),
                inherit_acl: true,
                ..Room::default()
            }),
        );
        apply(
            &mut s,
            Kind::SetRoomAcl(RoomAcl {
                room: 1,
                inherit_acl: true,
                rules: vec![AclRule {
                    subject: Some(acl_rule::Subject::Role("everyone".into())),
                    allow: 0,
                    deny: voice_proto::acl::Permissions::bit(Permission::Enter),
                    apply_here: true,
                    apply_subs: false,
                }],
            }),
        );
        apply(
            &mut s,
            Kind::AddSession(Session {
                id: 5,
                public_key: vec![1; 32],
                name: "Ada".into(),
                room: ROOT,
                ..Session::default()
            }),
        );
        let mut m = Mirror::new();
        m.state = Some(s);
        m.status = StatusReply {
            state: ConnectionState::Connected as i32,
            session_id: 5,
            ..StatusReply::default()
        };
        m
    }

    #[test]
    fn a_refused_join_asks_why_and_the_mirror_answers_with_the_rule() {
        let m = mirror();
        let join = Command::join(1);
        let r = refusal(&m, &join, "denied").unwrap();
        assert_eq!(r.question, "Why can't I join /Den?");
        assert_eq!(r.reason, "denied");
        // The server's words are untrusted too.
        let odd = refusal(&m, &join, "no\u{202e}pe").unwrap();
        assert_eq!(odd.reason, "no\\u{202E}pe");
        let local = r.local.unwrap();
        assert!(
            local.starts_with("you lack the enter permission in /Den: rule #0 of /Den"),
            "{local}"
        );
        // The server said the same: no second copy.
        let same = refusal(&m, &join, &local).unwrap();
        assert_eq!(same.local, None);
        // Held locally: only the server's words.
        let chat = Command::SendChat {
            text: "hi".into(),
            room: String::new(),
        };
        let r = refusal(&m, &chat, "room is read-only").unwrap();
        assert_eq!(r.question, "Why can't I chat in /?");
        assert_eq!(r.local, None);
    }

    #[test]
    fn fetches_are_not_actions_and_controls_are_explained_before_trying() {
        let m = mirror();
        assert!(refusal(&m, &Command::LoadState, "x").is_none());
        let n = need(&m, &Command::join(1)).unwrap();
        assert!(before_trying(&m, &n).is_some());
        let n = need(&m, &Command::join(ROOT)).unwrap();
        assert!(before_trying(&m, &n).is_none());
        let n = need(&m, &Command::SetMute(true)).unwrap();
        assert!(before_trying(&m, &n).is_none());
    }
}
