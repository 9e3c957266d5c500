//! Login: success, refusals, replay, garbage, timeouts and throttling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;
use voice_proto::close;
use voice_proto::pb::wire::{Authenticate, Hello, StreamKind, client_msg, server_msg::Msg};

#[tokio::test]
async fn login_succeeds_and_welcome_holds_my_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let client = server.join("alice").await;
    let me = client
        .state
        .session(client.id)
        .expect("my session is in the snapshot");
    assert_eq!(me.name, "alice");
    assert_eq!(me.room, 0);
    assert!(
        me.roles.contains(&"known".to_owned()),
        "open registration makes me known"
    );
    server.stop().await;
}

#[tokio::test]
async fn wrong_password_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut login = server.login("mallory");
    login.password = "wrong".into();
    let (code, reason) = Client::connect(&server, login)
        .await
        .err()
        .expect("refused");
    assert_eq!(code, close::AUTH_FAILED);
    assert!(reason.contains("password"), "{reason}");
    server.stop().await;
}

#[tokio::test]
async fn bad_signature_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let conn = quic_connect(&server).await;
    let (send, recv) = conn.open_bi().await.unwrap();
    let mut s = Stream::new(send, recv);
    s.send(hello()).await;
    let Some(Msg::Challenge(_)) = s.next().await else {
        panic!("challenge")
    };
    let login = server.login("mallory");
    s.send(client_msg::Msg::Authenticate(Authenticate {
        protocol_version: 1,
        public_key: login.key.verifying_key().to_bytes().to_vec(),
        signature: vec![7; 64],
        password: server.password.clone(),
        display_name: "mallory".into(),
        ..Authenticate::default()
    }))
    .await;
    let (code, reason) = close_of(&conn).await;
    assert_eq!(code, close::AUTH_FAILED);
    assert!(reason.contains("signature"), "{reason}");
    server.stop().await;
}

fn hello() -> client_msg::Msg {
    client_msg::Msg::Hello(Hello {
        protocol_version: 1,
        kind: StreamKind::Control as i32,
        client: "test".into(),
    })
}

#[tokio::test]
async fn signature_replayed_from_another_connection_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let login = server.login("victim");
    // The victim's connection: sign its challenge honestly.
    let a = quic_connect(&server).await;
    let (send, recv) = a.open_bi().await.unwrap();
    let mut sa = Stream::new(send, recv);
    sa.send(hello()).await;
    let Some(Msg::Challenge(ca)) = sa.next().await else {
        panic!("challenge")
    };
    let mut exporter_a = [0u8; 32];
    a.export_keying_material(&mut exporter_a, voice_proto::auth::EXPORTER_LABEL, b"")
        .unwrap();
    let signature = voice_proto::auth::sign(&login.key, &ca.nonce, &exporter_a);
    // The attacker's connection gets another nonce and exporter; replay the signature there.
    let b = quic_connect(&server).await;
    let (send, recv) = b.open_bi().await.unwrap();
    let mut sb = Stream::new(send, recv);
    sb.send(hello()).await;
    let Some(Msg::Challenge(_)) = sb.next().await else {
        panic!("challenge")
    };
    sb.send(client_msg::Msg::Authenticate(Authenticate {
        protocol_version: 1,
        public_key: login.key.verifying_key().to_bytes().to_vec(),
        signature: signature.to_bytes().to_vec(),
        password: server.password.clone(),
        display_name: "victim".into(),
        ..Authenticate::default()
    }))
    .await;
    let (code, _) = close_of(&b).await;
    assert_eq!(code, close::AUTH_FAILED);
    server.stop().await;
}

#[tokio::test]
async fn garbage_before_the_handshake_closes_with_protocol_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let conn = quic_connect(&server).await;
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    send.write_all(&raw_frame(5, b"\xff\xff\xff\xff\xff"))
        .await
        .unwrap();
    let (code, _) = close_of(&conn).await;
    assert_eq!(code, close::PROTOCOL_ERROR);
    // An oversize prefix before login is refused at once, too.
    let conn = quic_connect(&server).await;
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    send.write_all(&raw_frame(1 << 30, b"")).await.unwrap();
    let (code, reason) = close_of(&conn).await;
    assert_eq!(code, close::PROTOCOL_ERROR);
    assert!(reason.contains("exceeds"), "{reason}");
    // The server still serves others.
    server.join("bob").await;
    server.stop().await;
}

