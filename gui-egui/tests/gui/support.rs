//! Real parts for the window to drive: a voice-server on 127.0.0.1 (QUIC)
//! and a voiced on a Unix socket in a temp dir, both on a runtime of their
//! own while the test thread runs the window's frames through kittest.
#![allow(clippy::unwrap_used, dead_code)] // test helpers: a failure is a test failure

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use tokio::sync::oneshot;
use voice_gui::App;
use voice_proto::pb::control::voiced_client::VoicedClient;
use voice_server::{Config, Server};
use voiced::{Daemon, Paths};

/// Generous bound for anything to happen on a loaded machine; it bounds a
/// hang and times nothing.
pub const WAIT: Duration = Duration::from_secs(90);

/// The server's password.
pub const PASSWORD: &str = "secret";

/// A client of voiced for the test's own questions.
pub type Client = VoicedClient<tonic::transport::Channel>;

/// The parts a test runs against.
pub struct World {
    pub runtime: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
    pub server_addr: String,
    pub fingerprint: String,
    pub socket: PathBuf,
    daemon: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
    others: Vec<oneshot::Sender<()>>,
    server: Option<oneshot::Sender<()>>,
}

pub fn paths_in(dir: &Path) -> Paths {
    Paths {
        config_dir: dir.join("config/voice"),
        data_dir: dir.join("data/voice"),
        cache_dir: dir.join("cache/voice"),
        runtime_dir: dir.join("run/voice"),
    }
}

impl World {
    /// A server (when `with_server`) and no daemon yet.
    pub fn new(with_server: bool) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut world = Self {
            runtime,
            socket: paths_in(dir.path()).socket(),
            dir,
            server_addr: String::new(),
            fingerprint: String::new(),
            daemon: None,
            others: Vec::new(),
            server: None,
        };
        if with_server {
            let data = world.dir.path().join("server");
            let (addr, fingerprint, stop) = world.runtime.block_on(async move {
                let server = Server::bind(Config {
                    listen: "127.0.0.1:0".parse().unwrap(),
                    data_dir: Some(data),
                    password: Some(PASSWORD.to_owned()),
                    ..Config::default()
                })
                .await
                .unwrap();
                let banner = server.banner().clone();
                let (stop, stopped) = oneshot::channel::<()>();
                tokio::spawn(server.run(async move {
                    let _ = stopped.await;
                }));
                (banner.listening.to_string(), banner.fingerprint, stop)
            });
            world.server_addr = addr;
            world.fingerprint = fingerprint;
            world.server = Some(stop);
        }
        world
    }

    /// Starts voiced on the world's socket.
    pub fn start_daemon(&mut self) {
        let paths = paths_in(self.dir.path());
        let (stop, task) = self.runtime.block_on(async move {
            let daemon = Daemon::bind(paths, None).await.unwrap();
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(async move {
                daemon
                    .serve(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
            (stop, task)
        });
        self.daemon = Some((stop, task));
    }

    /// Another user's voiced (in a directory of its own), connected to the
    /// server as `name`; returns a client of it.
    pub fn other_user(&mut self, name: &str) -> Client {
        let paths = paths_in(&self.dir.path().join(name));
        let server = self.server_addr.clone();
        let name = name.to_owned();
        let (stop, client) = self.runtime.block_on(async move {
            let daemon = Daemon::bind(paths, None).await.unwrap();
            let socket = daemon.socket().to_path_buf();
            let (stop, stopped) = oneshot::channel::<()>();
            tokio::spawn(daemon.serve(async move {
                let _ = stopped.await;
            }));
            let mut client = voiced_client::connect(&socket).await.unwrap();
            client
                .connect(voice_proto::pb::control::ConnectRequest {
                    server,
                    password: PASSWORD.to_owned(),
                    display_name: name,
                    accept_new: true,
                    ..Default::default()
                })
                .await
                .unwrap();
            (stop, client)
        });
        self.others.push(stop);
        client
    }

    /// Stops voiced the way SIGTERM does (it ends open `Watch` streams).
    pub fn stop_daemon(&mut self) {
        if let Some((stop, task)) = self.daemon.take() {
            let _ = stop.send(());
            self.runtime
                .block_on(async { tokio::time::timeout(WAIT, task).await })
                .expect("voiced stops in time")
                .unwrap();
        }
    }

    /// A gRPC client of voiced for the test's own checks.
    pub fn client(&self) -> Client {
        self.runtime
            .block_on(voiced_client::connect(&self.socket))
            .expect("voiced answers")
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

impl Drop for World {
    fn drop(&mut self) {
        if let Some((stop, _)) = self.daemon.take() {
            let _ = stop.send(());
        }
        for stop in self.others.drain(..) {
            let _ = stop.send(());
        }
        if let Some(stop) = self.server.take() {
            let _ = stop.send(());
        }
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
            let news: Vec<_> = app
                .model
                .notifications
                .iter()
                .map(|n| n.text.clone())
                .collect();
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
