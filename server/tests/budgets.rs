//! Budgets in bytes: a session's outgoing queue (a reader that does not read
//! is closed, others go on), the whole state (refused past
//! `max_state_bytes`; a state too large to send closes the login with an
//! error), shared files per key, and a room removal as one update.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;
use voice_proto::close;
use voice_proto::pb::wire::{
    Change, Ping, Room, RoomEdit, RoomRemove, SnapshotRequest, change::Kind, client_msg,
    server_msg::Msg,
};

fn room(id: u32, parent: u32, name: &str, description: String) -> Change {
    Change {
        kind: Some(Kind::AddRoom(Room {
            id,
            parent,
            name: name.into(),
            inherit_acl: true,
            description,
            ..Room::default()
        })),
    }
}

/// Puts rooms straight into the server's state in one step (one hash), as
/// if they had been there at start.
async fn seed(server: &TestServer, changes: &[Change]) {
    let mut inner = server.hub.lock().await;
    inner.state.apply_all(changes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_never_reads_is_closed_within_its_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.max_state_bytes = 512 << 10;
    config.max_queue_bytes = 640 << 10;
    config.persist_burst = 10_000.0;
    let budget = config.max_queue_bytes;
    let server = TestServer::start(config).await;
    // About 400 KB of state, so each snapshot is that big.
    let rooms: Vec<Change> = (1..=400)
        .map(|i| room(i, 0, &format!("room {i}"), "d".repeat(1000)))
        .collect();
    seed(&server, &rooms).await;
    let mut boss = admin(&server, "boss").await;
    let mut slow = server.join("slow").await;
    let slow_id = slow.id;

    // Hundreds of full snapshots asked for, none read: before byte budgets
    // and coalescing each was queued (400 KB × 500 = 200 MB held).
    for _ in 0..500 {
        slow.control
            .send(client_msg::Msg::SnapshotRequest(SnapshotRequest {}))
            .await;
    }
    slow.control
        .send(client_msg::Msg::Ping(Ping { timestamp_us: 1 }))
        .await;
    // Updates for everyone: each edit is about 1 KB; the slow reader's
    // queue passes its budget and it is closed, the others go on.
    let mut closed = None;
    for i in 0..2000u32 {
        let edit = Change {
            kind: Some(Kind::EditRoom(RoomEdit {
                id: 1 + i % 400,
                description: Some(format!("{i} {}", "e".repeat(1000))),
                ..RoomEdit::default()
            })),
        };
        accepted(boss.propose(edit).await);
        match server.hub.queued_bytes(slow_id).await {
            Some(queued) => assert!(queued <= budget, "{queued} bytes queued, budget {budget}"),
            None => {
                closed = Some(i);
                break;
            }
        }
        if slow.conn.close_reason().is_some() {
            closed = Some(i);
            break;
        }
    }
    let edits = closed.expect("the slow reader was closed");
    let (code, reason) = close_of(&slow.conn).await;
    assert_eq!(code, close::SLOW_READER, "{reason}");
    assert!(reason.contains("did not keep up"), "{reason}");
    eprintln!("slow reader closed after {edits} edits: {reason}");
    // The others are unaffected: the boss still gets answers, a newcomer logs in.
    accepted(boss.propose(room(0, 0, "after", String::new())).await);
    let newcomer = server.join("newcomer").await;
    assert!(newcomer.state.rooms().values().any(|r| r.name == "after"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_stays_within_its_byte_budget_and_files_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.max_state_bytes = 64 << 10;
    config.max_queue_bytes = 256 << 10;
    config.max_files_per_key = 2;
    config.max_rooms_per_key = 2;
    config.persist_burst = 10_000.0;
    let server = TestServer::start(config).await;
    let mut boss = admin(&server, "boss").await;
    let mut refusal = None;
    for i in 0..200 {
        match boss
            .propose(room(0, 0, &format!("big {i}"), "b".repeat(1000)))
            .await
        {
            Reply::Accepted(_) => {}
            Reply::Rejected(r) => {
                refusal = Some((i, r));
                break;
            }
        }
    }
    let (made, r) = refusal.expect("the state budget refused a room");
    assert!(r.message.contains("max_state_bytes"), "{r:?}");
    assert!(
        made > 30,
        "about 60 rooms of 1 KB fit in 64 KiB, {made} did"
    );
    assert!(boss.state.encoded_len() <= 64 << 10);
    // Shrinking is always allowed, and a newcomer gets the whole state.
    accepted(
        boss.propose(Change {
            kind: Some(Kind::EditRoom(RoomEdit {
                id: 1,
                description: Some(String::new()),
                ..RoomEdit::default()
            })),
        })
        .await,
    );
    let mut user = server.join("user").await;
    assert_eq!(user.state.hash(), {
        boss.catch_up(user.seq).await;
        boss.hash()
    });

    // Rooms per key (admins are exempt: the boss made dozens).
    let mine = accepted(user.propose(room(0, 0, "mine 1", String::new())).await).assigned_id;
    accepted(user.propose(room(0, 0, "mine 2", String::new())).await);
    match user.propose(room(0, 0, "mine 3", String::new())).await {
        Reply::Rejected(r) => assert!(r.message.contains("max_rooms_per_key"), "{r:?}"),
        Reply::Accepted(a) => panic!("a third room was accepted: {a:?}"),
    }
    // Once one of them is gone (here removed by the admin), another may be made.
    boss.catch_up(user.seq).await;
    accepted(
        boss.propose(Change {
            kind: Some(Kind::RemoveRoom(RoomRemove { id: mine })),
        })
        .await,
    );
    accepted(user.propose(room(0, 0, "mine 3", String::new())).await);

    accepted(user.share(0, "file 1", 1).await);
    accepted(user.share(0, "file 2", 1).await);
    match user.share(0, "file 3", 1).await {
        Reply::Rejected(r) => assert!(r.message.contains("max_files_per_key"), "{r:?}"),
        Reply::Accepted(a) => panic!("a third file was accepted: {a:?}"),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_too_large_to_send_closes_the_login_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    // 4,500 rooms of 4 KB descriptions: 18 MB, past the 16 MiB frame limit
    // (a state left by a server with larger limits).
    let rooms: Vec<Change> = (1..=4500)
        .map(|i| room(i, 0, &format!("room {i}"), "𝄞".repeat(1024)))
        .collect();
    seed(&server, &rooms).await;
    let outcome = tokio::time::timeout(WAIT, Client::connect(&server, server.login("late")))
        .await
        .expect("the login ends in time instead of hanging");
    let Err((code, reason)) = outcome else {
        panic!("a state past the frame limit was sent");
    };
    assert_eq!(code, close::SERVER_FULL, "{reason}");
    assert!(reason.contains("cannot be sent"), "{reason}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_room_with_2000_descendants_is_one_update() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    // Room 1 with 40 children of 49 children each: 2,000 descendants.
    let mut rooms = vec![room(1, 0, "top", String::new())];
    let mut next = 2;
    for c in 0..40 {
        let child = next;
        next += 1;
        rooms.push(room(child, 1, &format!("c{c}"), String::new()));
        for g in 0..49 {
            rooms.push(room(next, child, &format!("g{g}"), String::new()));
            next += 1;
        }
    }
    assert_eq!(rooms.len(), 2001);
    seed(&server, &rooms).await;
    for change in &rooms {
        if let Some(Kind::AddRoom(r)) = &change.kind {
            server.hub.store.put_room(r).unwrap();
        }
    }
    server
        .hub
        .store
        .flush(server.hub.store.epoch())
        .await
        .unwrap();
    let deep = next - 1;
    let mut boss = admin(&server, "boss").await;
    let mut watcher = server.join("watcher").await;
    let mut inside = server.login("inside");
    inside.room = deep;
    let inside = Client::connect(&server, inside).await.unwrap();
    assert_eq!(inside.state.session(inside.id).unwrap().room, deep);
    boss.catch_up(inside.seq).await;
    watcher.catch_up(inside.seq).await;

    let before = watcher.seq;
    let a = accepted(
        boss.propose(Change {
            kind: Some(Kind::RemoveRoom(RoomRemove { id: 1 })),
        })
        .await,
    );
    assert_eq!(a.seq, before + 1, "one update for the whole subtree");
    match watcher.control.next().await {
        Some(Msg::Update(u)) => {
            assert_eq!(u.seq, before + 1);
            watcher.state.apply(&u.change.unwrap()).unwrap();
            assert_eq!(
                watcher.state.hash().to_vec(),
                u.resulting_hash,
                "hashes agree"
            );
        }
        other => panic!("expected the update, got {other:?}"),
    }
    assert_eq!(watcher.state.rooms().len(), 1);
    assert_eq!(watcher.state.session(inside.id).unwrap().room, 0);
    assert_eq!(watcher.hash(), boss.hash());
    // Nothing of it is left on disk either.
    drop((boss, watcher, inside));
    server.stop().await;
    let server = TestServer::in_dir(dir.path()).await;
    assert_eq!(server.hub.lock().await.state.rooms().len(), 1);
    server.stop().await;
}
