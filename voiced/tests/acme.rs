//! End to end with a real ACME CA: Debian's `pebble` on loopback issues the
//! voice-server's certificate through TLS-ALPN-01, a voiced that trusts
//! pebble's root (`ca_file`) connects with no prompt and pins nothing, and a
//! renewal (pebble issues short-lived certificates) is served by the running
//! server to new connections.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use voice_proto::pb::control::{self as c, ConnectionState};

mod support;
use support::{PASSWORD, TestDaemon};

const PEBBLE: &str = "/usr/bin/pebble";

/// Lifetime of pebble's certificates: rustls-acme renews a third of the
/// lifetime before expiry, so a new one is ordered about 13 s after issue,
/// leaving 7 s for that order before the first one expires.
const CERT_SECS: u64 = 20;

/// A child process ended when the test ends, however it ends.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port that was free a moment ago (pebble takes its ports from
/// a config file, so they are picked here and released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A GET over HTTPS trusting only `ca` (pebble's own HTTPS certificate).
fn https_get(addr: SocketAddr, path: &str, ca: &CertificateDer<'static>) -> Option<Vec<u8>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).ok()?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn = rustls::ClientConnection::new(
        Arc::new(config),
        ServerName::try_from("localhost").ok()?.to_owned(),
    )
    .ok()?;
    let sock = TcpStream::connect(addr).ok()?;
    sock.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    write!(tls, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = Vec::new();
    // Go may close without close_notify: what was read is kept.
    let _ = tls.read_to_end(&mut response);
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..split]);
    (head.starts_with("HTTP/1.") && head.get(8..).is_some_and(|s| s.starts_with(" 200")))
        .then(|| response[split + 4..].to_vec())
}

/// Waits until `f` gives a value.
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The leaf certificate rustls-acme keeps in its cache dir, once the file
/// holds a whole chain (leaf and pebble's intermediate).
fn cached_leaf(dir: &Path) -> Option<Vec<u8>> {
    let pem = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("cached_cert_"))
        .and_then(|e| std::fs::read(e.path()).ok())?;
    if !String::from_utf8_lossy(&pem)
        .trim_end()
        .ends_with("-----END CERTIFICATE-----")
    {
        return None;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .ok()?;
    (chain.len() >= 2).then(|| chain[0].to_vec())
}

/// pebble's own HTTPS certificate (Debian's package ships none): written
/// to `dir` as pebble-https.pem and pebble-key.pem.
fn pebble_https(dir: &Path) -> (PathBuf, CertificateDer<'static>) {
    let https =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("pebble's HTTPS certificate");
    let ca_file = dir.join("pebble-https.pem");
    std::fs::write(&ca_file, https.cert.pem()).expect("write pebble cert");
    std::fs::write(
        dir.join("pebble-key.pem"),
        https.signing_key.serialize_pem(),
    )
    .expect("write pebble key");
    (ca_file, https.cert.der().clone())
}

/// pebble on loopback, validating TLS-ALPN-01 on `tls_port`; returns the
/// process and the management address.
fn start_pebble(dir: &Path, listen: SocketAddr, tls_port: u16) -> (Kill, SocketAddr) {
    let management: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let config = format!(
        r#"{{"pebble": {{"listenAddress": "{listen}", "managementListenAddress": "{management}",
            "certificate": "{}", "privateKey": "{}", "httpPort": {}, "tlsPort": {tls_port},
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
            "certificateValidityPeriod": {CERT_SECS}}}}}"#,
        dir.join("pebble-https.pem").display(),
        dir.join("pebble-key.pem").display(),
        free_port(),
    );
    std::fs::write(dir.join("pebble.json"), config).expect("write pebble config");
    let child = Command::new(PEBBLE)
        .arg("-config")
        .arg(dir.join("pebble.json"))
        // The test name "localhost" resolves to 127.0.0.1 through /etc/hosts,
        // so pebble's validator needs no fake DNS server.
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .env("PEBBLE_AUTHZREUSE", "0")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("pebble.log")).expect("pebble log"))
        .spawn()
        .expect("pebble starts");
    (Kill(child), management)
}

/// Waits for pebble's directory; if pebble exited (a port taken since it
/// was picked, say), fails with its log.
async fn pebble_up(
    pebble: &mut Kill,
    dir: &Path,
    listen: SocketAddr,
    cert: &CertificateDer<'static>,
) {
    eventually("pebble's directory", || {
        if let Ok(Some(status)) = pebble.0.try_wait() {
            let log = std::fs::read_to_string(dir.join("pebble.log")).unwrap_or_default();
            panic!("pebble exited ({status}):\n{log}");
        }
        https_get(listen, "/dir", cert)
    })
    .await;
}

