//! Starting, running and stopping the server.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rand::distributions::Alphanumeric;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use voice_proto::pb::wire::StateSnapshot;
use voice_proto::{Limits, State, close};

use rustls::server::ResolvesServerCert;

use crate::acme::Acme;
use crate::cert_reload::FileCert;
use crate::config::{Config, ConfigError, TlsMode};
use crate::hub::Hub;
use crate::pending::LoginSlots;
use crate::store::{Store, StoreError};
use crate::tls::{self, TlsError};
use voice_net::fsutil::write_private;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Certificate problem.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Database problem.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file or socket problem.
    #[error("{what}: {source}")]
    Io {
        /// What failed.
        what: String,
        /// Why.
        source: std::io::Error,
    },
    /// The stored state is inconsistent.
    #[error("stored state is invalid: {0}")]
    State(String),
}

/// What the start-up banner shows.
#[derive(Debug, Clone)]
pub struct Banner {
    /// The bound UDP address.
    pub listening: SocketAddr,
    /// SHA-256 of the leaf certificate, hex (empty in `acme` mode, where
    /// clients check the certificate against their CA roots instead).
    pub fingerprint: String,
    /// The password, when the server generated it at this start (it is
    /// shown once).
    pub generated_password: Option<String>,
    /// The admin token, when the server issued it at this start (it is
    /// shown once; it stays valid until a client claims it).
    pub admin_token: Option<String>,
    /// Where the new password and admin token were written instead of the
    /// banner, when the banner goes to the systemd journal.
    pub secrets_file: Option<PathBuf>,
    /// The admin socket.
    pub admin_socket: PathBuf,
    /// The plugin listener's TCP address, when it is on.
    pub plugin_listening: Option<SocketAddr>,
    /// The names of the ACME certificate (`acme` mode).
    pub acme_domains: Vec<String>,
}

impl Banner {
    /// The banner lines, one item per line.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("listening: {}", self.listening)];
        if let Some(addr) = self.plugin_listening {
            lines.push(format!("plugins: {addr} (TLS, gRPC)"));
        }
        if self.acme_domains.is_empty() {
            lines.push(format!("fingerprint: {}", self.fingerprint));
        } else {
            lines.push(format!(
                "certificate: acme for {}",
                self.acme_domains.join(", ")
            ));
        }
        if let Some(file) = &self.secrets_file {
            lines.push(format!(
                "secrets: the new password and admin token are in {} (not in the journal)",
                file.display()
            ));
            return lines;
        }
        lines.extend(self.secret_lines());
        lines
    }

    /// The `password: …` and `admin token: …` lines, for what was generated
    /// at this start.
    fn secret_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(p) = &self.generated_password {
            lines.push(format!("password: {p}"));
        }
        if let Some(t) = &self.admin_token {
            lines.push(format!("admin token: {t}"));
        }
        lines
    }
}

/// Where the served certificate comes from.
#[derive(Debug)]
enum CertSource {
    /// Files (`files` or `self-signed` mode), reloadable.
    Files {
        cert: Arc<FileCert>,
        /// Poll the files this often (`files` mode only).
        watch: Option<Duration>,
    },
    /// An ACME CA (`acme` mode).
    Acme(Box<Acme>),
}

/// A bound server, ready to run.
#[derive(Debug)]
pub struct Server {
    certs: CertSource,
    /// The QUIC loops, one socket each on the same port.
    endpoints: Vec<crate::quic::Endpoint>,
    hub: Arc<Hub>,
    admin: tokio::net::UnixListener,
    tokens: Arc<crate::plugin::PluginTokens>,
    plugin: Option<crate::plugin::PluginListener>,
    banner: Banner,
}

fn random_text(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartError {
    let what = what.into();
    move |source| StartError::Io { what, source }
}

/// Meta key of a generated password.
const META_PASSWORD: &str = "generated_password";

/// File in the data dir (mode 0600) that takes the new password and admin
/// token when the banner would go to the systemd journal.
const SECRETS_FILE: &str = "new-secrets.txt";

/// Whether stdout is the systemd journal (`JOURNAL_STREAM` names its device
/// and inode).
#[cfg(unix)]
fn stdout_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(stdout) = std::fs::metadata("/proc/self/fd/1") else {
        return false;
    };
    stream.to_string_lossy() == format!("{}:{}", stdout.dev(), stdout.ino())
}

#[cfg(not(unix))]
fn stdout_is_journal() -> bool {
    false
}

