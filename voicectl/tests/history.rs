//! `voicectl history fetch`: the real binary against real daemons (and, for
//! the whole flow, a real voice-server and a second member serving the room's
//! earlier chat).
#![allow(clippy::unwrap_used)] // test code: a failure is a test failure

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use voice_testkit::{TestDaemon, TestServer};
use voiced_client::history::EARLIER_MARKER;

fn voicectl(socket: &Path) -> Command {
    let mut c = Command::cargo_bin("voicectl").unwrap();
    c.arg("--socket").arg(socket);
    c.env_remove("VOICED_SOCKET");
    c
}

fn json(socket: &Path, args: &[&str]) -> Value {
    let out = voicectl(socket).arg("--json").args(args).assert().success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

#[test]
fn help_lists_history_fetch() {
    let out = Command::cargo_bin("voicectl")
        .unwrap()
        .args(["history", "--help"])
        .assert()
        .success();
    let help = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(help.contains("fetch"), "{help}");
    let out = Command::cargo_bin("voicectl")
        .unwrap()
        .arg("--help")
        .assert()
        .success();
    let help = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(help.contains("history"), "{help}");
}

#[test]
fn without_a_server_history_fetch_fails_with_voiced_s_words() {
    let rt = voice_testkit::runtime();
    let daemon = rt.block_on(TestDaemon::start());
    let out = voicectl(&daemon.socket)
        .args(["history", "fetch"])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.starts_with("voicectl: ") && err.len() > 12, "{err}");
    let out = voicectl(&daemon.socket)
        .args(["--json", "history", "fetch", "Lobby"])
        .assert()
        .code(1);
    let error: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(error["exit_code"], 1);
    assert!(!error["error"].as_str().unwrap().is_empty(), "{error}");
}

/// Ada chats in the Lobby; Bob joins later and fetches what he missed from
/// her. Needs voiced's side of room history (issue 18) working end to end.
#[test]
fn a_member_who_joins_later_fetches_the_earlier_chat() {
    let rt = voice_testkit::runtime();
    let server = rt.block_on(TestServer::start_with(|config| {
        config.password = Some(String::new());
    }));
    let ada = rt.block_on(TestDaemon::start());
    let bob = rt.block_on(TestDaemon::start());
    let addr = server.server();
    for (daemon, name) in [(&ada, "Ada"), (&bob, "Bob")] {
        voicectl(&daemon.socket)
            .args(["connect", &addr, "--accept-new", "--name", name])
            .assert()
            .success();
    }
    voicectl(&ada.socket)
        .args(["room", "create", "Lobby"])
        .assert()
        .success();
    voicectl(&ada.socket)
        .args(["join", "Lobby"])
        .assert()
        .success();
    let said = ["first", "second", "third"];
    for text in said {
        voicectl(&ada.socket).args(["say", text]).assert().success();
    }
    // Ada has seen her own messages come back before Bob asks.
    let start = std::time::Instant::now();
    while json(&ada.socket, &["chat"]).as_array().map_or(0, Vec::len) < said.len() {
        assert!(start.elapsed().as_secs() < 60, "Ada's chat came back");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    voicectl(&bob.socket)
        .args(["join", "Lobby"])
        .assert()
        .success();

    let history = json(&bob.socket, &["history", "fetch"]);
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, said, "{history}");
    let first = &history["messages"][0];
    assert_eq!(first["history"], true);
    assert_eq!(first["sender_name"], "Ada");
    assert_eq!(first["sender_key"].as_str().unwrap().len(), 64);
    assert!(history["seeders"].as_u64().unwrap() >= 1, "{history}");
    assert!(history["bytes"].as_u64().unwrap() > 0, "{history}");
    assert_eq!(history["info_hash"].as_str().unwrap().len(), 40);
    let seqs: Vec<u64> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(history["first_seq"].as_u64(), seqs.first().copied());
    assert_eq!(history["last_seq"].as_u64(), seqs.last().copied());

    // In words: the lines under the marker, then the summary.
    let out = voicectl(&bob.socket)
        .args(["history", "fetch", "Lobby"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], EARLIER_MARKER, "{text}");
    assert!(lines[1].ends_with("] Ada: first"), "{text}");
    assert!(lines[4].starts_with("3 earlier messages from "), "{text}");
    // The chat voiced keeps has them now, marked, above the live chat.
    let chat = json(&bob.socket, &["chat"]);
    assert_eq!(chat[0]["text"], "first", "{chat}");
    assert_eq!(chat[0]["history"], true, "{chat}");
}
