//! Command-line arguments: every config key as a flag and an environment
//! variable (`VOICE_SERVER_*`), plus `voice-server admin …`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::admin::client::AdminCommand;
use crate::config::{Config, ConfigError, Registration, TlsMode};

/// The voice chat server.
#[derive(Debug, Parser)]
#[command(name = "voice-server", version, about)]
pub struct Cli {
    /// Read settings from this TOML file.
    #[arg(long, short = 'c', env = "VOICE_SERVER_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Print the default configuration file and exit.
    #[arg(long)]
    pub print_default_config: bool,
    /// Settings (each also a config key and an environment variable).
    #[command(flatten)]
    pub overrides: Overrides,
    /// A subcommand; none runs the server.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Talk to a running server over its admin socket.
    Admin(AdminArgs),
}

/// `voice-server admin …`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// Settings given on the command line or in the environment.
#[derive(Debug, Default, Clone, Args)]
pub struct Overrides {
    /// UDP address to listen on [default: [::]:7878].
    #[arg(long, env = "VOICE_SERVER_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// Data directory [default: $XDG_DATA_HOME/voice-server].
    #[arg(long, env = "VOICE_SERVER_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Server password ("" = open server).
    #[arg(
        long,
        env = "VOICE_SERVER_PASSWORD",
        hide_env_values = true,
        conflicts_with = "password_file"
    )]
    pub password: Option<String>,
    /// Read the server password from this file.
    #[arg(long, env = "VOICE_SERVER_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Name shown to clients.
    #[arg(long, env = "VOICE_SERVER_SERVER_NAME")]
    pub server_name: Option<String>,
    /// Text shown after login.
    #[arg(long, env = "VOICE_SERVER_WELCOME_TEXT")]
    pub welcome_text: Option<String>,
    /// `open` or `admin`.
    #[arg(long, env = "VOICE_SERVER_REGISTRATION")]
    pub registration: Option<Registration>,
    /// `self-signed`, `files` or `acme`.
    #[arg(long, env = "VOICE_SERVER_TLS_MODE")]
    pub tls_mode: Option<TlsMode>,
    /// PEM certificate chain (`files` mode).
    #[arg(long, env = "VOICE_SERVER_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (`files` mode).
    #[arg(long, env = "VOICE_SERVER_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Seconds between checks of the certificate files (0 = SIGHUP only).
    #[arg(long, env = "VOICE_SERVER_TLS_WATCH_SECS")]
    pub tls_watch_secs: Option<u64>,
    /// DNS name to get a certificate for (`acme` mode; repeat or comma-separate).
    #[arg(long, env = "VOICE_SERVER_ACME_DOMAINS", value_delimiter = ',')]
    pub acme_domains: Option<Vec<String>>,
    /// Contact e-mail for the CA (`acme` mode).
    #[arg(long, env = "VOICE_SERVER_ACME_EMAIL")]
    pub acme_email: Option<String>,
    /// `letsencrypt`, `letsencrypt-staging` or an https:// directory URL.
    #[arg(long, env = "VOICE_SERVER_ACME_DIRECTORY")]
    pub acme_directory: Option<String>,
    /// ACME cache directory [default: acme in the data dir].
    #[arg(long, env = "VOICE_SERVER_ACME_CACHE_DIR")]
    pub acme_cache_dir: Option<PathBuf>,
    /// TCP address for the TLS-ALPN-01 challenge [default: 0.0.0.0:443].
    #[arg(long, env = "VOICE_SERVER_ACME_CHALLENGE_LISTEN")]
    pub acme_challenge_listen: Option<SocketAddr>,
    /// Extra CA file (PEM) trusted for the ACME directory's HTTPS.
    #[arg(long, env = "VOICE_SERVER_ACME_CA_FILE")]
    pub acme_ca_file: Option<PathBuf>,
    /// Admin socket path [default: admin.sock in the data dir].
    #[arg(long, env = "VOICE_SERVER_ADMIN_SOCKET", global = true)]
    pub admin_socket: Option<PathBuf>,
    /// TCP address of the plugin listener (TLS gRPC with plugin tokens)
    /// [default: none].
    #[arg(long, env = "VOICE_SERVER_PLUGIN_LISTEN")]
    pub plugin_listen: Option<SocketAddr>,
    /// Connections the plugin listener holds at once.
    #[arg(long, env = "VOICE_SERVER_PLUGIN_MAX_CONNECTIONS")]
    pub plugin_max_connections: Option<usize>,
    /// Most connected sessions.
    #[arg(long, env = "VOICE_SERVER_MAX_SESSIONS")]
    pub max_sessions: Option<usize>,
    /// Most sessions in one room (0 = no limit).
    #[arg(long, env = "VOICE_SERVER_MAX_SESSIONS_PER_ROOM")]
    pub max_sessions_per_room: Option<usize>,
    /// Longest chat message in characters.
    #[arg(long, env = "VOICE_SERVER_MAX_MESSAGE_LEN")]
    pub max_message_len: Option<usize>,
    /// Chat messages per second per session.
    #[arg(long, env = "VOICE_SERVER_CHAT_RATE")]
    pub chat_rate: Option<f64>,
    /// Chat burst per session.
    #[arg(long, env = "VOICE_SERVER_CHAT_BURST")]
    pub chat_burst: Option<f64>,
    /// Control messages per second per session.
    #[arg(long, env = "VOICE_SERVER_CONTROL_RATE")]
    pub control_rate: Option<f64>,
    /// Control burst per session.
    #[arg(long, env = "VOICE_SERVER_CONTROL_BURST")]
    pub control_burst: Option<f64>,
    /// Voice packets per second per session.
    #[arg(long, env = "VOICE_SERVER_VOICE_RATE")]
    pub voice_rate: Option<f64>,
    /// Voice payload bytes per second per session.
    #[arg(long, env = "VOICE_SERVER_VOICE_BYTES_PER_SECOND")]
    pub voice_bytes_per_second: Option<f64>,
    /// Largest voice payload in bytes.
    #[arg(long, env = "VOICE_SERVER_MAX_VOICE_PAYLOAD")]
    pub max_voice_payload: Option<usize>,
    /// Handshake deadline in milliseconds.
    #[arg(long, env = "VOICE_SERVER_HANDSHAKE_TIMEOUT_MS")]
    pub handshake_timeout_ms: Option<u64>,
    /// Failed logins before an address is refused.
    #[arg(long, env = "VOICE_SERVER_THROTTLE_FAILURES")]
    pub throttle_failures: Option<usize>,
    /// Window for counting failed logins, seconds.
    #[arg(long, env = "VOICE_SERVER_THROTTLE_WINDOW_SECS")]
    pub throttle_window_secs: Option<u64>,
    /// How long a throttled address is refused, seconds.
    #[arg(long, env = "VOICE_SERVER_THROTTLE_REFUSE_SECS")]
    pub throttle_refuse_secs: Option<u64>,
    /// Lasting changes per second per user key.
    #[arg(long, env = "VOICE_SERVER_PERSIST_RATE")]
    pub persist_rate: Option<f64>,
    /// Lasting changes a user key may make at once.
    #[arg(long, env = "VOICE_SERVER_PERSIST_BURST")]
    pub persist_burst: Option<f64>,
    /// Bytes queued for one session before it is closed as too slow.
    #[arg(long, env = "VOICE_SERVER_MAX_QUEUE_BYTES")]
    pub max_queue_bytes: Option<usize>,
    /// Encoded size of the whole shared state, in bytes.
    #[arg(long, env = "VOICE_SERVER_MAX_STATE_BYTES")]
    pub max_state_bytes: Option<usize>,
    /// Rooms one user key may have created (0 = no limit).
    #[arg(long, env = "VOICE_SERVER_MAX_ROOMS_PER_KEY")]
    pub max_rooms_per_key: Option<usize>,
    /// Files one user key may share at once (0 = no limit).
    #[arg(long, env = "VOICE_SERVER_MAX_FILES_PER_KEY")]
    pub max_files_per_key: Option<usize>,
    /// Largest file that may be shared, in bytes.
    #[arg(long, env = "VOICE_SERVER_MAX_FILE_SIZE")]
    pub max_file_size: Option<u64>,
    /// Largest torrent info dictionary the tracker keeps, in bytes.
    #[arg(long, env = "VOICE_SERVER_MAX_TORRENT_INFO_BYTES")]
    pub max_torrent_info_bytes: Option<usize>,
    /// Swarms one session may be in at once.
    #[arg(long, env = "VOICE_SERVER_MAX_SWARMS_PER_SESSION")]
    pub max_swarms_per_session: Option<usize>,
    /// Tracker requests per second per session, sustained.
    #[arg(long, env = "VOICE_SERVER_TRACKER_RATE")]
    pub tracker_rate: Option<f64>,
    /// Tracker requests a session may send at once.
    #[arg(long, env = "VOICE_SERVER_TRACKER_BURST")]
    pub tracker_burst: Option<f64>,
    /// Seconds between a peer's announces.
    #[arg(long, env = "VOICE_SERVER_TRACKER_INTERVAL_SECS")]
    pub tracker_interval_secs: Option<u64>,
    /// Seconds a swarm may have no seeder before its file is dropped.
    #[arg(long, env = "VOICE_SERVER_SWARM_GRACE_SECS")]
    pub swarm_grace_secs: Option<u64>,
    /// Bytes the tracker may hold for all swarms.
    #[arg(long, env = "VOICE_SERVER_MAX_TRACKER_BYTES")]
    pub max_tracker_bytes: Option<usize>,
    /// Seconds a room history snapshot's swarm lives.
    #[arg(long, env = "VOICE_SERVER_HISTORY_SWARM_SECS")]
    pub history_swarm_secs: Option<u64>,
    /// Largest room history snapshot members may serve, in bytes.
    #[arg(long, env = "VOICE_SERVER_MAX_HISTORY_BYTES")]
    pub max_history_bytes: Option<u64>,
    /// History requests a session may send per second, sustained.
    #[arg(long, env = "VOICE_SERVER_HISTORY_RATE")]
    pub history_rate: Option<f64>,
    /// History requests a session may send at once.
    #[arg(long, env = "VOICE_SERVER_HISTORY_BURST")]
    pub history_burst: Option<f64>,
    /// Connections logging in at once.
    #[arg(long, env = "VOICE_SERVER_MAX_PENDING_LOGINS")]
    pub max_pending_logins: Option<usize>,
    /// Pending logins from which peers must prove their address (QUIC
    /// retry) and per-address caps apply.
    #[arg(long, env = "VOICE_SERVER_LOGIN_RETRY_THRESHOLD")]
    pub login_retry_threshold: Option<usize>,
    /// Pending logins per address (IPv4, or IPv6 /64) under pressure.
    #[arg(long, env = "VOICE_SERVER_MAX_PENDING_LOGINS_PER_ADDRESS")]
    pub max_pending_logins_per_address: Option<usize>,
    /// No effect any more: the QUIC loop always sends in batches.
    #[arg(long, env = "VOICE_SERVER_BATCHED_SENDS")]
    pub batched_sends: Option<bool>,
    /// QUIC loops on the port (0 = one per runtime thread, at most 64).
    #[arg(long, env = "VOICE_SERVER_QUIC_LOOPS")]
    pub quic_loops: Option<usize>,
    /// Relay file transfers between peers that cannot reach each other.
    #[arg(long, env = "VOICE_SERVER_FILE_RELAY")]
    pub file_relay: Option<bool>,
    /// Bytes per second the file relay carries in total (0 = no limit).
    #[arg(long, env = "VOICE_SERVER_RELAY_BYTES_PER_SECOND")]
    pub relay_bytes_per_second: Option<u64>,
    /// Bytes per second the file relay carries per session (0 = no limit).
    #[arg(long, env = "VOICE_SERVER_RELAY_SESSION_BYTES_PER_SECOND")]
    pub relay_session_bytes_per_second: Option<u64>,
    /// Relayed connections a session may be an end of at once.
    #[arg(long, env = "VOICE_SERVER_MAX_RELAY_STREAMS_PER_SESSION")]
    pub max_relay_streams_per_session: Option<u32>,
}

