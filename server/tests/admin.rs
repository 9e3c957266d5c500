//! The admin gRPC service over its real Unix socket, and moderation on the wire.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;
use voice_proto::close;
use voice_proto::pb::admin::{BanRequest, Empty, ExplainRequest, KickRequest, RoleGrant, UserKey};
use voice_proto::pb::wire::{Permission, client_msg, server_msg::Msg};
use voice_server::admin::client::{AdminCommand, connect, parse_rule, run};

#[tokio::test]
async fn admin_socket_is_private_and_manages_users() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&server.admin_socket)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the admin socket is private");
    }
    let mut alice = server.join("alice").await;
    let mut admin = connect(&server.admin_socket).await.unwrap();
    let sessions = admin
        .sessions(Empty {})
        .await
        .unwrap()
        .into_inner()
        .sessions;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].name, "alice");

    // Granting admin reaches the session as a state update.
    admin
        .grant_role(RoleGrant {
            user: "alice".into(),
            role: "admin".into(),
        })
        .await
        .unwrap();
    let inner_seq = server.hub.lock().await.seq;
    alice.catch_up(inner_seq).await;
    assert!(
        alice
            .state
            .session(alice.id)
            .unwrap()
            .roles
            .contains(&"admin".to_owned())
    );
    let users = admin.users(Empty {}).await.unwrap().into_inner().users;
    assert!(users.iter().any(|u| u.roles.contains(&"admin".to_owned())));

    // Explain through the CLI path.
    let lines = run(
        &server.admin_socket,
        AdminCommand::Explain {
            room: "0".into(),
            user: alice.id.to_string(),
        },
    )
    .await
    .unwrap();
    assert!(lines[0].contains("(admin)"), "{lines:?}");

    // The file relay's switch, counters and limits.
    let lines = run(&server.admin_socket, AdminCommand::Relay)
        .await
        .unwrap();
    assert_eq!(
        lines,
        [
            "enabled: yes",
            "active: 0",
            "opened: 0",
            "refused: 0",
            "bytes: 0",
            "limit: 8388608 bytes/s",
            "session limit: 2097152 bytes/s",
            "streams per session: 4",
        ]
    );
    let e = admin
        .explain(ExplainRequest {
            room: "0".into(),
            user: "alice".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(e.admin);

    // ACL rules parse as the CLI documents them.
    let rule = parse_rule("@everyone:traverse,enter:speak:here").unwrap();
    assert_eq!(
        rule.deny,
        voice_proto::acl::Permissions::bit(Permission::Speak)
    );
    assert!(rule.apply_here && !rule.apply_subs);

    // Kick, then ban: the key cannot come back until unbanned.
    let bob_login = server.login("bob");
    let bob = Client::connect(&server, bob_login.clone()).await.unwrap();
    admin
        .kick(KickRequest {
            user: "bob".into(),
            reason: "calm down".into(),
        })
        .await
        .unwrap();
    let (code, reason) = close_of(&bob.conn).await;
    assert_eq!(code, close::KICKED);
    assert!(reason.contains("calm down"), "{reason}");
    let bob = Client::connect(&server, bob_login.clone()).await.unwrap();
    let key = voice_proto::hash::hex(&bob_login.key.verifying_key().to_bytes());
    admin
        .ban(BanRequest {
            user: key.clone(),
            reason: "spam".into(),
            seconds: 0,
        })
        .await
        .unwrap();
    let (code, _) = close_of(&bob.conn).await;
    assert_eq!(code, close::BANNED);
    let (code, reason) = Client::connect(&server, bob_login.clone())
        .await
        .err()
        .expect("banned");
    assert_eq!(code, close::BANNED);
    assert!(reason.contains("spam"), "{reason}");
    let bans = admin.bans(Empty {}).await.unwrap().into_inner().bans;
    assert_eq!(bans.len(), 1);
    // Banned from the admin socket, by key, while online: the record keeps
    // the name they had and who banned them.
    assert_eq!(
        (bans[0].name.as_str(), bans[0].banned_by.as_str()),
        ("bob", "server")
    );
    admin.unban(UserKey { user: key }).await.unwrap();
    Client::connect(&server, bob_login).await.expect("unbanned");
    server.stop().await;
}

#[tokio::test]
async fn kick_request_on_the_wire_needs_the_kick_permission() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut login = server.login("boss");
    login.admin_token = server.admin_token.clone().unwrap();
    let mut boss = Client::connect(&server, login).await.unwrap();
    let mut pleb = server.join("pleb").await;
    let victim = server.join("victim").await;
    pleb.control
        .send(client_msg::Msg::Kick(voice_proto::pb::wire::KickRequest {
            request_id: 7,
            session: victim.id,
            reason: "no".into(),
            ban: false,
            ban_seconds: 0,
        }))
        .await;
    match pleb.next_reply().await {
        Some(Msg::Failed(f)) => {
            assert_eq!(f.request_id, 7);
            assert!(f.message.contains("kick"), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
    boss.control
        .send(client_msg::Msg::Kick(voice_proto::pb::wire::KickRequest {
            request_id: 8,
            session: victim.id,
            reason: "bye".into(),
            ban: false,
            ban_seconds: 0,
        }))
        .await;
    let (code, reason) = close_of(&victim.conn).await;
    assert_eq!(code, close::KICKED);
    assert!(reason.contains("bye"));
    loop {
        match boss.next_reply().await {
            Some(Msg::Accepted(a)) if a.request_id == 8 => break,
            Some(_) => {}
            None => panic!("boss lost its connection"),
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn admin_registration_keeps_unknown_keys_out_of_known_until_registered() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.registration = voice_server::config::Registration::Admin;
    let server = TestServer::start(config).await;
    let mut login = server.login("boss");
    login.admin_token = server.admin_token.clone().unwrap();
    let mut boss = Client::connect(&server, login).await.unwrap();
    let newcomer_login = server.login("newcomer");
    let newcomer = Client::connect(&server, newcomer_login.clone())
        .await
        .unwrap();
    assert!(
        newcomer
            .state
            .session(newcomer.id)
            .unwrap()
            .roles
            .is_empty()
    );
    boss.control
        .send(client_msg::Msg::Register(
            voice_proto::pb::wire::RegisterRequest {
                request_id: 3,
                session: newcomer.id,
            },
        ))
        .await;
    loop {
        match boss.next_reply().await {
            Some(Msg::Accepted(a)) if a.request_id == 3 => break,
            Some(Msg::Failed(f)) => panic!("{f:?}"),
            Some(_) => {}
            None => panic!("boss lost its connection"),
        }
    }
    assert_eq!(
        boss.state.session(newcomer.id).unwrap().roles,
        vec!["known".to_owned()]
    );
    drop(newcomer);
    // Remembered at the next login, and after a restart.
    server.stop().await;
    let server = TestServer::in_dir(dir.path()).await;
    let mut login = newcomer_login;
    login.password = server.password.clone();
    let again = Client::connect(&server, login).await.unwrap();
    assert_eq!(
        again.state.session(again.id).unwrap().roles,
        vec!["known".to_owned()]
    );
    server.stop().await;
}
