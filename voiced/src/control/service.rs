//! The `Voiced` gRPC service: each call hands over to the engine.

use std::pin::Pin;
use tokio_util::sync::CancellationToken;

use tokio_stream::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tonic::{Request, Response, Status};
use voice_proto::pb::control::{
    self as c, AudioConfig, Bookmark, BookmarkRef, BookmarksReply, ChatHistoryReply,
    ChatHistoryRequest, ConnectRequest, CreateRoomRequest, DevicesReply, Empty, ErrorEvent, Event,
    ExplainRequest, IdentityReply, KickRequest, KnownServersReply, MoveRoomRequest,
    MoveUserRequest, RenameRoomRequest, RoomId, RoomRef, SelectDeviceRequest, SendChatRequest,
    ServerMuteRequest, SetDisplayNameRequest, StateReply, StatusReply, Toggle, TrustRequest,
    UserLocalMuteRequest, UserVolumeRequest, VoiceModeRequest, WatchRequest, event,
    voiced_server::Voiced,
};
use voice_proto::pb::wire::Explanation;

use crate::engine::Engine;

/// The service over an engine.
#[derive(Clone, Debug)]
pub struct ControlService {
    engine: Engine,
    /// Cancelled when the daemon stops: ends every `Watch` stream, which
    /// would otherwise keep the server's graceful shutdown waiting forever.
    stopping: CancellationToken,
}

impl ControlService {
    /// Serves `engine`; `stopping` ends the `Watch` streams.
    pub fn new(engine: Engine, stopping: CancellationToken) -> Self {
        Self { engine, stopping }
    }
}

type R<T> = Result<Response<T>, Status>;

fn ok<T>(t: T) -> R<T> {
    Ok(Response::new(t))
}

#[tonic::async_trait]
impl Voiced for ControlService {
    async fn play(&self, r: Request<c::PlayRequest>) -> R<c::Playing> {
        ok(self.engine.play(r.into_inner()).await?)
    }

    async fn stop_playing(&self, _: Request<Empty>) -> R<c::StopPlayingReply> {
        ok(c::StopPlayingReply {
            stopped: self.engine.stop_playing(),
        })
    }

    async fn record(&self, r: Request<c::RecordRequest>) -> R<c::Recording> {
        ok(self.engine.record(r.into_inner()).await?)
    }

    async fn stop_recording(&self, _: Request<Empty>) -> R<c::StopRecordingReply> {
        ok(c::StopRecordingReply {
            stopped: self.engine.stop_recording().await?,
        })
    }

    async fn status(&self, _: Request<Empty>) -> R<StatusReply> {
        ok(self.engine.status())
    }

    async fn connect(&self, r: Request<ConnectRequest>) -> R<StatusReply> {
        ok(self.engine.connect(r.into_inner()).await?)
    }

    async fn disconnect(&self, _: Request<Empty>) -> R<StatusReply> {
        ok(self.engine.disconnect().await)
    }

    async fn state(&self, _: Request<Empty>) -> R<StateReply> {
        ok(self.engine.state()?)
    }

    async fn join(&self, r: Request<RoomRef>) -> R<Empty> {
        self.engine.join(&r.into_inner().room).await?;
        ok(Empty {})
    }

    async fn create_room(&self, r: Request<CreateRoomRequest>) -> R<RoomId> {
        let r = r.into_inner();
        let id = self
            .engine
            .create_room(&r.parent, &r.name, &r.description)
            .await?;
        ok(RoomId { id })
    }

    async fn rename_room(&self, r: Request<RenameRoomRequest>) -> R<Empty> {
        let r = r.into_inner();
        self.engine.rename_room(&r.room, &r.name).await?;
        ok(Empty {})
    }

    async fn move_room(&self, r: Request<MoveRoomRequest>) -> R<Empty> {
        let r = r.into_inner();
        self.engine.move_room(&r.room, &r.parent).await?;
        ok(Empty {})
    }

    async fn delete_room(&self, r: Request<RoomRef>) -> R<Empty> {
        self.engine.delete_room(&r.into_inner().room).await?;
        ok(Empty {})
    }

    async fn create_role(&self, r: Request<c::CreateRoleRequest>) -> R<Empty> {
        let r = r.into_inner();
        self.engine.create_role(&r.name, &r.description).await?;
        ok(Empty {})
    }

