//! The plugin TCP listener (issue 23) on a real server: real TLS over TCP
//! loopback with the server's own certificate, a real tonic client, tokens
//! made with the real CLI (binary and run function). A token's scopes
//! decide each call; no token or a wrong one is refused and throttled;
//! revoking a token ends its open Watch; the token service is never
//! reachable over TCP; the listener is off by default and bounds
//! connections and handshakes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use voice_proto::pb::admin::admin_client::AdminClient;
use voice_proto::pb::admin::plugin_tokens_client::PluginTokensClient;
use voice_proto::pb::admin::{
    Empty, KickRequest, ServerChat, TokenName, WatchRequest, server_event::Kind,
};
use voice_server::admin::client::{AdminCommand, run};
use voice_server::admin::token_commands::PluginTokenCommand;

const BIN: &str = env!("CARGO_BIN_EXE_voice-server");

/// A server with the plugin listener on a loopback port.
async fn start(dir: &Path, edit: impl FnOnce(&mut voice_server::Config)) -> TestServer {
    let mut config = config(dir);
    config.plugin_listen = Some("127.0.0.1:0".parse().unwrap());
    edit(&mut config);
    TestServer::start(config).await
}

/// TLS to the plugin listener, trusting the data dir's certificate (as a
/// plugin of a self-signed server does), named `localhost`.
async fn tls(
    addr: SocketAddr,
    dir: &Path,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(dir.join("cert.pem")).unwrap();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(voice_server::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

use rustls_pki_types::pem::PemObject;

/// A gRPC channel over TLS to the plugin listener.
async fn channel(server: &TestServer, dir: &Path) -> Channel {
    let addr = server.plugin_addr.expect("the plugin listener is on");
    let dir = dir.to_owned();
    tonic::transport::Endpoint::from_static("http://plugin.invalid")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let dir = dir.clone();
            async move { Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls(addr, &dir).await?)) }
        }))
        .await
        .expect("the plugin listener answers")
}

type Plugin = AdminClient<
    tonic::service::interceptor::InterceptedService<
        Channel,
        Box<dyn FnMut(Request<()>) -> Result<Request<()>, Status> + Send + Sync>,
    >,
>;

/// An admin client sending `authorization: Bearer TOKEN` (none without).
fn plugin(channel: Channel, token: Option<&str>) -> Plugin {
    let header: Option<tonic::metadata::AsciiMetadataValue> =
        token.map(|t| format!("Bearer {t}").parse().unwrap());
    AdminClient::with_interceptor(
        channel,
        Box::new(move |mut req: Request<()>| {
            if let Some(h) = &header {
                req.metadata_mut().insert("authorization", h.clone());
            }
            Ok(req)
        }),
    )
}

/// Creates a token through the CLI's run function; returns its secret.
async fn create(server: &TestServer, name: &str, scopes: &[&str]) -> String {
    let lines = run(
        &server.admin_socket,
        AdminCommand::PluginToken {
            command: PluginTokenCommand::Create {
                name: name.to_owned(),
                scope: scopes.iter().map(|s| s.to_string()).collect(),
            },
        },
    )
    .await
    .unwrap();
    assert!(lines[0].starts_with("vpt_"), "{lines:?}");
    lines[0].clone()
}

async fn revoke(server: &TestServer, name: &str) {
    run(
        &server.admin_socket,
        AdminCommand::PluginToken {
            command: PluginTokenCommand::Revoke {
                name: name.to_owned(),
            },
        },
    )
    .await
    .unwrap();
}

