//! A refused command, and why: the permission it needs and the room where
//! the server evaluates it (as `voice_proto::acl::authorize` and the
//! server's requests do), and what the mirrored rules say about it. Written
//! once for every front end; each shows it in its own way.

use voice_proto::acl::{Subject, lacking, why};
use voice_proto::pb::wire::Permission;
use voice_proto::state::{ROOT, RoomId};

use crate::command::Command;
use crate::mirror::Mirror;

/// What the rules mirrored here say about the permission a refused command
/// needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reading {
    /// It is missing.
    Lacking {
        /// The reason alone (`voice_proto::acl::why`: the deciding rule, or
        /// that none grants it, or where `traverse` is missing).
        why: String,
        /// The server's words for it (`voice_proto::acl::lacking`: "you
        /// lack the enter permission in /Den: …").
        words: String,
    },
    /// The mirrored rules grant it: the refusal is about something else
    /// (or the rules changed since).
    Held,
    /// Nothing to read: the command needs no known permission, or no
    /// server state is mirrored.
    Unknown,
}

/// A command that failed, with the reasons this client can give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The command, in words ([`Command::what`]: "join", "grant role").
    pub what: &'static str,
    /// voiced's message (the server's refusal names permission, room and
    /// rule).
    pub message: String,
    /// The permission the command needs and the room where it is
    /// evaluated, when the command says ([`needs`]).
    pub needs: Option<(Permission, RoomId)>,
    /// What the mirrored rules say about it.
    pub reading: Reading,
}

impl Refusal {
    /// Reads a failure of `what` with voiced's `message`; `command` is the
    /// last command of that kind made from here (it names the room).
    pub fn new(
        mirror: &Mirror,
        command: Option<&Command>,
        what: &'static str,
        message: String,
    ) -> Self {
        let needs = command.and_then(|c| needs(mirror, c));
        let reading = needs.map_or(Reading::Unknown, |(permission, room)| {
            reading(mirror, permission, room)
        });
        Self {
            what,
            message,
            needs,
            reading,
        }
    }

    /// In a line: "join failed: …".
    pub fn notice(&self) -> String {
        format!("{} failed: {}", self.what, self.message)
    }
}