impl Server {
    /// Opens the data dir, loads the state and binds the UDP port.
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        config.check()?;
        let data_dir = config.data_dir()?;
        std::fs::create_dir_all(&data_dir).map_err(io(format!("{}", data_dir.display())))?;
        restrict_dir(&data_dir);
        let store = Store::open(&data_dir.join("db"))?;
        let since = store.epoch();
        let (password, generated_password) = password(&config, &store)?;
        // Secrets are shown once, at the start that made them.
        let mut admin_token = None;
        if store.meta_text("admin_token_issued")?.is_none() {
            let token = random_text(32);
            store.set_meta_text(crate::hub::META_ADMIN_TOKEN, &token)?;
            store.set_meta_text("admin_token_issued", "1")?;
            admin_token = Some(token);
        }
        let state = load_state(&store, &config)?;
        let tokens = crate::plugin::PluginTokens::load(store.clone())?;
        store.flush(since).await?;
        let (certs, resolver, fingerprint) = match tls::cert_files(&config, &data_dir)? {
            Some((cert, key)) => {
                let file_cert = FileCert::load(&cert, &key)?;
                let fingerprint = file_cert.fingerprint();
                let watch = (config.tls_mode == TlsMode::Files && config.tls_watch_secs > 0)
                    .then(|| Duration::from_secs(config.tls_watch_secs));
                let resolver: Arc<dyn ResolvesServerCert> = file_cert.clone();
                let certs = CertSource::Files {
                    cert: file_cert,
                    watch,
                };
                (certs, resolver, fingerprint)
            }
            None => {
                let acme = Acme::new(&config, &data_dir).await?;
                let resolver = acme.resolver();
                (CertSource::Acme(Box::new(acme)), resolver, String::new())
            }
        };
        let plugin = match config.plugin_listen {
            Some(addr) => Some(crate::plugin::PluginListener {
                listener: crate::plugin::listener::bind(addr).await?,
                tls: crate::plugin::listener::tls_config(resolver.clone())?,
                tokens: tokens.clone(),
                max_connections: config.plugin_max_connections,
                handshake_timeout: config.handshake_timeout(),
                throttle: Arc::new(crate::throttle::Throttle::new(
                    config.throttle_failures,
                    Duration::from_secs(config.throttle_window_secs),
                    Duration::from_secs(config.throttle_refuse_secs),
                )),
            }),
            None => None,
        };
        let plugin_listening = match &plugin {
            Some(p) => Some(
                p.listener
                    .local_addr()
                    .map_err(io("cannot read the plugin listener's address"))?,
            ),
            None => None,
        };
        let server_config = tls::server_config(
            resolver,
            tls::transport_for(config.max_relay_streams_per_session),
        )?;
        if !config.batched_sends {
            tracing::warn!(
                "batched_sends = false no longer has an effect: the server's own QUIC loop always sends in batches"
            );
        }
        let loops = match config.quic_loops {
            0 => tokio::runtime::Handle::current().metrics().num_workers(),
            n => n,
        };
        let endpoints = bind_endpoint(server_config, config.listen, loops)?;
        let listening = endpoints[0]
            .local_addr()
            .map_err(io("cannot read the bound address"))?;
        let admin_socket = config
            .admin_socket
            .clone()
            .unwrap_or_else(|| data_dir.join("admin.sock"));
        let admin = crate::admin::bind(&admin_socket).await?;
        let hub = Arc::new(Hub::new(state, store, Arc::new(config), password));
        let acme_domains = match &certs {
            CertSource::Acme(acme) => acme.domains().to_vec(),
            CertSource::Files { .. } => Vec::new(),
        };
        let mut banner = Banner {
            listening,
            fingerprint,
            generated_password,
            admin_token,
            admin_socket,
            plugin_listening,
            acme_domains,
            secrets_file: None,
        };
        let secrets = banner.secret_lines();
        if !secrets.is_empty() && stdout_is_journal() {
            let file = data_dir.join(SECRETS_FILE);
            write_private(&file, format!("{}\n", secrets.join("\n")).as_bytes())
                .map_err(io(format!("cannot write {}", file.display())))?;
            banner.secrets_file = Some(file);
        }
        Ok(Self {
            certs,
            endpoints,
            hub,
            admin,
            tokens,
            plugin,
            banner,
        })
    }

    /// What the banner shows.
    pub fn banner(&self) -> &Banner {
        &self.banner
    }

    /// The reloadable certificate (`files` and `self-signed` mode); what
    /// SIGHUP reloads.
    pub fn file_cert(&self) -> Option<Arc<FileCert>> {
        match &self.certs {
            CertSource::Files { cert, .. } => Some(cert.clone()),
            CertSource::Acme(_) => None,
        }
    }

    /// What the ACME client does (`acme` mode).
    pub fn acme_status(&self) -> Option<tokio::sync::watch::Receiver<crate::acme::AcmeStatus>> {
        match &self.certs {
            CertSource::Acme(acme) => Some(acme.status()),
            CertSource::Files { .. } => None,
        }
    }

    /// The TCP address of the ACME challenge listener (`acme` mode).
    pub fn acme_challenge_addr(&self) -> Option<SocketAddr> {
        match &self.certs {
            CertSource::Acme(acme) => acme.challenge_addr(),
            CertSource::Files { .. } => None,
        }
    }

    /// The plugin tokens (for in-process tests and tools).
    pub fn plugin_tokens(&self) -> Arc<crate::plugin::PluginTokens> {
        self.tokens.clone()
    }

    /// The shared core (for in-process tests and tools).
    pub fn hub(&self) -> Arc<Hub> {
        self.hub.clone()
    }

    /// Serves until `shutdown` completes, then closes every connection with
    /// `SHUTDOWN` and flushes the database.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let admin = crate::admin::serve(
            self.hub.clone(),
            self.tokens.clone(),
            self.admin,
            cancel.clone(),
        );
        let plugin = self
            .plugin
            .map(|p| p.serve(self.hub.clone(), cancel.clone()));
        match self.certs {
            CertSource::Files {
                cert,
                watch: Some(every),
            } => {
                tracker.spawn(cert.watch(every, cancel.clone()));
            }
            CertSource::Files { watch: None, .. } => {}
            CertSource::Acme(acme) => {
                tracker.spawn(acme.run(cancel.clone()));
            }
        }
        tracker.spawn(self.hub.clone().sweep_swarms_forever(cancel.clone()));
        tracing::info!(addr = %self.banner.listening, "listening");
        // Logins in progress are bounded in total and per address; beyond
        // that new connections are refused at the QUIC level before any TLS
        // work, and under pressure peers must prove their address first.
        let slots = LoginSlots::new(&self.hub.config);
        let (admitted, mut accepted) = tokio::sync::mpsc::unbounded_channel();
        let mut loops = tokio::task::JoinSet::new();
        let mut controls = Vec::new();
        for endpoint in self.endpoints {
            controls.push(endpoint.control());
            let relay = crate::conn::Relay::new(self.hub.clone());
            loops.spawn(endpoint.run(slots.clone(), Some(Box::new(relay)), admitted.clone()));
        }
        drop(admitted);
        let accept = async {
            while let Some(a) = accepted.recv().await {
                let hub = self.hub.clone();
                let remote = a.connecting.remote_address();
                let span = tracing::info_span!("conn", %remote);
                tracker.spawn(tracing::Instrument::instrument(
                    crate::conn::serve(hub, a.connecting, a.slot),
                    span,
                ));
            }
        };
        let mut failed = None;
        tokio::select! {
            _ = accept => {}
            _ = shutdown => {}
            Some(r) = loops.join_next() => failed = Some(r),
        }
        tracing::info!("shutting down");
        cancel.cancel();
        self.hub
            .close_all(close::SHUTDOWN, "the server is shutting down")
            .await;
        for control in &controls {
            control.close(close::SHUTDOWN.into(), b"the server is shutting down");
        }
        let idle = async {
            for control in &controls {
                control.wait_idle().await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), idle).await;
        loops.abort_all();
        match failed {
            Some(Ok(Err(e))) => tracing::error!(error = %e, "the UDP socket failed"),
            Some(Err(e)) if e.is_panic() => tracing::error!("a QUIC loop panicked"),
            _ => {}
        }
        tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
        let _ = admin.await;
        if let Some(plugin) = plugin {
            let _ = plugin.await;
        }
        // Everything acknowledged is on disk already; this is for the rest.
        let store = &self.hub.store;
        store.flush(store.epoch()).await?;
        let _ = std::fs::remove_file(&self.banner.admin_socket);
        Ok(())
    }
}

