//! The daemon link on a background runtime: the window never waits for
//! voiced. Calls go out through a channel; reports come back through another,
//! each followed by `request_repaint()` so the window wakes up to show it.

use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::mpsc;
use voice_proto::pb::control::{
    AudioConfig, Bookmark, BookmarkRef, ChatHistoryRequest, ConnectRequest, CreateRoomRequest,
    DevicesReply, Empty, IdentityReply, KickRequest, MoveUserRequest, RoomRef, SelectDeviceRequest,
    SendChatRequest, ServerMuteRequest, StateReply, StatusReply, Toggle, TrustRequest,
    UserLocalMuteRequest, UserVolumeRequest, VoiceModeRequest, WatchRequest, select_device_request,
};
use voice_proto::pb::wire::ChatMessage;
use voiced_client::link::{Call, Client, Report};

/// A call to voiced, made in order on the background runtime.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Join a room by id.
    Join(u32),
    /// Send chat to the current room.
    SendChat(String),
    /// Mute or unmute the microphone.
    SetMute(bool),
    /// Deafen or undeafen.
    SetDeaf(bool),
    /// Press (`true`) or release push-to-talk.
    PushToTalk(bool),
    /// Choose the voice mode.
    SetVoiceMode(voice_proto::pb::control::VoiceMode),
    /// Move a user (session id) into a room (id).
    MoveUser {
        /// Session id.
        session: u32,
        /// Room id.
        room: u32,
    },
    /// Server-mute or server-deafen a user.
    ServerMute {
        /// Session id.
        session: u32,
        /// Muted by the server.
        mute: bool,
        /// Deafened by the server.
        deaf: bool,
    },
    /// Kick a user off the server.
    Kick {
        /// Session id.
        session: u32,
        /// Shown to the kicked user.
        reason: String,
    },
    /// A user's local playback volume.
    SetUserVolume {
        /// Session id.
        session: u32,
        /// Linear gain 0.0..=4.0.
        volume: f32,
    },
    /// Mute a user locally (only for this client).
    SetUserLocalMute {
        /// Session id.
        session: u32,
        /// Muted.
        mute: bool,
    },
    /// Create a room under a parent.
    CreateRoom {
        /// Parent room id.
        parent: u32,
        /// Name of the new room.
        name: String,
    },
    /// Connect to a server.
    Connect(ConnectRequest),
    /// Leave the server.
    Disconnect,
    /// Trust a certificate fingerprint for a server.
    Trust {
        /// host:port.
        server: String,
        /// Hex SHA-256 fingerprint.
        fingerprint: String,
        /// Pin it for good (else for this daemon run).
        permanent: bool,
    },
    /// Fetch the bookmarks.
    LoadBookmarks,
    /// Save (add or replace by name) a bookmark.
    SaveBookmark(Bookmark),
    /// Remove a bookmark by name.
    RemoveBookmark(String),
    /// Fetch the chat voiced kept.
    LoadChatHistory,
    /// Fetch the full state (after a mismatch).
    LoadState,
    /// Fetch the connection status.
    LoadStatus,
    /// Fetch the identity (default display name).
    LoadIdentity,
    /// Fetch the audio settings.
    LoadAudioSettings,
    /// Change the audio settings.
    SetAudioSettings(AudioConfig),
    /// Fetch the audio devices.
    LoadDevices,
    /// Choose an input (`input`) or output device; empty name = the default.
    SelectDevice {
        /// Input (microphone) rather than output.
        input: bool,
        /// Device name.
        name: String,
    },
}

/// What a call answered that the window wants.
#[derive(Clone, Debug)]
pub enum Answer {
    /// Connection status (after connect, disconnect or on request).
    Status(StatusReply),
    /// The full state.
    State(StateReply),
    /// The saved bookmarks.
    Bookmarks(Vec<Bookmark>),
    /// Chat kept by voiced (all rooms).
    ChatHistory(Vec<ChatMessage>),
    /// The identity.
    Identity(IdentityReply),
    /// The audio settings in force.
    Audio(AudioConfig),
    /// The audio devices.
    Devices(DevicesReply),
    /// A device was selected (the device list is fetched again).
    DeviceSelected,
}