    async fn delete_role(&self, r: Request<c::RoleRef>) -> R<Empty> {
        self.engine.delete_role(&r.into_inner().name).await?;
        ok(Empty {})
    }

    async fn grant_role(&self, r: Request<c::RoleGrant>) -> R<Empty> {
        let r = r.into_inner();
        self.engine.set_role(&r.user, &r.role, true).await?;
        ok(Empty {})
    }

    async fn revoke_role(&self, r: Request<c::RoleGrant>) -> R<Empty> {
        let r = r.into_inner();
        self.engine.set_role(&r.user, &r.role, false).await?;
        ok(Empty {})
    }

    async fn move_user(&self, r: Request<MoveUserRequest>) -> R<Empty> {
        let r = r.into_inner();
        self.engine.move_user(&r.user, &r.room).await?;
        ok(Empty {})
    }

    async fn explain(&self, r: Request<ExplainRequest>) -> R<Explanation> {
        let r = r.into_inner();
        ok(self.engine.explain(&r.room, &r.user).await?)
    }

    async fn server_mute(&self, r: Request<ServerMuteRequest>) -> R<Empty> {
        let r = r.into_inner();
        self.engine.server_mute(&r.user, r.mute, r.deaf).await?;
        ok(Empty {})
    }

    async fn kick(&self, r: Request<KickRequest>) -> R<Empty> {
        let r = r.into_inner();
        self.engine
            .kick(&r.user, &r.reason, r.ban, r.ban_seconds)
            .await?;
        ok(Empty {})
    }

    async fn set_acl(&self, r: Request<c::SetAclRequest>) -> R<Empty> {
        let r = r.into_inner();
        self.engine.set_acl(&r.room, r.inherit, r.rules).await?;
        ok(Empty {})
    }

    async fn register(&self, r: Request<c::UserRef>) -> R<Empty> {
        self.engine.register(&r.into_inner().user).await?;
        ok(Empty {})
    }

    async fn bans(&self, _: Request<Empty>) -> R<c::BansReply> {
        let (bans, omitted) = self.engine.bans().await?;
        ok(c::BansReply { bans, omitted })
    }

    async fn unban(&self, r: Request<c::UserRef>) -> R<Empty> {
        self.engine.unban(&r.into_inner().user).await?;
        ok(Empty {})
    }

    async fn send_chat(&self, r: Request<SendChatRequest>) -> R<Empty> {
        let r = r.into_inner();
        self.engine.send_chat(&r.text, &r.room).await?;
        ok(Empty {})
    }

    async fn chat_history(&self, r: Request<ChatHistoryRequest>) -> R<ChatHistoryReply> {
        let r = r.into_inner();
        let messages = self.engine.chat_history(&r.room, r.limit as usize)?;
        ok(ChatHistoryReply { messages })
    }

    async fn fetch_history(&self, r: Request<c::FetchHistoryRequest>) -> R<c::HistoryReply> {
        ok(self.engine.fetch_history(&r.into_inner().room).await?)
    }

    async fn set_mute(&self, r: Request<Toggle>) -> R<Empty> {
        self.engine.set_mute(r.into_inner().on).await?;
        ok(Empty {})
    }

    async fn set_deaf(&self, r: Request<Toggle>) -> R<Empty> {
        self.engine.set_deaf(r.into_inner().on).await?;
        ok(Empty {})
    }

    async fn push_to_talk(&self, r: Request<Toggle>) -> R<Empty> {
        self.engine.push_to_talk(r.into_inner().on);
        ok(Empty {})
    }

    async fn set_voice_mode(&self, r: Request<VoiceModeRequest>) -> R<Empty> {
        let mode = c::VoiceMode::try_from(r.into_inner().mode)
            .map_err(|_| Status::invalid_argument("unknown voice mode"))?;
        self.engine.set_voice_mode(mode)?;
        ok(Empty {})
    }

    async fn audio_settings(&self, _: Request<Empty>) -> R<AudioConfig> {
        ok(self.engine.audio_settings())
    }

    async fn set_audio_settings(&self, r: Request<AudioConfig>) -> R<AudioConfig> {
        ok(self.engine.set_audio_settings(r.into_inner())?)
    }

    async fn devices(&self, _: Request<Empty>) -> R<DevicesReply> {
        ok(self.engine.devices()?)
    }