#[cfg(unix)]
fn restrict_dir(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
}

#[cfg(not(unix))]
fn restrict_dir(_dir: &Path) {}

fn password(config: &Config, store: &Store) -> Result<(String, Option<String>), StartError> {
    if let Some(p) = &config.password {
        return Ok((p.clone(), None));
    }
    if let Some(path) = &config.password_file {
        let text = std::fs::read_to_string(path).map_err(io(format!("{}", path.display())))?;
        return Ok((text.lines().next().unwrap_or("").to_owned(), None));
    }
    match store.meta_text(META_PASSWORD)? {
        // Shown at the start that generated it only.
        Some(p) => Ok((p, None)),
        None => {
            let p = random_text(20);
            store.set_meta_text(META_PASSWORD, &p)?;
            Ok((p.clone(), Some(p)))
        }
    }
}

/// Meta key set once a new server's state is stored: a database that has
/// it (or roles) and no rooms lost them, and is not silently reset.
const META_STATE_STORED: &str = "state_stored";

/// The stored rooms and roles, or a new server's state (stored at once).
fn load_state(store: &Store, config: &Config) -> Result<State, StartError> {
    let rooms = store.rooms()?;
    if rooms.is_empty()
        && (store.meta_text(META_STATE_STORED)?.is_some() || !store.roles()?.is_empty())
    {
        return Err(StartError::State(
            "the database holds roles but no rooms (the root room is gone): it is damaged, and \
             starting afresh would reset every room and permission to the defaults; restore \
             the data dir from a backup, or move its db directory away to start a new server"
                .to_owned(),
        ));
    }
    if rooms.is_empty() {
        store.set_meta_text(META_STATE_STORED, "1")?;
        store.set_meta_text(crate::legacy_acl::META_READ_HISTORY, "1")?;
        let state = State::new(&config.server_name, Limits::default());
        for room in state.rooms().values() {
            store.put_room(room)?;
        }
        for role in state.roles().values() {
            store.put_role(role)?;
        }
        return Ok(state);
    }
    let mut snapshot = StateSnapshot {
        rooms,
        roles: store.roles()?,
        ..StateSnapshot::default()
    };
    crate::legacy_names::clean(store, &mut snapshot)?;
    crate::legacy_acl::grant_read_history(store, &mut snapshot)?;
    snapshot.rooms.sort_by_key(|r| r.id);
    snapshot.roles.sort_by(|a, b| a.name.cmp(&b.name));
    if store.meta_text(META_STATE_STORED)?.is_none() {
        store.set_meta_text(META_STATE_STORED, "1")?;
    }
    State::from_snapshot(&snapshot, Limits::default()).map_err(|e| StartError::State(e.to_string()))
}

