//! The daemon in-process in a temp dir, driven through its real socket.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::time::Duration;

use voice_proto::pb::control::{self as c, ConnectionState, event};
use voiced::Daemon;

mod support;
use support::{TestDaemon, paths_in};

#[tokio::test]
async fn socket_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let d = TestDaemon::start().await;
    let mode = std::fs::metadata(&d.socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode {mode:o}");
    let dir_mode = std::fs::metadata(d.socket.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700, "socket dir mode {dir_mode:o}");
    let key_mode = std::fs::metadata(d.paths.identity_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
}

#[tokio::test]
async fn a_second_daemon_is_refused() {
    let d = TestDaemon::start().await;
    let err = Daemon::bind(d.paths.clone(), None).await.unwrap_err();
    assert!(err.to_string().contains("already running"), "{err}");
    // The first one still answers.
    let s = d.client().await.status(c::Empty {}).await.unwrap();
    assert_eq!(s.get_ref().state, ConnectionState::Disconnected as i32);
}

#[tokio::test]
async fn a_stale_socket_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let paths = paths_in(dir.path());
    std::fs::create_dir_all(&paths.runtime_dir).unwrap();
    // A socket file nobody listens on, as a crashed daemon leaves it.
    drop(std::os::unix::net::UnixListener::bind(paths.socket()).unwrap());
    assert!(paths.socket().exists());
    let d = TestDaemon::start_in(dir, paths).await;
    let s = d.client().await.status(c::Empty {}).await.unwrap();
    assert_eq!(s.get_ref().state, ConnectionState::Disconnected as i32);
}

