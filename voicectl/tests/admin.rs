//! Administration from the command line, through the real `voicectl`
//! binary, real voiced daemons and a real voice-server: ACLs set and
//! cleared, registration, kicks, bans; each allowed for the holder of the
//! permission and refused (naming the permission, the room and the rule)
//! for everyone else; and no way to grant what one lacks.
#![allow(clippy::unwrap_used)] // test code: a failure is a test failure

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::{Value, json};
use voice_testkit::voice_server::config::Registration;
use voice_testkit::{TestDaemon, TestServer};

/// A voice-server without a password, registering users only on request,
/// and three connected daemons: Ada (administrator), Bob and Cy.
struct World {
    server: String,
    ada: PathBuf,
    bob: PathBuf,
    cy: PathBuf,
    _daemons: Vec<TestDaemon>,
    _server: TestServer,
    _rt: tokio::runtime::Runtime,
}

impl World {
    fn start() -> Self {
        let rt = voice_testkit::runtime();
        let server = rt.block_on(TestServer::start_with(|config| {
            config.password = Some(String::new());
            // New keys stay unregistered until someone registers them.
            config.registration = Registration::Admin;
        }));
        let daemons: Vec<TestDaemon> = (0..3).map(|_| rt.block_on(TestDaemon::start())).collect();
        let w = Self {
            server: server.server(),
            ada: daemons[0].socket.clone(),
            bob: daemons[1].socket.clone(),
            cy: daemons[2].socket.clone(),
            _daemons: daemons,
            _server: server,
            _rt: rt,
        };
        let token = w._server.admin_token.clone().unwrap();
        for (socket, name) in [(&w.ada, "Ada"), (&w.bob, "Bob"), (&w.cy, "Cy")] {
            w.json(
                socket,
                &["connect", &w.server, "--accept-new", "--name", name],
            );
        }
        w.json(&w.ada, &["claim-admin", &token]);
        w
    }

    fn cmd(&self, socket: &PathBuf) -> Command {
        let mut c = Command::cargo_bin("voicectl").unwrap();
        c.arg("--socket").arg(socket);
        c
    }

    fn text(&self, socket: &PathBuf, args: &[&str]) -> String {
        let out = self.cmd(socket).args(args).assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    }

    fn json(&self, socket: &PathBuf, args: &[&str]) -> Value {
        let out = self.cmd(socket).arg("--json").args(args).assert().success();
        serde_json::from_slice(&out.get_output().stdout).unwrap()
    }

    /// Runs a command that must fail; its standard error.
    fn refused(&self, socket: &PathBuf, args: &[&str]) -> String {
        let out = self.cmd(socket).args(args).assert().code(1);
        String::from_utf8_lossy(&out.get_output().stderr).into_owned()
    }

