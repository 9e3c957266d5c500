//! The real binary: banner, default config, SIGTERM, `admin` subcommands;
//! and the `files` TLS mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_voice-server");

#[test]
fn default_config_round_trips() {
    let out = Command::new(BIN)
        .arg("--print-default-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.toml");
    std::fs::write(&path, &text).unwrap();
    let parsed = voice_server::Config::from_file(&path).unwrap();
    assert_eq!(parsed, voice_server::Config::default());
}

#[test]
fn flags_and_environment_override_the_file() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.toml");
    std::fs::write(&path, "server_name = \"from file\"\nmax_sessions = 7\n").unwrap();
    let cli = voice_server::cli::Cli::try_parse_from([
        "voice-server",
        "--config",
        path.to_str().unwrap(),
        "--max-sessions",
        "9",
        "--password",
        "pw",
    ])
    .unwrap();
    let config = cli.config().unwrap();
    assert_eq!(config.server_name, "from file");
    assert_eq!(config.max_sessions, 9);
    assert_eq!(config.password.as_deref(), Some("pw"));
}

#[test]
fn the_file_relay_is_configured_and_its_limits_checked() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.toml");
    std::fs::write(
        &path,
        "relay_bytes_per_second = 1000000\nmax_relay_streams_per_session = 2\n",
    )
    .unwrap();
    let cli = voice_server::cli::Cli::try_parse_from([
        "voice-server",
        "--config",
        path.to_str().unwrap(),
        "--file-relay",
        "false",
        "--relay-session-bytes-per-second",
        "500000",
    ])
    .unwrap();
    let config = cli.config().unwrap();
    assert!(!config.file_relay);
    assert_eq!(config.relay_bytes_per_second, 1_000_000);
    assert_eq!(config.relay_session_bytes_per_second, 500_000);
    assert_eq!(config.max_relay_streams_per_session, 2);
    config.check().unwrap();
    let none = voice_server::Config {
        max_relay_streams_per_session: 0,
        ..voice_server::Config::default()
    };
    let err = none.check().unwrap_err().to_string();
    assert!(err.contains("file_relay = false"), "{err}");
}

#[test]
fn binary_prints_the_banner_serves_admin_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("VOICE_SERVER_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    for _ in 0..4 {
        banner.push(lines.next().unwrap().unwrap());
    }
    assert!(banner[0].starts_with("listening: 127.0.0.1:"), "{banner:?}");
    let fp = banner[1].strip_prefix("fingerprint: ").unwrap();
    assert_eq!(fp.len(), 64);
    assert!(banner[2].starts_with("password: "), "{banner:?}");
    assert!(banner[3].starts_with("admin token: "), "{banner:?}");

    let admin = Command::new(BIN)
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["admin", "rooms"])
        .output()
        .unwrap();
    assert!(admin.status.success(), "{admin:?}");
    let text = String::from_utf8(admin.stdout).unwrap();
    assert!(text.starts_with("0\tparent 0\t"), "{text}");
    assert!(text.contains("hash: "), "{text}");

    // `admin watch` prints each event as it happens, and ends with the server.
    let mut watch = Command::new(BIN)
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["admin", "watch", "--after", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let role = Command::new(BIN)
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["admin", "create-role", "helpers"])
        .output()
        .unwrap();
    assert!(role.status.success(), "{role:?}");
    let admin = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(["--data-dir"])
            .arg(dir.path())
            .arg("admin")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let id = admin(&["create-room", "Lobby", "--description", "come in"]);
    let id: u32 = id.trim().parse().unwrap();
    assert!(id > 0);
    let said = admin(&["say", &id.to_string(), "doors open", "--as", "Greeter"]);
    assert_eq!(said.trim(), format!("sent to room {id} as Greeter"));
    let mut events = BufReader::new(watch.stdout.take().unwrap()).lines();
    let event = events.next().unwrap().unwrap();
    let fields: Vec<&str> = event.split('\t').collect();
    assert!(fields[0].parse::<u64>().unwrap() > 0, "{event}");
    assert_eq!(fields[2], "state add_role", "{event}");
    assert!(
        fields[3] == "actor 0" && event.contains("helpers"),
        "{event}"
    );
    let event = events.next().unwrap().unwrap();
    assert!(
        event.contains("\tstate add_room\t") && event.contains("Lobby"),
        "{event}"
    );
    let event = events.next().unwrap().unwrap();
    assert!(
        event.ends_with(&format!("\tchat\troom {id}\tGreeter\tdoors open")),
        "{event}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    assert!(!dir.path().join("admin.sock").exists(), "socket removed");
    let watched = watch.wait().unwrap();
    assert!(watched.success(), "watch ends with the server: {watched:?}");
}

#[tokio::test]
async fn files_tls_mode_serves_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.path().join("chain.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let mut config = config(&dir.path().join("data"));
    config.tls_mode = voice_server::config::TlsMode::Files;
    config.tls_cert = Some(cert);
    config.tls_key = Some(key);
    let server = TestServer::start(config).await;
    assert_eq!(
        server.fingerprint,
        voice_server::tls::fingerprint(generated.cert.der())
    );
    // The test client pins exactly this fingerprint.
    server.join("tls").await;
    server.stop().await;
}
