//! The background task that talks to voiced: opens the control socket, turns
//! the `Watch` stream into actions, runs commands in order, and retries every
//! second while voiced is away.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tonic::Streaming;
use tonic::transport::{Channel, Endpoint, Uri};
use voice_proto::pb::control::voiced_client::VoicedClient;
use voice_proto::pb::control::{
    BookmarkRef, ChatHistoryRequest, CreateRoomRequest, Empty, Event, RenameRoomRequest, RoomRef,
    SendChatRequest, Toggle, TrustRequest, UserVolumeRequest, VoiceModeRequest, WatchRequest,
    event,
};

use crate::action::{Action, Command};

/// Wait between attempts to reach voiced.
pub const RETRY: Duration = Duration::from_secs(1);

/// A client of voiced's control API.
pub type Client = VoicedClient<Channel>;

/// Opens a gRPC channel to voiced over its Unix socket.
pub async fn connect(path: &Path) -> Result<Client, tonic::transport::Error> {
    let path = path.to_owned();
    // The URI is a placeholder: the connector ignores it and dials the socket.
    let channel = Endpoint::from_static("http://[::]:50051")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }))
        .await?;
    // A full state snapshot can exceed tonic's 4 MiB default.
    Ok(VoicedClient::new(channel)
        .max_decoding_message_size(voice_proto::frame::SERVER_MAX_FRAME * 2))
}

/// Runs until `actions` or `commands` closes: keeps a link to voiced at
/// `socket`, sending [`Action::DaemonUp`]/[`Action::DaemonDown`] as it comes
/// and goes, every event it streams, and the results of `commands`.
pub async fn run_link(
    socket: PathBuf,
    actions: mpsc::UnboundedSender<Action>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    loop {
        let down = match open(&socket).await {
            Ok((client, stream)) => {
                if actions.send(Action::DaemonUp).is_err() {
                    return;
                }
                match serve(client, stream, &actions, &mut commands).await {
                    Some(error) => error,
                    None => return,
                }
            }
            Err(error) => error,
        };
        if actions.send(Action::DaemonDown { error: down }).is_err() {
            return;
        }
        let retry = tokio::time::sleep(RETRY);
        tokio::pin!(retry);
        loop {
            tokio::select! {
                () = &mut retry => break,
                command = commands.recv() => {
                    let Some(command) = command else { return };
                    let failed = Action::CallFailed {
                        what: describe_command(&command).to_owned(),
                        message: "voiced is not running".to_owned(),
                    };
                    if actions.send(failed).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

async fn open(socket: &Path) -> Result<(Client, Streaming<Event>), String> {
    let mut client = connect(socket).await.map_err(|e| chain(&e))?;
    let stream = client
        .watch(WatchRequest { levels: true })
        .await
        .map_err(|s| format!("voiced refused the event stream: {}", s.message()))?
        .into_inner();
    Ok((client, stream))
}

/// Forwards events and runs commands until the stream ends (returns why) or a
/// channel to the UI closes (returns `None`).
async fn serve(
    client: Client,
    mut stream: Streaming<Event>,
    actions: &mpsc::UnboundedSender<Action>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> Option<String> {
    // Commands run one after another in their own task, in order (a trust
    // decision before the connect it allows, a press before its release),
    // without holding up the event stream.
    let (queue, mut queued) = mpsc::unbounded_channel::<Command>();
    let worker_actions = actions.clone();
    let worker = tokio::spawn(async move {
        while let Some(command) = queued.recv().await {
            let what = describe_command(&command);
            let action = match execute(client.clone(), command).await {
                Ok(Some(action)) => action,
                Ok(None) => continue,
                Err(status) => Action::CallFailed {
                    what: what.to_owned(),
                    message: status.message().to_owned(),
                },
            };
            if worker_actions.send(action).is_err() {
                return;
            }
        }
    });
    let outcome = loop {
        tokio::select! {
            event = stream.message() => match event {
                Ok(Some(event)) => {
                    if actions.send(Action::Daemon(event)).is_err() {
                        break None;
                    }
                }
                Ok(None) => break Some("voiced closed the event stream".to_owned()),
                Err(status) => break Some(format!("lost voiced: {}", status.message())),
            },
            command = commands.recv() => match command {
                Some(command) => {
                    if queue.send(command).is_err() {
                        break Some("command worker stopped".to_owned());
                    }
                }
                None => break None,
            },
        }
    };
    drop(queue);
    if outcome.is_some() {
        worker.abort();
    } else {
        // The UI is leaving: let queued commands (a push-to-talk release) go out.
        let _ = tokio::time::timeout(Duration::from_secs(2), worker).await;
    }
    outcome
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

/// The innermost cause of an error: tonic's transport error alone says only
/// "transport error", and its own text repeats its source.
fn chain(error: &dyn StdError) -> String {
    let mut deepest = error;
    while let Some(source) = deepest.source() {
        deepest = source;
    }
    deepest.to_string()
}