#[tokio::test]
async fn handshake_timeout_closes_and_does_not_delay_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.handshake_timeout_ms = 1500;
    let server = TestServer::start(config).await;
    // A peer that opens a stream and never finishes the login.
    let stalled = quic_connect(&server).await;
    let (send, recv) = stalled.open_bi().await.unwrap();
    let mut s = Stream::new(send, recv);
    s.send(hello()).await;
    // Meanwhile another client logs in completely before the stalled one times out.
    let _ok = server.join("carol").await;
    assert!(
        stalled.close_reason().is_none(),
        "the stalled peer is still waiting"
    );
    let (code, _) = close_of(&stalled).await;
    assert_eq!(code, close::AUTH_TIMEOUT);
    server.stop().await;
}

#[tokio::test]
async fn repeated_failures_throttle_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.throttle_failures = 3;
    let server = TestServer::start(config).await;
    for _ in 0..3 {
        let mut login = server.login("mallory");
        login.password = "nope".into();
        let (code, _) = Client::connect(&server, login)
            .await
            .err()
            .expect("refused");
        assert_eq!(code, close::AUTH_FAILED);
    }
    // Now even the right password is refused from this address.
    let (code, reason) = Client::connect(&server, server.login("mallory"))
        .await
        .err()
        .expect("throttled");
    assert_eq!(code, close::THROTTLED);
    assert!(reason.contains("try again"), "{reason}");
    server.stop().await;
}

#[tokio::test]
async fn open_server_with_empty_password_and_generated_password() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.password = Some(String::new());
    let server = TestServer::start(config).await;
    let mut login = server.login("anyone");
    login.password = "whatever".into();
    Client::connect(&server, login).await.expect("open server");
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config(dir.path());
    config.password = None;
    let server = TestServer::start(config.clone()).await;
    let generated = server.password.clone();
    assert!(generated.len() >= 16, "a generated password is printed");
    server.join("first").await;
    server.stop().await;
    // The same password after a restart, no longer shown.
    let mut server = TestServer::start(config).await;
    assert!(
        server.password.is_empty(),
        "a kept password is not shown again"
    );
    server.password = generated;
    server.join("again").await;
    server.stop().await;
}

#[tokio::test]
async fn admin_token_grants_admin_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let token = server
        .admin_token
        .clone()
        .expect("a fresh server prints a token");
    let mut login = server.login("boss");
    login.admin_token = token.clone();
    let boss = Client::connect(&server, login).await.unwrap();
    assert!(
        boss.state
            .session(boss.id)
            .unwrap()
            .roles
            .contains(&"admin".to_owned())
    );
    let mut login = server.login("latecomer");
    login.admin_token = token;
    let late = Client::connect(&server, login).await.unwrap();
    assert!(
        !late
            .state
            .session(late.id)
            .unwrap()
            .roles
            .contains(&"admin".to_owned())
    );
    server.stop().await;
    // Claimed: no token in the banner after a restart.
    let server = TestServer::in_dir(dir.path()).await;
    assert!(server.admin_token.is_none());
    server.stop().await;
}

#[tokio::test]
async fn datagrams_before_login_are_not_relayed() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let listener = server.join("listener").await;
    let early = quic_connect(&server).await;
    let mut buf = Vec::new();
    voice_proto::voice::encode_client(&mut buf, 0, 1, b"early");
    early.send_datagram(buf.into()).unwrap();
    let client = Client::handshake(early, server.login("speaker"))
        .await
        .unwrap();
    client.speak(2, b"after");
    let got = tokio::time::timeout(WAIT, listener.conn.read_datagram())
        .await
        .unwrap()
        .unwrap();
    let v = voice_proto::voice::decode_server(&got, 1000).unwrap();
    assert_eq!(v.opus, b"after", "the pre-login datagram was dropped");
    server.stop().await;
}

#[tokio::test]
async fn another_protocol_version_is_told_so() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let conn = quic_connect(&server).await;
    let (send, recv) = conn.open_bi().await.unwrap();
    let mut s = Stream::new(send, recv);
    s.send(client_msg::Msg::Hello(Hello {
        protocol_version: 2,
        kind: StreamKind::Control as i32,
        client: "future".into(),
    }))
    .await;
    let (code, reason) = close_of(&conn).await;
    assert_eq!(code, close::VERSION_MISMATCH);
    assert!(reason.contains("version 1"), "{reason}");
    server.stop().await;
}

#[tokio::test]
async fn a_peer_trickling_a_frame_before_login_is_cut_off_without_delaying_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.handshake_timeout_ms = 2000;
    let server = TestServer::start(config).await;
    let slow = quic_connect(&server).await;
    let (mut send, _recv) = slow.open_bi().await.unwrap();
    // Announce the largest frame allowed before login, then send it a byte at a time.
    send.write_all(&(4096u32).to_be_bytes()).await.unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..4096 {
            if send.write_all(&[0]).await.is_err() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    });
    server.join("meanwhile").await;
    let (code, _) = close_of(&slow).await;
    assert_eq!(code, close::AUTH_TIMEOUT);
    trickle.abort();
    server.stop().await;
}