/// The real binary's `admin` subcommand against the server's socket.
async fn cli(server: &TestServer, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(BIN)
        .arg("admin")
        .arg("--admin-socket")
        .arg(&server.admin_socket)
        .args(args)
        .env_remove("VOICE_SERVER_CONFIG")
        .output()
        .await
        .unwrap()
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[tokio::test]
async fn tokens_are_created_listed_and_revoked_with_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;

    let out = cli(
        &server,
        &[
            "plugin-token",
            "create",
            "greeter",
            "--scope",
            "events,chat",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let secret = stdout.lines().next().unwrap().to_owned();
    assert!(secret.starts_with("vpt_") && secret.len() == 68, "{stdout}");
    assert!(stdout.contains("shown once"), "{stdout}");

    let out = cli(
        &server,
        &["plugin-token", "create", "greeter", "--scope", "chat"],
    )
    .await;
    assert!(!out.status.success());
    assert!(text(&out).contains("exists"), "{}", text(&out));
    let out = cli(&server, &["plugin-token", "create", "x", "--scope", "root"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("events,chat,moderate,admin"),
        "{}",
        text(&out)
    );

    let out = cli(&server, &["plugin-token", "list"]).await;
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(
        listed.starts_with("greeter\tevents,chat\tcreated 20"),
        "{listed}"
    );
    assert!(listed.contains("never used"), "{listed}");
    assert!(!listed.contains(&secret[4..]), "no secret in the list");
    // Only the hash is kept: the secret is nowhere in the database.
    let db = std::fs::read_dir(dir.path().join("db")).unwrap();
    for file in db.flatten().filter(|f| f.path().is_file()) {
        let bytes = std::fs::read(file.path()).unwrap();
        assert!(
            !bytes.windows(64).any(|w| w == &secret.as_bytes()[4..]),
            "the secret is stored in {}",
            file.path().display()
        );
    }

    let mut bot = plugin(channel(&server, dir.path()).await, Some(&secret));
    bot.sessions(Empty {})
        .await
        .expect("events allows Sessions");
    let out = cli(&server, &["plugin-token", "list"]).await;
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(
        listed.contains("last used 20") && listed.contains("from 127.0.0.1"),
        "{listed}"
    );

    let out = cli(&server, &["plugin-token", "revoke", "greeter"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let err = bot.sessions(Empty {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let out = cli(&server, &["plugin-token", "list"]).await;
    assert!(out.stdout.is_empty(), "{}", text(&out));
    let out = cli(&server, &["plugin-token", "revoke", "greeter"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no plugin token named"),
        "{}",
        text(&out)
    );
    server.stop().await;
}

#[tokio::test]
async fn tokens_last_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let secret = create(&server, "keeper", &["events"]).await;
    server.stop().await;
    let server = start(dir.path(), |_| {}).await;
    let mut bot = plugin(channel(&server, dir.path()).await, Some(&secret));
    bot.rooms(Empty {}).await.expect("the token still works");
    server.stop().await;
}

#[tokio::test]
async fn an_events_token_watches_but_may_not_kick() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let secret = create(&server, "watcher", &["events"]).await;
    let mut bot = plugin(channel(&server, dir.path()).await, Some(&secret));
    let mut events = bot
        .watch(WatchRequest { after: None })
        .await
        .expect("events allows Watch")
        .into_inner();
    let _ana = server.join("Ana").await;
    let event = tokio::time::timeout(WAIT, events.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(event.kind, Some(Kind::State(_))), "{event:?}");

    let err = bot
        .kick(KickRequest {
            user: "Ana".to_owned(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(err.message().contains("`moderate`"), "{}", err.message());
    assert!(err.message().contains("\"watcher\""), "{}", err.message());
    assert_eq!(
        server.hub.lock().await.state.sessions().len(),
        1,
        "Ana stays"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_chat_token_sends_chat_that_members_see_and_may_not_watch() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let secret = create(&server, "greeter", &["chat"]).await;
    let mut ana = server.join("Ana").await;
    ana.open_chat().await;
    let mut bot = plugin(channel(&server, dir.path()).await, Some(&secret));
    let sent = bot
        .send_chat(ServerChat {
            room: 0,
            bot_name: "Greeter".to_owned(),
            text: "Welcome, Ana!".to_owned(),
        })
        .await
        .expect("chat allows SendChat")
        .into_inner();
    assert_eq!(sent.sender, 0);
    let seen = ana.expect_chat().await;
    assert_eq!(
        (seen.sender, seen.sender_name.as_str(), seen.text.as_str()),
        (0, "Greeter", "Welcome, Ana!")
    );
    let err = bot.watch(WatchRequest { after: None }).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("`events`"), "{}", err.message());
    server.stop().await;
}

#[tokio::test]
async fn calls_without_a_valid_token_are_refused_and_failures_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |c| c.throttle_failures = 4).await;
    let secret = create(&server, "ok", &["events"]).await;
    let channel = channel(&server, dir.path()).await;

    let err = plugin(channel.clone(), None)
        .sessions(Empty {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(
        err.message().contains("no plugin token"),
        "{}",
        err.message()
    );
    assert!(
        err.message()
            .contains("voice-server admin plugin-token create"),
        "says how to get one: {}",
        err.message()
    );
    let wrong = format!("vpt_{}", "ab".repeat(32));
    for token in [wrong.as_str(), "garbage", &secret[..secret.len() - 1]] {
        let err = plugin(channel.clone(), Some(token))
            .sessions(Empty {})
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{token}: {err:?}");
    }
    // Four failures: the address is refused for a while, good token or not,
    // and new connections are closed before TLS.
    let err = plugin(channel.clone(), Some(&secret))
        .sessions(Empty {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(
        tls(server.plugin_addr.unwrap(), dir.path()).await.is_err(),
        "a refused address gets no handshake"
    );
    server.stop().await;
}

#[tokio::test]
async fn revoking_a_token_ends_its_open_watch_and_refuses_new_calls() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let secret = create(&server, "doomed", &["events"]).await;
    let other = create(&server, "other", &["events"]).await;
    let channel = channel(&server, dir.path()).await;
    let mut bot = plugin(channel.clone(), Some(&secret));
    let mut events = bot
        .watch(WatchRequest { after: None })
        .await
        .unwrap()
        .into_inner();
    let mut kept = plugin(channel.clone(), Some(&other))
        .watch(WatchRequest { after: None })
        .await
        .unwrap()
        .into_inner();

    revoke(&server, "doomed").await;
    let ended = tokio::time::timeout(WAIT, events.message())
        .await
        .expect("the stream ends at once")
        .unwrap_err();
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
    assert!(
        ended.message().contains("\"doomed\" was revoked"),
        "{}",
        ended.message()
    );
    let err = bot.rooms(Empty {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // The other token's stream goes on.
    let _ana = server.join("Ana").await;
    let event = tokio::time::timeout(WAIT, kept.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(event.kind, Some(Kind::State(_))));
    server.stop().await;
}

#[tokio::test]
async fn token_management_is_never_reachable_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let all = create(&server, "all", &["events", "chat", "moderate", "admin"]).await;
    let channel = channel(&server, dir.path()).await;
    let header: tonic::metadata::MetadataValue<_> = format!("Bearer {all}").parse().unwrap();
    let mut tokens = PluginTokensClient::with_interceptor(channel, move |mut req: Request<()>| {
        req.metadata_mut().insert("authorization", header.clone());
        Ok(req)
    });
    let err = tokens.list_tokens(Empty {}).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        err.message().contains("local admin socket"),
        "{}",
        err.message()
    );
    let err = tokens
        .revoke_token(TokenName {
            name: "all".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        voice_server::admin::client::run(
            &server.admin_socket,
            AdminCommand::PluginToken {
                command: PluginTokenCommand::List
            }
        )
        .await
        .unwrap()
        .len(),
        1,
        "still there"
    );
    server.stop().await;
}

#[test]
fn the_listener_is_configured_by_flag_and_file() {
    use clap::Parser;
    let cli = voice_server::cli::Cli::try_parse_from([
        "voice-server",
        "--plugin-listen",
        "[::1]:7879",
        "--plugin-max-connections",
        "3",
    ])
    .unwrap();
    let config = cli.config().unwrap();
    assert_eq!(config.plugin_listen, Some("[::1]:7879".parse().unwrap()));
    assert_eq!(config.plugin_max_connections, 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.toml");
    std::fs::write(&path, "plugin_listen = \"127.0.0.1:7879\"\n").unwrap();
    let config = voice_server::Config::from_file(&path).unwrap();
    assert_eq!(
        config.plugin_listen,
        Some("127.0.0.1:7879".parse().unwrap())
    );
    let zero = voice_server::Config {
        plugin_max_connections: 0,
        ..voice_server::Config::default()
    };
    assert!(zero.check().is_err(), "0 connections is refused at start");
}

#[tokio::test]
async fn the_listener_is_off_by_default() {
    assert_eq!(voice_server::Config::default().plugin_listen, None);
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    assert_eq!(server.plugin_addr, None);
    // Tokens can still be made (for a later start with the listener on).
    create(&server, "later", &["events"]).await;
    server.stop().await;
    let toml = voice_server::Config::default_toml();
    assert!(!toml.contains("\nplugin_listen"), "unset by default");
    assert!(toml.contains("plugin_max_connections = 64"));
}

#[tokio::test]
async fn the_listener_serves_the_servers_certificate_and_its_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let addr = server.plugin_addr.unwrap();
    let served = |tls: &tokio_rustls::client::TlsStream<TcpStream>| {
        let (_, conn) = tls.get_ref();
        assert_eq!(conn.alpn_protocol(), Some(&b"h2"[..]));
        voice_server::tls::fingerprint(&conn.peer_certificates().unwrap()[0])
    };
    let first = tls(addr, dir.path()).await.unwrap();
    assert_eq!(
        served(&first),
        server.fingerprint,
        "the QUIC side's certificate"
    );

    // A new pair in the data dir, reloaded (as SIGHUP does): new handshakes
    // get it.
    let new = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), new.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), new.signing_key.serialize_pem()).unwrap();
    let reloaded = server.file_cert.as_ref().unwrap().reload().unwrap();
    let second = tls(addr, dir.path()).await.unwrap();
    assert_eq!(served(&second), reloaded);
    assert_ne!(reloaded, server.fingerprint);
    server.stop().await;
}

#[tokio::test]
async fn handshakes_and_first_calls_have_a_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |c| c.handshake_timeout_ms = 300).await;
    let addr = server.plugin_addr.unwrap();
    // A peer that never starts TLS is closed at the handshake deadline.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf))
        .await
        .expect("closed after the handshake timeout");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    // One that finishes TLS but makes no authenticated call is closed at the
    // same deadline after it: a peer without a token cannot sit on a slot.
    let mut idle = tls(addr, dir.path()).await.unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match idle.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "closed without an authenticated call");
    server.stop().await;
}

#[tokio::test]
async fn connections_are_bounded_and_their_slots_given_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |c| c.plugin_max_connections = 2).await;
    let addr = server.plugin_addr.unwrap();
    let a = tls(addr, dir.path()).await.unwrap();
    let _b = tls(addr, dir.path()).await.unwrap();
    assert!(
        tls(addr, dir.path()).await.is_err(),
        "a third connection is refused"
    );
    drop(a);
    // The slot comes back once the server sees the close.
    let mut again = None;
    for _ in 0..50 {
        if let Ok(c) = tls(addr, dir.path()).await {
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "a slot is given back");
    server.stop().await;
}

#[tokio::test]
async fn revoking_a_token_ends_its_intercept_and_frees_the_place() {
    use tokio_stream::wrappers::ReceiverStream;
    use voice_proto::pb::admin::InterceptVerdict;
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |c| c.intercept_chat = true).await;
    let secret = create(&server, "filter", &["moderate"]).await;
    let channel = channel(&server, dir.path()).await;
    let (_verdicts, rx) = tokio::sync::mpsc::channel::<InterceptVerdict>(1);
    let mut questions = plugin(channel.clone(), Some(&secret))
        .intercept(ReceiverStream::new(rx))
        .await
        .expect("moderate allows Intercept")
        .into_inner();

    revoke(&server, "filter").await;
    let ended = tokio::time::timeout(WAIT, questions.message())
        .await
        .expect("the stream ends at once")
        .unwrap_err();
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");

    // Its place is free: another plugin may intercept.
    let next = create(&server, "filter2", &["moderate"]).await;
    let mut attached = false;
    for _ in 0..50 {
        let (_tx, rx) = tokio::sync::mpsc::channel::<InterceptVerdict>(1);
        match plugin(channel.clone(), Some(&next))
            .intercept(ReceiverStream::new(rx))
            .await
        {
            Ok(_) => {
                attached = true;
                break;
            }
            Err(e) => assert_eq!(e.code(), Code::AlreadyExists, "{e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(attached, "the revoked plugin was detached");
    server.stop().await;
}

#[tokio::test]
async fn junk_after_the_handshake_closes_the_connection_and_the_server_goes_on() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let secret = create(&server, "ok", &["events"]).await;
    let addr = server.plugin_addr.unwrap();
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[0xff; 4096][..],
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\xff\xff\xff\x01\x00\x00\x00\x00"[..],
    ] {
        let mut tls = tls(addr, dir.path()).await.unwrap();
        let _ = tls.write_all(junk).await;
        let mut buf = vec![0u8; 1 << 16];
        let closed = tokio::time::timeout(WAIT, async {
            loop {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "closed after junk");
    }
    // Not a throttled address: junk is not a failed authentication.
    let mut bot = plugin(channel(&server, dir.path()).await, Some(&secret));
    bot.rooms(Empty {}).await.expect("still served");
    server.stop().await;
}
