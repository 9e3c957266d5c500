//! Real parts for the window to drive (voice-testkit's): a voice-server on
//! 127.0.0.1 (QUIC) and a voiced on a Unix socket in a temp dir, both on a
//! runtime of their own while the test thread runs the window's frames
//! through kittest.
#![allow(clippy::unwrap_used, dead_code)] // test helpers: a failure is a test failure

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use voice_gui::App;
pub use voice_testkit::{Client, PASSWORD};
use voice_testkit::{TestDaemon, TestServer, connect, connect_as_admin, paths_in};

/// Generous bound for anything to happen on a loaded machine; it bounds a
/// hang and times nothing.
pub const WAIT: Duration = Duration::from_secs(90);

/// The parts a test runs against. Dropped in field order: the daemons and
/// the server are told to stop, then their runtime ends, then the dir goes.
pub struct World {
    daemon: Option<TestDaemon>,
    others: Vec<TestDaemon>,
    server: Option<TestServer>,
    pub runtime: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
    pub server_addr: String,
    pub fingerprint: String,
    pub socket: PathBuf,
}

impl World {
    /// A server (when `with_server`) and no daemon yet.
    pub fn new(with_server: bool) -> Self {
        let runtime = voice_testkit::runtime();
        let dir = tempfile::tempdir().unwrap();
        let server = with_server.then(|| runtime.block_on(TestServer::start()));
        Self {
            socket: paths_in(dir.path()).socket(),
            server_addr: server.as_ref().map(TestServer::server).unwrap_or_default(),
            fingerprint: server
                .as_ref()
                .map(|s| s.fingerprint.clone())
                .unwrap_or_default(),
            runtime,
            dir,
            daemon: None,
            others: Vec::new(),
            server,
        }
    }

    /// Starts voiced on the world's socket.
    pub fn start_daemon(&mut self) {
        let paths = paths_in(self.dir.path());
        self.daemon = Some(self.runtime.block_on(TestDaemon::start_at(paths)));
    }

    /// Another user's voiced (in a directory of its own), connected to the
    /// server as `name`; returns a client of it.
    pub fn other_user(&mut self, name: &str) -> Client {
        let server = self.server.as_ref().expect("a world with a server");
        let (daemon, client) = self.runtime.block_on(async {
            let daemon = TestDaemon::start().await;
            let mut client = daemon.client().await;
            connect(&mut client, server, name).await;
            (daemon, client)
        });
        self.others.push(daemon);
        client
    }

    /// Another user's voiced like [`World::other_user`], connected with
    /// the server's one-time admin token.
    pub fn other_admin(&mut self, name: &str) -> Client {
        let server = self.server.as_ref().expect("a world with a server");
        let (daemon, client) = self.runtime.block_on(async {
            let daemon = TestDaemon::start().await;
            let mut client = daemon.client().await;
            connect_as_admin(&mut client, server, name).await;
            (daemon, client)
        });
        self.others.push(daemon);
        client
    }

    /// Connects the world's voiced like [`World::connect_daemon`], with the
    /// server's one-time admin token.
    pub fn connect_daemon_as_admin(&self, name: &str) {
        let server = self.server.as_ref().expect("a world with a server");
        let mut client = self.client();
        self.runtime
            .block_on(connect_as_admin(&mut client, server, name));
    }

    /// Writes `text` as the world's voiced's `config.toml` (before
    /// [`World::start_daemon`], which reads it).
    pub fn write_config(&self, text: &str) {
        let file = paths_in(self.dir.path()).config_file();
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }

    /// Connects the world's voiced to the server as `name` over gRPC (no
    /// window involved), accepting its certificate.
    pub fn connect_daemon(&self, name: &str) {
        let server = self.server.as_ref().expect("a world with a server");
        let mut client = self.client();
        self.runtime.block_on(connect(&mut client, server, name));
    }

    /// Stops voiced the way SIGTERM does (it ends open `Watch` streams).
    pub fn stop_daemon(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            self.runtime
                .block_on(async { tokio::time::timeout(WAIT, daemon.stop()).await })
                .expect("voiced stops in time");
        }
    }

    /// A gRPC client of voiced for the test's own checks.
    pub fn client(&self) -> Client {
        self.runtime
            .block_on(voiced_client::connect(&self.socket))
            .expect("voiced answers")
    }

    /// A bot's chat message into `room`, sent by the server itself (what the
    /// admin API's `SendChat` does).
    pub fn server_chat(&self, room: u32, bot: &str, text: &str) {
        let server = self.server.as_ref().expect("a world with a server");
        self.runtime
            .block_on(server.hub.server_chat(room, bot, text))
            .expect("the server sends the bot's message");
    }

    /// Runs a future on the world's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The window, linked to this world's voiced socket.
    pub fn window(&self) -> Harness<'static, App> {
        // The repaint requests of the link go to a context no one draws:
        // the test steps frames itself.
        let prefs = self.dir.path().join("config/voice/gui.toml");
        let app = App::new(self.socket.clone(), Some(prefs), &egui::Context::default()).unwrap();
        Harness::builder()
            .with_size(egui::vec2(1100.0, 720.0))
            // Frames 1/60 s apart, as on a screen: two clicks in a row are a
            // double-click.
            .with_step_dt(1.0 / 60.0)
            .build_state(|ctx, app: &mut App| app.ui(ctx), app)
    }
}

/// Frames for a new layout to settle (a window or modal sizes itself over
/// its first frames, so its buttons move) before the test clicks into it.
pub const SETTLE: usize = 4;

/// Steps frames until `ready` holds (then lets the layout settle); panics
/// after [`WAIT`] naming `what`.
pub fn until(
    harness: &mut Harness<'_, App>,
    what: &str,
    ready: impl Fn(&Harness<'_, App>) -> bool,
) {
    let start = Instant::now();
    loop {
        harness.step();
        if ready(harness) {
            harness.run_steps(SETTLE);
            return;
        }
        if start.elapsed() > WAIT {
            let app = harness.state();
            let news: Vec<_> = app.notifications.iter().map(|n| n.text.clone()).collect();
            panic!(
                "waited for {what}; trust prompt {:?}, status {:?}, notifications {news:#?}\n{:#?}",
                app.model.trust,
                app.model.status,
                harness.root()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asks voiced (over gRPC) until `ready` holds for what `ask` returns,
/// stepping the window between questions.
pub fn until_daemon<T>(
    world: &World,
    harness: &mut Harness<'_, App>,
    what: &str,
    ask: impl Fn(Client) -> std::pin::Pin<Box<dyn std::future::Future<Output = T>>>,
    ready: impl Fn(&T) -> bool,
) -> T {
    let client = world.client();
    let start = Instant::now();
    loop {
        harness.step();
        let answer = world.block_on(ask(client.clone()));
        if ready(&answer) {
            return answer;
        }
        assert!(start.elapsed() < WAIT, "waited for voiced: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