#[tokio::test]
async fn shutdown_removes_the_socket_and_the_identity_stays() {
    let d = TestDaemon::start().await;
    let key1 = d
        .client()
        .await
        .identity(c::Empty {})
        .await
        .unwrap()
        .into_inner();
    let socket = d.socket.clone();
    let (dir, paths) = d.stop().await;
    assert!(!socket.exists());
    let d = TestDaemon::start_in(dir, paths).await;
    let key2 = d
        .client()
        .await
        .identity(c::Empty {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(key1.public_key, key2.public_key);
    assert_eq!(key1.public_key.len(), 64);
}

#[tokio::test]
async fn disconnected_calls_say_what_to_do() {
    let d = TestDaemon::start().await;
    let mut c = d.client().await;
    for status in [
        c.state(c::Empty {}).await.unwrap_err(),
        c.join(c::RoomRef {
            room: "Lobby".into(),
        })
        .await
        .unwrap_err(),
        c.send_chat(c::SendChatRequest {
            text: "hi".into(),
            room: String::new(),
        })
        .await
        .unwrap_err(),
    ] {
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert!(status.message().contains("voicectl connect"), "{status:?}");
    }
    // Without audio there are no devices, and choosing one says how to get them.
    let devices = c.devices(c::Empty {}).await.unwrap().into_inner();
    assert_eq!(devices.backend, "null");
    assert!(devices.inputs.is_empty() && devices.outputs.is_empty());
    let chosen = c
        .select_device(c::SelectDeviceRequest {
            direction: c::select_device_request::Direction::Input as i32,
            name: "mic".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(chosen.code(), tonic::Code::Unimplemented);
    assert!(
        chosen.message().contains("--audio-backend cpal"),
        "{chosen:?}"
    );
}

#[tokio::test]
async fn settings_are_kept_while_disconnected() {
    let d = TestDaemon::start().await;
    let mut c = d.client().await;
    c.set_mute(c::Toggle { on: true }).await.unwrap();
    c.set_voice_mode(c::VoiceModeRequest {
        mode: c::VoiceMode::PushToTalk as i32,
    })
    .await
    .unwrap();
    let s = c.status(c::Empty {}).await.unwrap().into_inner();
    assert!(s.self_mute);
    assert!(!s.self_deaf);
    assert_eq!(s.voice_mode, c::VoiceMode::PushToTalk as i32);
    // Deafened implies muted; undeafening restores the user's mute choice.
    c.set_mute(c::Toggle { on: false }).await.unwrap();
    c.set_deaf(c::Toggle { on: true }).await.unwrap();
    let s = c.status(c::Empty {}).await.unwrap().into_inner();
    assert!(s.self_mute && s.self_deaf);
    c.set_deaf(c::Toggle { on: false }).await.unwrap();
    let s = c.status(c::Empty {}).await.unwrap().into_inner();
    assert!(!s.self_mute && !s.self_deaf);

    let name = c
        .set_display_name(c::SetDisplayNameRequest { name: "Ada".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(name.display_name, "Ada");
    let bad = c
        .set_display_name(c::SetDisplayNameRequest { name: " ".into() })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let cfg = std::fs::read_to_string(d.paths.config_file()).unwrap();
    assert!(cfg.contains("Ada"), "{cfg}");
}

#[tokio::test]
async fn bookmarks_and_trust_persist() {
    let d = TestDaemon::start().await;
    let mut c = d.client().await;
    let marks = c
        .save_bookmark(c::Bookmark {
            name: "home".into(),
            server: "Example.org".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(marks.bookmarks.len(), 1);
    assert_eq!(marks.bookmarks[0].server, "example.org:7878");
    let err = c
        .remove_bookmark(c::BookmarkRef {
            name: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let marks = c
        .remove_bookmark(c::BookmarkRef {
            name: "home".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(marks.bookmarks.is_empty());

    let fp = "AB".repeat(32);
    c.trust(c::TrustRequest {
        server: "example.org".into(),
        fingerprint: fp.clone(),
        permanent: true,
    })
    .await
    .unwrap();
    let known = c.known_servers(c::Empty {}).await.unwrap().into_inner();
    assert_eq!(known.servers.len(), 1);
    assert_eq!(known.servers[0].server, "example.org:7878");
    assert_eq!(known.servers[0].fingerprint, "ab".repeat(32));
    let text = std::fs::read_to_string(d.paths.known_servers_file()).unwrap();
    assert!(text.contains("example.org:7878"));
    let bad = c
        .trust(c::TrustRequest {
            server: "example.org".into(),
            fingerprint: "xyz".into(),
            permanent: true,
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn watch_starts_with_the_status_and_follows_changes() {
    let d = TestDaemon::start().await;
    let mut c = d.client().await;
    let mut events = c
        .watch(c::WatchRequest { levels: false })
        .await
        .unwrap()
        .into_inner();
    let first = events.message().await.unwrap().unwrap();
    assert!(matches!(first.kind, Some(event::Kind::Connection(_))));
    c.set_mute(c::Toggle { on: true }).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(30), events.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match next.kind {
        Some(event::Kind::Connection(s)) => assert!(s.self_mute),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_dead_server_is_a_clear_error_and_the_daemon_stays_up() {
    let d = TestDaemon::start().await;
    let mut c = d.client().await;
    // A UDP port that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let err = c
        .connect(c::ConnectRequest {
            server: format!("127.0.0.1:{port}"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("no answer"), "{err:?}");
    let s = c.status(c::Empty {}).await.unwrap().into_inner();
    assert_eq!(s.state, ConnectionState::Disconnected as i32);
    assert!(s.last_error.contains("no answer"), "{s:?}");

    let err = c
        .connect(c::ConnectRequest {
            server: "host.invalid:7878".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("cannot resolve"), "{err:?}");
    let err = c
        .connect(c::ConnectRequest {
            server: "localhost:notaport".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn shutdown_ends_watch_streams_instead_of_waiting_for_them() {
    let d = TestDaemon::start().await;
    let mut c = d.client().await;
    let mut events = c
        .watch(c::WatchRequest { levels: true })
        .await
        .unwrap()
        .into_inner();
    events.message().await.unwrap().unwrap();
    // Without ending the stream, the graceful stop would wait for this
    // front end forever (as `systemctl --user restart voiced` would).
    tokio::time::timeout(Duration::from_secs(30), d.stop())
        .await
        .expect("voiced must stop while a front end watches");
    let end = tokio::time::timeout(Duration::from_secs(30), events.message())
        .await
        .expect("the watch stream must end");
    assert!(!matches!(end, Ok(Some(_))), "no events after shutdown");
}
