//! The admin service: every request goes through the hub like a server change.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use voice_proto::acl::{Subject, explain};
use voice_proto::pb::admin::{
    BanRequest, BansReply, CreateRoomRequest, Empty, InterceptQuestion, InterceptVerdict,
    KickRequest, Missed, Moderation, MoveUserRequest, RegisterRequest, RoleGrant, RoleName,
    RoomCreated, RoomsReply, ServerChat, ServerEvent, ServerFlagsRequest, SessionsReply, User,
    UserKey, UsersReply, WatchRequest, admin_server::Admin, server_event,
};
use voice_proto::pb::wire::{
    Change, ChatMessage, Explanation, Role, RoleRemove, Room, RoomAcl, SessionFlags, SessionMove,
    change::Kind,
};
use voice_proto::state::{ROLE_KNOWN, SessionId};
use voice_proto::{close, hash};

use crate::hub::{Hub, ServerChangeError};
use crate::plugin::auth::Caller;
use crate::plugin::revocable::Revocable;

/// The admin gRPC service.
#[derive(Debug, Clone)]
pub struct AdminService {
    hub: Arc<Hub>,
    /// Ends the `Watch` streams (the server stopping).
    ending: tokio_util::sync::CancellationToken,
}

impl AdminService {
    /// A service over the hub.
    pub fn new(hub: Arc<Hub>) -> Self {
        Self {
            hub,
            ending: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Ends every `Watch` stream when `token` is cancelled.
    pub fn ending_streams_at(self, token: tokio_util::sync::CancellationToken) -> Self {
        Self {
            ending: token,
            ..self
        }
    }
}

/// Who an admin request is about.
struct Target {
    key: Vec<u8>,
    session: Option<SessionId>,
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

fn change_error(e: ServerChangeError) -> Status {
    match e {
        ServerChangeError::Rejected(r) => Status::failed_precondition(r.to_string()),
        ServerChangeError::Store(e) => Status::internal(e.to_string()),
        ServerChangeError::Limit(e) => Status::resource_exhausted(e),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl AdminService {
    /// Resolves a hex key, a session id or a connected display name.
    async fn target(&self, user: &str) -> Result<Target, Status> {
        let inner = self.hub.lock().await;
        let state = &inner.state;
        if user.len() == 64
            && let Some(key) = hash::parse_hex(user)
        {
            let session = state
                .sessions()
                .values()
                .find(|s| s.public_key == key)
                .map(|s| s.id);
            return Ok(Target { key, session });
        }
        if let Ok(id) = user.parse::<u32>()
            && let Some(s) = state.session(id)
        {
            return Ok(Target {
                key: s.public_key.clone(),
                session: Some(id),
            });
        }
        let matches: Vec<_> = state
            .sessions()
            .values()
            .filter(|s| s.name == user)
            .collect();
        match matches.as_slice() {
            [s] => Ok(Target {
                key: s.public_key.clone(),
                session: Some(s.id),
            }),
            [] => Err(Status::not_found(format!(
                "no user {user:?} (give a hex key, a session id or a connected name)"
            ))),
            _ => Err(Status::invalid_argument(format!(
                "several sessions are named {user:?}; give a session id or key"
            ))),
        }
    }

    /// Edits the stored roles of an offline user.
    fn edit_stored_roles(
        &self,
        key: &[u8],
        edit: impl FnOnce(&mut Vec<String>),
    ) -> Result<(), Status> {
        let mut user = self.hub.store.user(key).map_err(internal)?.unwrap_or(User {
            public_key: hash::hex(key),
            ..User::default()
        });
        edit(&mut user.roles);
        user.roles.sort();
        user.roles.dedup();
        if user.registered_ms == 0 && user.roles.iter().any(|r| r == ROLE_KNOWN) {
            user.registered_ms = now_ms();
        }
        self.hub.store.put_user(key, &user).map_err(internal)
    }

    /// The session of a connected user.
    async fn connected(&self, user: &str) -> Result<SessionId, Status> {
        self.target(user)
            .await?
            .session
            .ok_or_else(|| Status::not_found(format!("{user} is not connected")))
    }

    /// A connected session's name (empty when it is gone).
    async fn session_name(&self, id: SessionId) -> String {
        self.hub
            .lock()
            .await
            .state
            .session(id)
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }

    async fn change(&self, kind: Kind) -> Result<Response<Empty>, Status> {
        self.hub
            .server_change(Change { kind: Some(kind) })
            .await
            .map_err(change_error)?;
        Ok(Response::new(Empty {}))
    }

    async fn set_role(&self, user: &str, role: &str, grant: bool) -> Result<(), Status> {
        let target = self.target(user).await?;
        {
            let inner = self.hub.lock().await;
            if !inner.state.roles().contains_key(role) {
                return Err(Status::not_found(format!("no role named {role:?}")));
            }
        }
        match target.session {
            Some(id) if grant => self.hub.grant_role(id, role).await.map_err(change_error),
            Some(id) => self.hub.revoke_role(id, role).await.map_err(change_error),
            None => {
                let since = self.hub.store.epoch();
                self.edit_stored_roles(&target.key, |roles| {
                    if grant {
                        roles.push(role.to_owned());
                    } else {
                        roles.retain(|r| r != role);
                    }
                })?;
                self.hub.store.flush(since).await.map_err(internal)
            }
        }
    }
}

/// Events sent to a watcher per look at the log.
const WATCH_BATCH: usize = 256;
/// Events queued towards one watcher's connection.
const WATCH_QUEUE: usize = 64;

#[tonic::async_trait]
impl Admin for AdminService {
    // Over the plugin listener, a stream ends when its token is revoked.
    type WatchStream =
        Revocable<tokio_stream::wrappers::ReceiverStream<Result<ServerEvent, Status>>>;
    type InterceptStream =
        Revocable<tokio_stream::wrappers::ReceiverStream<Result<InterceptQuestion, Status>>>;

    async fn intercept(
        &self,
        req: Request<tonic::Streaming<InterceptVerdict>>,
    ) -> Result<Response<Self::InterceptStream>, Status> {
        let caller = req.extensions().get::<Caller>().cloned();
        let Some((mut questions, generation)) = self.hub.intercept.attach() else {
            return Err(Status::already_exists(
                "another plugin is intercepting; one at a time (it must disconnect first)",
            ));
        };
        let mut verdicts = req.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(WATCH_QUEUE);
        let hub = self.hub.clone();
        let ending = self.ending.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    q = questions.recv() => match q {
                        Some(q) => if tx.send(Ok(q)).await.is_err() { break },
                        None => break,
                    },
                    v = verdicts.message() => match v {
                        Ok(Some(v)) => hub.intercept.answer(v),
                        _ => break,
                    },
                    () = ending.cancelled() => break,
                    // The plugin left, or its token was revoked.
                    () = tx.closed() => break,
                }
            }
            // Questions still open are decided without it at their deadline.
            hub.intercept.detach(generation);
        });
        Ok(Response::new(Revocable::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
            caller.as_ref(),
        )))
    }

