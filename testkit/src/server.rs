//! A voice-server in this process.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tempfile::TempDir;
use voice_proto::pb::control::ConnectRequest;
use voice_server::{Config, Running, Server};

use crate::{PASSWORD, WAIT};

/// A voice-server running in this process on 127.0.0.1: real QUIC, its
/// sled store and self-signed certificate in a temp dir of its own. Stops
/// when dropped (its [`Running`] does); [`TestServer::stop`] waits for it.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its certificate's fingerprint (empty in ACME mode).
    pub fingerprint: String,
    /// The password it asks for.
    pub password: String,
    /// The one-time token that makes its first user an admin.
    pub admin_token: Option<String>,
    /// Its hub, for looking at the server's state directly.
    pub hub: Arc<voice_server::hub::Hub>,
    dir: Option<TempDir>,
    running: Option<Running>,
}

impl TestServer {
    /// A server on a free port asking for [`PASSWORD`].
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestServer::start`], with the configuration changed by
    /// `configure` first (another password, TLS from files, a name).
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut config = config(dir.path(), "127.0.0.1:0".parse().expect("an address"));
        configure(&mut config);
        Self::run(dir, config).await
    }

    /// A server on the data in `dir` listening on `listen`: with what
    /// [`TestServer::stop`] returned, the same server restarted.
    pub async fn start_in(dir: TempDir, listen: SocketAddr) -> Self {
        let config = config(dir.path(), listen);
        Self::run(dir, config).await
    }

    async fn run(dir: TempDir, config: Config) -> Self {
        let password = config.password.clone().unwrap_or_default();
        let server = Server::bind(config).await.expect("the test server starts");
        let running = server.spawn();
        let banner = running.banner().clone();
        Self {
            addr: banner.listening,
            fingerprint: banner.fingerprint,
            password: banner.generated_password.unwrap_or(password),
            admin_token: banner.admin_token,
            hub: running.hub(),
            dir: Some(dir),
            running: Some(running),
        }
    }

    /// Its address as a client names it (`127.0.0.1:port`).
    pub fn server(&self) -> String {
        self.addr.to_string()
    }

    /// A request that connects a daemon to this server as `name`,
    /// accepting its certificate (a test may change any field, say the
    /// address to go through a proxy).
    pub fn connect_request(&self, name: &str) -> ConnectRequest {
        ConnectRequest {
            server: self.server(),
            password: self.password.clone(),
            display_name: name.to_owned(),
            accept_new: true,
            ..ConnectRequest::default()
        }
    }

    /// The hash of the server's state.
    pub async fn hash(&self) -> voice_proto::StateHash {
        self.hub.lock().await.state.hash()
    }

    /// Stops the server, failing the test unless it stops cleanly in
    /// [`WAIT`]; returns its dir and address for [`TestServer::start_in`].
    pub async fn stop(mut self) -> (TempDir, SocketAddr) {
        if let Some(running) = self.running.take() {
            tokio::time::timeout(WAIT, running.stop())
                .await
                .expect("the test server stops in time")
                .expect("the test server ran cleanly");
        }
        let dir = self.dir.take().expect("the server's dir");
        (dir, self.addr)
    }
}

/// Loopback, [`PASSWORD`], data in `dir`.
fn config(dir: &Path, listen: SocketAddr) -> Config {
    Config {
        listen,
        data_dir: Some(dir.to_owned()),
        password: Some(PASSWORD.to_owned()),
        ..Config::default()
    }
}
