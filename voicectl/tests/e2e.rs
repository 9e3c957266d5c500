//! The real `voicectl` binary, a real voiced and a real voice-server.
#![allow(clippy::unwrap_used)] // test code: a failure is a test failure

use assert_cmd::Command;
use serde_json::Value;
use voice_proto::pb::control as c;
use voice_testkit::{TestDaemon, TestServer};

/// A voice-server without a password and a voiced, on their own runtime.
struct World {
    socket: std::path::PathBuf,
    server: String,
    fingerprint: String,
    admin_token: String,
    _daemon: TestDaemon,
    _server: TestServer,
    _rt: tokio::runtime::Runtime,
}

impl World {
    fn start() -> Self {
        let rt = voice_testkit::runtime();
        let server = rt.block_on(TestServer::start_with(|config| {
            config.password = Some(String::new());
            config.server_name = "Test".into();
        }));
        let daemon = rt.block_on(TestDaemon::start());
        Self {
            socket: daemon.socket.clone(),
            server: server.server(),
            fingerprint: server.fingerprint.clone(),
            admin_token: server.admin_token.clone().unwrap(),
            _daemon: daemon,
            _server: server,
            _rt: rt,
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("voicectl").unwrap();
        c.arg("--socket").arg(&self.socket);
        c
    }

    fn text(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd().arg("--json").args(args).assert().success();
        serde_json::from_slice(&out.get_output().stdout).unwrap()
    }
}

#[test]
fn connect_rooms_chat_and_explain_from_the_command_line() {
    let w = World::start();
    // Unknown certificate: exit 1, the fingerprint and the command to trust it.
    let out = w.cmd().args(["connect", &w.server]).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains(&w.fingerprint), "{err}");
    assert!(err.contains("voicectl trust"), "{err}");

    let status = w.json(&["connect", &w.server, "--accept-new", "--name", "Ada"]);
    assert_eq!(status["state"], "connected");
    assert_eq!(status["fingerprint"], w.fingerprint);
    assert_eq!(w.json(&["known-servers"])[0]["fingerprint"], w.fingerprint);

    assert_eq!(
        w.text(&["room", "create", "Lobby"]),
        "created Lobby (id 1)\n"
    );
    assert_eq!(
        w.text(&["room", "create", "Lobby/Games"]),
        "created Lobby/Games (id 2)\n"
    );
    w.cmd().args(["join", "Lobby/Games"]).assert().success();
    w.cmd().args(["mute", "on"]).assert().success();
    assert_eq!(
        w.text(&["rooms"]),
        "/\n  Lobby\n    Games\n      - Ada (me) [muted]\n"
    );
    let rooms = w.json(&["rooms"]);
    assert_eq!(rooms["children"][0]["name"], "Lobby");
    assert_eq!(rooms["children"][0]["children"][0]["path"], "/Lobby/Games");
    let users = w.json(&["users"]);
    assert_eq!(users[0]["name"], "Ada");
    assert_eq!(users[0]["room_path"], "/Lobby/Games");
    assert_eq!(users[0]["self_mute"], true);
    let status = w.text(&["status"]);
    assert!(
        status.starts_with(&format!("connected to {} as Ada (session ", w.server)),
        "{status}"
    );
    assert!(status.contains(") in /Lobby/Games\n"), "{status}");

    w.cmd().args(["say", "hello there"]).assert().success();
    // The message comes back from the server: `chat --follow` prints the
    // history, then live messages, so it sees it either way.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("voicectl"))
        .arg("--socket")
        .arg(&w.socket)
        .args(["--json", "chat", "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(first["text"], "hello there");
    assert_eq!(first["sender_name"], "Ada");
    let history = w.json(&["chat"]);
    assert_eq!(history[0]["text"], "hello there");

    let out = w.cmd().args(["join", "Nowhere"]).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("no room named \"Nowhere\""), "{err}");

    let x = w.json(&["explain", "Lobby/Games"]);
    let enter = x["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["permission"] == "enter")
        .unwrap()
        .clone();
    assert_eq!(enter["granted"], true);
    let text = w.text(&["explain", "Lobby/Games"]);
    assert!(text.contains("enter"), "{text}");

    // Editing rooms needs EditRoom: refused, until this identity claims admin.
    let out = w
        .cmd()
        .args(["room", "rename", "Lobby/Games", "Chess"])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("permission denied") && err.contains("edit_room"),
        "{err}"
    );
    let status = w.json(&["claim-admin", &w.admin_token]);
    assert_eq!(status["state"], "connected");
    assert_eq!(status["display_name"], "Ada");
    assert_eq!(w.json(&["users"])[0]["roles"][0], "admin");
    assert_eq!(w.json(&["users"])[0]["room_path"], "/Lobby/Games");
    w.cmd()
        .args(["room", "rename", "Lobby/Games", "Chess"])
        .assert()
        .success();
    w.cmd().args(["room", "delete", "Lobby"]).assert().success();
    assert_eq!(w.text(&["rooms"]), "/\n  - Ada (me) [muted]\n");
    let status = w.json(&["disconnect"]);
    assert_eq!(status["state"], "disconnected");
}

/// Issue 22, first step: `acl show` and `role list` read the daemon's copy
/// of the server's state.
#[test]
fn a_rooms_rules_and_the_roles_from_the_command_line() {
    let w = World::start();
    let out = w.cmd().args(["acl", "show", "/"]).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("voicectl connect"), "{err}");