    async fn move_user(&self, req: Request<MoveUserRequest>) -> Result<Response<Empty>, Status> {
        let req = req.into_inner();
        let session = self.connected(&req.user).await?;
        self.change(Kind::MoveSession(SessionMove {
            session,
            room: req.room,
        }))
        .await
    }

    async fn set_server_flags(
        &self,
        req: Request<ServerFlagsRequest>,
    ) -> Result<Response<Empty>, Status> {
        let req = req.into_inner();
        if req.mute.is_none() && req.deaf.is_none() {
            return Err(Status::invalid_argument(
                "give mute, deaf or both (true to set, false to lift)",
            ));
        }
        let session = self.connected(&req.user).await?;
        self.change(Kind::SetSessionFlags(SessionFlags {
            session,
            server_mute: req.mute,
            server_deaf: req.deaf,
            ..SessionFlags::default()
        }))
        .await
    }

    async fn create_room(
        &self,
        req: Request<CreateRoomRequest>,
    ) -> Result<Response<RoomCreated>, Status> {
        let req = req.into_inner();
        let applied = self
            .hub
            .server_change(Change {
                kind: Some(Kind::AddRoom(Room {
                    parent: req.parent,
                    name: req.name,
                    description: req.description,
                    inherit_acl: true,
                    ..Room::default()
                })),
            })
            .await
            .map_err(change_error)?;
        let id = applied
            .iter()
            .find_map(|a| match &a.change.kind {
                Some(Kind::AddRoom(r)) => Some(r.id),
                _ => None,
            })
            .ok_or_else(|| Status::internal("the room was created without an id"))?;
        Ok(Response::new(RoomCreated { id }))
    }

    async fn send_chat(&self, req: Request<ServerChat>) -> Result<Response<ChatMessage>, Status> {
        let req = req.into_inner();
        self.hub
            .server_chat(req.room, &req.bot_name, &req.text)
            .await
            .map(Response::new)
            .map_err(Status::invalid_argument)
    }

