//! The example bots of `examples/plugins/` (issue 23) against a real
//! voice-server, their effect checked through real daemons: the Python
//! welcome and command bots run with grpcio and stubs generated from
//! `proto/proto` at test time; the Rust welcome bot
//! (`server/examples/welcome_bot.rs`) is compiled into this test and run
//! in-process, so no second cargo build runs inside the test.
//!
//! Needs python3 with grpcio and grpcio-tools (scripts/test installs them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use voice_proto::pb::admin::ServerChat;
use voice_proto::pb::control as c;
use voice_proto::pb::wire::ChatMessage;

mod support;
use support::python::{python3, repo, stubs};
use support::{Client, TestDaemon, TestServer, WAIT, connect, wait_state};

// The Rust example, built into this test (an example is no CARGO_BIN_EXE).
#[path = "../../server/examples/welcome_bot.rs"]
#[allow(dead_code)]
mod welcome_bot;

/// How soon a bot should answer.
const ANSWER: Duration = Duration::from_secs(5);

/// A Python bot from `examples/plugins/`, killed when dropped; its log
/// (stderr) is collected for the assertions' messages.
struct PythonBot {
    child: tokio::process::Child,
    log: Arc<Mutex<Vec<String>>>,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl PythonBot {
    /// Starts `examples/plugins/NAME ARGS…` and waits until it watches
    /// (the server has placed it in its event log).
    async fn start(stubs: &Path, name: &str, args: &[&str]) -> Self {
        let script = repo().join("examples/plugins").join(name);
        let mut child = tokio::process::Command::new("python3")
            .arg(script)
            .args(args)
            .env("PYTHONPATH", stubs)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let sink = log.clone();
        tokio::spawn(async move {
            let mut stderr = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = stderr.next_line().await {
                eprintln!("{line}");
                sink.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let mut bot = Self { child, log, lines };
        bot.wait_for_line(" watching ").await;
        bot
    }

    async fn wait_for_line(&mut self, part: &str) -> String {
        let found = tokio::time::timeout(WAIT, async {
            while let Some(line) = self.lines.recv().await {
                if line.contains(part) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("the bot never logged {part:?}:\n{}", self.log()),
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for PythonBot {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The Rust welcome bot on a task of this runtime, stopped when dropped.
struct RustBot(tokio::task::JoinHandle<anyhow::Result<()>>);

impl RustBot {
    async fn start(bot: welcome_bot::WelcomeBot) -> Self {
        let (ready, watching) = tokio::sync::oneshot::channel();
        let mut ready = Some(ready);
        let task = tokio::spawn(async move {
            bot.run(move |_| {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
            })
            .await
        });
        tokio::time::timeout(WAIT, watching)
            .await
            .expect("the Rust bot watches in time")
            .expect("the Rust bot runs");
        Self(task)
    }
}

impl Drop for RustBot {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A server named `Plugins` with its admin socket in `dir`.
async fn server(dir: &Path) -> (TestServer, PathBuf) {
    let admin_socket = dir.join("admin.sock");
    let socket = admin_socket.clone();
    let server = TestServer::start_with(|config| {
        config.server_name = "Plugins".into();
        config.admin_socket = Some(socket);
    })
    .await;
    (server, admin_socket)
}

/// A daemon connected to `server` as `name`, with a client of it.
async fn member(server: &TestServer, name: &str) -> (TestDaemon, Client) {
    let daemon = TestDaemon::start().await;
    let mut client = daemon.client().await;
    connect(&mut client, server, name).await;
    (daemon, client)
}

/// The messages the daemon has, once `done` holds for them (checked at
/// once and on each of the daemon's events), or a panic after `within`.
async fn chat_until(
    client: &mut Client,
    within: Duration,
    mut done: impl FnMut(&[ChatMessage]) -> bool,
) -> Vec<ChatMessage> {
    let mut events = client
        .watch(c::WatchRequest { levels: false })
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    let reached = tokio::time::timeout(within, async {
        loop {
            seen = history(client).await;
            if done(&seen) {
                return;
            }
            if events.message().await.unwrap().is_none() {
                panic!("the daemon's watch ended");
            }
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "not seen in {within:?}; chat:\n{}",
        show(&seen)
    );
    seen
}

async fn history(client: &mut Client) -> Vec<ChatMessage> {
    client
        .chat_history(c::ChatHistoryRequest::default())
        .await
        .unwrap()
        .into_inner()
        .messages
}

fn show(chat: &[ChatMessage]) -> String {
    chat.iter()
        .map(|m| format!("  [{}] {}: {}", m.sender, m.sender_name, m.text))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Messages from the server (sender 0) under `bot`'s name.
fn from_bot<'a>(chat: &'a [ChatMessage], bot: &str) -> Vec<&'a ChatMessage> {
    chat.iter()
        .filter(|m| m.sender == 0 && m.sender_name == bot)
        .collect()
}

/// Waits for `Welcome, NAME!` from `bot` (sender 0) in the daemon's room.
async fn welcomed(client: &mut Client, bot: &str, name: &str) -> Vec<ChatMessage> {
    let text = format!("Welcome, {name}!");
    let chat = chat_until(client, ANSWER, |chat| {
        from_bot(chat, bot).iter().any(|m| m.text == text)
    })
    .await;
    let room = client.status(c::Empty {}).await.unwrap().into_inner().room;
    let welcome = chat.iter().find(|m| m.text == text).unwrap();
    assert_eq!(welcome.room, room, "{}", show(&chat));
    assert!(welcome.sender_key.is_empty(), "a bot has no key");
    chat
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_welcome_bot_greets_whoever_joins() {
    let stubs = stubs().await;
    let dir = tempfile::tempdir().unwrap();
    let (server, admin_socket) = server(dir.path()).await;
    let bot = PythonBot::start(
        stubs.path(),
        "welcome_bot.py",
        &[admin_socket.to_str().unwrap()],
    )
    .await;

    let (_ada, mut ada) = member(&server, "ada").await;
    let chat = welcomed(&mut ada, "Greeter", "ada").await;
    assert_eq!(from_bot(&chat, "Greeter").len(), 1, "{}", show(&chat));
    drop(bot);
}

/// The event number in the bot's state file once it is past `after`. The
/// bot writes it after its `SendChat` returns, which may be after the
/// greeting reached a member.
async fn state_after(path: &Path, after: Option<u64>) -> u64 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let seq = std::fs::read_to_string(path).ok().map(|text| {
            text.trim()
                .parse::<u64>()
                .expect("the state file holds an event number")
        });
        if let Some(seq) = seq.filter(|&seq| after.is_none_or(|after| seq > after)) {
            return seq;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the state file holds {seq:?}, not an event after {after:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_welcome_bot_resumes_after_the_event_in_its_state_file() {
    let stubs = stubs().await;
    let dir = tempfile::tempdir().unwrap();
    let (server, admin_socket) = server(dir.path()).await;
    let state = dir.path().join("welcome.state");
    let args = [
        admin_socket.to_str().unwrap(),
        "--name",
        "Porter",
        "--state",
        state.to_str().unwrap(),
    ];
    let bot = PythonBot::start(stubs.path(), "welcome_bot.py", &args).await;
    let (_ada, mut ada) = member(&server, "ada").await;
    welcomed(&mut ada, "Porter", "ada").await;
    let kept = state_after(&state, None).await;
    drop(bot);

    // Joins while the bot is down: the restarted bot catches up from the
    // backlog, without greeting ada twice.
    let (_bob, mut bob) = member(&server, "bob").await;
    let mut bot = PythonBot::start(stubs.path(), "welcome_bot.py", &args).await;
    assert!(
        bot.log().contains(&format!("after event {kept}")),
        "{}",
        bot.log()
    );
    welcomed(&mut bob, "Porter", "bob").await;
    let chat = welcomed(&mut ada, "Porter", "bob").await;
    let welcomes: Vec<&str> = from_bot(&chat, "Porter")
        .iter()
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        welcomes,
        ["Welcome, ada!", "Welcome, bob!"],
        "{}",
        show(&chat)
    );
    state_after(&state, Some(kept)).await;
    // A resume position this server never reached is dropped with a warning.
    drop(bot);
    std::fs::write(&state, format!("{}\n", u64::MAX)).unwrap();
    bot = PythonBot::start(stubs.path(), "welcome_bot.py", &args).await;
    // The refusal may come before or after the first attempt is logged
    // (which `start` waited for): look for the fallback in the whole log.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let log = bot.log();
        if log.contains("following new events only") && log.ends_with("(new events)") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{log}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_bots_say_when_there_is_no_socket() {
    let stubs = stubs().await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing.sock");
    for bot in ["welcome_bot.py", "command_bot.py"] {
        let script = repo().join("examples/plugins").join(bot);
        let args = [script.to_str().unwrap(), missing.to_str().unwrap()];
        let out = python3(Some(stubs.path()), &args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bot}: {stderr}");
        assert!(
            stderr.contains(&format!("no socket at {}", missing.display())),
            "{bot}: {stderr}"
        );
        // Without the stubs: what to install and generate.
        let out = python3(None, &args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bot}: {stderr}");
        assert!(
            stderr.contains("No module named 'admin_pb2'") && stderr.contains("docs/api.md"),
            "{bot}: {stderr}"
        );
    }
}

/// Says `text` in the daemon's room and waits for the next message from
/// the bot `Dice`.
async fn ask(client: &mut Client, text: &str) -> String {
    let before = from_bot(&history(client).await, "Dice").len();
    client
        .send_chat(c::SendChatRequest {
            text: text.into(),
            room: String::new(),
        })
        .await
        .unwrap();
    let chat = chat_until(client, ANSWER, |chat| from_bot(chat, "Dice").len() > before).await;
    from_bot(&chat, "Dice")[before].text.clone()
}

/// `ada rolled 2d6: TOTAL (A, B)`: the rolls, checked to add up.
fn parse_roll(answer: &str, who: &str, dice: &str) -> Vec<u32> {
    let rest = answer
        .strip_prefix(&format!("{who} rolled {dice}: "))
        .unwrap_or_else(|| panic!("not a roll: {answer:?}"));
    let (total, rolls) = rest
        .split_once(" (")
        .unwrap_or_else(|| panic!("no rolls listed: {answer:?}"));
    let rolls: Vec<u32> = rolls
        .strip_suffix(')')
        .unwrap()
        .split(", ")
        .map(|r| r.parse().unwrap())
        .collect();
    assert_eq!(
        total.parse::<u32>().unwrap(),
        rolls.iter().sum::<u32>(),
        "{answer}"
    );
    rolls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_command_bot_rolls_refuses_and_says_who_is_here() {
    let stubs = stubs().await;
    let dir = tempfile::tempdir().unwrap();
    let (server, admin_socket) = server(dir.path()).await;
    // ada is there before the bot (its mirror loads her), bob comes after
    // (it learns him from Watch) and moves to a room of his own.
    let (_ada, mut ada) = member(&server, "ada").await;
    let _bot = PythonBot::start(
        stubs.path(),
        "command_bot.py",
        &[admin_socket.to_str().unwrap()],
    )
    .await;
    let (_bob, mut bob) = member(&server, "bob").await;

    let rolls = parse_roll(&ask(&mut ada, "!roll 2d6").await, "ada", "2d6");
    assert!(
        rolls.len() == 2 && rolls.iter().all(|r| (1..=6).contains(r)),
        "{rolls:?}"
    );
    let one = ask(&mut ada, "!roll").await;
    let total: u32 = one
        .strip_prefix("ada rolled 1d6: ")
        .unwrap_or_else(|| panic!("{one}"))
        .parse()
        .unwrap();
    assert!((1..=6).contains(&total), "{one}");
    assert_eq!(
        ask(&mut ada, "!roll 1000d1000").await,
        "Sorry ada, I roll at most 100 dice of at most 1000 sides."
    );
    assert_eq!(ask(&mut bob, "!who").await, "In Plugins: ada, bob");

    let tavern = bob
        .create_room(c::CreateRoomRequest {
            name: "Tavern".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    bob.join(c::RoomRef {
        room: "/Tavern".into(),
    })
    .await
    .unwrap();
    wait_state(&mut bob, |s, _| s.room == tavern).await;
    assert_eq!(ask(&mut bob, "!who").await, "In Tavern: bob");
    assert_eq!(ask(&mut ada, "!who").await, "In Plugins: ada");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_command_bot_ignores_messages_from_the_server() {
    let stubs = stubs().await;
    let dir = tempfile::tempdir().unwrap();
    let (server, admin_socket) = server(dir.path()).await;
    let (_ada, mut ada) = member(&server, "ada").await;
    let bot = PythonBot::start(
        stubs.path(),
        "command_bot.py",
        &[admin_socket.to_str().unwrap()],
    )
    .await;

    // Another bot (sender 0) says a command: no answer, or bots could set
    // each other off for ever.
    let mut admin = voice_server::admin::client::connect(&admin_socket)
        .await
        .unwrap();
    admin
        .send_chat(ServerChat {
            room: 0,
            bot_name: "Echo".into(),
            text: "!roll 2d6".into(),
        })
        .await
        .unwrap();
    chat_until(&mut ada, ANSWER, |chat| from_bot(chat, "Echo").len() == 1).await;
    // The bot is alive: a member's command gets its one answer.
    ask(&mut ada, "!who").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let chat = history(&mut ada).await;
    let texts: Vec<&str> = chat.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["!roll 2d6", "!who", "In Plugins: ada"],
        "{}\n{}",
        show(&chat),
        bot.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_welcome_bot_greets_whoever_joins() {
    let dir = tempfile::tempdir().unwrap();
    let (server, admin_socket) = server(dir.path()).await;
    let state = dir.path().join("welcome.state");
    let bot = RustBot::start(welcome_bot::WelcomeBot {
        socket: admin_socket,
        name: "Greeter".into(),
        state: Some(state.clone()),
    })
    .await;

    let (_ada, mut ada) = member(&server, "ada").await;
    let chat = welcomed(&mut ada, "Greeter", "ada").await;
    assert_eq!(from_bot(&chat, "Greeter").len(), 1, "{}", show(&chat));
    let kept = std::fs::read_to_string(&state).unwrap();
    assert!(kept.trim().parse::<u64>().is_ok(), "state file: {kept:?}");
    drop(bot);
}
