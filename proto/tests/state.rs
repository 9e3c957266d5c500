//! Validation of single changes and the proposal rules (first wins, Stale,
//! Denied, expansion of removals).

mod support;

use support::*;
use voice_proto::pb::wire::change::Kind;
use voice_proto::pb::wire::{
    Permission, Role, RoleRemove, Room, RoomEdit, RoomMove, RoomRemove, SessionFlags, SessionMove,
    SessionRoles, SharedFile,
};
use voice_proto::state::{Actor, Rejection, StateError};
use voice_proto::{Limits, State};

fn room(id: u32, parent: u32, name: &str) -> Kind {
    Kind::AddRoom(Room {
        id,
        parent,
        name: name.into(),
        inherit_acl: true,
        ..Default::default()
    })
}

fn err(s: &mut State, kind: Kind) -> StateError {
    let before = s.hash();
    let e = s.apply(&change(kind)).expect_err("change must be refused");
    assert_eq!(s.hash(), before, "refused change must not alter the state");
    e
}

#[test]
fn rejects_unknown_ids() {
    let mut s = state();
    assert_eq!(err(&mut s, room(1, 42, "x")), StateError::UnknownRoom(42));
    assert_eq!(
        err(
            &mut s,
            Kind::MoveSession(SessionMove {
                session: 9,
                room: 0
            })
        ),
        StateError::UnknownSession(9)
    );
    assert!(matches!(
        err(
            &mut s,
            Kind::RemoveRole(RoleRemove {
                name: "nope".into()
            })
        ),
        StateError::UnknownRole(_)
    ));
    add_room(&mut s, 1, 0, "A");
    assert_eq!(
        err(&mut s, room(1, 0, "B")),
        StateError::DuplicateId("room", 1)
    );
    assert_eq!(
        err(&mut s, room(0, 0, "B")),
        StateError::DuplicateId("room", 0)
    );
}

#[test]
fn rejects_cycles_and_root_moves() {
    let mut s = state();
    add_room(&mut s, 1, 0, "A");
    add_room(&mut s, 2, 1, "B");
    add_room(&mut s, 3, 2, "C");
    assert_eq!(
        err(&mut s, Kind::MoveRoom(RoomMove { id: 1, parent: 3 })),
        StateError::Cycle { room: 1, parent: 3 }
    );
    assert_eq!(
        err(&mut s, Kind::MoveRoom(RoomMove { id: 1, parent: 1 })),
        StateError::Cycle { room: 1, parent: 1 }
    );
    assert_eq!(
        err(&mut s, Kind::MoveRoom(RoomMove { id: 0, parent: 1 })),
        StateError::RootImmutable
    );
    assert_eq!(
        err(&mut s, Kind::RemoveRoom(RoomRemove { id: 0 })),
        StateError::RootImmutable
    );
    // A legal move keeps the tree consistent.
    s.apply(&change(Kind::MoveRoom(RoomMove { id: 3, parent: 0 })))
        .unwrap();
    assert_eq!(s.path(3).unwrap(), "/C");
    assert_eq!(s.children(2).count(), 0);
}

#[test]
fn rejects_too_deep_including_moved_subtrees() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let mut s = State::new("Root", limits);
    add_room(&mut s, 1, 0, "A");
    add_room(&mut s, 2, 1, "B");
    add_room(&mut s, 3, 2, "C");
    assert_eq!(
        err(&mut s, room(4, 3, "D")),
        StateError::TooDeep { depth: 4, max: 3 }
    );
    add_room(&mut s, 5, 0, "X");
    add_room(&mut s, 6, 5, "Y");
    // Moving X (with Y below) under B would put Y at depth 4.
    assert_eq!(
        err(&mut s, Kind::MoveRoom(RoomMove { id: 5, parent: 2 })),
        StateError::TooDeep { depth: 4, max: 3 }
    );
}