    w.json(&["connect", &w.server, "--accept-new", "--name", "Ada"]);
    w.cmd().args(["room", "create", "Lobby"]).assert().success();
    let acl = w.json(&["acl", "show", "Lobby"]);
    assert_eq!(acl["path"], "/Lobby");
    assert_eq!(acl["inherit"], true);
    // The server's default root rules, passed down to the Lobby.
    let inherited: Vec<&Value> = acl["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["inherited"] == true)
        .collect();
    assert_eq!(inherited.len(), 2, "{acl}");
    assert!(
        inherited
            .iter()
            .all(|e| e["room_path"] == "/" && e["in_force"] == true)
    );
    assert_eq!(inherited[0]["subject"]["role"], "everyone");
    assert!(
        inherited[0]["allow"]
            .as_array()
            .unwrap()
            .contains(&Value::from("enter")),
        "{acl}"
    );
    assert_eq!(inherited[1]["subject"]["role"], "known");
    assert_eq!(inherited[1]["allow"], serde_json::json!(["make_room"]));
    let text = w.text(&["acl", "show", "Lobby"]);
    assert!(text.starts_with("/Lobby (room 1)\n"), "{text}");
    assert!(
        text.contains("from /") && text.contains("role everyone"),
        "{text}"
    );
    let out = w.cmd().args(["acl", "show", "Nowhere"]).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("no room named \"Nowhere\""), "{err}");

    // Each user × each permission, with the rule that decided it.
    let x = w.json(&["acl", "effective", "Lobby"]);
    assert_eq!(x["path"], "/Lobby");
    let ada = &x["users"][0];
    assert_eq!(ada["name"], "Ada");
    assert_eq!(ada["admin"], false);
    let decision = |p: &str| {
        ada["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["permission"] == p)
            .unwrap()
            .clone()
    };
    assert_eq!(decision("enter")["granted"], true);
    assert_eq!(decision("enter")["rule"]["room_path"], "/");
    assert_eq!(decision("enter")["rule"]["index"], 0);
    assert_eq!(decision("make_room")["rule"]["index"], 1);
    assert_eq!(decision("edit_room")["granted"], false);
    assert_eq!(decision("edit_room")["rule"], Value::Null);
    let text = w.text(&["acl", "effective", "Lobby"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("Ada ") && l.contains("edit_room") && l.contains("denied")),
        "{text}"
    );

    // Roles need manage_roles: refused, naming the permission.
    let out = w.cmd().args(["role", "create", "mod"]).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("manage_roles"), "{err}");

    let roles = w.json(&["role", "list"]);
    let names: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(&names[..3], ["admin", "everyone", "known"]);
    assert_eq!(roles[1]["holders"], serde_json::json!(["Ada"]));
    assert_eq!(roles[0]["holders"], serde_json::json!([]));
    w.json(&["claim-admin", &w.admin_token]);
    assert_eq!(
        w.json(&["role", "list"])[0]["holders"],
        serde_json::json!(["Ada"])
    );
    assert_eq!(
        w.json(&["acl", "effective", "Lobby"])["users"][0]["admin"],
        true
    );
    // An admin creates, grants, revokes and deletes a role.
    assert_eq!(
        w.text(&["role", "create", "mod", "--description", "keeps order"]),
        "created role mod\n"
    );
    let out = w.cmd().args(["role", "create", "mod"]).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("exists"), "{err}");
    w.cmd()
        .args(["role", "grant", "Ada", "mod"])
        .assert()
        .success();
    let roles = w.json(&["role", "list"]);
    let m = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "mod")
        .unwrap()
        .clone();
    assert_eq!(m["description"], "keeps order");
    assert_eq!(m["holders"], serde_json::json!(["Ada"]));
    let holds_mod = |w: &World| {
        w.json(&["users"])[0]["roles"]
            .as_array()
            .unwrap()
            .contains(&Value::from("mod"))
    };
    assert!(holds_mod(&w));
    let out = w
        .cmd()
        .args(["role", "grant", "Ada", "mod"])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("already holds"), "{err}");
    w.cmd()
        .args(["role", "revoke", "Ada", "mod"])
        .assert()
        .success();
    assert!(!holds_mod(&w));
    w.cmd().args(["role", "delete", "mod"]).assert().success();
    assert!(
        w.json(&["role", "list"])
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] != "mod")
    );
    let text = w.text(&["role", "list"]);
    assert!(text.starts_with("admin "), "{text}");
    assert!(text.contains("(built-in)"), "{text}");
}

