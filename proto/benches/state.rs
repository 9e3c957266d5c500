//! Benchmarks of the shared state: full hash at 1,000 rooms and 1,000
//! sessions, one change (with its re-hash), and ACL evaluation at depth 10.
//! Run: `cargo bench -p voice-proto`.

use voice_proto::acl::{Subject, evaluate};
use voice_proto::pb::wire::change::Kind;
use voice_proto::pb::wire::{AclRule, Change, Room, RoomAcl, RoomEdit, Session, acl_rule};
use voice_proto::{Limits, State};

fn main() {
    divan::main();
}

fn change(kind: Kind) -> Change {
    Change { kind: Some(kind) }
}

/// 1,000 rooms (a forest of chains 10 deep, each room with one rule) and
/// 1,000 sessions spread over them.
fn big_state() -> State {
    let mut s = State::new("Root", Limits::default());
    let mut id = 1;
    while id <= 1000 {
        let mut parent = 0;
        for depth in 0..10 {
            s.apply(&change(Kind::AddRoom(Room {
                id,
                parent,
                name: format!("room {id} at depth {depth}"),
                description: "a room for benchmarks".into(),
                inherit_acl: true,
                acl: vec![AclRule {
                    subject: Some(acl_rule::Subject::Role("known".into())),
                    allow: 0b11,
                    deny: 0b100,
                    apply_here: true,
                    apply_subs: true,
                }],
                ..Default::default()
            })))
            .expect("room");
            parent = id;
            id += 1;
        }
    }
    for sid in 1..=1000u32 {
        s.apply(&change(Kind::AddSession(Session {
            id: sid,
            public_key: blake3::hash(&sid.to_le_bytes()).as_bytes().to_vec(),
            name: format!("user number {sid}"),
            room: 1 + sid % 1000,
            roles: vec!["known".into()],
            ..Default::default()
        })))
        .expect("session");
    }
    s
}

#[divan::bench]
fn full_hash_1000_rooms_1000_sessions(bencher: divan::Bencher<'_, '_>) {
    let s = big_state();
    bencher.bench(|| divan::black_box(&s).hash_from_scratch());
}

#[divan::bench]
fn snapshot_encode_1000_rooms_1000_sessions(bencher: divan::Bencher<'_, '_>) {
    use prost::Message;
    let s = big_state();
    bencher.bench(|| divan::black_box(&s).snapshot().encode_to_vec().len());
}

#[divan::bench]
fn apply_one_change_with_rehash(bencher: divan::Bencher<'_, '_>) {
    let mut s = big_state();
    let mut n = 0i32;
    bencher.bench_local(|| {
        n += 1;
        s.apply(&change(Kind::EditRoom(RoomEdit {
            id: 500,
            position: Some(n),
            ..Default::default()
        })))
        .expect("edit")
    });
}

#[divan::bench]
fn set_acl_with_rehash(bencher: divan::Bencher<'_, '_>) {
    let mut s = big_state();
    let mut allow = 0u32;
    bencher.bench_local(|| {
        allow = (allow + 1) & 0xff;
        s.apply(&change(Kind::SetRoomAcl(RoomAcl {
            room: 10,
            inherit_acl: true,
            rules: vec![AclRule {
                subject: Some(acl_rule::Subject::Role("everyone".into())),
                allow,
                deny: 0,
                apply_here: true,
                apply_subs: false,
            }],
        })))
        .expect("acl")
    });
}

#[divan::bench]
fn acl_evaluate_depth_10(bencher: divan::Bencher<'_, '_>) {
    let s = big_state();
    let key = [9u8; 32];
    let roles = vec!["known".to_string()];
    // Room 10 is the deepest of the first chain (depth 10).
    bencher.bench(|| {
        evaluate(
            divan::black_box(&s),
            Subject {
                key: &key,
                roles: &roles,
            },
            10,
        )
    });
}
