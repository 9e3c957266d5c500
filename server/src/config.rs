//! Server configuration: one TOML file, every key also a flag and an
//! environment variable (`VOICE_SERVER_*`). Precedence: flag or environment,
//! then the file, then the defaults below.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How new keys become registered users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Registration {
    /// A new key becomes `known` on its first successful login.
    Open,
    /// Unknown keys stay in `everyone` until an admin registers them.
    Admin,
}

/// Where the TLS certificate comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Generated once with rcgen and kept in the data dir.
    SelfSigned,
    /// A PEM certificate chain and key from files, reloaded on SIGHUP and
    /// when the files change.
    Files,
    /// Obtained and renewed from an ACME CA (Let's Encrypt or any other)
    /// with the TLS-ALPN-01 challenge.
    Acme,
}

/// Every setting of the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// UDP address to listen on.
    pub listen: SocketAddr,
    /// Where the database, certificate and admin socket live (default: XDG data dir).
    pub data_dir: Option<PathBuf>,
    /// Server password; unset = generate one at first start; empty = open server.
    pub password: Option<String>,
    /// Read the password from this file (first line).
    pub password_file: Option<PathBuf>,
    /// Name shown to clients (also the root room's name on a new server).
    pub server_name: String,
    /// Text shown to clients after login.
    pub welcome_text: String,
    /// `open` or `admin`.
    pub registration: Registration,
    /// `self-signed` or `files`.
    pub tls_mode: TlsMode,
    /// PEM certificate chain (`files` mode).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (`files` mode).
    pub tls_key: Option<PathBuf>,
    /// Seconds between checks of the certificate files for changes
    /// (`files` mode; 0 = only reload on SIGHUP).
    pub tls_watch_secs: u64,
    /// DNS names to get a certificate for (`acme` mode).
    pub acme_domains: Vec<String>,
    /// Contact e-mail address given to the CA (`acme` mode).
    pub acme_email: Option<String>,
    /// ACME directory: `letsencrypt`, `letsencrypt-staging` or an https:// URL.
    pub acme_directory: String,
    /// Where the ACME account and certificate are kept (default: `acme` in the data dir).
    pub acme_cache_dir: Option<PathBuf>,
    /// TCP address of the TLS-ALPN-01 challenge listener; the CA connects to
    /// port 443 of the DNS name, so this must be port 443 or forwarded from it.
    pub acme_challenge_listen: SocketAddr,
    /// Extra CA certificates (PEM) to trust for the ACME directory's HTTPS
    /// (a private or test CA such as pebble).
    pub acme_ca_file: Option<PathBuf>,
    /// Admin socket path (default: `admin.sock` in the data dir).
    pub admin_socket: Option<PathBuf>,
    /// TCP address of the plugin listener: the admin API over TLS (the
    /// server's certificate) for plugins holding a token with scopes
    /// (docs/plugins.md). Unset (the default): no listener.
    pub plugin_listen: Option<SocketAddr>,
    /// Connections the plugin listener holds at once (default 64; 8 per
    /// address at most).
    pub plugin_max_connections: usize,
    /// Most connected sessions.
    pub max_sessions: usize,
    /// Most sessions in one room (0 = no limit).
    pub max_sessions_per_room: usize,
    /// Longest chat message, in characters.
    pub max_message_len: usize,
    /// Chat messages per second per session (sustained).
    pub chat_rate: f64,
    /// Chat messages a session may send at once.
    pub chat_burst: f64,
    /// Control messages per second per session before it is closed.
    pub control_rate: f64,
    /// Control messages a session may send at once.
    pub control_burst: f64,
    /// Voice packets per second per session (excess is dropped).
    pub voice_rate: f64,
    /// Voice bytes (Opus payload) per second per session, excess dropped:
    /// bounds what one talker costs every listener of a big room. The
    /// default, 64,000 (half a second of burst), is Opus's highest bitrate
    /// (510 kbit/s) with room to spare.
    pub voice_bytes_per_second: f64,
    /// Largest Opus payload of a voice packet, in bytes.
    pub max_voice_payload: usize,
    /// No longer has an effect (kept so that existing files still load):
    /// the server's own QUIC loop always sends the datagrams of many
    /// connections in one `sendmmsg` call. Set false, it is warned about.
    pub batched_sends: bool,
    /// QUIC loops, each on its own socket of one `SO_REUSEPORT` group with
    /// its own connections (a connection's packets reach its loop by its
    /// connection ID); 0 = one per runtime thread (one per core unless
    /// `TOKIO_WORKER_THREADS` says otherwise). At most 64.
    pub quic_loops: usize,
    /// Time to finish the handshake, in milliseconds.
    pub handshake_timeout_ms: u64,
    /// Failed logins from one address before it is refused.
    pub throttle_failures: usize,
    /// Window in which failures count, in seconds.
    pub throttle_window_secs: u64,
    /// How long a throttled address is refused, in seconds.
    pub throttle_refuse_secs: u64,
    /// Lasting changes (written to disk: rooms, ACLs, roles, renames) per
    /// second per user key, sustained (default 1).
    pub persist_rate: f64,
    /// Lasting changes a user key may make at once (default 20).
    pub persist_burst: f64,
    /// Bytes waiting in one session's outgoing control queue before it is
    /// closed as too slow (`SLOW_READER`; default 8 MiB, at least
    /// `max_state_bytes` + 64 KiB so a snapshot always fits).
    pub max_queue_bytes: usize,
    /// Encoded size of the whole shared state, in bytes (default 4 MiB;
    /// at most 15 MiB, below the 16 MiB frame limit); a change past it is refused.
    pub max_state_bytes: usize,
    /// Rooms one user key may have created and not yet removed (default 100;
    /// 0 = no limit; the server's own changes are exempt).
    pub max_rooms_per_key: usize,
    /// Files one user key may share at once (default 100; 0 = no limit).
    pub max_files_per_key: usize,
    /// Largest file that may be shared, in bytes (default 4 GiB); a larger
    /// one is refused when its torrent is published, before any data moves.
    pub max_file_size: u64,
    /// Largest torrent info dictionary the tracker keeps, in bytes (default
    /// 1 MiB: 2 MiB pieces of a 4 GiB file take 40 KiB).
    pub max_torrent_info_bytes: usize,
    /// Swarms one session may be in at once, shared or downloading
    /// (default 50).
    pub max_swarms_per_session: usize,
    /// Tracker requests (publish, fetch, announce, scrape) per second per
    /// session, sustained (default 4: 50 swarms announcing every 30 s take
    /// 1.7).
    pub tracker_rate: f64,
    /// Tracker requests a session may send at once (default 60).
    pub tracker_burst: f64,
    /// Seconds between a peer's announces; a peer that misses three is
    /// dropped from its swarms (default 30).
    pub tracker_interval_secs: u64,
    /// Seconds a swarm may have no seeder before it is dropped and its file
    /// leaves the shared state (default 60).
    pub swarm_grace_secs: u64,
    /// Bytes the tracker may hold for all swarms (info dictionaries and
    /// peers; default 64 MiB); a publish past it is refused.
    pub max_tracker_bytes: usize,
    /// Connections that may be logging in at once (from the first QUIC
    /// packet to the end of the voice/1 login); beyond that new connections
    /// are refused before any TLS work. Default 1024.
    pub max_pending_logins: usize,
    /// Pending logins from which the server is under pressure: it asks new
    /// peers to prove their address (QUIC retry) and caps pending logins per
    /// address. One address (IPv4, or IPv6 /64) never holds more than this.
    /// Default 128.
    pub login_retry_threshold: usize,
    /// Pending logins one address (IPv4, or IPv6 /64) may hold while the
    /// server is under pressure. Default 8.
    pub max_pending_logins_per_address: usize,
    /// Relay peer connections of file transfers between sessions that
    /// cannot reach each other (default on).
    pub file_relay: bool,
    /// Bytes per second the relay carries for everyone together (both
    /// directions; 0 = no limit). Default 8 MiB/s.
    pub relay_bytes_per_second: u64,
    /// Bytes per second the relay carries to and from one session (0 = no
    /// limit). Default 2 MiB/s.
    pub relay_session_bytes_per_second: u64,
    /// Relayed connections a session may be an end of at once (1 to 64).
    /// Default 4.
    pub max_relay_streams_per_session: u32,
    /// Seconds a room history snapshot's swarm lives after the server
    /// settles it (default 300); it goes sooner when its last seeder leaves.
    pub history_swarm_secs: u64,
    /// Largest room history snapshot members may serve, in bytes (default
    /// 8 MiB).
    pub max_history_bytes: u64,
    /// History requests a session may send per second, sustained (default
    /// 0.1: one each 10 s). Each asks up to 16 members to build and seed a
    /// snapshot, so it is the one request that costs other people's work.
    pub history_rate: f64,
    /// History requests a session may send at once (default 3).
    pub history_burst: f64,
    /// Ask the plugin attached to `Admin.Intercept` to approve each chat
    /// message before it is relayed (default off).
    pub intercept_chat: bool,
    /// Ask it to approve each login before the session joins (default off).
    pub intercept_joins: bool,
    /// How long the server waits for the plugin's answer before it decides
    /// alone (allows), in milliseconds: 10 to 5,000, default 250.
    pub intercept_deadline_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, voice_proto::DEFAULT_PORT)),
            data_dir: None,
            password: None,
            password_file: None,
            server_name: "voice".to_owned(),
            welcome_text: String::new(),
            registration: Registration::Open,
            tls_mode: TlsMode::SelfSigned,
            tls_cert: None,
            tls_key: None,
            tls_watch_secs: 5,
            acme_domains: Vec::new(),
            acme_email: None,
            acme_directory: "letsencrypt".to_owned(),
            acme_cache_dir: None,
            acme_challenge_listen: SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 443)),
            acme_ca_file: None,
            admin_socket: None,
            plugin_listen: None,
            plugin_max_connections: 64,
            max_sessions: 1000,
            max_sessions_per_room: 0,
            max_message_len: 5000,
            chat_rate: 5.0,
            chat_burst: 10.0,
            control_rate: 200.0,
            control_burst: 1000.0,
            voice_rate: 120.0,
            voice_bytes_per_second: 64_000.0,
            max_voice_payload: voice_proto::voice::DEFAULT_MAX_PAYLOAD,
            batched_sends: true,
            quic_loops: 0,
            handshake_timeout_ms: 10_000,
            throttle_failures: 10,
            throttle_window_secs: 120,
            throttle_refuse_secs: 300,
            persist_rate: 1.0,
            persist_burst: 20.0,
            max_queue_bytes: 8 << 20,
            max_state_bytes: 4 << 20,
            max_rooms_per_key: 100,
            max_files_per_key: 100,
            max_file_size: 4 << 30,
            max_torrent_info_bytes: 1 << 20,
            max_swarms_per_session: 50,
            tracker_rate: 4.0,
            tracker_burst: 60.0,
            tracker_interval_secs: 30,
            swarm_grace_secs: 60,
            max_tracker_bytes: 64 << 20,
            max_pending_logins: 1024,
            login_retry_threshold: 128,
            max_pending_logins_per_address: 8,
            file_relay: true,
            relay_bytes_per_second: 8 << 20,
            relay_session_bytes_per_second: 2 << 20,
            max_relay_streams_per_session: voice_net::transport::DEFAULT_RELAY_STREAMS,
            history_swarm_secs: 300,
            max_history_bytes: 8 << 20,
            history_rate: 0.1,
            history_burst: 3.0,
            intercept_chat: false,
            intercept_joins: false,
            intercept_deadline_ms: 250,
        }
    }
}

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("invalid config {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<toml::de::Error>,
    },
    /// No data dir given and none can be derived.
    #[error("no home directory to put the data in; pass --data-dir")]
    NoDataDir,
    /// `files` TLS mode without both files.
    #[error("tls-mode = files needs tls-cert and tls-key")]
    MissingTlsFiles,
    /// Budgets that cannot work together.
    #[error("invalid limits: {0}")]
    Limits(String),
}

