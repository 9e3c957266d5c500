//! The background task that talks to voiced: the shared link of
//! `voiced_client::link`, with this front end's commands as its calls and its
//! reports turned into actions.

use std::path::PathBuf;

use tokio::sync::mpsc;
use voice_proto::pb::control::{
    BookmarkRef, ChatHistoryRequest, CreateRoomRequest, Empty, Event, RenameRoomRequest, RoomRef,
    SendChatRequest, Toggle, TrustRequest, UserVolumeRequest, VoiceModeRequest, WatchRequest,
    event,
};
use voiced_client::link::{self, Call, Report};

use crate::action::{Action, Command};

pub use voiced_client::link::{Client, RETRY};

/// Runs until `actions` or `commands` closes: keeps a link to voiced at
/// `socket`, sending [`Action::DaemonUp`]/[`Action::DaemonDown`] as it comes
/// and goes, every event it streams, and the results of `commands`.
pub async fn run_link(
    socket: PathBuf,
    actions: mpsc::UnboundedSender<Action>,
    commands: mpsc::UnboundedReceiver<Command>,
) {
    let report = move |report: Report<Action>| {
        let action = match report {
            Report::Up => Action::DaemonUp,
            Report::Down { error } => Action::DaemonDown { error },
            Report::Event(event) => Action::Daemon(event),
            Report::Answer(action) => action,
            Report::Failed { what, message } => Action::CallFailed {
                what: what.to_owned(),
                message,
            },
        };
        actions.send(action).is_ok()
    };
    link::run_link(socket, WatchRequest { levels: true }, report, commands).await;
}

impl Call for Command {
    type Answer = Action;

    fn what(&self) -> &'static str {
        describe_command(self)
    }

    async fn call(self, client: Client) -> Result<Option<Action>, tonic::Status> {
        execute(client, self).await
    }
}

/// Makes one call; some answers become actions.
pub async fn execute(
    mut client: Client,
    command: Command,
) -> Result<Option<Action>, tonic::Status> {
    let action = match command {
        Command::Join(room) => {
            client.join(RoomRef { room }).await?;
            None
        }
        Command::SendChat { text, room } => {
            client.send_chat(SendChatRequest { text, room }).await?;
            None
        }
        Command::SetMute(on) => {
            client.set_mute(Toggle { on }).await?;
            None
        }
        Command::SetDeaf(on) => {
            client.set_deaf(Toggle { on }).await?;
            None
        }
        Command::PushToTalk(on) => {
            client.push_to_talk(Toggle { on }).await?;
            None
        }
        Command::SetVoiceMode(mode) => {
            client
                .set_voice_mode(VoiceModeRequest { mode: mode as i32 })
                .await?;
            None
        }
        Command::SetUserVolume { session, volume } => {
            client
                .set_user_volume(UserVolumeRequest {
                    user: session.to_string(),
                    volume,
                })
                .await?;
            None
        }
        Command::CreateRoom { parent, name } => {
            client
                .create_room(CreateRoomRequest {
                    parent: parent.to_string(),
                    name,
                    description: String::new(),
                })
                .await?;
            None
        }
        Command::RenameRoom { room, name } => {
            client
                .rename_room(RenameRoomRequest {
                    room: room.to_string(),
                    name,
                })
                .await?;
            None
        }
        Command::DeleteRoom(room) => {
            client
                .delete_room(RoomRef {
                    room: room.to_string(),
                })
                .await?;
            None
        }
        Command::Connect(request) => {
            Some(status_action(client.connect(request).await?.into_inner()))
        }
        Command::Disconnect => Some(status_action(
            client.disconnect(Empty {}).await?.into_inner(),
        )),
        Command::Trust {
            server,
            fingerprint,
            permanent,
        } => {
            client
                .trust(TrustRequest {
                    server,
                    fingerprint,
                    permanent,
                })
                .await?;
            None
        }
        Command::LoadBookmarks => Some(Action::Bookmarks(
            client.bookmarks(Empty {}).await?.into_inner().bookmarks,
        )),
        Command::SaveBookmark(bookmark) => Some(Action::Bookmarks(
            client.save_bookmark(bookmark).await?.into_inner().bookmarks,
        )),
        Command::RemoveBookmark(name) => Some(Action::Bookmarks(
            client
                .remove_bookmark(BookmarkRef { name })
                .await?
                .into_inner()
                .bookmarks,
        )),
        Command::LoadChatHistory => Some(Action::ChatHistory(
            client
                .chat_history(ChatHistoryRequest {
                    room: String::new(),
                    limit: 0,
                })
                .await?
                .into_inner()
                .messages,
        )),
        Command::LoadState => Some(Action::Daemon(Event {
            kind: Some(event::Kind::State(
                client.state(Empty {}).await?.into_inner(),
            )),
        })),
    };
    Ok(action)
}

fn status_action(status: voice_proto::pb::control::StatusReply) -> Action {
    Action::Daemon(Event {
        kind: Some(event::Kind::Connection(status)),
    })
}

/// A command in words, for error messages.
pub fn describe_command(command: &Command) -> &'static str {
    match command {
        Command::Join(_) => "join",
        Command::SendChat { .. } => "send chat",
        Command::SetMute(_) => "mute",
        Command::SetDeaf(_) => "deafen",
        Command::PushToTalk(_) => "push-to-talk",
        Command::SetVoiceMode(_) => "voice mode",
        Command::SetUserVolume { .. } => "volume",
        Command::CreateRoom { .. } => "create room",
        Command::RenameRoom { .. } => "rename room",
        Command::DeleteRoom(_) => "delete room",
        Command::Connect(_) => "connect",
        Command::Disconnect => "disconnect",
        Command::Trust { .. } => "trust",
        Command::LoadBookmarks => "bookmarks",
        Command::SaveBookmark(_) => "save bookmark",
        Command::RemoveBookmark(_) => "remove bookmark",
        Command::LoadChatHistory => "chat history",
        Command::LoadState => "state",
    }
}
