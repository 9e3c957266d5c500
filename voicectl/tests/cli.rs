//! The real `voicectl` binary against a real voiced on a real socket.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use assert_cmd::Command;
use serde_json::Value;
use voice_testkit::{TestDaemon, paths_in};

/// A voiced on its own runtime, its paths under `dir`.
struct Fixture {
    socket: std::path::PathBuf,
    _daemon: TestDaemon,
    _rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rt = voice_testkit::runtime();
        let daemon = rt.block_on(TestDaemon::start_at(paths_in(dir.path())));
        Self {
            socket: daemon.socket.clone(),
            _daemon: daemon,
            _rt: rt,
            dir,
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("voicectl").unwrap();
        c.arg("--socket").arg(&self.socket);
        c.env_remove("VOICED_SOCKET");
        c
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd().arg("--json").args(args).assert().success();
        serde_json::from_slice(&out.get_output().stdout).unwrap()
    }
}

#[test]
fn without_a_daemon_exit_3_and_say_how_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("voicectl")
        .unwrap()
        .env("XDG_RUNTIME_DIR", dir.path())
        .env_remove("VOICED_SOCKET")
        .arg("status")
        .assert()
        .code(3);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("voiced is not running"), "{err}");
    assert!(err.contains("voiced &"), "{err}");
    assert!(err.contains("systemctl --user start voiced"), "{err}");
    assert!(
        err.contains(&dir.path().join("voice/voiced.sock").display().to_string()),
        "{err}"
    );
}

#[test]
fn without_xdg_runtime_dir_the_socket_is_under_tmp_per_user() {
    let out = Command::cargo_bin("voicectl")
        .unwrap()
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("VOICED_SOCKET")
        .env("TMPDIR", "/nonexistent-tmp")
        .arg("status")
        .assert()
        .code(3);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("/nonexistent-tmp/voice-"), "{err}");
    assert!(err.contains("/voiced.sock"), "{err}");
}

#[test]
fn voiced_socket_env_overrides_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("custom.sock");
    let out = Command::cargo_bin("voicectl")
        .unwrap()
        .env("VOICED_SOCKET", &sock)
        .arg("status")
        .assert()
        .code(3);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains(&sock.display().to_string()), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    Command::cargo_bin("voicectl")
        .unwrap()
        .arg("no-such-command")
        .assert()
        .code(2);
    Command::cargo_bin("voicectl")
        .unwrap()
        .args(["mute", "sideways"])
        .assert()
        .code(2);
}

#[test]
fn completions_and_man_need_no_daemon() {
    let out = Command::cargo_bin("voicectl")
        .unwrap()
        .args(["completions", "bash"])
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("voicectl"));
    let out = Command::cargo_bin("voicectl")
        .unwrap()
        .arg("man")
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains(".TH"));
}

#[test]
fn status_human_and_json() {
    let f = Fixture::start();
    let out = f.cmd().arg("status").assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.starts_with("disconnected\n"), "{text}");
    assert!(
        text.contains("mute: no  deaf: no  voice mode: vad"),
        "{text}"
    );
    let j = f.json(&["status"]);
    assert_eq!(j["state"], "disconnected");
    assert_eq!(j["self_mute"], false);
}

#[test]
fn disconnected_commands_fail_with_exit_1_and_advice() {
    let f = Fixture::start();
    for args in [
        &["rooms"][..],
        &["users"],
        &["join", "Lobby"],
        &["say", "hi"],
    ] {
        let out = f.cmd().args(args).assert().code(1);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(
            err.contains("not connected; run `voicectl connect HOST`"),
            "{args:?}: {err}"
        );
    }
    let out = f.cmd().args(["--json", "rooms"]).assert().code(1);
    let j: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(j["exit_code"], 1);
}

#[test]
fn mute_toggles_and_settings_show_in_status() {
    let f = Fixture::start();
    assert_eq!(f.json(&["mute"])["self_mute"], true);
    assert_eq!(f.json(&["status"])["self_mute"], true);
    assert_eq!(f.json(&["mute"])["self_mute"], false);
    assert_eq!(f.json(&["mute", "on"])["self_mute"], true);
    assert_eq!(f.json(&["deafen", "on"])["self_deaf"], true);
    f.cmd().args(["voice-mode", "ptt"]).assert().success();
    f.cmd().args(["ptt", "press"]).assert().success();
    let s = f.json(&["status"]);
    assert_eq!(s["voice_mode"], "ptt");
    assert_eq!(s["self_deaf"], true);
    f.cmd().args(["name", "Grace"]).assert().success();
    assert_eq!(f.json(&["identity"])["display_name"], "Grace");
}

#[test]
fn servers_and_trust() {
    let f = Fixture::start();
    f.cmd()
        .args(["server", "add", "home", "voice.example.org"])
        .assert()
        .success();
    let list = f.json(&["server", "list"]);
    assert_eq!(list[0]["name"], "home");
    assert_eq!(list[0]["server"], "voice.example.org:7878");
    f.cmd()
        .args(["server", "remove", "home"])
        .assert()
        .success();
    f.cmd().args(["server", "remove", "home"]).assert().code(1);
    let fp = "0f".repeat(32);
    f.cmd()
        .args(["trust", "voice.example.org:7878", &fp])
        .assert()
        .success();
    let known = f.json(&["known-servers"]);
    assert_eq!(known[0]["fingerprint"], fp);
    let out = f.cmd().args(["trust", "h", "nope"]).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("not a SHA-256 fingerprint"), "{err}");
    assert!(f.dir.path().join("data/voice/known_servers").exists());
}

#[test]
fn watch_prints_json_lines() {
    let f = Fixture::start();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("voicectl"))
        .arg("--socket")
        .arg(&f.socket)
        .arg("watch")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["event"], "connection");
    f.cmd().args(["mute", "on"]).assert().success();
    let next: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(next["event"], "connection");
    assert_eq!(next["status"]["self_mute"], true);
    child.kill().unwrap();
    child.wait().unwrap();
}