/// Whether `command` only fetches something for the screen (bookmarks,
/// files, state…): its failure is news, not a refused action.
pub fn is_fetch(command: &Command) -> bool {
    matches!(
        command,
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
}

/// The permission `command` needs and the room where the server evaluates
/// it; `None` for commands no permission guards, or when the room cannot
/// be told (a reference or a user the mirror does not know).
pub fn needs(mirror: &Mirror, command: &Command) -> Option<(Permission, RoomId)> {
    let state = mirror.state.as_ref();
    // As voiced resolves a room reference; empty is the current room.
    let room = |reference: &str| {
        if reference.trim().is_empty() {
            return Some(mirror.current_room());
        }
        match state {
            Some(state) => state.resolve_room(reference).ok(),
            None => reference.trim().parse().ok(),
        }
    };
    let room_of = |session: u32| state?.session(session).map(|s| s.room);
    match command {
        Command::Join(to) => Some((Permission::Enter, room(to)?)),
        Command::SendChat { room: to, .. } => Some((Permission::TextMessage, room(to)?)),
        Command::MoveUser { session, room } if *session == mirror.session_id() => {
            Some((Permission::Enter, *room))
        }
        Command::MoveUser { session, room } => {
            // Needed where the user is and where they go: the first missing.
            let from = room_of(*session)?;
            Some(if mirror.may(Permission::MoveUsers, from) {
                (Permission::MoveUsers, *room)
            } else {
                (Permission::MoveUsers, from)
            })
        }
        Command::ServerMute { session, .. } => Some((Permission::MuteDeafen, room_of(*session)?)),
        // Kicks are server-wide: checked at the root.
        Command::Kick { .. } => Some((Permission::Kick, ROOT)),
        Command::CreateRoom { parent, .. } => Some((Permission::MakeRoom, *parent)),
        Command::RenameRoom { room, .. } | Command::DeleteRoom(room) => {
            Some((Permission::EditRoom, *room))
        }
        Command::SetAcl { room, .. } => Some((Permission::EditRoom, *room)),
        Command::Share { room: to, .. } => Some((Permission::ShareFiles, room(to)?)),
        Command::FetchHistory(room) => Some((Permission::ReadHistory, *room)),
        Command::GrantRole { .. } | Command::RevokeRole { .. } => {
            Some((Permission::ManageRoles, ROOT))
        }
        Command::SetMute(_)
        | Command::SetDeaf(_)
        | Command::PushToTalk(_)
        | Command::SetVoiceMode(_)
        | Command::SetUserVolume { .. }
        | Command::SetUserLocalMute { .. }
        | Command::Connect(_)
        | Command::Disconnect
        | Command::Trust { .. }
        | Command::LoadBookmarks
        | Command::SaveBookmark(_)
        | Command::RemoveBookmark(_)
        | Command::LoadChatHistory
        | Command::LoadState
        | Command::LoadStatus
        | Command::LoadIdentity
        | Command::LoadAudioSettings
        | Command::SetAudioSettings(_)
        | Command::LoadDevices
        | Command::SelectDevice { .. }
        | Command::LoadFiles(_)
        | Command::Download { .. }
        | Command::LoadTransfers
        | Command::CancelTransfer(_) => None,
    }
}

/// What the mirrored rules say about this client holding `permission` in
/// `room`.
pub fn reading(mirror: &Mirror, permission: Permission, room: RoomId) -> Reading {
    let (Some(state), Some(own)) = (mirror.state.as_ref(), mirror.own_session()) else {
        return Reading::Unknown;
    };
    if mirror.may(permission, room) {
        return Reading::Held;
    }
    let subject = Subject::from(own);
    Reading::Lacking {
        why: why(state, subject, permission, room),
        words: lacking(state, subject, permission, room),
    }
}

/// Why this client lacks `permission` in `room` by the mirrored rules, in
/// the server's words; `None` when it holds it (or nothing is mirrored).
pub fn lacking_words(mirror: &Mirror, permission: Permission, room: RoomId) -> Option<String> {
    match reading(mirror, permission, room) {
        Reading::Lacking { words, .. } => Some(words),
        Reading::Held | Reading::Unknown => None,
    }
}

#[cfg(test)]
mod tests {
    use voice_proto::Limits;
    use voice_proto::State;
    use voice_proto::acl::Permissions;
    use voice_proto::pb::control::{ConnectionState, StatusReply};
    use voice_proto::pb::wire::{AclRule, Change, Room, RoomAcl, Session, acl_rule, change::Kind};

    use super::*;

    fn apply(s: &mut State, kind: Kind) {
        let applied = s.apply(&Change { kind: Some(kind) });
        assert!(applied.is_ok(), "{applied:?}");
    }

    /// Root ─ Den(1), where everyone is denied enter, and Lab(2). We are
    /// Ada (5) in the root, Bob (6) is in Lab.
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
        for (id, name) in [(1, "Den"), (2, "Lab")] {
            apply(
                &mut s,
                Kind::AddRoom(Room {
                    id,
                    parent: ROOT,
                    name: name.into(),
                    inherit_acl: true,
                    ..Room::default()
                }),
            );
        }
        apply(
            &mut s,
            Kind::SetRoomAcl(RoomAcl {
                room: 1,
                inherit_acl: true,
                rules: vec![AclRule {
                    subject: Some(acl_rule::Subject::Role("everyone".into())),
                    allow: 0,
                    deny: Permissions::bit(Permission::Enter),
                    apply_here: true,
                    apply_subs: false,
                }],
            }),
        );
        for (id, name, room) in [(5, "Ada", ROOT), (6, "Bob", 2)] {
            apply(
                &mut s,
                Kind::AddSession(Session {
                    id,
                    public_key: vec![id as u8; 32],
                    name: name.into(),
                    room,
                    ..Session::default()
                }),
            );
        }
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
    fn every_guarded_command_needs_its_permission_where_the_server_checks_it() {
        let m = mirror();
        let text = |s: &str| s.to_owned();
        let cases = [
            (Command::join(1), (Permission::Enter, 1)),
            (Command::Join(text("/Lab")), (Permission::Enter, 2)),
            (
                Command::SendChat {
                    text: text("hi"),
                    room: String::new(),
                },
                (Permission::TextMessage, ROOT),
            ),
            (
                Command::SendChat {
                    text: text("hi"),
                    room: text("Den"),
                },
                (Permission::TextMessage, 1),
            ),
            // Moving oneself is entering.
            (
                Command::MoveUser {
                    session: 5,
                    room: 1,
                },
                (Permission::Enter, 1),
            ),
            // Moving Bob: needed where he is (Lab) and in Den; Lab's is
            // missing first.
            (
                Command::MoveUser {
                    session: 6,
                    room: 1,
                },
                (Permission::MoveUsers, 2),
            ),
            (
                Command::ServerMute {
                    session: 6,
                    mute: true,
                    deaf: false,
                },
                (Permission::MuteDeafen, 2),
            ),
            (
                Command::Kick {
                    session: 6,
                    reason: String::new(),
                },
                (Permission::Kick, ROOT),
            ),
            (
                Command::CreateRoom {
                    parent: 2,
                    name: text("Sub"),
                },
                (Permission::MakeRoom, 2),
            ),
            (
                Command::RenameRoom {
                    room: 2,
                    name: text("Lab2"),
                },
                (Permission::EditRoom, 2),
            ),
            (Command::DeleteRoom(1), (Permission::EditRoom, 1)),
            (
                Command::SetAcl {
                    room: 2,
                    inherit: true,
                    rules: Vec::new(),
                },
                (Permission::EditRoom, 2),
            ),
            (
                Command::Share {
                    path: text("/tmp/a"),
                    room: text("/Lab"),
                },
                (Permission::ShareFiles, 2),
            ),
            (Command::FetchHistory(2), (Permission::ReadHistory, 2)),
            (
                Command::GrantRole {
                    session: 6,
                    role: text("mod"),
                },
                (Permission::ManageRoles, ROOT),
            ),
            (
                Command::RevokeRole {
                    session: 6,
                    role: text("mod"),
                },
                (Permission::ManageRoles, ROOT),
            ),
        ];
        for (command, need) in cases {
            assert_eq!(needs(&m, &command), Some(need), "{command:?}");
            assert!(!is_fetch(&command), "{command:?}");
        }
        // Unguarded, or a room or user nobody knows.
        for command in [
            Command::SetMute(true),
            Command::Disconnect,
            Command::LoadState,
            Command::Join(text("/Nowhere")),
            Command::ServerMute {
                session: 99,
                mute: true,
                deaf: true,
            },
        ] {
            assert_eq!(needs(&m, &command), None, "{command:?}");
        }
    }

    #[test]
    fn moving_someone_held_where_they_are_needs_it_where_they_go() {
        let mut m = mirror();
        let Some(state) = m.state.as_mut() else {
            panic!("mirrored");
        };
        // Everyone may move users out of Lab.
        apply(
            state,
            Kind::SetRoomAcl(RoomAcl {
                room: 2,
                inherit_acl: true,
                rules: vec![AclRule {
                    subject: Some(acl_rule::Subject::Role("everyone".into())),
                    allow: Permissions::bit(Permission::MoveUsers),
                    deny: 0,
                    apply_here: true,
                    apply_subs: false,
                }],
            }),
        );
        let mv = Command::MoveUser {
            session: 6,
            room: 1,
        };
        assert_eq!(needs(&m, &mv), Some((Permission::MoveUsers, 1)));
    }

    #[test]
    fn fetches_for_the_screen_are_news() {
        for command in [
            Command::LoadBookmarks,
            Command::LoadChatHistory,
            Command::LoadState,
            Command::LoadStatus,
            Command::LoadIdentity,
            Command::LoadAudioSettings,
            Command::LoadDevices,
            Command::LoadFiles(1),
            Command::LoadTransfers,
        ] {
            assert!(is_fetch(&command), "{command:?}");
        }
    }

    #[test]
    fn a_refusal_is_read_against_the_mirrored_rules() {
        let m = mirror();
        let r = Refusal::new(&m, Some(&Command::join(1)), "join", "denied".into());
        assert_eq!(r.needs, Some((Permission::Enter, 1)));
        assert_eq!(r.notice(), "join failed: denied");
        let Reading::Lacking { why, words } = &r.reading else {
            panic!("{:?}", r.reading);
        };
        assert!(why.starts_with("rule #0 of /Den"), "{why}");
        assert!(
            words.starts_with("you lack the enter permission in /Den: rule #0 of /Den"),
            "{words}"
        );
        assert_eq!(
            lacking_words(&m, Permission::Enter, 1).as_ref(),
            Some(words)
        );
        // Held: the refusal is about something else.
        let chat = Command::SendChat {
            text: "hi".into(),
            room: String::new(),
        };
        let r = Refusal::new(&m, Some(&chat), "send chat", "read-only".into());
        assert_eq!(r.reading, Reading::Held);
        assert_eq!(lacking_words(&m, Permission::TextMessage, ROOT), None);
        // No command known, or nothing mirrored: nothing to read.
        let r = Refusal::new(&m, None, "join", "denied".into());
        assert_eq!((r.needs, r.reading), (None, Reading::Unknown));
        let r = Refusal::new(&Mirror::new(), Some(&Command::join(1)), "join", "x".into());
        assert_eq!(r.reading, Reading::Unknown);
    }
}