/// The largest `max_state_bytes`: a snapshot (with the `Welcome` around
/// it) must stay below the 16 MiB frame limit (`frame::SERVER_MAX_FRAME`).
pub const MAX_STATE_BYTES_CEILING: usize = 15 << 20;

/// Room a session's queue keeps beyond one full snapshot (updates that
/// follow it, replies).
pub const QUEUE_SLACK_BYTES: usize = 64 << 10;

impl Config {
    /// Reads a TOML file (missing keys take their defaults).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// The defaults as a commented TOML file.
    pub fn default_toml() -> String {
        let body = toml::to_string_pretty(&Self::default()).unwrap_or_default();
        format!(
            "# voice-server configuration. Every key is also a flag (--key-name) and an\n\
             # environment variable (VOICE_SERVER_KEY_NAME).\n\
             # Unset keys: data_dir (XDG data dir), password (generated at first start;\n\
             # \"\" = open server), password_file, tls_cert, tls_key, admin_socket,\n\
             # acme_email, acme_cache_dir (\"acme\" in the data dir), acme_ca_file,\n\
             # plugin_listen (no plugin TCP listener; e.g. \"[::]:7879\", see docs/plugins.md).\n\
             # tls_mode: self-signed, files or acme (see docs/server.md).\n\n{body}"
        )
    }

