//! A server whose certificate is issued by a CA the user trusts through
//! `voicectl connect --ca-file` or voiced's `ca_file` setting: connected with
//! no prompt, and nothing pinned. The real binary, voiced and voice-server
//! (`files` TLS mode with a certificate from a test CA made with rcgen).
#![allow(clippy::unwrap_used)] // test code: a failure is a test failure

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use voice_testkit::voice_server::config::TlsMode;
use voice_testkit::{TestDaemon, TestServer, paths_in};

/// A test CA and a "localhost" certificate it issued, written to `dir`;
/// returns the CA file.
fn issue(dir: &Path) -> PathBuf {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "voice test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::write(dir.join("chain.pem"), leaf.pem() + &ca.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    dir.join("ca.pem")
}

/// A server with a CA-issued certificate and a voiced, on their own runtime;
/// the CA's files in `dir`.
struct World {
    socket: PathBuf,
    port: u16,
    _daemon: TestDaemon,
    _server: TestServer,
    _rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl World {
    /// A server with a CA-issued certificate, and a voiced whose
    /// config.toml holds `voiced_config`.
    fn start(voiced_config: impl FnOnce(&Path) -> String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        issue(dir.path());
        let rt = voice_testkit::runtime();
        let server = rt.block_on(TestServer::start_with(|config| {
            config.password = Some(String::new());
            config.tls_mode = TlsMode::Files;
            config.tls_cert = Some(dir.path().join("chain.pem"));
            config.tls_key = Some(dir.path().join("key.pem"));
        }));
        let paths = paths_in(dir.path());
        std::fs::create_dir_all(&paths.config_dir).unwrap();
        std::fs::write(paths.config_file(), voiced_config(dir.path())).unwrap();
        let daemon = rt.block_on(TestDaemon::start_at(paths));
        Self {
            socket: daemon.socket.clone(),
            port: server.addr.port(),
            _daemon: daemon,
            _server: server,
            _rt: rt,
            dir,
        }
    }

    fn server(&self) -> String {
        format!("localhost:{}", self.port)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("voicectl").unwrap();
        c.arg("--socket").arg(&self.socket);
        c
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd().arg("--json").args(args).assert().success();
        serde_json::from_slice(&out.get_output().stdout).unwrap()
    }
}

#[test]
fn connect_ca_file_trusts_the_issued_certificate_without_prompt_or_pin() {
    let w = World::start(|_| String::new());
    // Without the CA: an unknown certificate, refused.
    let out = w.cmd().args(["connect", &w.server()]).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("voicectl trust"), "{err}");

    let ca = w.dir.path().join("ca.pem");
    let status = w.json(&["connect", &w.server(), "--ca-file", ca.to_str().unwrap()]);
    assert_eq!(status["state"], "connected", "{status}");
    assert_eq!(w.json(&["known-servers"]), serde_json::json!([]));
}

#[test]
fn voiced_ca_file_setting_trusts_the_issued_certificate() {
    let w = World::start(|dir| format!("ca_file = {:?}\n", dir.join("ca.pem")));
    let status = w.json(&["connect", &w.server()]);
    assert_eq!(status["state"], "connected", "{status}");
    assert_eq!(w.json(&["known-servers"]), serde_json::json!([]));
}