macro_rules! merge {
    ($config:ident, $o:ident, $($field:ident),*) => {
        $( if let Some(v) = $o.$field { $config.$field = v; } )*
    };
}

impl Cli {
    /// The configuration: defaults, then the file, then flags and environment.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        let o = self.overrides.clone();
        if o.data_dir.is_some() {
            config.data_dir = o.data_dir;
        }
        if o.password.is_some() {
            config.password = o.password;
            config.password_file = None;
        }
        if o.password_file.is_some() {
            config.password_file = o.password_file;
            config.password = None;
        }
        if o.tls_cert.is_some() {
            config.tls_cert = o.tls_cert;
        }
        if o.tls_key.is_some() {
            config.tls_key = o.tls_key;
        }
        if o.acme_email.is_some() {
            config.acme_email = o.acme_email;
        }
        if o.acme_cache_dir.is_some() {
            config.acme_cache_dir = o.acme_cache_dir;
        }
        if o.acme_ca_file.is_some() {
            config.acme_ca_file = o.acme_ca_file;
        }
        if o.admin_socket.is_some() {
            config.admin_socket = o.admin_socket;
        }
        if o.plugin_listen.is_some() {
            config.plugin_listen = o.plugin_listen;
        }
        merge!(
            config,
            o,
            listen,
            server_name,
            welcome_text,
            registration,
            tls_mode,
            tls_watch_secs,
            acme_domains,
            acme_directory,
            acme_challenge_listen,
            plugin_max_connections,
            max_sessions,
            max_sessions_per_room,
            max_message_len,
            chat_rate,
            chat_burst,
            control_rate,
            control_burst,
            voice_rate,
            batched_sends,
            quic_loops,
            voice_bytes_per_second,
            max_voice_payload,
            handshake_timeout_ms,
            throttle_failures,
            throttle_window_secs,
            throttle_refuse_secs,
            persist_rate,
            persist_burst,
            max_queue_bytes,
            max_state_bytes,
            max_rooms_per_key,
            max_files_per_key,
            max_file_size,
            max_torrent_info_bytes,
            max_swarms_per_session,
            tracker_rate,
            tracker_burst,
            tracker_interval_secs,
            swarm_grace_secs,
            max_tracker_bytes,
            max_pending_logins,
            login_retry_threshold,
            max_pending_logins_per_address,
            file_relay,
            relay_bytes_per_second,
            relay_session_bytes_per_second,
            max_relay_streams_per_session,
            history_swarm_secs,
            max_history_bytes,
            history_rate,
            history_burst
        );
        Ok(config)
    }
}
