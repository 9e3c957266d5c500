//! The calls an interactive front end makes to voiced, and what their answers
//! give back: one command type with one [`execute`] for the TUI and the GUI,
//! made in order by the [`link`](crate::link).

use voice_proto::pb::control::{
    AudioConfig, Bookmark, BookmarkRef, ChatHistoryRequest, ConnectRequest, CreateRoomRequest,
    DevicesReply, DownloadRequest, Empty, FileEntry, FilesRequest, HistoryReply, IdentityReply,
    KickRequest, MoveUserRequest, RenameRoomRequest, RoleGrant, RoomRef, SelectDeviceRequest,
    SendChatRequest, ServerMuteRequest, SetAclRequest, ShareReply, ShareRequest, StateReply,
    StatusReply, Toggle, Transfer, TransferRef, TrustRequest, UserLocalMuteRequest,
    UserVolumeRequest, VoiceMode, VoiceModeRequest, select_device_request,
};
use voice_proto::pb::wire::{AclRule, ChatMessage};

use crate::link::{Call, Client};

/// A call to voiced.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Join a room: its id, `/path` or name, as `voicectl join` takes it.
    Join(String),
    /// Send chat.
    SendChat {
        /// The message.
        text: String,
        /// The room (id, path or name); empty for the current room.
        room: String,
    },
    /// Mute or unmute the microphone.
    SetMute(bool),
    /// Deafen or undeafen.
    SetDeaf(bool),
    /// Press (`true`) or release push-to-talk.
    PushToTalk(bool),
    /// Choose the voice mode.
    SetVoiceMode(VoiceMode),
    /// Move a user into a room.
    MoveUser {
        /// The user's session id.
        session: u32,
        /// The room's id.
        room: u32,
    },
    /// Server-mute or server-deafen a user.
    ServerMute {
        /// The user's session id.
        session: u32,
        /// Muted by the server.
        mute: bool,
        /// Deafened by the server.
        deaf: bool,
    },
    /// Kick a user off the server.
    Kick {
        /// The user's session id.
        session: u32,
        /// Shown to the kicked user.
        reason: String,
    },
    /// A user's local playback volume.
    SetUserVolume {
        /// The user's session id.
        session: u32,
        /// Linear gain 0.0..=4.0.
        volume: f32,
    },
    /// Mute a user locally (only for this client).
    SetUserLocalMute {
        /// The user's session id.
        session: u32,
        /// Muted.
        mute: bool,
    },
    /// Create a room.
    CreateRoom {
        /// The parent room's id.
        parent: u32,
        /// Name of the new room.
        name: String,
    },
    /// Rename a room.
    RenameRoom {
        /// The room's id.
        room: u32,
        /// Its new name.
        name: String,
    },
    /// Delete a room.
    DeleteRoom(u32),
    /// Replace a room's own access rules.
    SetAcl {
        /// The room's id.
        room: u32,
        /// Whether the ancestors' rules apply there (always for the root).
        inherit: bool,
        /// The room's own rules, in order.
        rules: Vec<AclRule>,
    },
    /// Grant a role to a user.
    GrantRole {
        /// The user's session id.
        session: u32,
        /// The role's name.
        role: String,
    },
    /// Revoke a role from a user.
    RevokeRole {
        /// The user's session id.
        session: u32,
        /// The role's name.
        role: String,
    },
    /// Connect to a server.
    Connect(ConnectRequest),
    /// Leave the server.
    Disconnect,
    /// Trust a server's certificate fingerprint.
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
    /// Fetch the chat voiced kept (every room).
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
    /// Choose an input or output device.
    SelectDevice {
        /// The input (microphone) rather than the output.
        input: bool,
        /// The device's name; empty for the system default.
        name: String,
    },
    /// Share a file in a room (voiced seeds it and posts its magnet link).
    Share {
        /// The file's path as voiced sees it (absolute).
        path: String,
        /// The room (id, path or name); empty for the current room.
        room: String,
    },
    /// Fetch the files shared in a room, with their seeders.
    LoadFiles(u32),
    /// Start downloading a shared file.
    Download {
        /// A magnet link, a 40-hex info hash or a file id.
        file: String,
        /// The directory for the finished file; empty for the download directory.
        to: String,
    },
    /// Fetch every transfer (shares and downloads).
    LoadTransfers,
    /// Stop a transfer by its local id.
    CancelTransfer(u32),
    /// Fetch a room's earlier chat from its other members (by the room's
    /// id); slow, so it runs beside the other calls
    /// ([`Call::runs_beside`]). Made through
    /// [`Mirror::fetch_history`](crate::mirror::Mirror::fetch_history),
    /// which marks the room as loading.
    FetchHistory(u32),
}

