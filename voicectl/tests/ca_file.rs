//! A server whose certificate is issued by a CA the user trusts through
//! `voicectl connect --ca-file` or voiced's `ca_file` setting: connected with
//! no prompt, and nothing pinned. The real binary, voiced and voice-server
//! (`files` TLS mode with a certificate from a test CA made with rcgen).
#![allow(clippy::unwrap_used)] // test code: a failure is a test failure

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tokio::sync::oneshot;

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

struct World {
    dir: tempfile::TempDir,
    socket: PathBuf,
    port: u16,
    stops: Vec<oneshot::Sender<()>>,
    _rt: tokio::runtime::Runtime,
}

impl World {
    /// A server with a CA-issued certificate, and a voiced whose
    /// config.toml holds `voiced_config`.
    fn start(voiced_config: impl FnOnce(&Path) -> String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        issue(dir.path());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = voice_server::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: Some(dir.path().join("server")),
            password: Some(String::new()),
            tls_mode: voice_server::config::TlsMode::Files,
            tls_cert: Some(dir.path().join("chain.pem")),
            tls_key: Some(dir.path().join("key.pem")),
            ..voice_server::Config::default()
        };
        let server = rt.block_on(voice_server::Server::bind(config)).unwrap();
        let port = server.banner().listening.port();
        let (server_stop, server_stopped) = oneshot::channel::<()>();
        rt.spawn(server.run(async move {
            let _ = server_stopped.await;
        }));
        let paths = voiced::Paths {
            config_dir: dir.path().join("config/voice"),
            data_dir: dir.path().join("data/voice"),
            cache_dir: dir.path().join("cache/voice"),
            runtime_dir: dir.path().join("run/voice"),
        };
        std::fs::create_dir_all(&paths.config_dir).unwrap();
        std::fs::write(paths.config_file(), voiced_config(dir.path())).unwrap();
        let daemon = rt.block_on(voiced::Daemon::bind(paths, None)).unwrap();
        let socket = daemon.socket().to_path_buf();
        let (daemon_stop, daemon_stopped) = oneshot::channel::<()>();
        rt.spawn(async move {
            daemon
                .serve(async {
                    let _ = daemon_stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            dir,
            socket,
            port,
            stops: vec![daemon_stop, server_stop],
            _rt: rt,
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

impl Drop for World {
    fn drop(&mut self) {
        for s in self.stops.drain(..) {
            let _ = s.send(());
        }
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