    /// The data dir: as configured, or `$XDG_DATA_HOME/voice-server`.
    pub fn data_dir(&self) -> Result<PathBuf, ConfigError> {
        if let Some(dir) = &self.data_dir {
            return Ok(dir.clone());
        }
        directories::ProjectDirs::from("", "", "voice-server")
            .map(|d| d.data_dir().to_owned())
            .ok_or(ConfigError::NoDataDir)
    }

    /// The admin socket: `admin_socket`, else `admin.sock` in the data dir.
    pub fn admin_socket_path(&self) -> Result<PathBuf, ConfigError> {
        match &self.admin_socket {
            Some(path) => Ok(path.clone()),
            None => Ok(self.data_dir()?.join("admin.sock")),
        }
    }

    /// Checks that the budgets fit together: the state below the frame
    /// limit, a session's queue larger than the state.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.max_state_bytes > MAX_STATE_BYTES_CEILING {
            return Err(ConfigError::Limits(format!(
                "max_state_bytes is {}; at most {MAX_STATE_BYTES_CEILING} (below the 16 MiB frame limit)",
                self.max_state_bytes
            )));
        }
        if self.max_queue_bytes < self.max_state_bytes + QUEUE_SLACK_BYTES {
            return Err(ConfigError::Limits(format!(
                "max_queue_bytes is {}; it must be at least max_state_bytes + {QUEUE_SLACK_BYTES} = {} \
                 so that a snapshot always fits",
                self.max_queue_bytes,
                self.max_state_bytes + QUEUE_SLACK_BYTES
            )));
        }
        let positive = |v: f64, min: f64| v.is_finite() && v >= min;
        if !positive(self.persist_rate, f64::MIN_POSITIVE) || !positive(self.persist_burst, 1.0) {
            return Err(ConfigError::Limits(
                "persist_rate must be above 0 and persist_burst at least 1".to_owned(),
            ));
        }
        if !positive(self.tracker_rate, f64::MIN_POSITIVE) || !positive(self.tracker_burst, 1.0) {
            return Err(ConfigError::Limits(
                "tracker_rate must be above 0 and tracker_burst at least 1".to_owned(),
            ));
        }
        if !(10..=5000).contains(&self.intercept_deadline_ms) {
            return Err(ConfigError::Limits(format!(
                "intercept_deadline_ms is {}; it must be 10 to 5000 (a plugin that does not answer in time is overruled, so a long wait only delays chat and logins)",
                self.intercept_deadline_ms
            )));
        }
        if !positive(self.history_rate, f64::MIN_POSITIVE) || !positive(self.history_burst, 1.0) {
            return Err(ConfigError::Limits(
                "history_rate must be above 0 and history_burst at least 1".to_owned(),
            ));
        }
        if self.max_relay_streams_per_session == 0 || self.max_relay_streams_per_session > 64 {
            return Err(ConfigError::Limits(
                "max_relay_streams_per_session must be 1 to 64 (turn relaying off with \
                 file_relay = false)"
                    .to_owned(),
            ));
        }
        if self.plugin_max_connections == 0 {
            return Err(ConfigError::Limits(
                "plugin_max_connections must be at least 1 (leave plugin_listen unset for no \
                 plugin listener)"
                    .to_owned(),
            ));
        }
        if self.tracker_interval_secs == 0 || self.tracker_interval_secs > 3600 {
            return Err(ConfigError::Limits(
                "tracker_interval_secs must be 1 to 3600".to_owned(),
            ));
        }
        Ok(())
    }

    /// The handshake deadline.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }
}