impl Command {
    /// Join the room with this id.
    pub fn join(room: u32) -> Self {
        Self::Join(room.to_string())
    }

    /// The call in words, for error messages ("join", "mute").
    pub fn what(&self) -> &'static str {
        match self {
            Self::Join(_) => "join",
            Self::SendChat { .. } => "send chat",
            Self::SetMute(_) => "mute",
            Self::SetDeaf(_) => "deafen",
            Self::PushToTalk(_) => "push-to-talk",
            Self::SetVoiceMode(_) => "voice mode",
            Self::MoveUser { .. } => "move user",
            Self::ServerMute { .. } => "server mute",
            Self::Kick { .. } => "kick",
            Self::SetUserVolume { .. } => "volume",
            Self::SetUserLocalMute { .. } => "local mute",
            Self::CreateRoom { .. } => "create room",
            Self::RenameRoom { .. } => "rename room",
            Self::DeleteRoom(_) => "delete room",
            Self::SetAcl { .. } => SAVE_ACCESS,
            Self::GrantRole { .. } => GRANT_ROLE,
            Self::RevokeRole { .. } => REVOKE_ROLE,
            Self::Connect(_) => "connect",
            Self::Disconnect => "disconnect",
            Self::Trust { .. } => "trust",
            Self::LoadBookmarks => "bookmarks",
            Self::SaveBookmark(_) => "save bookmark",
            Self::RemoveBookmark(_) => "remove bookmark",
            Self::LoadChatHistory => "chat history",
            Self::LoadState => "state",
            Self::LoadStatus => "status",
            Self::LoadIdentity => "identity",
            Self::LoadAudioSettings => "audio settings",
            Self::SetAudioSettings(_) => "change audio settings",
            Self::LoadDevices => "audio devices",
            Self::SelectDevice { .. } => "select device",
            Self::Share { .. } => "share",
            Self::LoadFiles(_) => "files",
            Self::Download { .. } => "download",
            Self::LoadTransfers => "transfers",
            Self::CancelTransfer(_) => "cancel transfer",
            Self::FetchHistory(_) => FETCH_HISTORY,
        }
    }

    /// Whether this call is about audio settings or devices (an audio-less
    /// voiced refuses those, which a front end shows where audio is set up).
    pub fn is_audio(what: &str) -> bool {
        matches!(
            what,
            "audio settings" | "audio devices" | "change audio settings" | "select device"
        )
    }
}

/// [`Command::FetchHistory`] in words: "load earlier messages failed: …".
pub const FETCH_HISTORY: &str = "load earlier messages";

/// [`Command::SetAcl`] in words: "save access failed: …".
pub const SAVE_ACCESS: &str = "save access";
/// [`Command::GrantRole`] in words.
pub const GRANT_ROLE: &str = "grant role";
/// [`Command::RevokeRole`] in words.
pub const REVOKE_ROLE: &str = "revoke role";

/// What an answered call gives back.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// The connection status (after connect or disconnect, or on request).
    Status(StatusReply),
    /// The full state.
    State(StateReply),
    /// The saved bookmarks.
    Bookmarks(Vec<Bookmark>),
    /// Chat kept by voiced (every room).
    ChatHistory(Vec<ChatMessage>),
    /// The identity.
    Identity(IdentityReply),
    /// The audio settings in force.
    Audio(AudioConfig),
    /// The audio devices.
    Devices(DevicesReply),
    /// A device was selected (the device list is worth fetching again).
    DeviceSelected,
    /// A file is shared.
    Shared(ShareReply),
    /// The files shared in a room.
    Files {
        /// The room asked about.
        room: u32,
        /// Its files.
        files: Vec<FileEntry>,
    },
    /// A transfer started or changed (a download just added).
    Transfer(Transfer),
    /// Every transfer voiced has.
    Transfers(Vec<Transfer>),
    /// A transfer was cancelled.
    TransferCancelled(u32),
    /// A room's earlier chat (each message marked `history`).
    History(HistoryReply),
    /// The server took a room's new access rules (the room's id); the rules
    /// come back through the state like every change.
    AclSet(u32),
}

impl Call for Command {
    type Answer = Answer;

