//! The client engine: one user's connection to one server, its mirrored
//! state, chat of this session, voice settings, identity, bookmarks and
//! trust. It holds no global state, so it can run embedded in any process;
//! the daemon wraps it in the gRPC control API.

mod chat_log;
mod devices;
mod link;
mod manager;
mod media;
mod ops;
mod path;
mod readers;
pub mod resolve;
mod settings;
mod talking;
mod voice;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use voice_proto::StateHash;
use voice_proto::pb::control::{ConnectionState, Event, StateReply, StatusReply, event};

use crate::audio::AudioEngine;
use crate::config::Config;
use crate::connection::backoff::Backoff;
use crate::connection::mirror::Mirror;
use crate::error::Error;
use crate::identity::Identity;
use crate::paths::Paths;

pub use link::Link;
pub use settings::VoiceSettings;

pub use chat_log::{CHAT_HISTORY, CHAT_HISTORY_BYTES, ChatLog};

/// Where the connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// No server.
    Disconnected,
    /// First attempt under way.
    Connecting,
    /// Logged in.
    Connected,
    /// Lost; the next attempt is at this Unix time in ms.
    Reconnecting {
        /// Unix ms of the next attempt.
        next_attempt_ms: u64,
    },
}

pub(crate) struct Target {
    cancel: CancellationToken,
}

/// The engine's mutable state: connection, mirror, chat, settings (behind
/// one lock, never held across an await).
pub(crate) struct EngineState {
    pub(crate) config: Config,
    pub(crate) conn: ConnState,
    pub(crate) server: String,
    pub(crate) last_error: String,
    pub(crate) fingerprint: String,
    pub(crate) target: Option<Target>,
    pub(crate) generation: u64,
    pub(crate) link: Option<Arc<Link>>,
    pub(crate) mirror: Option<Mirror>,
    pub(crate) last_room: u32,
    /// Password and display name of the current server, reused when the
    /// same server is connected again without them (e.g. `claim-admin`).
    pub(crate) last_login: (String, String),
    pub(crate) chat: ChatLog,
    pub(crate) voice: VoiceSettings,
    /// Fingerprints trusted for this run only (`Trust` with `permanent = false`).
    pub(crate) session_pins: HashMap<String, String>,
    /// Loss this user's listeners report (adaptive FEC).
    pub(crate) listener_reports: voice::ListenerReports,
    /// Voice frames this client lost in the last second, per thousand.
    pub(crate) receive_loss_permille: u32,
    /// The audio devices in use, their health and last problem.
    pub(crate) devices: devices::DeviceStatus,
    /// The local address under the connection and its last change.
    pub(crate) network: path::NetworkStatus,
    /// The file playing and the recording in progress.
    pub(crate) media: media::MediaState,
}

pub(crate) struct Inner {
    pub(crate) paths: Paths,
    pub(crate) identity: Identity,
    pub(crate) audio: Arc<dyn AudioEngine>,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) hash: watch::Sender<Option<StateHash>>,
    /// The last hashes the mirror went through (to tell "caught up").
    pub(crate) recent: Mutex<VecDeque<StateHash>>,
    pub(crate) backoff: Backoff,
    /// One proposal at a time, so this client's own proposals never make
    /// each other stale.
    pub(crate) proposing: tokio::sync::Mutex<()>,
    /// One read-modify-write of the daemon's own files (config.toml,
    /// bookmarks.toml, known_servers) at a time, so that two requests at
    /// once never lose one's change.
    pub(crate) writing: Mutex<()>,
    pub(crate) state: Mutex<EngineState>,
    /// Files over BitTorrent: transfers and their cache.
    pub(crate) files: crate::files::Files,
}