    async fn select_device(&self, r: Request<SelectDeviceRequest>) -> R<Empty> {
        let r = r.into_inner();
        let input = match c::select_device_request::Direction::try_from(r.direction) {
            Ok(c::select_device_request::Direction::Input) => true,
            Ok(c::select_device_request::Direction::Output) => false,
            _ => return Err(Status::invalid_argument("choose input or output")),
        };
        self.engine.select_device(input, &r.name)?;
        ok(Empty {})
    }

    async fn set_user_volume(&self, r: Request<UserVolumeRequest>) -> R<Empty> {
        let r = r.into_inner();
        self.engine.set_user_volume(&r.user, r.volume)?;
        ok(Empty {})
    }

    async fn set_user_local_mute(&self, r: Request<UserLocalMuteRequest>) -> R<Empty> {
        let r = r.into_inner();
        self.engine.set_user_local_mute(&r.user, r.mute)?;
        ok(Empty {})
    }

    async fn identity(&self, _: Request<Empty>) -> R<IdentityReply> {
        ok(self.engine.identity_reply())
    }

    async fn set_display_name(&self, r: Request<SetDisplayNameRequest>) -> R<IdentityReply> {
        ok(self.engine.set_display_name(&r.into_inner().name).await?)
    }

    async fn bookmarks(&self, _: Request<Empty>) -> R<BookmarksReply> {
        ok(BookmarksReply {
            bookmarks: self.engine.bookmarks()?,
        })
    }

    async fn save_bookmark(&self, r: Request<Bookmark>) -> R<BookmarksReply> {
        ok(BookmarksReply {
            bookmarks: self.engine.save_bookmark(r.into_inner())?,
        })
    }

    async fn remove_bookmark(&self, r: Request<BookmarkRef>) -> R<BookmarksReply> {
        ok(BookmarksReply {
            bookmarks: self.engine.remove_bookmark(&r.into_inner().name)?,
        })
    }

    async fn known_servers(&self, _: Request<Empty>) -> R<KnownServersReply> {
        ok(KnownServersReply {
            servers: self.engine.known_servers()?,
        })
    }

    async fn trust(&self, r: Request<TrustRequest>) -> R<Empty> {
        let r = r.into_inner();
        self.engine.trust(&r.server, &r.fingerprint, r.permanent)?;
        ok(Empty {})
    }

    async fn share(&self, r: Request<c::ShareRequest>) -> R<c::ShareReply> {
        let r = r.into_inner();
        ok(self.engine.share(&r.path, &r.room).await?)
    }

    async fn files(&self, r: Request<c::FilesRequest>) -> R<c::FilesReply> {
        let files = self.engine.files(&r.into_inner().room).await?;
        ok(c::FilesReply { files })
    }

    async fn download(&self, r: Request<c::DownloadRequest>) -> R<c::Transfer> {
        let r = r.into_inner();
        ok(self.engine.download(&r.file, &r.to).await?)
    }

    async fn transfers(&self, _: Request<Empty>) -> R<c::TransfersReply> {
        ok(c::TransfersReply {
            transfers: self.engine.transfers(),
        })
    }

    async fn cancel_transfer(&self, r: Request<c::TransferRef>) -> R<Empty> {
        self.engine.cancel_transfer(r.into_inner().id).await?;
        ok(Empty {})
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<Event, Status>> + Send + 'static>>;

    async fn watch(&self, r: Request<WatchRequest>) -> R<Self::WatchStream> {
        let levels = r.into_inner().levels;
        let (now, rx) = self.engine.subscribe();
        let engine = self.engine.clone();
        let live = tokio_stream::StreamExt::filter_map(BroadcastStream::new(rx), move |e| {
            match e {
                Ok(ev) => {
                    let is_level = matches!(ev.kind, Some(event::Kind::Level(_)));
                    (levels || !is_level).then_some(Ok(ev))
                }
                // A slow watcher missed events: say so, then resend the full state.
                Err(BroadcastStreamRecvError::Lagged(n)) => Some(Ok(Event {
                    kind: Some(match engine.state() {
                        Ok(s) => event::Kind::State(s),
                        Err(_) => event::Kind::Error(ErrorEvent {
                            message: format!("missed {n} events"),
                        }),
                    }),
                })),
            }
        });
        let stream =
            tokio_stream::StreamExt::chain(tokio_stream::iter(now.into_iter().map(Ok)), live);
        let stream = super::until::UntilCancelled::new(stream, self.stopping.clone());
        ok(Box::pin(stream))
    }
}