/// What the window receives from the link.
pub type Inbound = Report<Answer>;

impl Call for Command {
    type Answer = Answer;

    fn what(&self) -> &'static str {
        match self {
            Command::Join(_) => "join",
            Command::SendChat(_) => "send chat",
            Command::SetMute(_) => "mute",
            Command::SetDeaf(_) => "deafen",
            Command::PushToTalk(_) => "push-to-talk",
            Command::SetVoiceMode(_) => "voice mode",
            Command::MoveUser { .. } => "move user",
            Command::ServerMute { .. } => "server mute",
            Command::Kick { .. } => "kick",
            Command::SetUserVolume { .. } => "volume",
            Command::SetUserLocalMute { .. } => "local mute",
            Command::CreateRoom { .. } => "create room",
            Command::Connect(_) => "connect",
            Command::Disconnect => "disconnect",
            Command::Trust { .. } => "trust",
            Command::LoadBookmarks => "bookmarks",
            Command::SaveBookmark(_) => "save bookmark",
            Command::RemoveBookmark(_) => "remove bookmark",
            Command::LoadChatHistory => "chat history",
            Command::LoadState => "state",
            Command::LoadStatus => "status",
            Command::LoadIdentity => "identity",
            Command::LoadAudioSettings => "audio settings",
            Command::SetAudioSettings(_) => "change audio settings",
            Command::LoadDevices => "audio devices",
            Command::SelectDevice { .. } => "select device",
        }
    }

    async fn call(self, client: Client) -> Result<Option<Answer>, tonic::Status> {
        execute(client, self).await
    }
}

/// Makes one call; some answers go back to the window.
async fn execute(mut c: Client, command: Command) -> Result<Option<Answer>, tonic::Status> {
    let answer = match command {
        Command::Join(room) => {
            c.join(RoomRef {
                room: room.to_string(),
            })
            .await?;
            None
        }
        Command::SendChat(text) => {
            c.send_chat(SendChatRequest {
                text,
                room: String::new(),
            })
            .await?;
            None
        }
        Command::SetMute(on) => {
            c.set_mute(Toggle { on }).await?;
            None
        }
        Command::SetDeaf(on) => {
            c.set_deaf(Toggle { on }).await?;
            None
        }
        Command::PushToTalk(on) => {
            c.push_to_talk(Toggle { on }).await?;
            None
        }
        Command::SetVoiceMode(mode) => {
            c.set_voice_mode(VoiceModeRequest { mode: mode as i32 })
                .await?;
            None
        }
        Command::MoveUser { session, room } => {
            c.move_user(MoveUserRequest {
                user: session.to_string(),
                room: room.to_string(),
            })
            .await?;
            None
        }
        Command::ServerMute {
            session,
            mute,
            deaf,
        } => {
            c.server_mute(ServerMuteRequest {
                user: session.to_string(),
                mute,
                deaf,
            })
            .await?;
            None
        }
        Command::Kick { session, reason } => {
            c.kick(KickRequest {
                user: session.to_string(),
                reason,
                ban: false,
                ban_seconds: 0,
            })
            .await?;
            None
        }
        Command::SetUserVolume { session, volume } => {
            c.set_user_volume(UserVolumeRequest {
                user: session.to_string(),
                volume,
            })
            .await?;
            None
        }
        Command::SetUserLocalMute { session, mute } => {
            c.set_user_local_mute(UserLocalMuteRequest {
                user: session.to_string(),
                mute,
            })
            .await?;
            None
        }
        Command::CreateRoom { parent, name } => {
            c.create_room(CreateRoomRequest {
                parent: parent.to_string(),
                name,
                description: String::new(),
            })
            .await?;
            None
        }
        Command::Connect(request) => Some(Answer::Status(c.connect(request).await?.into_inner())),
        Command::Disconnect => Some(Answer::Status(c.disconnect(Empty {}).await?.into_inner())),
        Command::Trust {
            server,
            fingerprint,
            permanent,
        } => {
            c.trust(TrustRequest {
                server,
                fingerprint,
                permanent,
            })
            .await?;
            None
        }
        Command::LoadBookmarks => Some(Answer::Bookmarks(
            c.bookmarks(Empty {}).await?.into_inner().bookmarks,
        )),
        Command::SaveBookmark(bookmark) => Some(Answer::Bookmarks(
            c.save_bookmark(bookmark).await?.into_inner().bookmarks,
        )),
        Command::RemoveBookmark(name) => Some(Answer::Bookmarks(
            c.remove_bookmark(BookmarkRef { name })
                .await?
                .into_inner()
                .bookmarks,
        )),
        Command::LoadChatHistory => Some(Answer::ChatHistory(
            c.chat_history(ChatHistoryRequest {
                room: String::new(),
                limit: 0,
            })
            .await?
            .into_inner()
            .messages,
        )),
        Command::LoadState => Some(Answer::State(c.state(Empty {}).await?.into_inner())),
        Command::LoadStatus => Some(Answer::Status(c.status(Empty {}).await?.into_inner())),
        Command::LoadIdentity => Some(Answer::Identity(c.identity(Empty {}).await?.into_inner())),
        Command::LoadAudioSettings => Some(Answer::Audio(
            c.audio_settings(Empty {}).await?.into_inner(),
        )),
        Command::SetAudioSettings(config) => Some(Answer::Audio(
            c.set_audio_settings(config).await?.into_inner(),
        )),
        Command::LoadDevices => Some(Answer::Devices(c.devices(Empty {}).await?.into_inner())),
        Command::SelectDevice { input, name } => {
            let direction = if input {
                select_device_request::Direction::Input
            } else {
                select_device_request::Direction::Output
            };
            c.select_device(SelectDeviceRequest {
                direction: direction as i32,
                name,
            })
            .await?;
            Some(Answer::DeviceSelected)
        }
    };
    Ok(answer)
}

