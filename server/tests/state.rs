//! Rooms and shared state: permissions, first proposal wins, convergence.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;
use voice_proto::pb::wire::{
    Change, Permission, Room, RoomEdit, RoomMove, RoomRemove, SessionMove, change::Kind,
    rejected::Reason,
};

fn add_room(parent: u32, name: &str) -> Change {
    Change {
        kind: Some(Kind::AddRoom(Room {
            id: 0,
            parent,
            name: name.into(),
            inherit_acl: true,
            ..Room::default()
        })),
    }
}

fn rename(id: u32, name: &str) -> Change {
    Change {
        kind: Some(Kind::EditRoom(RoomEdit {
            id,
            name: Some(name.into()),
            ..RoomEdit::default()
        })),
    }
}

#[tokio::test]
async fn rooms_create_rename_move_delete_with_and_without_permission() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.registration = voice_server::config::Registration::Admin;
    let server = TestServer::start(config).await;
    let mut boss = admin(&server, "boss").await;
    let mut guest = server.join("guest").await;

    // A guest (everyone only) may not make rooms.
    let r = rejected(guest.propose(add_room(0, "Guests")).await);
    assert_eq!(r.reason, Reason::Denied as i32);
    assert_eq!(r.permission, Permission::MakeRoom as i32);

    let a = accepted(boss.propose(add_room(0, "Lobby")).await).assigned_id;
    let b = accepted(boss.propose(add_room(0, "Games")).await).assigned_id;
    assert_ne!(a, b);
    accepted(boss.propose(rename(a, "Hall")).await);
    accepted(
        boss.propose(Change {
            kind: Some(Kind::MoveRoom(RoomMove { id: b, parent: a })),
        })
        .await,
    );
    guest.catch_up(boss.seq).await;
    assert_eq!(guest.state.room(a).unwrap().name, "Hall");
    assert_eq!(guest.state.room(b).unwrap().parent, a);

    // The guest may not rename or delete, but may enter.
    let r = rejected(guest.propose(rename(a, "Mine")).await);
    assert_eq!(r.permission, Permission::EditRoom as i32);
    accepted(
        guest
            .propose(Change {
                kind: Some(Kind::MoveSession(SessionMove {
                    session: guest.id,
                    room: b,
                })),
            })
            .await,
    );
    // Deleting the hall moves the guest up to the root and removes both rooms.
    boss.catch_up(guest.seq).await;
    accepted(
        boss.propose(Change {
            kind: Some(Kind::RemoveRoom(RoomRemove { id: a })),
        })
        .await,
    );
    guest.catch_up(boss.seq).await;
    assert!(guest.state.room(a).is_none() && guest.state.room(b).is_none());
    assert_eq!(guest.state.session(guest.id).unwrap().room, 0);
    assert_eq!(guest.hash(), boss.hash());
    server.stop().await;
}

#[tokio::test]
async fn two_proposals_on_the_same_hash_one_wins_the_other_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut a = server.join("a").await;
    let mut b = server.join("b").await;
    a.catch_up(b.seq).await;
    assert_eq!(a.hash(), b.hash());
    let base = a.hash();
    let ra = a.send_proposal_at(base, add_room(0, "From A")).await;
    let rb = b.send_proposal_at(base, add_room(0, "From B")).await;
    let (ra, rb) = (a.reply_to(ra).await, b.reply_to(rb).await);
    let (winner, loser) = match (ra, rb) {
        (Reply::Accepted(w), Reply::Rejected(l)) | (Reply::Rejected(l), Reply::Accepted(w)) => {
            (w, l)
        }
        other => panic!("expected one winner: {other:?}"),
    };
    assert_eq!(loser.reason, Reason::Stale as i32);
    a.catch_up(winner.seq).await;
    b.catch_up(winner.seq).await;
    assert_eq!(loser.current_hash, a.hash().to_vec());
    assert_eq!(a.hash(), b.hash());
    server.stop().await;
}