    fn what(&self) -> &'static str {
        Command::what(self)
    }

    async fn call(self, client: Client) -> Result<Option<Answer>, tonic::Status> {
        execute(client, self).await
    }

    fn runs_beside(&self) -> bool {
        matches!(self, Self::FetchHistory(_))
    }
}

/// Makes one call; `Ok(None)` for calls whose answer is only "done".
pub async fn execute(mut c: Client, command: Command) -> Result<Option<Answer>, tonic::Status> {
    let answer = match command {
        Command::Join(room) => {
            c.join(RoomRef { room }).await?;
            None
        }
        Command::SendChat { text, room } => {
            c.send_chat(SendChatRequest { text, room }).await?;
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
            let mode = mode as i32;
            c.set_voice_mode(VoiceModeRequest { mode }).await?;
            None
        }
        Command::MoveUser { session, room } => {
            let (user, room) = (session.to_string(), room.to_string());
            c.move_user(MoveUserRequest { user, room }).await?;
            None
        }
        Command::ServerMute {
            session,
            mute,
            deaf,
        } => {
            let user = session.to_string();
            c.server_mute(ServerMuteRequest { user, mute, deaf })
                .await?;
            None
        }
        Command::Kick { session, reason } => {
            let user = session.to_string();
            let (ban, ban_seconds) = (false, 0);
            c.kick(KickRequest {
                user,
                reason,
                ban,
                ban_seconds,
            })
            .await?;
            None
        }
        Command::SetUserVolume { session, volume } => {
            let user = session.to_string();
            c.set_user_volume(UserVolumeRequest { user, volume })
                .await?;
            None
        }
        Command::SetUserLocalMute { session, mute } => {
            let user = session.to_string();
            c.set_user_local_mute(UserLocalMuteRequest { user, mute })
                .await?;
            None
        }
        Command::CreateRoom { parent, name } => {
            let (parent, description) = (parent.to_string(), String::new());
            c.create_room(CreateRoomRequest {
                parent,
                name,
                description,
            })
            .await?;
            None
        }
        Command::RenameRoom { room, name } => {
            let room = room.to_string();
            c.rename_room(RenameRoomRequest { room, name }).await?;
            None
        }
        Command::DeleteRoom(room) => {
            let room = room.to_string();
            c.delete_room(RoomRef { room }).await?;
            None
        }
        Command::SetAcl {
            room,
            inherit,
            rules,
        } => {
            let request = SetAclRequest {
                room: room.to_string(),
                inherit,
                rules,
            };
            c.set_acl(request).await?;
            Some(Answer::AclSet(room))
        }
        Command::GrantRole { session, role } => {
            let user = session.to_string();
            c.grant_role(RoleGrant { user, role }).await?;
            None
        }
        Command::RevokeRole { session, role } => {
            let user = session.to_string();
            c.revoke_role(RoleGrant { user, role }).await?;
            None
        }
        Command::Connect(request) => Some(Answer::Status(c.connect(request).await?.into_inner())),
        Command::Disconnect => Some(Answer::Status(c.disconnect(Empty {}).await?.into_inner())),
        Command::Trust {
            server,
            fingerprint,
            permanent,
        } => {
            let request = TrustRequest {
                server,
                fingerprint,
                permanent,
            };
            c.trust(request).await?;
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
        Command::LoadChatHistory => {
            let request = ChatHistoryRequest {
                room: String::new(),
                limit: 0,
            };
            let reply = c.chat_history(request).await?.into_inner();
            Some(Answer::ChatHistory(reply.messages))
        }
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
            } as i32;
            c.select_device(SelectDeviceRequest { direction, name })
                .await?;
            Some(Answer::DeviceSelected)
        }
        Command::Share { path, room } => Some(Answer::Shared(
            c.share(ShareRequest { path, room }).await?.into_inner(),
        )),
        Command::LoadFiles(room) => {
            let request = FilesRequest {
                room: room.to_string(),
            };
            let files = c.files(request).await?.into_inner().files;
            Some(Answer::Files { room, files })
        }
        Command::Download { file, to } => Some(Answer::Transfer(
            c.download(DownloadRequest { file, to }).await?.into_inner(),
        )),
        Command::LoadTransfers => Some(Answer::Transfers(
            c.transfers(Empty {}).await?.into_inner().transfers,
        )),
        Command::CancelTransfer(id) => {
            c.cancel_transfer(TransferRef { id }).await?;
            Some(Answer::TransferCancelled(id))
        }
        Command::FetchHistory(room) => Some(Answer::History(
            crate::history::fetch(c, room.to_string()).await?,
        )),
    };
    Ok(answer)
}