    /// The effective decision for `user` and `permission` in `room`, as
    /// Ada's daemon sees it.
    fn decision(&self, room: &str, user: &str, permission: &str) -> Value {
        let x = self.json(&self.ada, &["acl", "effective", room]);
        let u = x["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == user)
            .unwrap_or_else(|| panic!("{user} in {x}"))
            .clone();
        u["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["permission"] == permission)
            .unwrap()
            .clone()
    }

    /// Whether the room inherits, and its own entries.
    fn own(&self, room: &str) -> (bool, Vec<Own>) {
        let acl = self.json(&self.ada, &["acl", "show", room]);
        let own = acl["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["inherited"] == false)
            .map(|e| {
                (
                    e["subject"].clone(),
                    e["allow"].clone(),
                    e["deny"].clone(),
                    e["here"].as_bool().unwrap(),
                    e["below"].as_bool().unwrap(),
                )
            })
            .collect();
        (acl["inherit"].as_bool().unwrap(), own)
    }

    fn state(&self, socket: &PathBuf) -> String {
        self.json(socket, &["status"])["state"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// One of a room's own entries: subject, allow, deny, here, below.
type Own = (Value, Value, Value, bool, bool);

/// Polls until `check` holds (at most 10 s, then fails naming `what`).
fn until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{what} did not happen within 10 s");
}

#[test]
fn a_moderated_room_from_flags_a_file_and_clear() {
    let w = World::start();
    w.text(&w.ada, &["room", "create", "Stage"]);
    w.text(&w.ada, &["role", "create", "speaker"]);
    // Flags in any order: the broader subject goes first, so the narrower
    // rule (speaker) overrides the broader (everyone).
    let text = w.text(
        &w.ada,
        &[
            "acl", "set", "Stage", "--allow", "speaker", "speak", "--deny", "everyone", "speak",
        ],
    );
    assert!(text.starts_with("set 2 rules on /Stage\n"), "{text}");
    let (inherit, own) = w.own("Stage");
    assert!(inherit);
    assert_eq!(
        own,
        vec![
            (
                json!({"role": "everyone"}),
                json!([]),
                json!(["speak"]),
                true,
                true
            ),
            (
                json!({"role": "speaker"}),
                json!(["speak"]),
                json!([]),
                true,
                true
            ),
        ]
    );
    let bob_speaks = |w: &World| w.decision("Stage", "Bob", "speak");
    assert_eq!(bob_speaks(&w)["granted"], false);
    assert_eq!(
        bob_speaks(&w)["rule"],
        json!({"room": 1, "room_path": "/Stage", "index": 0})
    );
    w.text(&w.ada, &["role", "grant", "Bob", "speaker"]);
    assert_eq!(bob_speaks(&w)["granted"], true);
    assert_eq!(bob_speaks(&w)["rule"]["index"], 1);

    // What `acl show --json` prints reads back as the same rules; a user
    // rule added with --keep keeps the others; --no-inherit and scopes.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stage.json");
    std::fs::write(&file, w.text(&w.ada, &["--json", "acl", "show", "Stage"])).unwrap();
    w.text(
        &w.ada,
        &[
            "acl",
            "set",
            "Stage",
            "--keep",
            "--here-only",
            "--allow",
            "Cy",
            "text_message,speak",
        ],
    );
    let (_, own) = w.own("Stage");
    assert_eq!(own.len(), 3);
    assert_eq!(own[2].1, json!(["speak", "text_message"]));
    assert_eq!((own[2].3, own[2].4), (true, false));
    assert_eq!(own[2].0["user_key"].as_str().unwrap().len(), 64);
    w.text(
        &w.ada,
        &[
            "acl",
            "set",
            "Stage",
            "--file",
            file.to_str().unwrap(),
            "--no-inherit",
        ],
    );
    let (inherit, back) = w.own("Stage");
    assert!(!inherit);
    assert_eq!(back.len(), 2);
    assert_eq!(back[0].0, json!({"role": "everyone"}));
    // Nothing inherited now: the room's own rules grant no traverse, so
    // only the administrator holds anything there.
    assert_eq!(w.decision("Stage", "Bob", "speak")["granted"], false);

    // Bad input: each error says what to write instead.
    let err = w.refused(
        &w.ada,
        &["acl", "set", "Stage", "--allow", "everyone", "shout"],
    );
    assert!(
        err.contains("no permission \"shout\"") && err.contains("text_message"),
        "{err}"
    );
    let err = w.refused(&w.ada, &["acl", "set", "Stage"]);
    assert!(err.contains("nothing to set"), "{err}");
    let err = w.refused(
        &w.ada,
        &["acl", "set", "Stage", "--allow", "Nobody", "speak"],
    );
    assert!(err.contains("neither a role nor a user"), "{err}");
    std::fs::write(&file, "{\"entries\": [{\"subject\": {}}]}").unwrap();
    let err = w.refused(
        &w.ada,
        &["acl", "set", "Stage", "--file", file.to_str().unwrap()],
    );
    assert!(
        err.contains("entry 0") && err.contains("`role` or `user_key`"),
        "{err}"
    );
    std::fs::write(&file, "not json").unwrap();
    let err = w.refused(
        &w.ada,
        &["acl", "set", "Stage", "--file", file.to_str().unwrap()],
    );
    assert!(err.contains("not JSON"), "{err}");

    // Refused to a user without edit_room: the permission, the room and
    // why (no rule grants it).
    let err = w.refused(&w.bob, &["acl", "set", "Stage", "--allow", "Bob", "speak"]);
    assert!(
        err.contains("you lack the edit_room permission in /Stage")
            && err.contains("no rule grants traverse in /Stage"),
        "{err}"
    );
    let err = w.refused(&w.bob, &["acl", "clear", "Stage"]);
    assert!(err.contains("edit_room"), "{err}");

    // Clear: no own rules, inheriting again.
    let out = w.json(&w.ada, &["acl", "clear", "Stage"]);
    assert_eq!(out["inherit"], true);
    assert_eq!(w.own("Stage"), (true, vec![]));
    assert_eq!(w.decision("Stage", "Bob", "speak")["granted"], true);
}

#[test]
fn register_kick_ban_and_unban_need_their_permissions() {
    let w = World::start();
    // Bob holds none of them: each refusal names the permission, the root
    // and why.
    for (args, permission) in [
        (&["register", "Cy"][..], "register"),
        (&["kick", "Cy"][..], "kick"),
        (&["ban", "Cy"][..], "ban"),
        (&["bans"][..], "ban"),
        (&["unban", "Cy"][..], "ban"),
    ] {
        let err = w.refused(&w.bob, args);
        assert!(
            err.contains(&format!(
                "you lack the {permission} permission in /: no rule grants it there"
            )),
            "{args:?}: {err}"
        );
    }
    assert_eq!(w.state(&w.cy), "connected");

    // Ada registers Bob: he holds `known`.
    assert_eq!(
        w.text(&w.ada, &["register", "Bob"]),
        "registered Bob: they hold the role known now\n"
    );
    let users = w.json(&w.ada, &["users"]);
    let bob = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "Bob")
        .unwrap();
    assert!(
        bob["roles"].as_array().unwrap().contains(&json!("known")),
        "{bob}"
    );
    let err = w.refused(&w.ada, &["register", "Bob"]);
    assert!(err.contains("registered already"), "{err}");

    // Reasons are bounded: said, and nobody is kicked.
    let long = "x".repeat(600);
    let err = w.refused(&w.ada, &["kick", "Cy", "--reason", &long]);
    assert!(
        err.contains("the reason has 600 characters; give at most 512"),
        "{err}"
    );
    assert_eq!(w.state(&w.cy), "connected");

    // A kick disconnects; Cy may come back.
    assert_eq!(
        w.text(&w.ada, &["kick", "Cy", "--reason", "cool off"]),
        "kicked Cy\n"
    );
    until("Cy's disconnection", || w.state(&w.cy) != "connected");
    w.json(&w.cy, &["connect", &w.server, "--name", "Cy"]);
    assert_eq!(w.state(&w.cy), "connected");

    // A ban for two hours: listed with its name, reason, who and until
    // when; Cy cannot come back until it is lifted.
    assert_eq!(
        w.text(&w.ada, &["ban", "Cy", "--for", "2h", "--reason", "spam"]),
        "banned Cy for 2h\n"
    );
    until("Cy's disconnection", || w.state(&w.cy) != "connected");
    let bans = w.json(&w.ada, &["bans"]);
    let ban = &bans["bans"][0];
    assert_eq!(bans["bans"].as_array().unwrap().len(), 1, "{bans}");
    assert_eq!(ban["name"], "Cy");
    assert_eq!(ban["reason"], "spam");
    assert_eq!(ban["banned_by"], "Ada");
    assert_eq!(
        ban["expires_ms"].as_u64().unwrap() - ban["created_ms"].as_u64().unwrap(),
        7_200_000
    );
    let listed = w.text(&w.ada, &["bans"]);
    assert!(
        listed.starts_with("Cy ") && listed.contains("by Ada") && listed.contains("spam"),
        "{listed}"
    );
    let err = w.refused(&w.cy, &["connect", &w.server, "--name", "Cy"]);
    assert!(err.contains("banned"), "{err}");
    let err = w.refused(&w.ada, &["unban", "Nobody"]);
    assert!(err.contains("no ban on \"Nobody\""), "{err}");
    assert_eq!(w.text(&w.ada, &["unban", "Cy"]), "lifted the ban on Cy\n");
    assert_eq!(w.json(&w.ada, &["bans"])["bans"], json!([]));
    w.json(&w.cy, &["connect", &w.server, "--name", "Cy"]);

    // Given kick and ban at the root, Bob moderates, but never an
    // administrator.
    w.text(
        &w.ada,
        &["acl", "set", "/", "--keep", "--allow", "Bob", "kick,ban"],
    );
    assert_eq!(w.json(&w.bob, &["bans"])["bans"], json!([]));
    let err = w.refused(&w.bob, &["kick", "Ada"]);
    assert!(err.contains("administers this server"), "{err}");
    assert_eq!(w.text(&w.bob, &["ban", "Cy"]), "banned Cy for ever\n");
    let bans = w.json(&w.ada, &["bans"]);
    assert_eq!(bans["bans"][0]["expires_ms"], 0);
    assert_eq!(bans["bans"][0]["banned_by"], "Bob");
    let key = bans["bans"][0]["public_key"].as_str().unwrap().to_owned();
    assert_eq!(
        w.text(&w.bob, &["unban", &key[..10]]),
        format!("lifted the ban on {}\n", &key[..10])
    );
}

/// The security rule through these very commands: nobody grants what they
/// do not hold, in a room they created or any other.
#[test]
fn nobody_grants_what_they_lack_through_these_commands() {
    let w = World::start();
    w.text(&w.ada, &["room", "create", "Clubs"]);
    // Bob runs /Clubs: he may edit it and make rooms there, nothing more.
    w.text(
        &w.ada,
        &[
            "acl",
            "set",
            "Clubs",
            "--allow",
            "Bob",
            "edit_room,make_room",
        ],
    );
    w.text(&w.bob, &["room", "create", "Clubs/Mine"]);

    let beyond = |args: &[&str], permission: &str| {
        let err = w.refused(&w.bob, args);
        assert!(
            err.contains("you can only grant permissions you hold yourself")
                && err.contains(permission),
            "{args:?}: {err}"
        );
    };
    // In the room he created, to himself or to anyone.
    beyond(
        &["acl", "set", "Clubs/Mine", "--allow", "Bob", "kick"],
        "kick",
    );
    beyond(
        &["acl", "set", "Clubs/Mine", "--allow", "Cy", "mute_deafen"],
        "mute_deafen",
    );
    beyond(
        &["acl", "set", "Clubs/Mine", "--allow", "everyone", "all"],
        "ban",
    );
    beyond(
        &[
            "acl",
            "set",
            "Clubs/Mine",
            "--no-inherit",
            "--allow",
            "Bob",
            "manage_roles",
        ],
        "manage_roles",
    );
    // In the room he was given.
    beyond(
        &[
            "acl",
            "set",
            "Clubs",
            "--keep",
            "--allow",
            "Bob",
            "move_users",
        ],
        "move_users",
    );
    // From a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.json");
    let bob_key = w.json(&w.bob, &["identity"])["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(
        &file,
        json!({"entries": [{"subject": {"user_key": bob_key}, "allow": ["register"]}]}).to_string(),
    )
    .unwrap();
    beyond(
        &["acl", "set", "Clubs/Mine", "--file", file.to_str().unwrap()],
        "register",
    );
    // Elsewhere, not even edit_room; roles and registration not at all.
    let err = w.refused(
        &w.bob,
        &["acl", "set", "/", "--keep", "--allow", "Bob", "edit_room"],
    );
    assert!(
        err.contains("you lack the edit_room permission in /"),
        "{err}"
    );
    let err = w.refused(&w.bob, &["role", "grant", "Bob", "admin"]);
    assert!(err.contains("manage_roles"), "{err}");
    let err = w.refused(&w.bob, &["register", "Cy"]);
    assert!(err.contains("register"), "{err}");

    // What he holds he may pass on, and take away from others; an
    // administrator keeps every permission whatever the rules say.
    w.text(
        &w.bob,
        &[
            "acl",
            "set",
            "Clubs/Mine",
            "--allow",
            "Cy",
            "edit_room",
            "--deny",
            "everyone",
            "enter",
        ],
    );
    assert_eq!(w.decision("Clubs/Mine", "Cy", "edit_room")["granted"], true);
    assert_eq!(w.decision("Clubs/Mine", "Cy", "enter")["granted"], false);
    w.text(&w.ada, &["join", "Clubs/Mine"]);

    // Nothing Bob tried changed what he holds anywhere else.
    for room in ["/", "Clubs", "Clubs/Mine"] {
        for p in [
            "kick",
            "ban",
            "register",
            "manage_roles",
            "mute_deafen",
            "move_users",
        ] {
            assert_eq!(w.decision(room, "Bob", p)["granted"], false, "{room} {p}");
        }
    }
}

/// The command blocks under "Worked examples" in docs/admin.md, in order:
/// each line `voicectl …` as its arguments.
fn worked_examples() -> Vec<Vec<Vec<String>>> {
    let doc = include_str!("../../docs/admin.md");
    let examples = doc.split("## Worked examples").nth(1).unwrap();
    examples
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|block| {
            block
                .lines()
                .filter_map(|l| l.strip_prefix("voicectl "))
                .map(|l| l.split_whitespace().map(str::to_owned).collect())
                .collect()
        })
        .collect()
}

/// docs/admin.md's examples, run as written by the administrator, do what
/// the text says they do.
#[test]
fn the_worked_examples_of_docs_admin_md() {
    let w = World::start();
    let examples = worked_examples();
    assert_eq!(
        examples.len(),
        3,
        "moderated room, private room, guest lobby"
    );
    let run = |block: &[Vec<String>]| {
        for args in block {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            w.text(&w.ada, &args);
        }
    };

    // A moderated room: only speakers and moderators talk; Bob moderates.
    run(&examples[0]);
    let holds = |room: &str, user: &str, p: &str| w.decision(room, user, p)["granted"] == true;
    assert!(!holds("Stage", "Cy", "speak"));
    assert!(holds("Stage", "Cy", "enter") && holds("Stage", "Cy", "text_message"));
    assert!(holds("Stage", "Bob", "speak") && holds("Stage", "Bob", "mute_deafen"));
    w.text(&w.cy, &["join", "Stage"]);
    w.text(&w.bob, &["join", "Stage"]);
    let err = w.refused(&w.bob, &["role", "grant", "Cy", "speaker"]);
    assert!(err.contains("manage_roles"), "{err}");

    // A private room: staff only.
    run(&examples[1]);
    let err = w.refused(&w.cy, &["join", "Staff"]);
    assert!(
        err.contains("you lack the enter permission in /Staff")
            && err.contains("role everyone: deny traverse,enter"),
        "{err}"
    );
    w.text(&w.bob, &["join", "Staff"]);
    assert!(holds("Staff", "Bob", "speak"));

    // A guest lobby: a guest who logs in lands in the Lobby, can go
    // nowhere else, and is registered by the greeter.
    run(&examples[2]);
    w.json(&w.cy, &["disconnect"]);
    w.json(&w.cy, &["connect", &w.server, "--name", "Cy"]);
    assert_eq!(w.json(&w.cy, &["status"])["room_path"], "/Lobby");
    let err = w.refused(&w.cy, &["join", "Stage"]);
    assert!(
        err.contains("you lack the enter permission in /Stage"),
        "{err}"
    );
    let err = w.refused(
        &w.bob,
        &["acl", "set", "/", "--keep", "--allow", "Cy", "register"],
    );
    assert!(
        err.contains("you lack the edit_room permission in /"),
        "{err}"
    );
    w.text(&w.bob, &["register", "Cy"]);
    w.text(&w.cy, &["join", "Stage"]);
}