async fn connect(client: &mut support::Client, server: &str, ca_file: &Path) -> c::StatusReply {
    client
        .connect(c::ConnectRequest {
            server: server.to_owned(),
            password: PASSWORD.into(),
            display_name: "acme".into(),
            ca_file: ca_file.display().to_string(),
            ..Default::default()
        })
        .await
        .expect("connects with no prompt")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_certificate_from_pebble_is_trusted_without_prompt_and_renewed() {
    if !Path::new(PEBBLE).exists() {
        println!("SKIPPED: {PEBBLE} is missing (install the Debian package pebble)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pebble_dir = dir.path().join("pebble");
    std::fs::create_dir_all(&pebble_dir).unwrap();
    let (pebble_ca, pebble_cert) = pebble_https(&pebble_dir);
    let pebble_listen: SocketAddr = ([127, 0, 0, 1], free_port()).into();

    // The server binds first: its challenge port is where pebble validates.
    let cache = dir.path().join("acme-cache");
    let config = voice_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: Some(dir.path().join("server")),
        password: Some(PASSWORD.to_owned()),
        tls_mode: voice_server::config::TlsMode::Acme,
        acme_domains: vec!["localhost".to_owned()],
        acme_email: Some("admin@example.com".to_owned()),
        acme_directory: format!("https://{pebble_listen}/dir"),
        acme_cache_dir: Some(cache.clone()),
        acme_challenge_listen: "127.0.0.1:0".parse().unwrap(),
        acme_ca_file: Some(pebble_ca.clone()),
        ..voice_server::Config::default()
    };
    let server = voice_server::Server::bind(config).await.unwrap();
    let challenge = server.acme_challenge_addr().unwrap();
    let addr = server.banner().listening;
    assert!(server.banner().fingerprint.is_empty());

    let (mut pebble, management) = start_pebble(&pebble_dir, pebble_listen, challenge.port());
    pebble_up(&mut pebble, &pebble_dir, pebble_listen, &pebble_cert).await;
    let running = server.spawn();

    // Pebble's issuing root, for the client.
    let root = eventually("pebble's root", || {
        https_get(management, "/roots/0", &pebble_cert)
    })
    .await;
    let root_file = dir.path().join("pebble-root.pem");
    std::fs::write(&root_file, &root).unwrap();

    let first = eventually("the first certificate", || cached_leaf(&cache)).await;

    let d = TestDaemon::start().await;
    let mut client = d.client().await;
    let server_name = format!("localhost:{}", addr.port());
    let status = connect(&mut client, &server_name, &root_file).await;
    assert_eq!(status.state(), ConnectionState::Connected);
    let first_fp = status.fingerprint.clone();
    assert_eq!(
        first_fp,
        voice_server::tls::fingerprint(&CertificateDer::from(first)),
        "the issued certificate is served"
    );
    let known = std::fs::read_to_string(d.paths.known_servers_file()).unwrap_or_default();
    assert!(
        !known.contains(&first_fp),
        "a CA-issued certificate is not pinned: {known}"
    );

    // Without the CA file the same server is unknown: the trust came from
    // pebble's root, not from an accepted fingerprint.
    let d2 = TestDaemon::start().await;
    let err = d2
        .client()
        .await
        .connect(c::ConnectRequest {
            server: server_name.clone(),
            password: PASSWORD.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        err.message().contains(&first_fp) || err.message().contains("certificate"),
        "{err:?}"
    );

    // pebble's short-lived certificates make rustls-acme renew; the running
    // server serves the new one to new connections.
    let renewed = eventually("a renewed certificate", || {
        cached_leaf(&cache).filter(|leaf| {
            voice_server::tls::fingerprint(&CertificateDer::from(leaf.clone())) != first_fp
        })
    })
    .await;
    client.disconnect(c::Empty {}).await.unwrap();
    let status = connect(&mut client, &server_name, &root_file).await;
    assert_eq!(status.state(), ConnectionState::Connected);
    assert_eq!(
        status.fingerprint,
        voice_server::tls::fingerprint(&CertificateDer::from(renewed)),
        "the renewed certificate is served without a restart"
    );
    let known = std::fs::read_to_string(d.paths.known_servers_file()).unwrap_or_default();
    assert!(!known.contains(&status.fingerprint), "{known}");

    d2.stop().await;
    d.stop().await;
    tokio::time::timeout(support::WAIT, running.stop())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_order_says_what_to_check() {
    if !Path::new(PEBBLE).exists() {
        println!("SKIPPED: {PEBBLE} is missing (install the Debian package pebble)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pebble_ca, pebble_cert) = pebble_https(dir.path());
    let pebble_listen: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let config = voice_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: Some(dir.path().join("server")),
        password: Some(PASSWORD.to_owned()),
        tls_mode: voice_server::config::TlsMode::Acme,
        acme_domains: vec!["localhost".to_owned()],
        acme_directory: format!("https://{pebble_listen}/dir"),
        acme_challenge_listen: "127.0.0.1:0".parse().unwrap(),
        acme_ca_file: Some(pebble_ca),
        ..voice_server::Config::default()
    };
    let server = voice_server::Server::bind(config).await.unwrap();
    let mut status = server.acme_status().unwrap();
    // pebble validates on a port where nothing listens: the challenge
    // port is "not reachable".
    let (mut pebble, _) = start_pebble(dir.path(), pebble_listen, free_port());
    pebble_up(&mut pebble, dir.path(), pebble_listen, &pebble_cert).await;
    let running = server.spawn();
    let failed = tokio::time::timeout(
        support::WAIT,
        status.wait_for(|s| matches!(s, voice_server::acme::AcmeStatus::Failed { .. })),
    )
    .await
    .unwrap()
    .unwrap()
    .clone();
    let voice_server::acme::AcmeStatus::Failed { error, hint } = failed else {
        unreachable!()
    };
    assert!(error.contains("Failed to connect"), "{error}");
    assert!(hint.contains("TCP port 443"), "{hint}");
    tokio::time::timeout(support::WAIT, running.stop())
        .await
        .unwrap()
        .unwrap();
}