/// UDP socket buffer the server asks for (the kernel caps it at
/// `net.core.rmem_max` / `wmem_max`). With the 208 KiB default, a burst of
/// a thousand QUIC Initial packets (1,200 bytes each) overflows the receive
/// buffer and clients wait for their retransmission back-off.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// Binds `loops` QUIC loops on one port; an IPv6 wildcard falls back to
/// IPv4 when IPv6 is off.
fn bind_endpoint(
    config: quinn::ServerConfig,
    addr: SocketAddr,
    loops: usize,
) -> Result<Vec<crate::quic::Endpoint>, StartError> {
    match endpoints_on(&config, addr, loops) {
        Ok(e) => Ok(e),
        Err(e) if addr.is_ipv6() && addr.ip().is_unspecified() => {
            tracing::warn!(error = %e, "IPv6 unavailable; listening on IPv4 only");
            let v4 = SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, addr.port()));
            endpoints_on(&config, v4, loops).map_err(io(format!("cannot bind {v4}")))
        }
        Err(e) => Err(io(format!("cannot bind {addr}"))(e)),
    }
}

/// The server's QUIC loops on `addr` (`crate::quic::bind_group`), with
/// larger socket buffers and the server's connection IDs (`crate::cid`),
/// which name the loop that issued them.
fn endpoints_on(
    config: &quinn::ServerConfig,
    addr: SocketAddr,
    loops: usize,
) -> std::io::Result<Vec<crate::quic::Endpoint>> {
    let sockets = crate::quic::bind_group(addr, loops)?;
    let shards = u8::try_from(sockets.len()).unwrap_or(u8::MAX);
    let mut endpoints = Vec::with_capacity(sockets.len());
    for (shard, socket) in (0u8..).zip(sockets) {
        let state = quinn::udp::UdpSocketState::new((&socket).into())?;
        for (what, result) in [
            (
                "receive",
                state.set_recv_buffer_size((&socket).into(), SOCKET_BUFFER),
            ),
            (
                "send",
                state.set_send_buffer_size((&socket).into(), SOCKET_BUFFER),
            ),
        ] {
            if let Err(e) = result {
                tracing::warn!(error = %e, "cannot enlarge the UDP {what} buffer");
            }
        }
        let mut endpoint = quinn::EndpointConfig::default();
        endpoint.cid_generator(move || Box::new(crate::cid::Generator::for_shard(shard, shards)));
        endpoints.push(crate::quic::Endpoint::new(
            socket,
            endpoint,
            config.clone(),
        )?);
    }
    Ok(endpoints)
}
