//! `Admin.Watch`, the plugins' event stream, on a real server through its
//! real admin socket: state changes with their hashes, chat, moderation;
//! a watcher that resumes gets what it missed from the backlog, one that
//! resumes past the backlog or across a restart is told; a stream does
//! not hold the server's shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::*;
use voice_proto::pb::admin::{
    BanRequest, CreateRoomRequest, KickRequest, MoveUserRequest, ServerChat, ServerEvent,
    ServerFlagsRequest, WatchRequest, server_event::Kind,
};
use voice_proto::pb::wire::change;
use voice_server::admin::client::connect;

type Events = tonic::Streaming<ServerEvent>;

async fn next(events: &mut Events) -> ServerEvent {
    tokio::time::timeout(WAIT, events.message())
        .await
        .expect("an event in time")
        .expect("the stream goes on")
        .expect("the stream is open")
}

/// The next event, which must be a state change.
async fn next_state(events: &mut Events) -> (ServerEvent, change::Kind) {
    let e = next(events).await;
    match &e.kind {
        Some(Kind::State(s)) => {
            let k = s.change.clone().unwrap().kind.unwrap();
            (e, k)
        }
        other => panic!("a state change expected, got {other:?}"),
    }
}

#[tokio::test]
async fn a_watcher_sees_joins_chat_and_moderation_with_their_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut admin = connect(&server.admin_socket).await.unwrap();
    let mut events = admin
        .watch(WatchRequest { after: None })
        .await
        .unwrap()
        .into_inner();

    let mut ana = server.join("Ana").await;
    let (joined, kind) = next_state(&mut events).await;
    let change::Kind::AddSession(session) = kind else {
        panic!("a join: {kind:?}")
    };
    assert_eq!(session.name, "Ana");
    let Some(Kind::State(state)) = &joined.kind else {
        unreachable!()
    };
    assert_eq!(state.actor, 0, "the server adds sessions");
    assert_eq!(
        state.resulting_hash,
        server.hub.lock().await.state.hash().to_vec(),
        "the hash after the change"
    );
    assert!(joined.at_ms > 0);

    ana.open_chat().await;
    ana.say(1, "hello, bots").await;
    let chat = next(&mut events).await;
    assert_eq!(chat.seq, joined.seq + 1, "numbered one by one");
    let Some(Kind::Chat(message)) = chat.kind else {
        panic!("chat expected: {chat:?}")
    };
    assert_eq!(
        (message.text.as_str(), message.sender_name.as_str()),
        ("hello, bots", "Ana")
    );

    let ben = server.join("Ben").await;
    next_state(&mut events).await;
    admin
        .kick(KickRequest {
            user: "Ben".into(),
            reason: "testing".into(),
        })
        .await
        .unwrap();
    let (_, kind) = next_state(&mut events).await;
    assert!(
        matches!(kind, change::Kind::RemoveSession(r) if r.id == ben.id),
        "Ben leaves first"
    );
    let kicked = next(&mut events).await;
    let Some(Kind::Moderation(m)) = kicked.kind else {
        panic!("moderation expected: {kicked:?}")
    };
    assert_eq!(
        (
            m.session,
            m.name.as_str(),
            m.by.as_str(),
            m.reason.as_str(),
            m.ban
        ),
        (ben.id, "Ben", "server", "testing", false)
    );
    admin
        .ban(BanRequest {
            user: "Ana".into(),
            reason: "enough".into(),
            seconds: 60,
        })
        .await
        .unwrap();
    next_state(&mut events).await;
    let banned = next(&mut events).await;
    let Some(Kind::Moderation(m)) = banned.kind else {
        panic!("moderation expected: {banned:?}")
    };
    assert!(m.ban && m.ban_seconds == 60 && m.name == "Ana", "{m:?}");
    drop(events);
    server.stop().await;
}

#[tokio::test]
async fn a_watcher_resumes_from_the_backlog_and_is_told_what_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut admin = connect(&server.admin_socket).await.unwrap();
    let mut events = admin
        .watch(WatchRequest { after: Some(0) })
        .await
        .unwrap()
        .into_inner();
    let ana = server.join("Ana").await;
    let (first, _) = next_state(&mut events).await;
    drop(events);

    // Away while Ben joins and Ana leaves; back after the event it saw.
    let ben = server.join("Ben").await;
    drop(ana);
    let mut events = admin
        .watch(WatchRequest {
            after: Some(first.seq),
        })
        .await
        .unwrap()
        .into_inner();
    let (e, kind) = next_state(&mut events).await;
    assert_eq!(e.seq, first.seq + 1, "nothing skipped");
    assert!(matches!(kind, change::Kind::AddSession(s) if s.id == ben.id));
    let (_, kind) = next_state(&mut events).await;
    assert!(matches!(kind, change::Kind::RemoveSession(_)), "{kind:?}");

    // A number not reached yet is refused, saying what is.
    let err = admin
        .watch(WatchRequest {
            after: Some(first.seq + 1_000),
        })
        .await
        .expect_err("a future event");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("the newest is"), "{err:?}");
    drop(events);
    drop(ben);
    server.stop().await;

    // After a restart the old numbers are gone: the watcher is told, then
    // gets the new run's events, numbered above the old ones.
    let server = TestServer::in_dir(dir.path()).await;
    let mut admin = connect(&server.admin_socket).await.unwrap();
    let mut events = admin
        .watch(WatchRequest {
            after: Some(first.seq),
        })
        .await
        .unwrap()
        .into_inner();
    let note = next(&mut events).await;
    let Some(Kind::Missed(missed)) = note.kind else {
        panic!("a missed notice expected: {note:?}")
    };
    assert_eq!(missed.why, "the server restarted");
    let _cy = server.join("Cy").await;
    let (e, _) = next_state(&mut events).await;
    assert!(e.seq > first.seq + 2, "{} after {}", e.seq, first.seq);
    // The stream does not hold the server's shutdown.
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("the server stops with a watcher attached");
}

