//! Smoke test in a real terminal: tmux runs the `voice-tui` binary against a
//! real voiced and a real server (both in this process, on a Unix socket and
//! QUIC on 127.0.0.1); `send-keys` connects, trusts the certificate, makes and
//! joins a room and sends a chat line; `capture-pane` shows both.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use voice_proto::pb::control::{ChatHistoryRequest, ConnectionState, Empty};
use voice_testkit::{TestDaemon, TestServer};

/// Generous bound for anything to show on screen on a loaded machine.
const WAIT: Duration = Duration::from_secs(90);

/// One tmux server of our own (`-L`), so nothing else is touched.
struct Tmux {
    server: String,
}

impl Tmux {
    fn start(command: &str, width: u16, height: u16) -> Self {
        let tmux = Self {
            server: format!("voice-tui-smoke-{}", std::process::id()),
        };
        let out = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.server)
            .args(args)
            .output()
            .expect("tmux runs (Debian package tmux, installed by scripts/test)")
    }

    /// Named keys (`Enter`, `Tab`) or single characters.
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "tui"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success());
    }

    /// Literal text.
    fn text(&self, text: &str) {
        assert!(
            self.run(&["send-keys", "-t", "tui", "-l", text])
                .status
                .success()
        );
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "tui"]).stdout).into_owned()
    }

    fn alive(&self) -> bool {
        self.run(&["has-session", "-t", "tui"]).status.success()
    }

    /// Polls the screen until `ready` holds; panics with the screen after WAIT.
    async fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < WAIT,
                "waited for {what}; the screen shows:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_text(&self, text: &str) -> String {
        self.wait_for(text, |s| s.contains(text)).await
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmux_joins_a_room_and_chats_through_voiced() {
    let server = TestServer::start().await;
    let daemon = TestDaemon::start().await;
    let socket = daemon.socket.clone();

    let tui = Tmux::start(
        &format!(
            "exec {} --socket {}",
            env!("CARGO_BIN_EXE_voice-tui"),
            socket.display()
        ),
        80,
        24,
    );
    tui.wait_text("Press c to connect").await;

    // Connect through the dialog; the self-signed certificate is unknown.
    tui.keys(&["c"]);
    tui.wait_text("Connect").await;
    tui.text(&server.server());
    tui.keys(&["Tab"]);
    tui.text("secret");
    tui.keys(&["Enter"]);
    let screen = tui.wait_text("Unknown server certificate").await;
    assert!(
        screen.contains(&server.fingerprint[..4]),
        "the prompt shows the fingerprint:\n{screen}"
    );
    tui.keys(&["a"]);
    tui.wait_for("connected with our row", |s| {
        s.contains("(you)") && s.contains(" connected")
    })
    .await;

    // A new room, then join it: it is the last row of the tree.
    tui.keys(&["n"]);
    tui.wait_text("New room in").await;
    tui.text("Den");
    tui.keys(&["Enter"]);
    tui.wait_text("# Den").await;
    tui.keys(&["G", "Enter"]);
    tui.wait_for("our row under Den", |s| {
        s.lines()
            .skip_while(|l| !l.contains("▸ Den"))
            .nth(1)
            .is_some_and(|l| l.contains("(you)"))
    })
    .await;

    // Chat in the room.
    tui.keys(&["i"]);
    tui.text("hello from tmux");
    tui.keys(&["Enter"]);
    let screen = tui
        .wait_for("the chat line in the Den's chat", |s| {
            s.contains("Chat /Den") && s.contains(": hello from tmux")
        })
        .await;
    assert!(screen.contains("▸ Den"), "{screen}");
    assert!(
        !screen.contains("failed"),
        "the refused first attempt is no longer shown once connected:\n{screen}"
    );

    // voiced agrees: we are in the Den and the message went out.
    let mut client = daemon.client().await;
    let history = client
        .chat_history(ChatHistoryRequest {
            room: "/Den".to_owned(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        history.messages.iter().any(|m| m.text == "hello from tmux"),
        "{history:?}"
    );

    // Quitting the TUI leaves the call up.
    // Esc and q apart: together they would read as Alt-q.
    tui.keys(&["Escape"]);
    tui.wait_text("?:help").await;
    tui.keys(&["q"]);
    let start = Instant::now();
    while tui.alive() {
        assert!(start.elapsed() < WAIT, "voice-tui did not quit");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = client.status(Empty {}).await.unwrap().into_inner();
    assert_eq!(status.state, ConnectionState::Connected as i32);

    daemon.stop().await;
    server.stop().await;
}