/// The window's end of the link: a runtime of its own on a background
/// thread, a queue of calls out and a queue of reports in.
pub struct Link {
    runtime: Option<tokio::runtime::Runtime>,
    calls: Option<mpsc::UnboundedSender<Command>>,
    reports: std_mpsc::Receiver<Inbound>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Link {
    /// Starts the link to voiced at `socket`; `wake` runs after every report
    /// (the window passes `ctx.request_repaint()`).
    pub fn start(
        socket: PathBuf,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("voice-gui-link")
            .enable_all()
            .build()?;
        let (calls, outbox) = mpsc::unbounded_channel::<Command>();
        let (sender, reports) = std_mpsc::channel::<Inbound>();
        let wake = std::sync::Arc::new(wake);
        let report = move |report: Inbound| {
            let delivered = sender.send(report).is_ok();
            wake();
            delivered
        };
        let task = runtime.spawn(voiced_client::link::run_link(
            socket,
            WatchRequest { levels: true },
            report,
            outbox,
        ));
        Ok(Self {
            runtime: Some(runtime),
            calls: Some(calls),
            reports,
            task: Some(task),
        })
    }

    /// Queues a call (never blocks).
    pub fn send(&self, command: Command) {
        if let Some(calls) = &self.calls {
            // The link only stops when this end drops the sender.
            let _ = calls.send(command);
        }
    }

    /// The next report already waiting, if any (never blocks).
    pub fn try_recv(&self) -> Option<Inbound> {
        self.reports.try_recv().ok()
    }
}

impl Drop for Link {
    /// Lets queued calls (a push-to-talk release) reach voiced, briefly.
    fn drop(&mut self) {
        drop(self.calls.take());
        if let (Some(runtime), Some(task)) = (self.runtime.take(), self.task.take()) {
            // On a thread of its own: the window may be dropped inside a runtime (tests).
            let stop = std::thread::spawn(move || {
                let patience = voiced_client::link::DRAIN + Duration::from_secs(1);
                let _ = runtime.block_on(async { tokio::time::timeout(patience, task).await });
                runtime.shutdown_timeout(Duration::from_millis(200));
            });
            let _ = stop.join();
        }
    }
}
