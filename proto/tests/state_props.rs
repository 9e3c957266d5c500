//! Property tests of the shared state: the hash is canonical (independent of
//! insertion order), the maintained hash equals a fresh snapshot's after any
//! sequence of changes, and every change is undone by its inverse.

mod support;

use proptest::prelude::*;
use prost::Message;
use support::*;
use voice_proto::pb::wire::change::Kind;
use voice_proto::pb::wire::{
    Change, FileRemove, Role, RoleRemove, Room, RoomEdit, RoomMove, RoomRemove, Session,
    SessionFlags, SessionMove, SessionRemove, SessionRename, SessionRoles, SharedFile,
    StateSnapshot,
};
use voice_proto::{Limits, State, StateHash};

/// An abstract operation; indices pick among whatever exists at that moment.
#[derive(Debug, Clone)]
enum Op {
    AddRoom {
        parent: u32,
        name: u8,
    },
    EditRoom {
        room: u32,
        name: Option<u8>,
        position: Option<i8>,
        desc: Option<u8>,
    },
    MoveRoom {
        room: u32,
        parent: u32,
    },
    RemoveRoom {
        room: u32,
    },
    SetAcl {
        room: u32,
        inherit: bool,
        rules: Vec<(u8, u32, u32, bool, bool)>,
    },
    AddSession {
        room: u32,
        roles: u8,
    },
    RemoveSession {
        session: u32,
    },
    MoveSession {
        session: u32,
        room: u32,
    },
    Flags {
        session: u32,
        bits: u16,
    },
    Rename {
        session: u32,
        name: u8,
    },
    Roles {
        session: u32,
        roles: u8,
    },
    AddRole {
        name: u8,
    },
    RemoveRole {
        role: u32,
    },
    AddFile {
        room: u32,
        name: u8,
    },
    RemoveFile {
        file: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let idx = any::<u32>;
    prop_oneof![
        4 => (idx(), 0..6u8).prop_map(|(parent, name)| Op::AddRoom { parent, name }),
        2 => (idx(), proptest::option::of(0..6u8), proptest::option::of(any::<i8>()),
              proptest::option::of(0..3u8))
            .prop_map(|(room, name, position, desc)| Op::EditRoom { room, name, position, desc }),
        2 => (idx(), idx()).prop_map(|(room, parent)| Op::MoveRoom { room, parent }),
        1 => idx().prop_map(|room| Op::RemoveRoom { room }),
        2 => (idx(), any::<bool>(),
              proptest::collection::vec((0..8u8, any::<u32>(), any::<u32>(), any::<bool>(), any::<bool>()), 0..4))
            .prop_map(|(room, inherit, rules)| Op::SetAcl { room, inherit, rules }),
        3 => (idx(), any::<u8>()).prop_map(|(room, roles)| Op::AddSession { room, roles }),
        1 => idx().prop_map(|session| Op::RemoveSession { session }),
        3 => (idx(), idx()).prop_map(|(session, room)| Op::MoveSession { session, room }),
        2 => (idx(), any::<u16>()).prop_map(|(session, bits)| Op::Flags { session, bits }),
        1 => (idx(), 0..6u8).prop_map(|(session, name)| Op::Rename { session, name }),
        1 => (idx(), any::<u8>()).prop_map(|(session, roles)| Op::Roles { session, roles }),
        1 => (0..6u8).prop_map(|name| Op::AddRole { name }),
        1 => idx().prop_map(|role| Op::RemoveRole { role }),
        1 => (idx(), 0..6u8).prop_map(|(room, name)| Op::AddFile { room, name }),
        1 => idx().prop_map(|file| Op::RemoveFile { file }),
    ]
}

fn pick<T: Copy>(items: &[T], seed: u32) -> Option<T> {
    (!items.is_empty()).then(|| items[seed as usize % items.len()])
}

const NAMES: [&str; 6] = ["Lobby", "lobby", "Games", "Music", "AFK", "Ünïcode ✓"];

/// Turns an abstract op into a concrete change against `state` (which may
/// still be invalid, e.g. a duplicate name or a cycle).
fn concretize(state: &State, op: &Op) -> Option<Change> {
    let rooms: Vec<u32> = state.rooms().keys().copied().collect();
    let sessions: Vec<u32> = state.sessions().keys().copied().collect();
    let roles: Vec<&String> = state.roles().keys().collect();
    let files: Vec<u32> = state.files().keys().copied().collect();
    let role_set = |mask: u8| -> Vec<String> {
        roles
            .iter()
            .enumerate()
            .filter(|(i, r)| mask & (1 << (i % 8)) != 0 && r.as_str() != "everyone")
            .map(|(_, r)| (*r).clone())
            .collect()
    };
    let kind = match op {
        Op::AddRoom { parent, name } => Kind::AddRoom(Room {
            id: state.next_room_id(),
            parent: pick(&rooms, *parent)?,
            name: NAMES[*name as usize].into(),
            inherit_acl: true,
            ..Default::default()
        }),
        Op::EditRoom {
            room,
            name,
            position,
            desc,
        } => Kind::EditRoom(RoomEdit {
            id: pick(&rooms, *room)?,
            name: name.map(|n| NAMES[n as usize].into()),
            position: position.map(i32::from),
            description: desc.map(|d| "description ".repeat(d as usize)),
        }),
        Op::MoveRoom { room, parent } => Kind::MoveRoom(RoomMove {
            id: pick(&rooms, *room)?,
            parent: pick(&rooms, *parent)?,
        }),
        Op::RemoveRoom { room } => Kind::RemoveRoom(RoomRemove {
            id: pick(&rooms, *room)?,
        }),
        Op::SetAcl {
            room,
            inherit,
            rules,
        } => Kind::SetRoomAcl(voice_proto::pb::wire::RoomAcl {
            room: pick(&rooms, *room)?,
            inherit_acl: *inherit,
            rules: rules
                .iter()
                .map(|&(subject, allow, deny, here, subs)| {
                    if subject < 4 {
                        let role = roles[subject as usize % roles.len()].clone();
                        role_rule(&role, allow, deny, here, subs)
                    } else {
                        user_rule(key(subject), allow, deny, here, subs)
                    }
                })
                .collect(),
        }),
        Op::AddSession { room, roles } => {
            let id = sessions.last().map_or(1, |s| s + 1);
            Kind::AddSession(Session {
                id,
                public_key: key(id as u8),
                name: format!("user {id}"),
                room: pick(&rooms, *room)?,
                roles: role_set(*roles),
                ..Default::default()
            })
        }
        Op::RemoveSession { session } => Kind::RemoveSession(SessionRemove {
            id: pick(&sessions, *session)?,
        }),
        Op::MoveSession { session, room } => Kind::MoveSession(SessionMove {
            session: pick(&sessions, *session)?,
            room: pick(&rooms, *room)?,
        }),
        Op::Flags { session, bits } => {
            let bit = |n: u16| (bits & (1 << n) != 0).then_some(bits & (1 << (n + 5)) != 0);
            Kind::SetSessionFlags(SessionFlags {
                session: pick(&sessions, *session)?,
                self_mute: bit(0),
                self_deaf: bit(1),
                server_mute: bit(2),
                server_deaf: bit(3),
                recording: bit(4),
            })
        }
        Op::Rename { session, name } => Kind::RenameSession(SessionRename {
            session: pick(&sessions, *session)?,
            name: NAMES[*name as usize].into(),
        }),
        Op::Roles { session, roles } => Kind::SetSessionRoles(SessionRoles {
            session: pick(&sessions, *session)?,
            roles: role_set(*roles),
        }),
        Op::AddRole { name } => Kind::AddRole(Role {
            name: format!("role{name}"),
            description: String::new(),
        }),
        Op::RemoveRole { role } => Kind::RemoveRole(RoleRemove {
            name: (*pick(&roles, *role)?).clone(),
        }),
        Op::AddFile { room, name } => Kind::AddFile(SharedFile {
            id: state.next_file_id(),
            info_hash: vec![*name; 20],
            name: format!("file{name}.ogg"),
            size: u64::from(*name) * 1000,
            room: pick(&rooms, *room)?,
            owner_key: key(*name),
        }),
        Op::RemoveFile { file } => Kind::RemoveFile(FileRemove {
            id: pick(&files, *file)?,
        }),
    };
    Some(change(kind))
}

fn encoding_hash(snapshot: &StateSnapshot) -> StateHash {
    StateHash(*blake3::hash(&snapshot.encode_to_vec()).as_bytes())
}

/// Runs ops, checking on every step that a refused change leaves the state
/// alone and an applied one is undone by its inverse.
fn run(ops: &[Op]) -> Result<State, TestCaseError> {
    let mut s = state();
    for op in ops {
        let Some(change) = concretize(&s, op) else {
            continue;
        };
        let before = s.hash();
        let before_snapshot = s.snapshot();
        match s.apply(&change) {
            Ok(inverse) => {
                let after = s.hash();
                let mut undo = s.clone();
                undo.apply_all(&inverse).map_err(|e| {
                    TestCaseError::fail(format!("inverse of {change:?} failed: {e}"))
                })?;
                prop_assert_eq!(
                    undo.hash(),
                    before,
                    "inverse of {:?} did not restore the hash",
                    change
                );
                prop_assert_eq!(undo.snapshot(), before_snapshot);
                prop_assert_eq!(s.hash(), after);
            }
            Err(_) => {
                prop_assert_eq!(s.hash(), before, "a refused change altered the state");
                prop_assert_eq!(s.snapshot(), before_snapshot);
            }
        }
    }
    Ok(s)
}

proptest! {
    #![proptest_config(support::proptest_cases())]

    /// After any sequence of changes, the incrementally maintained hash equals
    /// the hash of the encoded snapshot and of a state rebuilt from it.
    #[test]
    fn maintained_hash_equals_fresh_snapshot_hash(ops in proptest::collection::vec(op(), 0..60)) {
        let s = run(&ops)?;
        let snapshot = s.snapshot();
        prop_assert_eq!(s.hash(), encoding_hash(&snapshot));
        let fresh = State::from_snapshot(&snapshot, Limits::default())
            .map_err(|e| TestCaseError::fail(format!("snapshot refused: {e}")))?;
        prop_assert_eq!(fresh.hash(), s.hash());
        prop_assert_eq!(fresh.snapshot(), snapshot);
    }

    /// Applying any change and then its inverse restores the hash (checked on
    /// every step inside `run`).
    #[test]
    fn change_then_inverse_restores_hash(ops in proptest::collection::vec(op(), 0..60)) {
        run(&ops)?;
    }

    /// The hash does not depend on the order in which items were inserted.
    #[test]
    fn hash_is_independent_of_insertion_order(
        ops in proptest::collection::vec(op(), 0..60),
        seed in any::<u64>(),
    ) {
        let s = run(&ops)?;
        let mut snapshot = s.snapshot();
        shuffle(&mut snapshot.rooms, seed);
        shuffle(&mut snapshot.sessions, seed.rotate_left(13));
        shuffle(&mut snapshot.roles, seed.rotate_left(29));
        shuffle(&mut snapshot.files, seed.rotate_left(41));
        let rebuilt = State::from_snapshot(&snapshot, Limits::default())
            .map_err(|e| TestCaseError::fail(format!("shuffled snapshot refused: {e}")))?;
        prop_assert_eq!(rebuilt.hash(), s.hash());
    }
}

/// A seeded Fisher–Yates shuffle.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (seed >> 33) as usize % (i + 1);
        items.swap(i, j);
    }
}

/// The generator reaches rich states (so the properties are not vacuous).
#[test]
fn generated_sequences_build_rich_states() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut rooms, mut sessions, mut files, mut acls) = (0, 0, 0, 0);
    for _ in 0..200 {
        let ops = proptest::collection::vec(op(), 60)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let s = run(&ops).unwrap();
        rooms += s.rooms().len() - 1;
        sessions += s.sessions().len();
        files += s.files().len();
        acls += s.rooms().values().filter(|r| !r.acl.is_empty()).count();
    }
    println!("rooms {rooms} sessions {sessions} files {files} rooms with ACLs {acls}");
    assert!(rooms > 200 && sessions > 200 && files > 20 && acls > 200);
}
