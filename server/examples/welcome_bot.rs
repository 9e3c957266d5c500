//! Welcomes everyone who joins a voice-server: `Welcome, NAME!` in the room
//! they joined, sent as the server under a bot's name (`Greeter` unless
//! `--name`). The Rust twin of `examples/plugins/welcome_bot.py`: a plugin on
//! the admin API (docs/plugins.md) that follows `Admin.Watch` and answers each
//! `add_session` with `Admin.SendChat`; with `--state FILE` it keeps the last
//! event's number there and resumes after it.
//!
//! ```sh
//! cargo run -p voice-server --example welcome_bot -- [SOCKET] [--name Greeter] [--state FILE]
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use voice_proto::pb::admin::admin_client::AdminClient;
use voice_proto::pb::admin::{ServerChat, ServerEvent, WatchRequest, server_event};
use voice_proto::pb::wire::change;

/// How long to wait before reconnecting when the server is gone or ended the stream.
const RECONNECT: Duration = Duration::from_secs(1);

/// The command line.
#[derive(Debug, Parser)]
#[command(about = "Welcomes everyone who joins a voice-server, as the server under a bot's name")]
struct Args {
    /// The server's admin socket [default: admin.sock in $VOICE_SERVER_DATA_DIR,
    /// else the server's default data dir].
    socket: Option<PathBuf>,
    /// The bot's name in chat.
    #[arg(long, default_value = "Greeter")]
    name: String,
    /// Keep the last event's number here and resume after it.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
}

/// What the bot needs to run.
#[derive(Debug, Clone)]
pub struct WelcomeBot {
    /// The server's admin socket.
    pub socket: PathBuf,
    /// The bot's name in chat.
    pub name: String,
    /// Where the last handled event's number is kept, if anywhere.
    pub state: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let socket = match args.socket {
        Some(socket) => socket,
        None => default_socket()?,
    };
    if !socket.exists() {
        anyhow::bail!(
            "no socket at {}: is voice-server running with this data dir? \
             (give the admin socket's path as the first argument)",
            socket.display()
        );
    }
    let bot = WelcomeBot {
        socket,
        name: args.name,
        state: args.state,
    };
    bot.run(|_| {}).await
}

/// admin.sock in the data dir voice-server uses without `--data-dir` or a config.
fn default_socket() -> anyhow::Result<PathBuf> {
    let config = match std::env::var_os("VOICE_SERVER_DATA_DIR") {
        Some(dir) if !dir.is_empty() => voice_server::Config {
            data_dir: Some(PathBuf::from(dir)),
            ..voice_server::Config::default()
        },
        _ => voice_server::Config::default(),
    };
    Ok(config.admin_socket_path()?)
}

impl WelcomeBot {
    /// Follows the server's events for ever, reconnecting and resuming when
    /// the stream ends. `watching(after)` is called each time the server has
    /// placed the watcher in its log (from then on no join is missed).
    pub async fn run(&self, mut watching: impl FnMut(Option<u64>)) -> anyhow::Result<()> {
        let mut after = self.read_state()?;
        loop {
            match self.follow(&mut after, &mut watching).await {
                Ok(()) => tracing::info!("the server ended the event stream; reconnecting"),
                Err(Follow::Unreachable(e)) => tracing::info!("{e}; retrying"),
                Err(Follow::Refused(status))
                    if status.code() == tonic::Code::InvalidArgument && after.is_some() =>
                {
                    // Our resume position is not this server's (another data dir?).
                    tracing::warn!(
                        ?after,
                        "cannot resume: {}; following new events only",
                        status.message()
                    );
                    after = None;
                    continue;
                }
                Err(Follow::Refused(status)) => {
                    anyhow::bail!("{}: {}", self.socket.display(), status.message())
                }
                Err(Follow::State(e)) => return Err(e),
            }
            tokio::time::sleep(RECONNECT).await;
        }
    }

    /// One connection's worth of events; `after` follows the last one handled.
    async fn follow(
        &self,
        after: &mut Option<u64>,
        watching: &mut impl FnMut(Option<u64>),
    ) -> Result<(), Follow> {
        let mut admin = voice_server::admin::client::connect(&self.socket)
            .await
            .map_err(|e| Follow::Unreachable(e.to_string()))?;
        let mut events = admin
            .watch(WatchRequest { after: *after })
            .await
            .map_err(Follow::from_status)?
            .into_inner();
        tracing::info!(socket = %self.socket.display(), name = %self.name, ?after, "watching");
        watching(*after);
        while let Some(event) = events.message().await.map_err(Follow::from_status)? {
            self.handle(&mut admin, &event).await;
            if let Some(state) = &self.state {
                write_state(state, event.seq).map_err(Follow::State)?;
            }
            *after = Some(event.seq);
        }
        Ok(())
    }

    async fn handle(
        &self,
        admin: &mut AdminClient<tonic::transport::Channel>,
        event: &ServerEvent,
    ) {
        match &event.kind {
            Some(server_event::Kind::Missed(missed)) => {
                tracing::warn!(count = missed.count, "missed events: {}", missed.why);
            }
            Some(server_event::Kind::State(state)) => {
                let Some(change::Kind::AddSession(session)) =
                    state.change.as_ref().and_then(|c| c.kind.as_ref())
                else {
                    return;
                };
                let chat = ServerChat {
                    room: session.room,
                    bot_name: self.name.clone(),
                    text: format!("Welcome, {}!", session.name),
                };
                // A refusal (say, a bot name the server does not accept) is told and skipped.
                if let Err(status) = admin.send_chat(chat).await {
                    tracing::error!(name = %session.name, "cannot welcome: {}", status.message());
                }
            }
            _ => {}
        }
    }

    fn read_state(&self) -> anyhow::Result<Option<u64>> {
        let Some(path) = &self.state else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read the state file {}", path.display()));
            }
        };
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).with_context(|| {
            format!(
                "the state file {} should hold an event number",
                path.display()
            )
        })
    }
}

/// Why following the events stopped.
enum Follow {
    /// The socket cannot be reached or the connection broke: retried.
    Unreachable(String),
    /// The server refused the watch.
    Refused(tonic::Status),
    /// The state file cannot be written.
    State(anyhow::Error),
}

impl Follow {
    fn from_status(status: tonic::Status) -> Self {
        // A broken connection shows as UNAVAILABLE or UNKNOWN from the transport.
        match status.code() {
            tonic::Code::Unavailable | tonic::Code::Unknown => {
                Self::Unreachable(status.message().to_owned())
            }
            _ => Self::Refused(status),
        }
    }
}

/// Written aside and renamed, so a crash leaves the old number or the new, never half.
fn write_state(path: &Path, seq: u64) -> anyhow::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, format!("{seq}\n"))
        .and_then(|()| std::fs::rename(&partial, path))
        .with_context(|| format!("cannot write the state file {}", path.display()))
}