/// The client engine. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("identity", &self.inner.identity)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Holds the daemon's own files for one read-modify-write.
    pub(crate) fn writing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An engine with its files in `paths`: loads (or makes) the identity
    /// and reads the config.
    pub fn new(paths: Paths, audio: Arc<dyn AudioEngine>) -> Result<Self, Error> {
        let identity = Identity::load_or_create(&paths.identity_file())
            .map_err(|e| Error::Failed(e.to_string()))?;
        let config =
            Config::load(&paths.config_file()).map_err(|e| Error::Failed(e.to_string()))?;
        let files = crate::files::Files::new(&paths.cache_dir);
        let chat = ChatLog::with_limits(config.history_messages, config.history_bytes);
        let (events, _) = broadcast::channel(1024);
        let (hash, _) = watch::channel(None);
        // Echo cancellation and gain control are on with real devices (an
        // echo path exists), off with files or no audio.
        let mut voice = VoiceSettings::default();
        let real = audio.backend() == "cpal";
        voice.audio.echo_cancellation = real;
        voice.audio.auto_gain = real;
        Ok(Self {
            inner: Arc::new(Inner {
                paths,
                identity,
                audio,
                events,
                hash,
                recent: Mutex::new(VecDeque::new()),
                backoff: Backoff::default(),
                proposing: tokio::sync::Mutex::new(()),
                writing: Mutex::new(()),
                files,
                state: Mutex::new(EngineState {
                    config,
                    conn: ConnState::Disconnected,
                    server: String::new(),
                    last_error: String::new(),
                    fingerprint: String::new(),
                    target: None,
                    generation: 0,
                    link: None,
                    mirror: None,
                    last_room: 0,
                    last_login: (String::new(), String::new()),
                    chat,
                    voice,
                    session_pins: HashMap::new(),
                    listener_reports: voice::ListenerReports::default(),
                    receive_loss_permille: 0,
                    devices: devices::DeviceStatus::default(),
                    network: path::NetworkStatus::default(),
                    media: media::MediaState::default(),
                }),
            }),
        })
    }

    /// The identity.
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// The file locations.
    pub fn paths(&self) -> &Paths {
        &self.inner.paths
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, EngineState> {
        // A panic while holding the lock leaves plain data; keep going.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the mirror's new hash (None: no mirror).
    pub(crate) fn publish_hash(&self, hash: Option<StateHash>) {
        if let Ok(mut r) = self.inner.recent.lock() {
            match hash {
                Some(h) => {
                    r.push_back(h);
                    while r.len() > 256 {
                        r.pop_front();
                    }
                }
                None => r.clear(),
            }
        }
        let _ = self.inner.hash.send(hash);
    }

    /// Whether the mirror has been at `hash` recently.
    pub(crate) fn passed(&self, hash: &StateHash) -> bool {
        self.inner
            .recent
            .lock()
            .map(|r| r.contains(hash))
            .unwrap_or(false)
    }

    /// Sends an event to every watcher.
    pub(crate) fn emit(&self, kind: event::Kind) {
        let _ = self.inner.events.send(Event { kind: Some(kind) });
    }

    pub(crate) fn emit_status(&self) {
        let s = self.status();
        self.emit(event::Kind::Connection(s));
    }

    /// Subscribes to events; also returns the events that describe the
    /// present (connection status, then the full state if connected).
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let rx = self.inner.events.subscribe();
        let mut now = vec![Event {
            kind: Some(event::Kind::Connection(self.status())),
        }];
        if let Ok(state) = self.state() {
            now.push(Event {
                kind: Some(event::Kind::State(state)),
            });
        }
        (now, rx)
    }

    /// The connection status.
    pub fn status(&self) -> StatusReply {
        let st = self.lock();
        status_of(&st, &self.inner.identity)
    }

    /// The mirrored state.
    pub fn state(&self) -> Result<StateReply, Error> {
        let st = self.lock();
        let (Some(mirror), Some(link)) = (&st.mirror, &st.link) else {
            return Err(Error::NotConnected);
        };
        Ok(StateReply {
            state: Some(mirror.state().snapshot()),
            hash: mirror.state().hash().to_vec(),
            session_id: link.session_id,
        })
    }
}

pub(crate) fn status_of(st: &EngineState, identity: &Identity) -> StatusReply {
    let (state, next_attempt_ms) = match st.conn {
        ConnState::Disconnected => (ConnectionState::Disconnected, 0),
        ConnState::Connecting => (ConnectionState::Connecting, 0),
        ConnState::Connected => (ConnectionState::Connected, 0),
        ConnState::Reconnecting { next_attempt_ms } => {
            (ConnectionState::Reconnecting, next_attempt_ms)
        }
    };
    let session_id = st.link.as_ref().map_or(0, |l| l.session_id);
    let me = st
        .mirror
        .as_ref()
        .and_then(|m| m.state().session(session_id).cloned());
    let display_name = match &me {
        Some(s) => s.name.clone(),
        None => settings::default_name(&st.config, identity),
    };
    StatusReply {
        state: state as i32,
        server: st.server.clone(),
        session_id,
        room: me.as_ref().map_or(0, |s| s.room),
        next_attempt_ms,
        last_error: st.last_error.clone(),
        self_mute: st.voice.muted(),
        self_deaf: st.voice.deaf,
        voice_mode: st.voice.mode as i32,
        rtt_ms: st.link.as_ref().map_or(0, |l| {
            u32::try_from(l.conn.rtt().as_millis()).unwrap_or(u32::MAX)
        }),
        loss_permille: st.receive_loss_permille,
        display_name,
        fingerprint: st.fingerprint.clone(),
        history: st.config.history.name().to_owned(),
        input_device: st.devices.input.clone().map(Box::new),
        output_device: st.devices.output.clone().map(Box::new),
        network: Some(Box::new(voice_proto::pb::control::NetworkStatus {
            local_address: match (&st.conn, st.network.local) {
                (ConnState::Connected, Some(ip)) => ip.to_string(),
                _ => String::new(),
            },
            last_change: st.network.last_change.clone(),
        })),
        playing: st.media.playing().map(Box::new),
        recording: st.media.recording().map(Box::new),
    }
}
