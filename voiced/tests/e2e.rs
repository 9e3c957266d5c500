//! voiced against a real voice-server in-process: trust, two daemons
//! sharing rooms and chat, and reconnection after a server restart.
#![allow(clippy::unwrap_used)] // test code: a failure is a test failure

use std::time::Instant;

use voice_proto::pb::control::{self as c, ConnectionState};
use voiced_client::mirror::{Mirror, News};

mod support;
use support::{PASSWORD, TestDaemon, TestServer, connect, connect_as_admin, wait_chat, wait_state};

fn room_id(state: &c::StateReply, name: &str) -> Option<u32> {
    state
        .state
        .as_ref()?
        .rooms
        .iter()
        .find(|r| r.name == name)
        .map(|r| r.id)
}

fn my_session(state: &c::StateReply) -> Option<&voice_proto::pb::wire::Session> {
    state
        .state
        .as_ref()?
        .sessions
        .iter()
        .find(|s| s.id == state.session_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_on_first_use_only_after_acceptance_and_changes_refused() {
    let server = TestServer::start().await;
    let d = TestDaemon::start().await;
    let mut c = d.client().await;
    let req = c::ConnectRequest {
        server: server.server(),
        password: PASSWORD.into(),
        ..Default::default()
    };
    // First contact: refused, with the fingerprint and what to do; watchers
    // get a trust prompt.
    let mut events = c
        .watch(c::WatchRequest { levels: false })
        .await
        .unwrap()
        .into_inner();
    let err = c.connect(req.clone()).await.unwrap_err();
    let prompt = tokio::time::timeout(support::WAIT, async {
        loop {
            if let Some(c::event::Kind::Trust(p)) = events.message().await.unwrap().unwrap().kind {
                return p;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(prompt.fingerprint, server.fingerprint);
    assert!(prompt.previous_fingerprint.is_empty());
    assert!(err.message().contains(&server.fingerprint), "{err:?}");
    assert!(err.message().contains("voicectl trust"), "{err:?}");
    // The refused call carries the same prompt as data for front ends.
    assert_eq!(
        voiced_client::trust::prompt_from_status(&err).as_ref(),
        Some(&prompt),
        "{err:?}"
    );
    assert!(
        c.known_servers(c::Empty {})
            .await
            .unwrap()
            .into_inner()
            .servers
            .is_empty()
    );
    // Accepting a different fingerprint does not help.
    let err = c
        .connect(c::ConnectRequest {
            accept_fingerprint: "00".repeat(32),
            ..req.clone()
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("not trusted"), "{err:?}");
    // Accepting the right one connects and pins it.
    let s = c
        .connect(c::ConnectRequest {
            accept_fingerprint: server.fingerprint.clone(),
            ..req.clone()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.state, ConnectionState::Connected as i32);
    assert_eq!(s.fingerprint, server.fingerprint);
    let known = c.known_servers(c::Empty {}).await.unwrap().into_inner();
    assert_eq!(known.servers[0].fingerprint, server.fingerprint);
    // Later connections need no acceptance.
    c.disconnect(c::Empty {}).await.unwrap();
    c.connect(req.clone()).await.unwrap();

    // Another server (another certificate) where this one was pinned.
    let other = TestServer::start().await;
    c.trust(c::TrustRequest {
        server: other.server(),
        fingerprint: server.fingerprint.clone(),
        permanent: true,
    })
    .await
    .unwrap();
    let err = c
        .connect(c::ConnectRequest {
            server: other.server(),
            accept_new: true,
            ..req.clone()
        })
        .await
        .unwrap_err();
    let msg = err.message();
    assert!(msg.contains("CHANGED"), "{msg}");
    assert!(
        msg.contains(&server.fingerprint) && msg.contains(&other.fingerprint),
        "{msg}"
    );
    assert!(msg.contains("UTC"), "{msg}");
    let changed = voiced_client::trust::prompt_from_status(&err).expect("a typed prompt");
    assert_eq!(
        (changed.fingerprint, changed.previous_fingerprint),
        (other.fingerprint.clone(), server.fingerprint.clone())
    );
    assert!(changed.previous_first_seen_ms > 0);
    // The daemon is still up and disconnected.
    let s = c.status(c::Empty {}).await.unwrap().into_inner();
    assert_eq!(s.state, ConnectionState::Disconnected as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_share_rooms_chat_and_flags() {
    let server = TestServer::start().await;
    let (da, db) = (TestDaemon::start().await, TestDaemon::start().await);
    let (mut a, mut b) = (da.client().await, db.client().await);
    // Ada presents the admin token: she may edit rooms and move people.
    let sa = connect_as_admin(&mut a, &server, "Ada").await;
    let sb = connect(&mut b, &server, "Bob").await;
    assert_eq!(sa.state, ConnectionState::Connected as i32);
    assert_eq!(sb.display_name, "Bob");

    let lobby = a
        .create_room(c::CreateRoomRequest {
            parent: String::new(),
            name: "Lobby".into(),
            description: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let games = a
        .create_room(c::CreateRoomRequest {
            parent: "Lobby".into(),
            name: "Games".into(),
            description: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    assert_ne!(lobby, games);
    a.join(c::RoomRef {
        room: "Lobby/Games".into(),
    })
    .await
    .unwrap();
    b.join(c::RoomRef {
        room: "/Lobby/Games".into(),
    })
    .await
    .unwrap();
    wait_state(&mut a, |_, st| {
        st.is_some_and(|st| {
            st.state
                .as_ref()
                .is_some_and(|s| s.sessions.iter().filter(|x| x.room == games).count() == 2)
        })
    })
    .await;

    // Chat both ways.
    a.send_chat(c::SendChatRequest {
        text: "hello from Ada".into(),
        room: String::new(),
    })
    .await
    .unwrap();
    b.send_chat(c::SendChatRequest {
        text: "hi Ada".into(),
        room: String::new(),
    })
    .await
    .unwrap();
    for client in [&mut a, &mut b] {
        let h = wait_chat(client, 2).await;
        let texts: Vec<&str> = h.iter().map(|m| m.text.as_str()).collect();
        assert!(
            texts.contains(&"hello from Ada") && texts.contains(&"hi Ada"),
            "{texts:?}"
        );
    }
    // Over-long chat: a clear message, nothing sent.
    let err = a
        .send_chat(c::SendChatRequest {
            text: "x".repeat(6000),
            room: String::new(),
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("too long"), "{err:?}");

    // Mute and deafen are visible to the other daemon.
    a.set_mute(c::Toggle { on: true }).await.unwrap();
    b.set_deaf(c::Toggle { on: true }).await.unwrap();
    let a_session = sa.session_id;
    let b_session = sb.session_id;
    wait_state(&mut b, |_, st| {
        st.and_then(|st| st.state.as_ref())
            .and_then(|s| s.sessions.iter().find(|x| x.id == a_session))
            .is_some_and(|x| x.self_mute && !x.self_deaf)
    })
    .await;
    wait_state(&mut a, |_, st| {
        st.and_then(|st| st.state.as_ref())
            .and_then(|s| s.sessions.iter().find(|x| x.id == b_session))
            .is_some_and(|x| x.self_mute && x.self_deaf)
    })
    .await;

    // Bob may not move Ada; the refusal names the permission.
    let err = b
        .move_user(c::MoveUserRequest {
            user: "Ada".into(),
            room: "/".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    assert!(err.message().contains("move_users"), "{err:?}");

    // Move a user, rename and delete rooms.
    a.move_user(c::MoveUserRequest {
        user: "Bob".into(),
        room: "Lobby".into(),
    })
    .await
    .unwrap();
    a.rename_room(c::RenameRoomRequest {
        room: "Lobby/Games".into(),
        name: "Chess".into(),
    })
    .await
    .unwrap();
    a.delete_room(c::RoomRef {
        room: "Lobby/Chess".into(),
    })
    .await
    .unwrap();
    // Ada was in the deleted room: she lands in its parent.
    wait_state(&mut b, |_, st| {
        st.is_some_and(|st| {
            room_id(st, "Chess").is_none()
                && room_id(st, "Games").is_none()
                && st
                    .state
                    .as_ref()
                    .is_some_and(|s| s.sessions.iter().all(|x| x.room == lobby))
        })
    })
    .await;

    // Bad input: clear messages, the daemons stay up.
    let err = a
        .join(c::RoomRef {
            room: "No/Such/Room".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    assert!(err.message().contains("no room"), "{err:?}");
    let err = a
        .move_user(c::MoveUserRequest {
            user: "Nobody".into(),
            room: "Lobby".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    assert!(err.message().contains("voicectl users"), "{err:?}");

    // The state hashes of both daemons equal the server's.
    let want = server.hash().await.to_vec();
    for client in [&mut a, &mut b] {
        let w = want.clone();
        wait_state(client, move |_, st| st.is_some_and(|st| st.hash == w)).await;
    }
    assert_eq!(
        my_session(&a.state(c::Empty {}).await.unwrap().into_inner())
            .unwrap()
            .name,
        "Ada"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_daemons_return_to_their_rooms_after_a_server_restart() {
    let server = TestServer::start().await;
    let (da, db) = (TestDaemon::start().await, TestDaemon::start().await);
    let (mut a, mut b) = (da.client().await, db.client().await);
    connect(&mut a, &server, "Ada").await;
    connect(&mut b, &server, "Bob").await;
    for name in ["Red", "Blue"] {
        a.create_room(c::CreateRoomRequest {
            parent: String::new(),
            name: name.into(),
            description: String::new(),
        })
        .await
        .unwrap();
    }
    a.join(c::RoomRef { room: "Red".into() }).await.unwrap();
    b.join(c::RoomRef {
        room: "Blue".into(),
    })
    .await
    .unwrap();
    let st = a.state(c::Empty {}).await.unwrap().into_inner();
    let (red, blue) = (room_id(&st, "Red").unwrap(), room_id(&st, "Blue").unwrap());
    wait_state(&mut b, |s, _| s.room == blue).await;

    let (dir, addr) = server.stop().await;
    wait_state(&mut a, |s, _| {
        s.state == ConnectionState::Reconnecting as i32
    })
    .await;
    let reconnecting = b.status(c::Empty {}).await.unwrap().into_inner();
    assert_ne!(reconnecting.state, ConnectionState::Connected as i32);

    let server = TestServer::start_in(dir, addr).await;
    let up = Instant::now();
    let (mut a2, mut b2) = (a.clone(), b.clone());
    let back_a = tokio::spawn(async move {
        wait_state(&mut a2, |s, _| {
            s.state == ConnectionState::Connected as i32 && s.room == red
        })
        .await;
        up.elapsed()
    });
    let back_b = tokio::spawn(async move {
        wait_state(&mut b2, |s, _| {
            s.state == ConnectionState::Connected as i32 && s.room == blue
        })
        .await;
        up.elapsed()
    });
    let (ta, tb) = (back_a.await.unwrap(), back_b.await.unwrap());
    println!(
        "reconnect after server restart: Ada back in Red after {} ms, Bob back in Blue after {} ms (target: 2000 ms)",
        ta.as_millis(),
        tb.as_millis()
    );
    let want = server.hash().await.to_vec();
    for client in [&mut a, &mut b] {
        let w = want.clone();
        wait_state(client, move |_, st| st.is_some_and(|st| st.hash == w)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_proposals_all_land() {
    let server = TestServer::start().await;
    let (da, db) = (TestDaemon::start().await, TestDaemon::start().await);
    let (mut a, mut b) = (da.client().await, db.client().await);
    connect(&mut a, &server, "Ada").await;
    connect(&mut b, &server, "Bob").await;
    // Many at once from each daemon: one daemon never makes its own
    // proposals stale, and a proposal made stale by the other daemon is
    // retried after catching up.
    let mut tasks = Vec::new();
    for (who, client) in [("a", a.clone()), ("b", b.clone())] {
        for n in 0..4 {
            let mut c = client.clone();
            tasks.push(tokio::spawn(async move {
                c.create_room(c::CreateRoomRequest {
                    parent: String::new(),
                    name: format!("{who}{n}"),
                    description: String::new(),
                })
                .await
            }));
        }
    }
    let mut failures = Vec::new();
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            failures.push(e.message().to_owned());
        }
    }
    // Two clients racing: a proposal may lose twice in a row; that is
    // reported as "try again", never as anything else.
    for f in &failures {
        assert!(f.contains("try again"), "{f}");
    }
    let want = server.hash().await.to_vec();
    for client in [&mut a, &mut b] {
        let w = want.clone();
        wait_state(client, move |_, st| st.is_some_and(|st| st.hash == w)).await;
    }
    let rooms = a
        .state(c::Empty {})
        .await
        .unwrap()
        .into_inner()
        .state
        .unwrap()
        .rooms
        .len();
    println!(
        "concurrent creates: {} of 8 landed, {} asked to try again",
        rooms - 1,
        failures.len()
    );
    assert_eq!(rooms - 1 + failures.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_from_one_daemon_shows_as_talking_on_the_other() {
    let server = TestServer::start().await;
    let (da, db) = (TestDaemon::start().await, TestDaemon::start().await);
    let (mut a, mut b) = (da.client().await, db.client().await);
    let sa = connect(&mut a, &server, "Ada").await;
    connect(&mut b, &server, "Bob").await;
    let mut events = b
        .watch(c::WatchRequest { levels: false })
        .await
        .unwrap()
        .into_inner();
    // Datagrams may be lost even on loopback: keep talking until heard.
    let engine = da.engine.clone();
    let sender = tokio::spawn(async move {
        for seq in 0..2000u32 {
            engine.send_voice(seq, &[0xf8, 0xff, 0xfe], false);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    let t = next_talking(&mut events).await;
    sender.abort();
    assert_eq!(t.session, sa.session_id);
    assert!(t.talking);
    let engine = da.engine.clone();
    let ender = tokio::spawn(async move {
        for seq in 2000..4000u32 {
            engine.send_voice(seq, &[], true);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    let t = next_talking(&mut events).await;
    ender.abort();
    assert_eq!(t.session, sa.session_id);
    assert!(!t.talking);
}

async fn next_talking(events: &mut tonic::Streaming<c::Event>) -> c::Talking {
    tokio::time::timeout(support::WAIT, async {
        loop {
            if let Some(c::event::Kind::Talking(t)) = events.message().await.unwrap().unwrap().kind
            {
                return t;
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_mute_and_kick_need_the_permission_and_take_effect() {
    let server = TestServer::start().await;
    let (da, db) = (TestDaemon::start().await, TestDaemon::start().await);
    let (mut a, mut b) = (da.client().await, db.client().await);
    connect_as_admin(&mut a, &server, "Ada").await;
    let sb = connect(&mut b, &server, "Bob").await;
    wait_state(&mut b, |_, st| {
        st.is_some_and(|st| st.state.as_ref().is_some_and(|s| s.sessions.len() == 2))
    })
    .await;

    // Bob may do neither to Ada: clear refusals, nothing changes.
    let denied = b
        .server_mute(c::ServerMuteRequest {
            user: "Ada".into(),
            mute: true,
            deaf: false,
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied, "{denied:?}");
    let denied = b
        .kick(c::KickRequest {
            user: "Ada".into(),
            reason: "no".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied, "{denied:?}");

    // Ada server-mutes Bob: both mirrors show it.
    a.server_mute(c::ServerMuteRequest {
        user: "Bob".into(),
        mute: true,
        deaf: true,
    })
    .await
    .unwrap();
    let bob_muted = |st: Option<&c::StateReply>| {
        st.and_then(|st| st.state.as_ref())
            .and_then(|s| s.sessions.iter().find(|x| x.id == sb.session_id))
            .is_some_and(|x| x.server_mute && x.server_deaf)
    };
    wait_state(&mut b, |_, st| bob_muted(st)).await;
    wait_state(&mut a, |_, st| bob_muted(st)).await;

    // Ada kicks Bob with a ban: Bob's daemon is disconnected, says why, and
    // does not come back by itself.
    a.kick(c::KickRequest {
        user: "Bob".into(),
        reason: "enough".into(),
        ban: true,
        ban_seconds: 60,
    })
    .await
    .unwrap();
    wait_state(&mut b, |s, _| {
        s.state == ConnectionState::Disconnected as i32 && !s.last_error.is_empty()
    })
    .await;
    let status = b.status(c::Empty {}).await.unwrap().into_inner();
    assert!(
        status.last_error.contains("banned") || status.last_error.contains("kicked"),
        "{status:?}"
    );
    wait_state(&mut a, |_, st| {
        st.and_then(|st| st.state.as_ref())
            .is_some_and(|s| s.sessions.iter().all(|x| x.id != sb.session_id))
    })
    .await;
    // The ban holds: Bob's next attempt is refused.
    let again = b
        .connect(c::ConnectRequest {
            server: server.server(),
            password: PASSWORD.into(),
            display_name: "Bob".into(),
            ..Default::default()
        })
        .await;
    let refused = match again {
        Err(e) => e.message().to_owned(),
        Ok(s) => s.into_inner().last_error,
    };
    assert!(refused.contains("banned"), "{refused}");
}

/// A front end's mirror fed by the real link to `socket`: every report of
/// voiced goes through `Mirror::apply` and what it asks for is sent, as in
/// the TUI and the GUI. Returns the call queue and a receiver of (mirror
/// after the report, its news).
fn mirrored_front_end(
    socket: std::path::PathBuf,
) -> (
    tokio::sync::mpsc::UnboundedSender<voiced_client::command::Command>,
    tokio::sync::mpsc::UnboundedReceiver<(Mirror, Vec<News>)>,
) {
    let (calls, queued) = tokio::sync::mpsc::unbounded_channel();
    let (seen, views) = tokio::sync::mpsc::unbounded_channel();
    let mirror = std::sync::Arc::new(std::sync::Mutex::new(Mirror::new()));
    let asks = calls.clone();
    let report = move |report| {
        let mut mirror = mirror.lock().unwrap();
        let applied = mirror.apply(report);
        // What the mirror asks for goes out, as a front end sends it.
        for command in applied.commands {
            let _ = asks.send(mirror.sent(command));
        }
        seen.send((mirror.clone(), applied.news)).is_ok()
    };
    tokio::spawn(voiced_client::link::run_link(
        socket,
        c::WatchRequest { levels: false },
        report,
        queued,
    ));
    (calls, views)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn words_of_a_trust_prompt_in_a_kick_reason_or_chat_raise_no_prompt() {
    let server = TestServer::start().await;
    let (da, db) = (TestDaemon::start().await, TestDaemon::start().await);
    let (mut a, mut b) = (da.client().await, db.client().await);
    connect_as_admin(&mut a, &server, "Ada").await;
    connect(&mut b, &server, "Bob").await;
    let (bob_calls, mut bob_sees) = mirrored_front_end(db.socket.clone());
    // The front end is watching before anything is said (chat is live only).
    tokio::time::timeout(support::WAIT, async {
        while bob_sees.recv().await.expect("the link runs").0.connection()
            != ConnectionState::Connected
        {}
    })
    .await
    .expect("Bob's front end sees him connected");
    // The wording the front ends once parsed, naming this very server.
    let forged = format!(
        "the certificate of {} is not trusted (self-signed or unknown CA); its SHA-256 \
         fingerprint is {}. the certificate of {} CHANGED: it is now {}, but {} was pinned",
        server.server(),
        "ab".repeat(32),
        server.server(),
        "ab".repeat(32),
        "cd".repeat(32)
    );
    // Its words in chat, in a kick-and-ban reason (an error event and the
    // status's last error), and in the refusal of Bob's next connect, made
    // from his front end (a failed call).
    a.send_chat(c::SendChatRequest {
        text: forged.clone(),
        room: String::new(),
    })
    .await
    .unwrap();
    wait_chat(&mut b, 1).await;
    a.kick(c::KickRequest {
        user: "Bob".into(),
        reason: forged.clone(),
        ban: true,
        ban_seconds: 60,
    })
    .await
    .unwrap();
    wait_state(&mut b, |s, _| {
        s.state == ConnectionState::Disconnected as i32 && !s.last_error.is_empty()
    })
    .await;
    bob_calls
        .send(voiced_client::command::Command::Connect(
            c::ConnectRequest {
                server: server.server(),
                password: PASSWORD.into(),
                display_name: "Bob".into(),
                ..Default::default()
            },
        ))
        .unwrap();
    let (mut chat_seen, mut reason_seen, mut refusal_seen) = (false, false, false);
    let mut last = String::new();
    let reached = tokio::time::timeout(support::WAIT, async {
        while !(chat_seen && reason_seen && refusal_seen) {
            let (mirror, news) = bob_sees.recv().await.expect("the link runs");
            last = format!("{:?} {news:?}", mirror.status);
            assert!(mirror.trust.is_none(), "a prompt from words: {news:?}");
            assert!(!news.contains(&News::TrustAsked), "{news:?}");
            chat_seen |= mirror.chat.all().iter().any(|m| m.text == forged);
            reason_seen |= mirror.status.last_error.contains("CHANGED");
            // The refusal comes as the call's error or in the status it answers.
            refusal_seen |= news.iter().any(|n| {
                matches!(n, News::Failed { what: "connect", message } if message.contains("banned"))
            }) || (reason_seen && mirror.status.last_error.contains("banned"));
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "Bob's front end saw the chat: {chat_seen}, the kick reason: {reason_seen}, \
         the refused connect: {refusal_seen}; last: {last}"
    );
}
