//! What the fuzz targets share: a seeded state to apply wire messages to,
//! and the input format of the control API target ([`control`]).

pub mod control;

use std::path::{Path, PathBuf};

/// A directory of this fuzzing process under `base`, named `PREFIX-PID`;
/// those of processes that are gone are removed first (a target's statics
/// are never dropped, so nothing removes them at exit).
pub fn work_dir(base: &Path, prefix: &str) -> PathBuf {
    if let Ok(entries) = std::fs::read_dir(base) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('-'))
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = base.join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a work dir");
    dir
}

use voice_proto::pb::wire::{AclRule, Change, Room, Session, acl_rule, change::Kind};
use voice_proto::{Limits, State};

/// Sessions of the seeded state: an admin, a registered user and a guest.
pub const SESSIONS: [u32; 3] = [1, 2, 3];

fn change(kind: Kind) -> Change {
    Change { kind: Some(kind) }
}

/// A small server state: a root, a few nested rooms (one with its own ACL),
/// three sessions with different roles.
pub fn seeded_state() -> State {
    let mut s = State::new("root", Limits::default());
    let rooms = [(1, 0, "lobby"), (2, 1, "inner"), (3, 0, "quiet")];
    for (id, parent, name) in rooms {
        let acl = if id == 3 {
            vec![AclRule {
                subject: Some(acl_rule::Subject::Role("known".into())),
                allow: 0b11,
                deny: 0b100,
                apply_here: true,
                apply_subs: true,
            }]
        } else {
            Vec::new()
        };
        s.apply(&change(Kind::AddRoom(Room {
            id,
            parent,
            name: name.into(),
            inherit_acl: true,
            acl,
            ..Default::default()
        })))
        .expect("seed room");
    }
    let roles: [&[&str]; 3] = [&["admin", "known"], &["known"], &[]];
    for (i, sid) in SESSIONS.into_iter().enumerate() {
        s.apply(&change(Kind::AddSession(Session {
            id: sid,
            public_key: blake3::hash(&sid.to_le_bytes()).as_bytes().to_vec(),
            name: format!("user {sid}"),
            room: sid % 3,
            roles: roles[i].iter().map(|r| (*r).to_owned()).collect(),
            ..Default::default()
        })))
        .expect("seed session");
    }
    s
}

/// The state's invariants after any input: its kept hash is the hash of
/// what it holds.
pub fn check_state(state: &State) {
    assert_eq!(
        state.hash(),
        state.hash_from_scratch(),
        "state hash drifted"
    );
}
