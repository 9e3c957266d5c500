//! Files from the command line: `voicectl share`, `files`, `download`,
//! `transfers` and `cancel` with the real binary, two real daemons and a
//! real voice-server; the data moves over real BitTorrent on loopback.
#![allow(clippy::unwrap_used)] // test code: a failure is a test failure

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use voice_testkit::{TestDaemon, TestServer};

/// A server and two daemons (alice shares, bob downloads) on one runtime.
struct World {
    alice: PathBuf,
    bob: PathBuf,
    server: String,
    _daemons: (TestDaemon, TestDaemon),
    _server: TestServer,
    _rt: tokio::runtime::Runtime,
}

impl World {
    fn start() -> Self {
        let rt = voice_testkit::runtime();
        let server = rt.block_on(TestServer::start_with(|config| {
            config.password = Some(String::new());
        }));
        let a = rt.block_on(TestDaemon::start());
        let b = rt.block_on(TestDaemon::start());
        let w = Self {
            alice: a.socket.clone(),
            bob: b.socket.clone(),
            server: server.server(),
            _daemons: (a, b),
            _server: server,
            _rt: rt,
        };
        for (socket, name) in [(&w.alice, "alice"), (&w.bob, "bob")] {
            cmd(socket)
                .args(["connect", &w.server, "--accept-new", "--name", name])
                .assert()
                .success();
        }
        w
    }
}

fn cmd(socket: &Path) -> Command {
    let mut c = Command::cargo_bin("voicectl").unwrap();
    c.arg("--socket").arg(socket);
    c
}

fn json(socket: &Path, args: &[&str]) -> Value {
    let out = cmd(socket).arg("--json").args(args).assert().success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

#[test]
fn share_list_download_and_cancel_from_the_command_line() {
    let w = World::start();
    let data = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let path = data.path().join("notes.bin");
    std::fs::write(&path, &bytes).unwrap();

    // Share: the JSON names the file; plain output is the magnet link.
    let shared = json(&w.alice, &["share", path.to_str().unwrap()]);
    for key in ["id", "name", "size", "info_hash", "magnet"] {
        assert!(shared.get(key).is_some(), "{key} missing: {shared}");
    }
    assert_eq!(shared["name"], "notes.bin");
    assert_eq!(shared["size"], 3_000_000);
    let magnet = shared["magnet"].as_str().unwrap().to_owned();
    assert!(magnet.starts_with("magnet:?xt=urn:btih:"), "{magnet}");

    // Bob lists it, with its sharer and one seeder.
    let files = json(&w.bob, &["files"]);
    let file = &files.as_array().unwrap()[0];
    for key in ["id", "name", "size", "sharer", "seeders"] {
        assert!(file.get(key).is_some(), "{key} missing: {file}");
    }
    assert_eq!(file["sharer"], "alice");
    assert_eq!(file["seeders"], 1);
    assert_eq!(file["id"], shared["id"]);

    // Download by magnet: exit 0, the path of a file equal to the original.
    let to = tempfile::tempdir().unwrap();
    let out = cmd(&w.bob)
        .args(["download", &magnet, "--to", to.path().to_str().unwrap()])
        .assert()
        .success();
    let printed = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let got = printed.trim().lines().last().unwrap().to_owned();
    assert!(got.starts_with(to.path().to_str().unwrap()), "{printed}");
    assert_eq!(std::fs::read(&got).unwrap(), bytes);

    // By id with --json: progress lines, the last one complete with the path
    // (a second copy next to the first, which it does not replace).
    let out = cmd(&w.bob)
        .args(["--json", "download"])
        .arg(shared["id"].to_string())
        .args(["--to", to.path().to_str().unwrap()])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let last: Value = serde_json::from_str(text.trim().lines().last().unwrap()).unwrap();
    assert_eq!(last["state"], "complete", "{text}");
    assert_eq!(last["path"], got, "one transfer per file: the finished one");

    // Transfers and cancel.
    let transfers = json(&w.bob, &["transfers"]);
    let id = transfers[0]["id"].as_u64().unwrap();
    cmd(&w.bob)
        .args(["cancel", &id.to_string()])
        .assert()
        .success();
    assert_eq!(json(&w.bob, &["transfers"]).as_array().unwrap().len(), 0);
    let out = cmd(&w.bob)
        .args(["cancel", &id.to_string()])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("voicectl transfers"), "{err}");

    // A magnet nobody shares: exit 1 with the reason.
    let unknown = format!("magnet:?xt=urn:btih:{}", "0".repeat(40));
    let out = cmd(&w.bob).args(["download", &unknown]).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("voicectl files"), "{err}");
}