#[test]
fn rejects_duplicate_sibling_names_without_regard_to_case() {
    let mut s = state();
    add_room(&mut s, 1, 0, "Lobby");
    assert!(matches!(
        err(&mut s, room(2, 0, "lobby")),
        StateError::DuplicateName { parent: 0, .. }
    ));
    add_room(&mut s, 2, 1, "lobby"); // fine under another parent
    add_room(&mut s, 3, 0, "Games");
    assert!(matches!(
        err(
            &mut s,
            Kind::EditRoom(RoomEdit {
                id: 3,
                name: Some("LOBBY".into()),
                ..Default::default()
            })
        ),
        StateError::DuplicateName { .. }
    ));
    // Renaming a room to its own name in another case is fine.
    s.apply(&change(Kind::EditRoom(RoomEdit {
        id: 3,
        name: Some("GAMES".into()),
        ..Default::default()
    })))
    .unwrap();
    assert!(matches!(
        err(&mut s, Kind::MoveRoom(RoomMove { id: 2, parent: 0 })),
        StateError::DuplicateName { .. }
    ));
}

#[test]
fn rejects_bad_text() {
    let mut s = state();
    let long = "x".repeat(65);
    for bad in ["", "  ", " padded", "tab\there", long.as_str()] {
        assert!(
            matches!(err(&mut s, room(1, 0, bad)), StateError::InvalidText { .. }),
            "{bad:?} must be refused"
        );
    }
    add_room(&mut s, 1, 0, &"é".repeat(64)); // 64 characters, 128 bytes
}

#[test]
fn a_user_name_cannot_pass_for_the_servers_chat() {
    let mut s = state();
    add_room(&mut s, 1, 0, "Lobby (server)"); // rooms may
    for bad in ["Greeter (server)", "Greeter (SERVER)", "(server)"] {
        let message = err(
            &mut s,
            Kind::AddSession(voice_proto::pb::wire::Session {
                id: 9,
                public_key: key(9),
                name: bad.into(),
                room: 0,
                ..Default::default()
            }),
        )
        .to_string();
        assert!(
            message.contains("must not end with \"(server)\""),
            "{bad:?}: {message}"
        );
    }
    add_session(&mut s, 1, 0, &[]);
    let message = err(
        &mut s,
        Kind::RenameSession(voice_proto::pb::wire::SessionRename {
            session: 1,
            name: "Greeter (server)".into(),
        }),
    )
    .to_string();
    assert!(message.contains("(server)"), "{message}");
}

#[test]
fn names_refuse_bidi_invisible_and_control_characters_by_code_point() {
    let mut s = state();
    for (bad, code) in [
        ("eve\u{202E}nimda", "U+202E"),
        ("ad\u{200B}min", "U+200B"),
        ("a\u{2066}b", "U+2066"),
        ("\u{FEFF}admin", "U+FEFF"),
        ("x\u{1b}]0;pwned\u{7}", "U+001B"),
        ("del\u{7f}", "U+007F"),
        ("csi\u{9b}2J", "U+009B"),
    ] {
        let message = err(&mut s, room(1, 0, bad)).to_string();
        assert!(
            message.starts_with(&format!("invalid room name: {code} is "))
                && message.contains("remove it"),
            "{bad:?}: {message}"
        );
    }
    // Descriptions keep newlines, not other control characters.
    let with_description = |d: &str| {
        Kind::AddRoom(Room {
            description: d.into(),
            ..match room(1, 0, "Lobby") {
                Kind::AddRoom(r) => r,
                _ => unreachable!(),
            }
        })
    };
    let message = err(&mut s, with_description("line\r\n")).to_string();
    assert!(message.contains("U+000D"), "{message}");
    s.apply(&change(with_description(
        "two\nlines, \u{5e9}\u{5dc}\u{5d5}\u{5dd}",
    )))
    .unwrap();
}

