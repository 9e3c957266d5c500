//! `files` TLS mode: the certificate is reloaded through the library
//! trigger, when the files change, and on SIGHUP to the real binary, while
//! a logged-in client stays connected; a bad new pair keeps the old one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;
use voice_server::config::TlsMode;

const BIN: &str = env!("CARGO_BIN_EXE_voice-server");

/// Writes a new self-signed pair for "localhost"; returns its fingerprint.
fn write_pair(cert: &Path, key: &Path) -> String {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(key, generated.signing_key.serialize_pem()).unwrap();
    std::fs::write(cert, generated.cert.pem()).unwrap();
    voice_server::tls::fingerprint(generated.cert.der())
}

fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("chain.pem"), dir.join("key.pem"))
}

/// Waits until a new connection is served the certificate `fingerprint`.
async fn served(addr: std::net::SocketAddr, fingerprint: &str) -> quinn::Connection {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(conn) = quic_connect_to(addr, fingerprint).await {
            return conn;
        }
        assert!(Instant::now() < deadline, "{fingerprint} never served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `a` (connected before the reload) and `b` (after) chat both ways.
async fn both_talk(a: &mut Client, b: &mut Client) {
    // A rejected (too long) message comes back on the same stream: once it
    // has, the chat stream is attached.
    for c in [&mut *a, &mut *b] {
        c.open_chat().await;
        c.say(0, &"x".repeat(5001)).await;
        match c.next_chat().await {
            Some(voice_proto::pb::wire::server_msg::Msg::ChatRejected(_)) => {}
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
    a.say(1, "from before").await;
    b.say(1, "from after").await;
    for c in [a, b] {
        let texts = [c.expect_chat().await.text, c.expect_chat().await.text];
        assert!(texts.contains(&"from before".to_owned()), "{texts:?}");
        assert!(texts.contains(&"from after".to_owned()), "{texts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_clients_and_serves_the_new_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = paths(dir.path());
    let first = write_pair(&cert, &key);
    let mut config = config(&dir.path().join("data"));
    config.tls_mode = TlsMode::Files;
    config.tls_cert = Some(cert.clone());
    config.tls_key = Some(key.clone());
    config.tls_watch_secs = 0; // only the explicit trigger here
    let mut server = TestServer::start(config).await;
    assert_eq!(server.fingerprint, first);
    let mut before = server.join("before").await;

    let second = write_pair(&cert, &key);
    let reloader = server.file_cert.clone().unwrap();
    assert_eq!(reloader.reload().unwrap(), second);
    assert!(
        quic_connect_to(server.addr, &first).await.is_err(),
        "new connections no longer get the old certificate"
    );
    server.fingerprint = second.clone();
    let mut after = server.join("after").await;
    both_talk(&mut before, &mut after).await;

    // A broken certificate or a key of another pair: refused, old kept.
    std::fs::write(&cert, "not a certificate").unwrap();
    let err = reloader.reload().unwrap_err();
    assert!(err.to_string().contains("chain.pem"), "{err}");
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(&cert, other.cert.pem()).unwrap();
    let err = reloader.reload().unwrap_err();
    assert!(err.to_string().contains("does not belong"), "{err}");
    assert_eq!(reloader.fingerprint(), second);
    server.join("still").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_files_are_picked_up_by_the_watch() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = paths(dir.path());
    write_pair(&cert, &key);
    let mut config = config(&dir.path().join("data"));
    config.tls_mode = TlsMode::Files;
    config.tls_cert = Some(cert.clone());
    config.tls_key = Some(key.clone());
    config.tls_watch_secs = 1;
    let server = TestServer::start(config).await;
    let mut before = server.join("before").await;
    let second = write_pair(&cert, &key);
    let conn = served(server.addr, &second).await;
    let mut after = Client::handshake(conn, server.login("after"))
        .await
        .unwrap();
    both_talk(&mut before, &mut after).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_binary_certificate_with_a_client_connected() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = paths(dir.path());
    let first = write_pair(&cert, &key);
    let mut child = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--password",
            "secret",
            "--tls-mode",
            "files",
        ])
        .args(["--tls-watch-secs", "0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = lines.next().unwrap().unwrap();
    let fp_line = lines.next().unwrap().unwrap();
    assert_eq!(fp_line, format!("fingerprint: {first}"));
    let addr: std::net::SocketAddr = listening
        .strip_prefix("listening: ")
        .unwrap()
        .parse()
        .unwrap();
    let login = |name: &str| Login {
        key: ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng),
        password: "secret".to_owned(),
        name: name.to_owned(),
        admin_token: String::new(),
        room: 0,
        share_history: false,
    };
    let conn = quic_connect_to(addr, &first).await.unwrap();
    let mut before = Client::handshake(conn, login("before")).await.unwrap();

    let second = write_pair(&cert, &key);
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let conn = served(addr, &second).await;
    let mut after = Client::handshake(conn, login("after")).await.unwrap();
    both_talk(&mut before, &mut after).await;

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(child.wait().unwrap().success());
}