#[tokio::test]
async fn a_change_to_ones_own_session_is_judged_on_the_current_state() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut boss = admin(&server, "boss").await;
    let mut guest = server.join("guest").await;
    boss.catch_up(guest.seq).await;
    let hall = accepted(boss.propose(add_room(0, "Hall")).await).assigned_id;
    guest.catch_up(boss.seq).await;
    let seen = guest.hash();
    // The state moves on after the guest's last look.
    let games = accepted(boss.propose(add_room(0, "Games")).await).assigned_id;
    let moving = |session, room| Change {
        kind: Some(Kind::MoveSession(SessionMove { session, room })),
    };
    // Its own move on the old hash goes through.
    let r = guest.send_proposal_at(seen, moving(guest.id, hall)).await;
    let Reply::Accepted(moved) = guest.reply_to(r).await else {
        panic!("a move of one's own session is not stale");
    };
    guest.catch_up(moved.seq).await;
    assert_eq!(guest.state.session(guest.id).unwrap().room, hall);
    // Still judged on what is: a room removed since is refused for that,
    // not as stale.
    accepted(
        boss.propose(Change {
            kind: Some(Kind::RemoveRoom(RoomRemove { id: games })),
        })
        .await,
    );
    let r = guest.send_proposal_at(seen, moving(guest.id, games)).await;
    let Reply::Rejected(gone) = guest.reply_to(r).await else {
        panic!("a move into a room that is gone is refused");
    };
    assert_ne!(gone.reason, Reason::Stale as i32, "{gone:?}");
    assert!(gone.message.contains(&games.to_string()), "{gone:?}");
    // Anything else on an old hash stays stale: a room edit, or moving
    // someone else.
    let r = guest.send_proposal_at(seen, rename(hall, "Mine")).await;
    let Reply::Rejected(stale) = guest.reply_to(r).await else {
        panic!("an edit on an old hash is stale");
    };
    assert_eq!(stale.reason, Reason::Stale as i32);
    let r = boss.send_proposal_at(seen, moving(guest.id, 0)).await;
    let Reply::Rejected(stale) = boss.reply_to(r).await else {
        panic!("moving another session on an old hash is stale");
    };
    assert_eq!(stale.reason, Reason::Stale as i32);
    guest.catch_up(boss.seq).await;
    assert_eq!(guest.hash(), boss.hash());
    server.stop().await;
}

#[tokio::test]
async fn after_a_storm_of_proposals_every_client_has_the_servers_hash() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut clients = Vec::new();
    clients.push(admin(&server, "c0").await);
    for i in 1..4 {
        clients.push(server.join(&format!("c{i}")).await);
    }
    let mut handles = Vec::new();
    for (i, mut c) in clients.into_iter().enumerate() {
        handles.push(tokio::spawn(async move {
            let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1);
            let mut rand = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            for n in 0..40 {
                let rooms: Vec<u32> = c.state.rooms().keys().copied().collect();
                let pick = rooms[(rand() as usize) % rooms.len()];
                let change = match rand() % 4 {
                    0 => add_room(pick, &format!("r{i}-{n}")),
                    1 => rename(pick, &format!("n{i}-{n}")),
                    2 => Change {
                        kind: Some(Kind::MoveSession(SessionMove {
                            session: c.id,
                            room: pick,
                        })),
                    },
                    _ => Change {
                        kind: Some(Kind::RemoveRoom(RoomRemove { id: pick })),
                    },
                };
                // Whatever the outcome, the mirror stays consistent.
                let _ = c.propose(change).await;
            }
            c
        }));
    }
    let mut clients = Vec::new();
    for h in handles {
        clients.push(h.await.unwrap());
    }
    let (seq, hash) = {
        let inner = server.hub.lock().await;
        (inner.seq, inner.state.hash())
    };
    for c in &mut clients {
        c.catch_up(seq).await;
        assert_eq!(c.hash(), hash, "client {} converged", c.id);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_full_room_refuses_one_more_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.max_sessions_per_room = 1;
    let server = TestServer::start(config).await;
    let mut a = server.join("a").await;
    let room = accepted(a.propose(add_room(0, "Booth")).await).assigned_id;
    let id = a.id;
    accepted(
        a.propose(Change {
            kind: Some(Kind::MoveSession(SessionMove { session: id, room })),
        })
        .await,
    );
    let mut b = server.join("b").await;
    let id = b.id;
    let r = rejected(
        b.propose(Change {
            kind: Some(Kind::MoveSession(SessionMove { session: id, room })),
        })
        .await,
    );
    assert_eq!(r.reason, Reason::Invalid as i32);
    assert!(r.message.contains("full"), "{r:?}");
    server.stop().await;
}

#[tokio::test]
async fn logging_in_again_replaces_the_old_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let login = server.login("twice");
    let first = Client::connect(&server, login.clone()).await.unwrap();
    let second = Client::connect(&server, login).await.unwrap();
    let (code, _) = close_of(&first.conn).await;
    assert_eq!(code, voice_proto::close::REPLACED);
    assert!(second.state.session(first.id).is_none());
    assert_eq!(second.state.sessions().len(), 1);
    server.stop().await;
}