#[tokio::test]
async fn a_watcher_behind_the_backlog_is_told_how_many_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut admin = connect(&server.admin_socket).await.unwrap();
    let mut ana = server.join("Ana").await;
    let start = server.hub.lock().await.events.newest();
    // More chat than the backlog holds in bytes: 8 MiB of 4,000-character lines.
    ana.open_chat().await;
    let line = "x".repeat(4000);
    let n = voice_server::hub::BACKLOG_BYTES / 4000 + 200;
    for i in 0..n {
        server
            .hub
            .chat(
                ana.id,
                &voice_proto::pb::wire::ChatSend {
                    client_id: i as u64,
                    room: 0,
                    text: line.clone(),
                },
            )
            .await
            .unwrap();
    }
    let mut events = admin
        .watch(WatchRequest { after: Some(start) })
        .await
        .unwrap()
        .into_inner();
    let note = next(&mut events).await;
    let Some(Kind::Missed(missed)) = note.kind else {
        panic!("a missed notice expected: {note:?}")
    };
    assert_eq!(missed.why, "the backlog no longer holds them");
    let first = next(&mut events).await;
    assert_eq!(first.seq, start + missed.count + 1, "counted exactly");
    assert!(missed.count >= 200, "{missed:?}");
    eprintln!(
        "{n} chat lines of 4,000 characters: {} kept, {} missed",
        n as u64 - missed.count,
        missed.count
    );
    server.stop().await;
}

#[tokio::test]
async fn a_plugin_chats_as_the_server_under_a_bots_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut admin = connect(&server.admin_socket).await.unwrap();
    let mut ana = server.join("Ana").await;
    ana.open_chat().await;
    let sent = admin
        .send_chat(ServerChat {
            room: 0,
            bot_name: "Greeter".into(),
            text: "Welcome, Ana".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let got = ana.expect_chat().await;
    assert_eq!(got, sent, "members get what the plugin was answered");
    assert_eq!(
        (got.sender, got.sender_name.as_str(), got.text.as_str()),
        (0, "Greeter", "Welcome, Ana")
    );
    assert!(got.sender_key.is_empty() && got.seq > 0);
    // Refusals say what is wrong.
    for (room, name, text, why) in [
        (0, "", "hi", "give the bot a name"),
        (0, "Bad\u{202e}Bot", "hi", "the bot's name"),
        (0, "Greeter", "", "the message is empty"),
        (0, "Greeter", "a\u{1b}[2J", "control character"),
        (77, "Greeter", "hi", "no room with id 77"),
    ] {
        let err = admin
            .send_chat(ServerChat {
                room,
                bot_name: name.into(),
                text: text.into(),
            })
            .await
            .expect_err(why);
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().contains(why), "{why}: {err:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_plugin_creates_rooms_moves_and_mutes_users() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut admin = connect(&server.admin_socket).await.unwrap();
    let ana = server.join("Ana").await;
    let mut events = admin
        .watch(WatchRequest { after: None })
        .await
        .unwrap()
        .into_inner();
    let stage = admin
        .create_room(CreateRoomRequest {
            parent: 0,
            name: "Stage".into(),
            description: "for the show".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let (_, kind) = next_state(&mut events).await;
    assert!(matches!(kind, change::Kind::AddRoom(r) if r.id == stage && r.name == "Stage"));
    admin
        .move_user(MoveUserRequest {
            user: "Ana".into(),
            room: stage,
        })
        .await
        .unwrap();
    let (_, kind) = next_state(&mut events).await;
    assert!(matches!(kind, change::Kind::MoveSession(m) if m.session == ana.id && m.room == stage));
    admin
        .set_server_flags(ServerFlagsRequest {
            user: ana.id.to_string(),
            mute: Some(true),
            deaf: None,
        })
        .await
        .unwrap();
    next_state(&mut events).await;
    {
        let hub = server.hub.lock().await;
        let s = hub.state.session(ana.id).unwrap();
        assert!(s.room == stage && s.server_mute && !s.server_deaf, "{s:?}");
    }
    // Refusals name what is wrong.
    let err = admin
        .set_server_flags(ServerFlagsRequest {
            user: "Ana".into(),
            mute: None,
            deaf: None,
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("give mute, deaf or both"), "{err:?}");
    let err = admin
        .move_user(MoveUserRequest {
            user: "Nobody".into(),
            room: stage,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    let err = admin
        .move_user(MoveUserRequest {
            user: "Ana".into(),
            room: 999,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    let err = admin
        .create_room(CreateRoomRequest {
            parent: 0,
            name: "stage".into(),
            description: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    eprintln!("refusals: {}", err.message());
    drop(events);
    server.stop().await;
}