    async fn watch(
        &self,
        req: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let caller = req.extensions().get::<Caller>().cloned();
        let (mut cursor, mut signal) = {
            let inner = self.hub.lock().await;
            let newest = inner.events.newest();
            let cursor = match req.into_inner().after {
                None => newest,
                Some(after) if after > newest => {
                    return Err(Status::invalid_argument(format!(
                        "event {after} has not happened; the newest is {newest} (leave `after` out for new events only)"
                    )));
                }
                Some(after) => after,
            };
            (cursor, inner.events.subscribe())
        };
        let (tx, rx) = tokio::sync::mpsc::channel(WATCH_QUEUE);
        let hub = self.hub.clone();
        let ending = self.ending.clone();
        tokio::spawn(async move {
            loop {
                if ending.is_cancelled() {
                    return;
                }
                let (events, missed, newest) = {
                    let inner = hub.lock().await;
                    let (events, missed) = inner.events.after(cursor, WATCH_BATCH);
                    (events, missed, inner.events.newest())
                };
                if let Some(count) = missed {
                    let why = if count == 0 {
                        "the server restarted"
                    } else {
                        "the backlog no longer holds them"
                    };
                    // Told once: from here on the watcher follows what is kept.
                    let first = events.first().map_or(newest + 1, |e| e.seq);
                    cursor = first - 1;
                    let note = ServerEvent {
                        seq: first.saturating_sub(1),
                        at_ms: now_ms(),
                        kind: Some(server_event::Kind::Missed(Missed {
                            count,
                            why: why.to_owned(),
                        })),
                    };
                    if tx.send(Ok(note)).await.is_err() {
                        return;
                    }
                }
                if events.is_empty() {
                    // Nothing new: wait for the next event or the watcher leaving.
                    tokio::select! {
                        changed = signal.changed() => if changed.is_err() { return },
                        () = tx.closed() => return,
                        () = ending.cancelled() => return,
                    }
                    continue;
                }
                for event in events {
                    cursor = event.seq;
                    tokio::select! {
                        sent = tx.send(Ok(ServerEvent::clone(&event))) => if sent.is_err() { return },
                        () = ending.cancelled() => return,
                    }
                }
            }
        });
        Ok(Response::new(Revocable::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
            caller.as_ref(),
        )))
    }

    async fn sessions(&self, _: Request<Empty>) -> Result<Response<SessionsReply>, Status> {
        let inner = self.hub.lock().await;
        Ok(Response::new(SessionsReply {
            sessions: inner.state.sessions().values().cloned().collect(),
        }))
    }

    async fn users(&self, _: Request<Empty>) -> Result<Response<UsersReply>, Status> {
        Ok(Response::new(UsersReply {
            users: self.hub.store.users().map_err(internal)?,
        }))
    }

    async fn rooms(&self, _: Request<Empty>) -> Result<Response<RoomsReply>, Status> {
        let inner = self.hub.lock().await;
        Ok(Response::new(RoomsReply {
            rooms: inner.state.rooms().values().cloned().collect(),
            hash: inner.state.hash().to_vec(),
        }))
    }

    async fn grant_role(&self, req: Request<RoleGrant>) -> Result<Response<Empty>, Status> {
        let req = req.into_inner();
        self.set_role(&req.user, &req.role, true).await?;
        Ok(Response::new(Empty {}))
    }

    async fn revoke_role(&self, req: Request<RoleGrant>) -> Result<Response<Empty>, Status> {
        let req = req.into_inner();
        self.set_role(&req.user, &req.role, false).await?;
        Ok(Response::new(Empty {}))
    }

    async fn create_role(&self, req: Request<Role>) -> Result<Response<Empty>, Status> {
        self.change(Kind::AddRole(req.into_inner())).await
    }

    async fn delete_role(&self, req: Request<RoleName>) -> Result<Response<Empty>, Status> {
        self.change(Kind::RemoveRole(RoleRemove {
            name: req.into_inner().name,
        }))
        .await
    }

    async fn set_acl(&self, req: Request<RoomAcl>) -> Result<Response<Empty>, Status> {
        self.change(Kind::SetRoomAcl(req.into_inner())).await
    }

    async fn kick(&self, req: Request<KickRequest>) -> Result<Response<Empty>, Status> {
        let req = req.into_inner();
        // The reason reaches the user's terminal (and the ban record).
        let req = KickRequest {
            reason: voice_proto::text::strip_controls(&req.reason),
            ..req
        };
        crate::hub::check_reason(&req.reason).map_err(Status::invalid_argument)?;
        let target = self.target(&req.user).await?;
        let Some(id) = target.session else {
            return Err(Status::not_found("that user is not connected"));
        };
        let reason = if req.reason.is_empty() {
            "you were kicked".to_owned()
        } else {
            format!("you were kicked: {}", req.reason)
        };
        let name = self.session_name(id).await;
        self.hub.disconnect(id, close::KICKED, &reason).await;
        self.hub
            .moderated(Moderation {
                session: id,
                public_key: hash::hex(&target.key),
                name,
                by: "server".to_owned(),
                reason: req.reason,
                ban: false,
                ban_seconds: 0,
            })
            .await;
        Ok(Response::new(Empty {}))
    }

    async fn ban(&self, req: Request<BanRequest>) -> Result<Response<Empty>, Status> {
        let req = req.into_inner();
        // The reason reaches the user's terminal (and the ban record).
        let req = BanRequest {
            reason: voice_proto::text::strip_controls(&req.reason),
            ..req
        };
        crate::hub::check_reason(&req.reason).map_err(Status::invalid_argument)?;
        let target = self.target(&req.user).await?;
        let name = match target.session {
            Some(id) => self.session_name(id).await,
            None => String::new(),
        };
        self.hub
            .ban_key(&target.key, &req.reason, req.seconds, &name, "server")
            .await
            .map_err(internal)?;
        if let Some(id) = target.session {
            let reason = if req.reason.is_empty() {
                "you were banned".to_owned()
            } else {
                format!("you were banned: {}", req.reason)
            };
            self.hub.disconnect(id, close::BANNED, &reason).await;
        }
        self.hub
            .moderated(Moderation {
                session: target.session.unwrap_or(0),
                public_key: hash::hex(&target.key),
                name,
                by: "server".to_owned(),
                reason: req.reason,
                ban: true,
                ban_seconds: req.seconds,
            })
            .await;
        Ok(Response::new(Empty {}))
    }

    async fn unban(&self, req: Request<UserKey>) -> Result<Response<Empty>, Status> {
        let target = self.target(&req.into_inner().user).await?;
        let since = self.hub.store.epoch();
        if !self.hub.store.remove_ban(&target.key).map_err(internal)? {
            return Err(Status::not_found("that key is not banned"));
        }
        self.hub.store.flush(since).await.map_err(internal)?;
        Ok(Response::new(Empty {}))
    }

    async fn bans(&self, _: Request<Empty>) -> Result<Response<BansReply>, Status> {
        Ok(Response::new(BansReply {
            bans: self.hub.store.bans().map_err(internal)?,
        }))
    }

    async fn register(&self, req: Request<RegisterRequest>) -> Result<Response<Empty>, Status> {
        let req = req.into_inner();
        let target = self.target(&req.user).await?;
        let since = self.hub.store.epoch();
        if !req.name.is_empty() {
            let mut user = self
                .hub
                .store
                .user(&target.key)
                .map_err(internal)?
                .unwrap_or(User {
                    public_key: hash::hex(&target.key),
                    ..User::default()
                });
            user.name = req.name.clone();
            self.hub
                .store
                .put_user(&target.key, &user)
                .map_err(internal)?;
        }
        match target.session {
            Some(id) => self
                .hub
                .grant_role(id, ROLE_KNOWN)
                .await
                .map_err(change_error)?,
            None => self.edit_stored_roles(&target.key, |r| r.push(ROLE_KNOWN.to_owned()))?,
        }
        // The name and the role both, on the database they were written to.
        self.hub.store.flush(since).await.map_err(internal)?;
        Ok(Response::new(Empty {}))
    }

    async fn unregister(&self, req: Request<UserKey>) -> Result<Response<Empty>, Status> {
        let target = self.target(&req.into_inner().user).await?;
        match target.session {
            Some(id) => self
                .hub
                .revoke_role(id, ROLE_KNOWN)
                .await
                .map_err(change_error)?,
            None => {
                let since = self.hub.store.epoch();
                self.edit_stored_roles(&target.key, |r| r.retain(|x| x != ROLE_KNOWN))?;
                self.hub.store.flush(since).await.map_err(internal)?;
            }
        }
        Ok(Response::new(Empty {}))
    }

    async fn relay_stats(
        &self,
        _: Request<Empty>,
    ) -> Result<Response<voice_proto::pb::admin::RelayStatsReply>, Status> {
        Ok(Response::new(self.hub.relays.stats()))
    }

    async fn explain(
        &self,
        req: Request<voice_proto::pb::admin::ExplainRequest>,
    ) -> Result<Response<Explanation>, Status> {
        let req = req.into_inner();
        let target = self.target(&req.user).await?;
        let stored_roles = match target.session {
            Some(_) => Vec::new(),
            None => self
                .hub
                .store
                .user(&target.key)
                .map_err(internal)?
                .map(|u| u.roles)
                .unwrap_or_default(),
        };
        let inner = self.hub.lock().await;
        let state = &inner.state;
        let room = state.resolve_room(&req.room).map_err(Status::not_found)?;
        let (roles, session) = match target.session.and_then(|id| state.session(id)) {
            Some(s) => (s.roles.clone(), s.id),
            None => (stored_roles, 0),
        };
        let subject = Subject {
            key: &target.key,
            roles: &roles,
        };
        Ok(Response::new(explain(state, subject, session, room)))
    }
}