/// Issue 16, hole 11: another user (Eve, a second real daemon) tries a name
/// with a right-to-left override and chat with escape sequences; what Ada's
/// real `voicectl` prints holds no ESC byte and no bidi control.
#[test]
fn hostile_names_are_refused_and_peer_text_never_drives_a_terminal() {
    let w = World::start();
    w.json(&["connect", &w.server, "--accept-new", "--name", "Ada"]);
    let eve = w._rt.block_on(TestDaemon::start());
    let eve_cmd = |args: &[&str]| {
        let mut c = Command::cargo_bin("voicectl").unwrap();
        c.arg("--socket").arg(&eve.socket).args(args);
        c
    };

    // "eve\u{202E}nimda" would show as "eveadmin": refused, and the error
    // names the character and says what to do.
    let out = eve_cmd(&[
        "connect",
        &w.server,
        "--accept-new",
        "--name",
        "eve\u{202E}nimda",
    ])
    .assert()
    .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("U+202E"), "{err}");
    assert!(err.contains("remove it"), "{err}");
    assert!(
        !err.contains('\u{202E}'),
        "the error shows the character raw: {err}"
    );

    eve_cmd(&["connect", &w.server, "--accept-new", "--name", "Eve"])
        .assert()
        .success();
    // Escape sequences in chat: refused by the server; Eve's daemon reports
    // the refusal (chat is sent without waiting), naming the character.
    let mut eve_events = w._rt.block_on(async {
        eve.client()
            .await
            .watch(c::WatchRequest { levels: false })
            .await
            .unwrap()
            .into_inner()
    });
    let mut refusal = |text: &str| {
        eve_cmd(&["say", text]).assert().success();
        w._rt.block_on(async {
            tokio::time::timeout(voice_testkit::WAIT, async {
                loop {
                    let e = eve_events.message().await.unwrap().unwrap();
                    if let Some(c::event::Kind::Error(e)) = e.kind {
                        return e.message;
                    }
                }
            })
            .await
            .expect("the refusal reaches Eve")
        })
    };
    let err = refusal("\u{1b}]0;pwned\u{7}\u{1b}[2J");
    assert!(err.contains("U+001B") && err.contains("remove it"), "{err}");
    let err = refusal("csi \u{9b}2J");
    assert!(err.contains("U+009B"), "{err}");
    // Bidi controls may travel in chat, newlines too: shown escaped.
    eve_cmd(&["say", "hi \u{202E}gpj.exe\nline two"])
        .assert()
        .success();
    eve_cmd(&["say", "plain"]).assert().success();

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("voicectl"))
        .arg("--socket")
        .arg(&w.socket)
        .args(["chat", "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut printed = Vec::new();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = Vec::new();
        let n = std::io::BufRead::read_until(&mut reader, b'\n', &mut line).unwrap();
        assert_ne!(n, 0, "chat ended before the last message");
        printed.extend_from_slice(&line);
        if line.ends_with(b"Eve: plain\n") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = String::from_utf8(printed).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "ESC reached the terminal: {text:?}"
    );
    assert!(
        !text.contains('\u{9b}'),
        "CSI reached the terminal: {text:?}"
    );
    assert!(
        !text.contains('\u{202E}'),
        "RLO reached the terminal: {text:?}"
    );
    assert!(!text.contains("pwned"), "{text:?}");
    assert!(
        text.contains("Eve: hi \\u{202E}gpj.exe\n    line two"),
        "{text:?}"
    );

    // JSON for scripts: the same data, escaped too.
    let out = w.cmd().args(["--json", "chat"]).assert().success();
    let raw = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(!raw.contains('\u{202E}'), "{raw}");
    assert!(raw.contains("\\u202e"), "{raw}");
    let history: Value = serde_json::from_str(&raw).unwrap();
    assert!(
        history[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("hi \u{202E}gpj.exe\nline two")
    );
    drop(eve);
}

/// A bot's message (the server's `SendChat`: sender 0, no key) is marked as
/// the server's in text and JSON, a member's is not, even under the same
/// name.
#[test]
fn a_bots_chat_is_marked_as_the_servers() {
    let w = World::start();
    w.cmd()
        .args(["connect", &w.server, "--accept-new", "--name", "Ada"])
        .assert()
        .success();
    w.cmd().args(["say", "hello there"]).assert().success();
    w._rt
        .block_on(w._server.hub.server_chat(0, "Ada", "I am not Ada"))
        .unwrap();
    let start = std::time::Instant::now();
    let messages = loop {
        let messages = w.json(&["chat"]);
        if messages.as_array().is_some_and(|m| m.len() == 2) {
            break messages;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "{messages}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let by_text = |text: &str| {
        messages
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["text"] == text)
            .unwrap()
            .clone()
    };
    let member = by_text("hello there");
    assert_eq!(member["from_server"], false);
    assert_eq!(member["sender_key"].as_str().unwrap().len(), 64);
    let bot = by_text("I am not Ada");
    assert_eq!(bot["from_server"], true);
    assert_eq!(bot["sender"], 0);
    assert_eq!(bot["sender_name"], "Ada");
    let text = w.text(&["chat"]);
    assert!(text.contains("] Ada: hello there\n"), "{text}");
    assert!(text.contains("] Ada (server): I am not Ada\n"), "{text}");
}
