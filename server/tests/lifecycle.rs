//! Persistence across restarts, shutdown, hostile input from a logged-in client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;
use voice_proto::close;
use voice_proto::pb::wire::{
    AclRule, Change, Permission, Role, Room, RoomAcl, SessionRoles, acl_rule, change::Kind,
};

/// The hash of rooms, roles and files (sessions differ across a restart).
fn without_sessions(state: &voice_proto::State) -> voice_proto::StateHash {
    let mut snapshot = state.snapshot();
    snapshot.sessions.clear();
    voice_proto::State::from_snapshot(&snapshot, voice_proto::Limits::default())
        .unwrap()
        .hash()
}

#[tokio::test]
async fn everything_is_back_after_a_restart_with_the_same_hash() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let fingerprint = server.fingerprint.clone();
    let mut boss = admin(&server, "boss").await;
    let mut member = server.join("member").await;
    boss.catch_up(member.seq).await;
    accepted(
        boss.propose(Change {
            kind: Some(Kind::AddRole(Role {
                name: "mods".into(),
                description: "moderators".into(),
            })),
        })
        .await,
    );
    let lobby = accepted(
        boss.propose(Change {
            kind: Some(Kind::AddRoom(Room {
                parent: 0,
                name: "Lobby".into(),
                description: "talk here".into(),
                inherit_acl: true,
                ..Room::default()
            })),
        })
        .await,
    )
    .assigned_id;
    accepted(
        boss.propose(Change {
            kind: Some(Kind::SetRoomAcl(RoomAcl {
                room: lobby,
                inherit_acl: false,
                rules: vec![AclRule {
                    subject: Some(acl_rule::Subject::Role("mods".into())),
                    allow: voice_proto::acl::Permissions::from_iter([
                        Permission::Traverse,
                        Permission::Enter,
                    ])
                    .bits(),
                    deny: 0,
                    apply_here: true,
                    apply_subs: true,
                }],
            })),
        })
        .await,
    );
    let member_id = member.id;
    accepted(
        boss.propose(Change {
            kind: Some(Kind::SetSessionRoles(SessionRoles {
                session: member_id,
                roles: vec!["known".into(), "mods".into()],
            })),
        })
        .await,
    );
    member.catch_up(boss.seq).await;
    let member_key = member.key.clone();
    let before = without_sessions(&member.state);
    // The hash of rooms and roles only: a fresh client after the restart sees
    // the same state minus these two sessions, so compare after they leave.
    drop(member);
    drop(boss);
    server.stop().await;

    let server = TestServer::in_dir(dir.path()).await;
    assert_eq!(server.fingerprint, fingerprint, "the certificate is kept");
    let mut login = server.login("member");
    login.key = member_key;
    let member = Client::connect(&server, login).await.unwrap();
    let me = member.state.session(member.id).unwrap();
    assert_eq!(me.roles, vec!["known".to_owned(), "mods".to_owned()]);
    let room = member.state.room(lobby).expect("room restored");
    assert_eq!(room.name, "Lobby");
    assert_eq!(room.description, "talk here");
    assert!(!room.inherit_acl);
    assert_eq!(room.acl.len(), 1);
    assert!(member.state.roles().contains_key("mods"));
    assert_eq!(
        without_sessions(&member.state),
        before,
        "the restored state hashes like the incrementally built one"
    );
    // Incremental and fresh views agree: a second client's snapshot hash
    // equals the first client's mirror after the join update.
    let other = server.join("other").await;
    let mut member = member;
    member.catch_up(other.seq).await;
    assert_eq!(member.hash(), other.hash());
    server.stop().await;
}

#[tokio::test]
async fn a_change_acknowledged_before_shutdown_survives() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut boss = admin(&server, "boss").await;
    let id = accepted(
        boss.propose(Change {
            kind: Some(Kind::AddRoom(Room {
                parent: 0,
                name: "Last words".into(),
                inherit_acl: true,
                ..Room::default()
            })),
        })
        .await,
    )
    .assigned_id;
    // Shut down right after the acknowledgement.
    let stopping = tokio::spawn(server.stop());
    let (code, _) = close_of(&boss.conn).await;
    assert_eq!(code, close::SHUTDOWN);
    stopping.await.unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let c = server.join("later").await;
    assert_eq!(c.state.room(id).unwrap().name, "Last words");
    server.stop().await;
}

#[tokio::test]
async fn bad_input_from_a_logged_in_client_closes_only_that_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut good = server.join("good").await;

    // Oversize length prefix.
    let mut bad = server.join("oversize").await;
    bad.control
        .send
        .write_all(&raw_frame(10 << 20, b"abc"))
        .await
        .unwrap();
    let (code, reason) = close_of(&bad.conn).await;
    assert_eq!(code, close::PROTOCOL_ERROR);
    assert!(reason.contains("exceeds"), "{reason}");

    // Garbage protobuf.
    let mut bad = server.join("garbage").await;
    bad.control
        .send
        .write_all(&raw_frame(4, b"\xff\xff\xff\xff"))
        .await
        .unwrap();
    let (code, _) = close_of(&bad.conn).await;
    assert_eq!(code, close::PROTOCOL_ERROR);

    // An envelope with no known message.
    let mut bad = server.join("unknown").await;
    bad.control
        .send
        .write_all(&raw_frame(3, &[0x98, 0x06, 0x01]))
        .await
        .unwrap();
    let (code, reason) = close_of(&bad.conn).await;
    assert_eq!(code, close::PROTOCOL_ERROR);
    assert!(reason.contains("no known message"), "{reason}");

    // The good client is still served.
    let reply = good
        .propose(Change {
            kind: Some(Kind::AddRoom(Room {
                parent: 0,
                name: "Still here".into(),
                inherit_acl: true,
                ..Room::default()
            })),
        })
        .await;
    assert!(matches!(reply, Reply::Accepted(_)), "{reply:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_control_flood_is_closed_with_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.control_rate = 1.0;
    config.control_burst = 5.0;
    let server = TestServer::start(config).await;
    let mut bad = server.join("flood").await;
    for i in 0..50 {
        bad.control
            .send(voice_proto::pb::wire::client_msg::Msg::Ping(
                voice_proto::pb::wire::Ping { timestamp_us: i },
            ))
            .await;
    }
    let (code, _) = close_of(&bad.conn).await;
    assert_eq!(code, close::RATE_LIMITED);
    server.join("next").await;
    server.stop().await;
}
