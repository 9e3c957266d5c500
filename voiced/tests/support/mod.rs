//! Test fixtures: a daemon in a temp dir, a real voice-server in-process.
#![allow(clippy::unwrap_used, dead_code, missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::oneshot;
use voice_proto::pb::control::{self as c, event};
use voiced::{Daemon, Paths};

/// Generous wait for anything on a loaded machine.
pub const WAIT: Duration = Duration::from_secs(30);

pub struct TestDaemon {
    pub _dir: tempfile::TempDir,
    pub paths: Paths,
    pub socket: PathBuf,
    pub engine: voiced::Engine,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub fn paths_in(dir: &std::path::Path) -> Paths {
    Paths {
        config_dir: dir.join("config/voice"),
        data_dir: dir.join("data/voice"),
        cache_dir: dir.join("cache/voice"),
        runtime_dir: dir.join("run/voice"),
    }
}

impl TestDaemon {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        Self::start_in(dir, paths).await
    }

    pub async fn start_in(dir: tempfile::TempDir, paths: Paths) -> Self {
        Self::start_with(
            dir,
            paths,
            std::sync::Arc::new(voiced::audio::NullAudio::off()),
        )
        .await
    }

    /// A daemon with this audio engine.
    pub async fn start_with_audio(audio: std::sync::Arc<dyn voiced::audio::AudioEngine>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        Self::start_with(dir, paths, audio).await
    }

    async fn start_with(
        dir: tempfile::TempDir,
        paths: Paths,
        audio: std::sync::Arc<dyn voiced::audio::AudioEngine>,
    ) -> Self {
        let daemon = Daemon::bind_with_audio(paths.clone(), None, audio)
            .await
            .unwrap();
        let socket = daemon.socket().to_path_buf();
        let engine = daemon.engine().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            daemon
                .serve(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Self {
            _dir: dir,
            paths,
            socket,
            engine,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn client(&self) -> c::voiced_client::VoicedClient<tonic::transport::Channel> {
        voiced::client::connect(&self.socket).await.unwrap()
    }

    pub async fn stop(mut self) -> (tempfile::TempDir, Paths) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap());
        (dir, self.paths.clone())
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A voice-server in-process on 127.0.0.1.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub addr: std::net::SocketAddr,
    pub fingerprint: String,
    pub admin_token: Option<String>,
    pub hub: std::sync::Arc<voice_server::hub::Hub>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), voice_server::StartError>>>,
}

pub const PASSWORD: &str = "secret";

impl TestServer {
    pub async fn start() -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), "127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_in(dir: tempfile::TempDir, listen: std::net::SocketAddr) -> Self {
        let config = voice_server::Config {
            listen,
            data_dir: Some(dir.path().to_owned()),
            password: Some(PASSWORD.to_owned()),
            ..voice_server::Config::default()
        };
        let server = voice_server::Server::bind(config).await.unwrap();
        let banner = server.banner().clone();
        let hub = server.hub();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Self {
            dir,
            addr: banner.listening,
            fingerprint: banner.fingerprint,
            admin_token: banner.admin_token,
            hub,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn server(&self) -> String {
        self.addr.to_string()
    }

    pub async fn hash(&self) -> voice_proto::StateHash {
        self.hub.lock().await.state.hash()
    }

    /// Stops the server; returns its dir for a restart.
    pub async fn stop(mut self) -> (tempfile::TempDir, std::net::SocketAddr) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(WAIT, t)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
        }
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (dir, self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub type Client = c::voiced_client::VoicedClient<tonic::transport::Channel>;

/// Connects a daemon to a server, accepting its certificate.
pub async fn connect(client: &mut Client, server: &TestServer, name: &str) -> c::StatusReply {
    client
        .connect(c::ConnectRequest {
            server: server.server(),
            password: PASSWORD.into(),
            display_name: name.into(),
            accept_new: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

/// Connects as `name`, presenting the server's one-time admin token.
pub async fn connect_as_admin(
    client: &mut Client,
    server: &TestServer,
    name: &str,
) -> c::StatusReply {
    client
        .connect(c::ConnectRequest {
            server: server.server(),
            password: PASSWORD.into(),
            display_name: name.into(),
            admin_token: server
                .admin_token
                .clone()
                .expect("the server has an admin token"),
            accept_new: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

/// Watches events until `pred` holds for the daemon's state (checked on
/// every event, and at once).
pub async fn wait_state(
    client: &mut Client,
    mut pred: impl FnMut(&c::StatusReply, Option<&c::StateReply>) -> bool,
) {
    let mut events = client
        .watch(c::WatchRequest { levels: false })
        .await
        .unwrap()
        .into_inner();
    let mut probe = client.clone();
    let check = |probe: &mut Client| {
        let mut probe = probe.clone();
        async move {
            let s = probe.status(c::Empty {}).await.unwrap().into_inner();
            let st = probe.state(c::Empty {}).await.ok().map(|r| r.into_inner());
            (s, st)
        }
    };
    tokio::time::timeout(WAIT, async {
        loop {
            let (s, st) = check(&mut probe).await;
            if pred(&s, st.as_ref()) {
                return;
            }
            match events.message().await.unwrap() {
                Some(e) => {
                    if let Some(event::Kind::Error(e)) = e.kind {
                        eprintln!("event: error {}", e.message);
                    }
                }
                None => panic!("watch ended"),
            }
        }
    })
    .await
    .expect("condition reached in time");
}

/// Waits until the daemon's chat history holds at least `n` messages.
pub async fn wait_chat(client: &mut Client, n: usize) -> Vec<voice_proto::pb::wire::ChatMessage> {
    let mut events = client
        .watch(c::WatchRequest { levels: false })
        .await
        .unwrap()
        .into_inner();
    tokio::time::timeout(WAIT, async {
        loop {
            let h = client
                .chat_history(c::ChatHistoryRequest::default())
                .await
                .unwrap()
                .into_inner();
            if h.messages.len() >= n {
                return h.messages;
            }
            if events.message().await.unwrap().is_none() {
                panic!("watch ended");
            }
        }
    })
    .await
    .expect("chat arrived in time")
}