#[test]
fn removing_a_room_takes_its_subtree_in_one_change() {
    let mut s = state();
    add_room(&mut s, 1, 0, "A");
    add_room(&mut s, 2, 1, "B");
    add_session(&mut s, 1, 2, &["admin"]);
    s.apply(&change(Kind::AddFile(SharedFile {
        id: 1,
        info_hash: vec![1; 20],
        name: "song.ogg".into(),
        size: 10,
        room: 2,
        owner_key: key(1),
    })))
    .unwrap();
    let expected = s.hash();
    let applied = s
        .propose(
            Actor::Session(1),
            &expected,
            &change(Kind::RemoveRoom(RoomRemove { id: 1 })),
        )
        .unwrap();
    // One change: the user moves out, the file and both rooms go.
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].inverse.len(), 4);
    assert_eq!(s.rooms().len(), 1);
    assert_eq!(s.session(1).unwrap().room, 0);
    assert!(s.files().is_empty());
    assert_eq!(applied.last().unwrap().hash, s.hash());
    // Undoing every step in reverse restores the original state.
    for step in applied.iter().rev() {
        s.apply_all(&step.inverse).unwrap();
    }
    assert_eq!(s.hash(), expected);
    assert_eq!(s.session(1).unwrap().room, 2);
    assert_eq!(s.files().len(), 1);
    // A client applying the same change gets the same state and hash.
    let mut mirror = s.clone();
    mirror.apply(&applied[0].change).unwrap();
    s.apply(&applied[0].change).unwrap();
    assert_eq!(mirror.hash(), applied[0].hash);
    assert_eq!(mirror.hash_from_scratch(), applied[0].hash);
}

#[test]
fn first_proposal_wins_and_the_second_is_stale() {
    let mut s = state();
    add_session(&mut s, 1, 0, &["known"]);
    add_session(&mut s, 2, 0, &["known"]);
    let seen = s.hash();
    let a = s
        .propose(Actor::Session(1), &seen, &change(room(0, 0, "From one")))
        .unwrap();
    assert_eq!(a.len(), 1);
    let Some(Kind::AddRoom(created)) = &a[0].change.kind else {
        panic!("expected AddRoom");
    };
    assert_ne!(created.id, 0, "the server assigns the id");
    let b = s.propose(Actor::Session(2), &seen, &change(room(0, 0, "From two")));
    assert_eq!(b, Err(Rejection::Stale { current: s.hash() }));
    // Caught up, the retry succeeds.
    let now = s.hash();
    s.propose(Actor::Session(2), &now, &change(room(0, 0, "From two")))
        .unwrap();
    assert_eq!(s.rooms().len(), 3);
}

#[test]
fn proposals_are_checked_against_acls() {
    let mut s = state();
    add_session(&mut s, 1, 0, &[]); // everyone only: no MakeRoom
    add_session(&mut s, 2, 0, &["admin"]);
    let h = s.hash();
    let denied = s.propose(Actor::Session(1), &h, &change(room(0, 0, "Mine")));
    assert!(matches!(
        denied,
        Err(Rejection::Denied {
            permission: Some(Permission::MakeRoom),
            room: 0,
            ..
        })
    ));
    // Self-mute is always one's own; muting others needs MuteDeafen.
    let self_mute = Kind::SetSessionFlags(SessionFlags {
        session: 1,
        self_mute: Some(true),
        ..Default::default()
    });
    s.propose(Actor::Session(1), &h, &change(self_mute.clone()))
        .unwrap();
    let h = s.hash();
    assert!(matches!(
        s.propose(Actor::Session(2), &h, &change(self_mute)),
        Err(Rejection::Denied {
            permission: None,
            ..
        })
    ));
    let server_mute = Kind::SetSessionFlags(SessionFlags {
        session: 2,
        server_mute: Some(true),
        ..Default::default()
    });
    assert!(matches!(
        s.propose(Actor::Session(1), &h, &change(server_mute.clone())),
        Err(Rejection::Denied {
            permission: Some(Permission::MuteDeafen),
            ..
        })
    ));
    s.propose(Actor::Session(2), &h, &change(server_mute))
        .unwrap();
    // Clients never add sessions.
    let h = s.hash();
    assert!(matches!(
        s.propose(
            Actor::Session(2),
            &h,
            &change(Kind::RemoveSession(voice_proto::pb::wire::SessionRemove {
                id: 1
            }))
        ),
        Err(Rejection::Denied { .. })
    ));
}

