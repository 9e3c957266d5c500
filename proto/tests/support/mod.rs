//! Shared builders for the voice-proto tests.
#![allow(dead_code)]

use voice_proto::pb::wire::change::Kind;
use voice_proto::pb::wire::{
    AclRule, Change, Room, RoomAcl, Session, acl_rule::Subject as RuleSubject,
};
use voice_proto::{Limits, State};

/// A fresh server state with a root named "Root".
pub fn state() -> State {
    State::new("Root", Limits::default())
}

/// Wraps a change kind.
pub fn change(kind: Kind) -> Change {
    Change { kind: Some(kind) }
}

/// Adds a room and returns its id.
pub fn add_room(state: &mut State, id: u32, parent: u32, name: &str) -> u32 {
    state
        .apply(&change(Kind::AddRoom(Room {
            id,
            parent,
            name: name.into(),
            inherit_acl: true,
            ..Default::default()
        })))
        .expect("add room");
    id
}

/// A key whose bytes are all `n`.
pub fn key(n: u8) -> Vec<u8> {
    vec![n; 32]
}

/// Adds a session with the given roles.
pub fn add_session(state: &mut State, id: u32, room: u32, roles: &[&str]) {
    state
        .apply(&change(Kind::AddSession(Session {
            id,
            public_key: key(id as u8),
            name: format!("user{id}"),
            room,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        })))
        .expect("add session");
}

/// A role rule.
pub fn role_rule(role: &str, allow: u32, deny: u32, here: bool, subs: bool) -> AclRule {
    AclRule {
        subject: Some(RuleSubject::Role(role.into())),
        allow,
        deny,
        apply_here: here,
        apply_subs: subs,
    }
}

/// A user rule.
pub fn user_rule(key: Vec<u8>, allow: u32, deny: u32, here: bool, subs: bool) -> AclRule {
    AclRule {
        subject: Some(RuleSubject::UserKey(key)),
        allow,
        deny,
        apply_here: here,
        apply_subs: subs,
    }
}

/// Replaces a room's ACL.
pub fn set_acl(state: &mut State, room: u32, inherit: bool, rules: Vec<AclRule>) {
    state
        .apply(&change(Kind::SetRoomAcl(RoomAcl {
            room,
            inherit_acl: inherit,
            rules,
        })))
        .expect("set acl");
}

/// Proptest cases per property: 1,000 unless `PROPTEST_CASES` says otherwise.
pub fn proptest_cases() -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    proptest::test_runner::Config::with_cases(cases)
}
