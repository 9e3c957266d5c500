//! TLS settings: the acme keys as flags, and start-up errors that say what
//! to fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clap::Parser;
use voice_server::config::TlsMode;

#[test]
fn acme_settings_come_from_flags() {
    let cli = voice_server::cli::Cli::try_parse_from([
        "voice-server",
        "--tls-mode",
        "acme",
        "--acme-domains",
        "a.example.org,b.example.org",
        "--acme-email",
        "admin@example.org",
        "--acme-directory",
        "letsencrypt-staging",
        "--acme-challenge-listen",
        "127.0.0.1:8443",
        "--acme-ca-file",
        "/etc/ca.pem",
        "--tls-watch-secs",
        "0",
    ])
    .unwrap();
    let config = cli.config().unwrap();
    assert_eq!(config.tls_mode, TlsMode::Acme);
    assert_eq!(config.acme_domains, ["a.example.org", "b.example.org"]);
    assert_eq!(config.acme_email.as_deref(), Some("admin@example.org"));
    assert_eq!(config.acme_directory, "letsencrypt-staging");
    assert_eq!(config.acme_challenge_listen.port(), 8443);
    assert_eq!(
        config.acme_ca_file.as_deref(),
        Some(std::path::Path::new("/etc/ca.pem"))
    );
    assert_eq!(config.tls_watch_secs, 0);
    let default = voice_server::Config::default();
    assert_eq!(default.acme_directory, "letsencrypt");
    assert_eq!(default.acme_challenge_listen.port(), 443);
}

async fn start_error(edit: impl FnOnce(&mut voice_server::Config)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config(dir.path());
    config.tls_mode = TlsMode::Acme;
    config.acme_domains = vec!["voice.example.org".to_owned()];
    config.acme_challenge_listen = "127.0.0.1:0".parse().unwrap();
    edit(&mut config);
    voice_server::Server::bind(config)
        .await
        .expect_err("the server refuses to start")
        .to_string()
}

#[tokio::test]
async fn bad_acme_settings_are_refused_with_what_to_fix() {
    let e = start_error(|c| c.acme_domains.clear()).await;
    assert!(e.contains("acme_domains"), "{e}");
    let e = start_error(|c| c.acme_domains = vec!["192.0.2.1".to_owned()]).await;
    assert!(e.contains("DNS names"), "{e}");
    let e = start_error(|c| c.acme_directory = "http://ca.example/dir".to_owned()).await;
    assert!(e.contains("letsencrypt-staging"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let e = start_error(|c| c.acme_ca_file = Some(empty.clone())).await;
    assert!(
        e.contains("empty.pem") && e.contains("no certificate"),
        "{e}"
    );
    // The challenge port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let e = start_error(|c| c.acme_challenge_listen = addr).await;
    assert!(
        e.contains("challenge port") && e.contains(&addr.to_string()),
        "{e}"
    );
}