#[test]
fn removing_a_role_takes_it_from_sessions_and_acls() {
    let mut s = state();
    s.apply(&change(Kind::AddRole(Role {
        name: "mods".into(),
        description: "moderators".into(),
    })))
    .unwrap();
    add_room(&mut s, 1, 0, "A");
    set_acl(&mut s, 1, true, vec![role_rule("mods", 1, 0, true, true)]);
    add_session(&mut s, 1, 0, &["mods", "admin"]);
    assert!(matches!(
        err(
            &mut s,
            Kind::RemoveRole(RoleRemove {
                name: "mods".into()
            })
        ),
        StateError::RoleInUse(_)
    ));
    assert!(matches!(
        err(
            &mut s,
            Kind::RemoveRole(RoleRemove {
                name: "known".into()
            })
        ),
        StateError::BuiltinRole(_)
    ));
    let h = s.hash();
    let steps = s
        .propose(
            Actor::Server,
            &h,
            &change(Kind::RemoveRole(RoleRemove {
                name: "mods".into(),
            })),
        )
        .unwrap();
    assert_eq!(steps.len(), 3);
    assert_eq!(s.session(1).unwrap().roles, vec!["admin".to_string()]);
    assert!(s.room(1).unwrap().acl.is_empty());
    assert!(!s.roles().contains_key("mods"));
}

#[test]
fn session_roles_are_canonical() {
    let mut s = state();
    s.apply(&change(Kind::AddRole(Role {
        name: "b".into(),
        description: String::new(),
    })))
    .unwrap();
    add_session(&mut s, 1, 0, &["known", "b", "known"]);
    assert_eq!(s.session(1).unwrap().roles, vec!["b", "known"]);
    assert!(matches!(
        err(
            &mut s,
            Kind::SetSessionRoles(SessionRoles {
                session: 1,
                roles: vec!["everyone".into()]
            })
        ),
        StateError::BuiltinRole(_)
    ));
}

#[test]
fn snapshots_from_peers_are_validated() {
    let mut s = state();
    add_room(&mut s, 1, 0, "A");
    add_room(&mut s, 2, 1, "B");
    let good = s.snapshot();
    assert_eq!(
        State::from_snapshot(&good, Limits::default())
            .unwrap()
            .hash(),
        s.hash()
    );
    // A cycle between two rooms that never reaches the root.
    let mut bad = good.clone();
    bad.rooms[1].parent = 2;
    assert!(State::from_snapshot(&bad, Limits::default()).is_err());
    // No root.
    let mut bad = good.clone();
    bad.rooms.remove(0);
    assert!(State::from_snapshot(&bad, Limits::default()).is_err());
    // Missing built-in role.
    let mut bad = good;
    bad.roles.retain(|r| r.name != "admin");
    assert!(State::from_snapshot(&bad, Limits::default()).is_err());
}

#[test]
fn resolves_room_references() {
    let mut s = state();
    add_room(&mut s, 1, 0, "Games");
    add_room(&mut s, 2, 1, "Chess");
    add_room(&mut s, 3, 0, "Chess");
    assert_eq!(s.resolve_room("2"), Ok(2));
    assert_eq!(s.resolve_room("/games/chess"), Ok(2));
    assert_eq!(s.resolve_room("/Chess"), Ok(3));
    assert_eq!(s.resolve_room("/"), Ok(0));
    assert_eq!(s.resolve_room("Games"), Ok(1));
    assert_eq!(s.resolve_room("games/chess"), Ok(2));
    assert!(s.resolve_room("Chess").unwrap_err().contains("2 rooms"));
    assert!(s.resolve_room("/Nope").is_err());
    assert!(s.resolve_room("99").is_err());
}
