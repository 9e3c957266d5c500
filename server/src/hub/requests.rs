//! Requests of a session: proposals, snapshots, explanations, chat, kicks
//! and registrations.

use voice_proto::acl::{Subject, evaluate, explain};
use voice_proto::pb::admin::Ban;
use voice_proto::pb::wire::{
    Accepted, Change, ChatMessage, ChatSend, ExplainRequest, ExplainResponse, KickRequest,
    Permission, Propose, RegisterRequest, Rejected, RequestFailed, SessionRoles, Snapshot,
    change::Kind, rejected::Reason, server_msg::Msg,
};
use voice_proto::state::{Actor, ROLE_KNOWN, Rejection, SessionId};
use voice_proto::{StateHash, close};

use super::{CommitError, Hub, Inner, encode, encode_checked, now_ms, queue};

impl Hub {
    pub(super) fn reply(inner: &Inner, id: SessionId, msg: Msg) {
        if let Some(link) = inner.links.get(&id) {
            queue(link, encode(msg));
        }
    }

    /// Judges a proposal; the updates go to everyone, then `Accepted` or
    /// `Rejected` to the proposer.
    pub async fn propose(&self, id: SessionId, propose: Propose) {
        let request_id = propose.request_id;
        let _writer = self.writer.lock().await;
        let change = propose.change.unwrap_or_default();
        let Some(expected) = StateHash::from_slice(&propose.expected_hash) else {
            let inner = self.inner.lock().await;
            let current = inner.state.hash().to_vec();
            Self::reply(
                &inner,
                id,
                Msg::Rejected(Rejected {
                    request_id,
                    reason: Reason::Stale as i32,
                    current_hash: current,
                    message: "expected_hash must be 32 bytes".to_owned(),
                    ..Rejected::default()
                }),
            );
            return;
        };
        let expected = if own_session_change(id, &change) {
            // A change to one's own session (where one sits, one's flags,
            // one's name) does not depend on what the proposer saw of the
            // rest of the state: it is judged against the state as it is,
            // permissions included. So on a busy server a move is not
            // turned into a string of stale retries. The writer lock keeps
            // the state as read until the commit.
            self.inner.lock().await.state.hash()
        } else {
            expected
        };
        {
            let inner = self.inner.lock().await;
            if let Some(Kind::MoveSession(mv)) = &change.kind
                && expected == inner.state.hash()
                && inner
                    .state
                    .session(mv.session)
                    .is_some_and(|s| s.room != mv.room)
                && self.room_full(&inner, mv.room)
            {
                Self::reply(
                    &inner,
                    id,
                    Msg::Rejected(Rejected {
                        request_id,
                        reason: Reason::Invalid as i32,
                        message: format!(
                            "the room is full ({} sessions)",
                            self.config.max_sessions_per_room
                        ),
                        ..Rejected::default()
                    }),
                );
                return;
            }
        }
        let outcome = self.commit(Actor::Session(id), &expected, &change).await;
        let inner = self.inner.lock().await;
        let msg = match outcome {
            Ok((applied, seq)) => {
                let assigned_id = match applied.last().and_then(|a| a.change.kind.as_ref()) {
                    Some(Kind::AddRoom(r)) => r.id,
                    Some(Kind::AddFile(f)) => f.id,
                    _ => 0,
                };
                Msg::Accepted(Accepted {
                    request_id,
                    seq,
                    assigned_id,
                })
            }
            Err(CommitError::Rejected(rejection)) => {
                Msg::Rejected(rejected(request_id, &rejection))
            }
            Err(e) => Msg::Rejected(Rejected {
                request_id,
                reason: if matches!(e, CommitError::RateLimited(_)) {
                    Reason::RateLimited as i32
                } else {
                    Reason::Invalid as i32
                },
                current_hash: inner.state.hash().to_vec(),
                message: e.to_string(),
                ..Rejected::default()
            }),
        };
        Self::reply(&inner, id, msg);
    }

    /// Sends the full state to a session, unless one is waiting for it
    /// already (the updates after that one bring it to the same state).
    pub async fn send_snapshot(&self, id: SessionId) {
        let inner = self.inner.lock().await;
        let Some(link) = inner.links.get(&id) else {
            return;
        };
        let mut too_large = None;
        let queued = link.control.push_snapshot(|| {
            let msg = Msg::Snapshot(Snapshot {
                seq: inner.seq,
                snapshot: Some(inner.state.snapshot()),
                hash: inner.state.hash().to_vec(),
            });
            encode_checked(msg).unwrap_or_else(|e| {
                too_large = Some(e);
                bytes::Bytes::new()
            })
        });
        if let Some(e) = too_large {
            tracing::error!(error = %e, "cannot send a snapshot");
            link.conn.close(
                close::SERVER_FULL.into(),
                format!("the server's state cannot be sent: {e}; tell the server's admin")
                    .as_bytes(),
            );
            return;
        }
        if let Err(over) = queued {
            super::close_slow(link, over);
        }
    }

    /// Answers why a session has or lacks permissions.
    pub async fn explain(&self, id: SessionId, req: ExplainRequest) {
        let inner = self.inner.lock().await;
        let target = if req.session == 0 { id } else { req.session };
        let msg = match inner.state.session(target) {
            Some(session) => Msg::Explain(ExplainResponse {
                request_id: req.request_id,
                explanation: Some(explain(
                    &inner.state,
                    Subject::from(session),
                    target,
                    req.room,
                )),
            }),
            None => Msg::Failed(RequestFailed {
                request_id: req.request_id,
                message: format!("no session with id {target}"),
            }),
        };
        Self::reply(&inner, id, msg);
    }

    /// Relays a chat message to its room; `Err` carries what to tell the sender.
    pub async fn chat(&self, id: SessionId, send: &ChatSend) -> Result<(), String> {
        let text = self.check_chat_text(&send.text)?;
        let mut inner = self.inner.lock().await;
        let Some(session) = inner.state.session(id) else {
            return Err("you are not connected".to_owned());
        };
        let room = if send.room == 0 {
            session.room
        } else {
            send.room
        };
        if inner.state.room(room).is_none() {
            return Err(format!("no room with id {room}"));
        }
        if !evaluate(&inner.state, Subject::from(session), room).contains(Permission::TextMessage) {
            return Err(voice_proto::acl::lacking(
                &inner.state,
                Subject::from(session),
                Permission::TextMessage,
                room,
            ));
        }
        let message = ChatMessage {
            room,
            sender: id,
            sender_name: session.name.clone(),
            text: text.to_owned(),
            sender_key: session.public_key.clone(),
            ..ChatMessage::default()
        };
        if !self.config.intercept_chat {
            Self::relay_chat(&mut inner, message);
            return Ok(());
        }
        // Asked without the lock: the plugin may take its time.
        drop(inner);
        self.intercept
            .ask(
                voice_proto::pb::admin::intercept_question::Kind::Chat(message.clone()),
                self.intercept_deadline(),
            )
            .await
            .map_err(|super::Refused(why)| super::refused_by_plugin("message", &why))?;
        let mut inner = self.inner.lock().await;
        if inner.state.session(id).is_none() {
            return Err("you are not connected".to_owned());
        }
        if inner.state.room(room).is_none() {
            return Err(format!("no room with id {room}"));
        }
        Self::relay_chat(&mut inner, message);
        Ok(())
    }

    /// Sends a chat message to a room as the server, under a bot's name
    /// (admin API: plugins). Sender 0, no key: front ends show it as the
    /// server's. Returns the message as the room got it.
    pub async fn server_chat(
        &self,
        room: u32,
        bot_name: &str,
        text: &str,
    ) -> Result<ChatMessage, String> {
        let text = self.check_chat_text(text)?;
        let name = bot_name.trim();
        if name.is_empty() {
            return Err("give the bot a name (bot_name)".to_owned());
        }
        if let Some((c, kind)) = voice_proto::text::unsafe_in_name(name) {
            return Err(format!(
                "the bot's name: {}",
                voice_proto::text::refusal(c, kind)
            ));
        }
        let mut inner = self.inner.lock().await;
        let max = inner.state.limits().max_name_len;
        if name.chars().count() > max {
            return Err(format!("the bot's name is longer than {max} characters"));
        }
        if inner.state.room(room).is_none() {
            return Err(format!("no room with id {room}"));
        }
        let message = ChatMessage {
            room,
            sender: 0,
            sender_name: name.to_owned(),
            text: text.to_owned(),
            ..ChatMessage::default()
        };
        Ok(Self::relay_chat(&mut inner, message))
    }

    /// A message's text, trimmed at the end, or why it cannot be sent.
    fn check_chat_text<'t>(&self, text: &'t str) -> Result<&'t str, String> {
        let text = text.trim_end();
        if text.is_empty() {
            return Err("the message is empty".to_owned());
        }
        let len = text.chars().count();
        if len > self.config.max_message_len {
            return Err(format!(
                "the message has {len} characters; the limit is {}",
                self.config.max_message_len
            ));
        }
        // Escape sequences would reach other users' terminals.
        if let Some(c) = voice_proto::text::control_in_message(text) {
            return Err(format!(
                "the message holds {}, a control character; remove it (messages may hold newlines and tabs, no other control characters)",
                voice_proto::text::CodePoint(c)
            ));
        }
        Ok(text)
    }

    /// Numbers, stamps and chains a message, records it for plugins and
    /// queues it to every member of its room.
    fn relay_chat(inner: &mut Inner, mut message: ChatMessage) -> ChatMessage {
        message.id = inner.next_chat;
        inner.next_chat += 1;
        message.time_ms = now_ms();
        inner.histories.stamp(&mut message);
        inner
            .events
            .push(voice_proto::pb::admin::server_event::Kind::Chat(
                message.clone(),
            ));
        let frame = encode(Msg::Chat(message.clone()));
        for session in inner.state.sessions_in(message.room) {
            if let Some(chat) = inner.links.get(&session.id).map(|l| &l.chat) {
                // A full chat queue drops the message for that reader only.
                let _ = chat.push(frame.clone());
            }
        }
        message
    }

    /// Kicks (and maybe bans) a session for a moderator.
    pub async fn kick(&self, id: SessionId, req: KickRequest) {
        let outcome = self.kick_checked(id, &req).await;
        self.answer(id, req.request_id, outcome).await;
    }

    /// Answers a request that changes no state by itself: `Accepted` (with
    /// the current sequence number) or `RequestFailed` with the reason.
    pub(super) async fn answer(&self, id: SessionId, request_id: u64, outcome: Result<(), String>) {
        let inner = self.inner.lock().await;
        let msg = match outcome {
            Ok(()) => Msg::Accepted(Accepted {
                request_id,
                seq: inner.seq,
                assigned_id: 0,
            }),
            Err(message) => Msg::Failed(RequestFailed {
                request_id,
                message,
            }),
        };
        Self::reply(&inner, id, msg);
    }

    async fn kick_checked(&self, id: SessionId, req: &KickRequest) -> Result<(), String> {
        super::check_reason(&req.reason)?;
        let (key, name, by) = {
            let inner = self.inner.lock().await;
            let me = inner.state.session(id).ok_or("you are not connected")?;
            voice_proto::acl::authorize_kick(&inner.state, me.id, req.session, req.ban)
                .map_err(|e| e.to_string())?;
            let target = inner
                .state
                .session(req.session)
                .ok_or(format!("no session with id {}", req.session))?;
            (
                target.public_key.clone(),
                target.name.clone(),
                me.name.clone(),
            )
        };
        if req.ban {
            self.ban_key(&key, &req.reason, req.ban_seconds, &name, &by)
                .await
                .map_err(|e| e.to_string())?;
        }
        let (code, what) = if req.ban {
            (close::BANNED, "banned")
        } else {
            (close::KICKED, "kicked")
        };
        let reason = if req.reason.is_empty() {
            format!("you were {what}")
        } else {
            format!("you were {what}: {}", req.reason)
        };
        self.disconnect(req.session, code, &reason).await;
        self.moderated(voice_proto::pb::admin::Moderation {
            session: req.session,
            public_key: voice_proto::hash::hex(&key),
            name,
            by,
            reason: req.reason.clone(),
            ban: req.ban,
            ban_seconds: if req.ban { req.ban_seconds } else { 0 },
        })
        .await;
        Ok(())
    }

    /// Records a ban (flushed): `name` is the user's (their registered
    /// name when the server has one), `by` who banned them.
    pub async fn ban_key(
        &self,
        key: &[u8],
        reason: &str,
        seconds: u64,
        name: &str,
        by: &str,
    ) -> Result<(), crate::store::StoreError> {
        let now = now_ms();
        let since = self.store.epoch();
        let name = match self.store.user(key) {
            Ok(Some(user)) if !user.name.is_empty() => user.name,
            _ => name.to_owned(),
        };
        self.store.put_ban(
            key,
            &Ban {
                public_key: voice_proto::hash::hex(key),
                name,
                banned_by: by.to_owned(),
                reason: reason.to_owned(),
                created_ms: now,
                expires_ms: if seconds == 0 {
                    0
                } else {
                    now.saturating_add(seconds.saturating_mul(1000))
                },
            },
        )?;
        self.store.flush(since).await
    }

    /// The ban in force on a key, if any.
    pub fn active_ban(&self, key: &[u8]) -> Result<Option<Ban>, crate::store::StoreError> {
        Ok(self
            .store
            .ban(key)?
            .filter(|b| b.expires_ms == 0 || b.expires_ms > now_ms()))
    }

    /// Registers a session's key for a session that holds Register.
    pub async fn register(&self, id: SessionId, req: RegisterRequest) {
        let refusal = {
            let inner = self.inner.lock().await;
            Self::needs_at_root(&inner, id, Permission::Register)
        };
        let outcome = match refusal {
            Ok(()) => self
                .grant_role(req.session, ROLE_KNOWN)
                .await
                .map_err(|e| e.to_string()),
            Err(refusal) => Err(refusal),
        };
        self.answer(id, req.request_id, outcome).await;
    }

    /// Gives a connected session a role (and its stored user record).
    pub async fn grant_role(
        &self,
        session: SessionId,
        role: &str,
    ) -> Result<(), super::ServerChangeError> {
        self.edit_roles(session, |roles| {
            if !roles.iter().any(|r| r == role) {
                roles.push(role.to_owned());
            }
        })
        .await
    }

    /// Takes a role from a connected session.
    pub async fn revoke_role(
        &self,
        session: SessionId,
        role: &str,
    ) -> Result<(), super::ServerChangeError> {
        self.edit_roles(session, |roles| roles.retain(|r| r != role))
            .await
    }

    async fn edit_roles(
        &self,
        session: SessionId,
        edit: impl FnOnce(&mut Vec<String>),
    ) -> Result<(), super::ServerChangeError> {
        let mut roles = {
            let inner = self.inner.lock().await;
            inner
                .state
                .session(session)
                .map(|s| s.roles.clone())
                .ok_or(Rejection::Invalid(
                    voice_proto::state::StateError::UnknownSession(session),
                ))?
        };
        edit(&mut roles);
        roles.sort();
        roles.dedup();
        self.server_change(Change {
            kind: Some(Kind::SetSessionRoles(SessionRoles { session, roles })),
        })
        .await?;
        Ok(())
    }
}

/// Whether `change` only touches the proposer's own session: a move, its
/// flags or its name. Those are judged against the current state whatever
/// hash the proposer expected (docs/protocol.md).
fn own_session_change(id: SessionId, change: &Change) -> bool {
    match &change.kind {
        Some(Kind::MoveSession(m)) => m.session == id,
        Some(Kind::SetSessionFlags(f)) => f.session == id,
        Some(Kind::RenameSession(r)) => r.session == id,
        _ => false,
    }
}

/// The wire form of a rejection.
pub fn rejected(request_id: u64, rejection: &Rejection) -> Rejected {
    match rejection {
        Rejection::Stale { current } => Rejected {
            request_id,
            reason: Reason::Stale as i32,
            current_hash: current.to_vec(),
            message: rejection.to_string(),
            ..Rejected::default()
        },
        Rejection::Denied { permission, .. } => Rejected {
            request_id,
            reason: Reason::Denied as i32,
            permission: permission.map_or(0, |p| p as i32),
            message: rejection.to_string(),
            ..Rejected::default()
        },
        Rejection::Invalid(_) => Rejected {
            request_id,
            reason: Reason::Invalid as i32,
            message: rejection.to_string(),
            ..Rejected::default()
        },
    }
}

impl Hub {
    /// Queues a frame on a session's control stream.
    pub async fn send_to(&self, id: SessionId, frame: bytes::Bytes) {
        let inner = self.inner.lock().await;
        if let Some(link) = inner.links.get(&id) {
            queue(link, frame);
        }
    }
}

impl Hub {
    /// Passes a listener's loss report on to the speaker (for adaptive FEC),
    /// only between sessions of the same room.
    pub async fn reception(&self, id: SessionId, report: voice_proto::pb::wire::ReceptionReport) {
        let inner = self.inner.lock().await;
        let same_room = match (inner.state.session(id), inner.state.session(report.speaker)) {
            (Some(me), Some(speaker)) => me.room == speaker.room && me.id != speaker.id,
            _ => false,
        };
        if same_room {
            Self::reply(
                &inner,
                report.speaker,
                Msg::ListenerLoss(voice_proto::pb::wire::ListenerLoss {
                    loss_permille: report.loss_permille.min(1000),
                }),
            );
        }
    }
}
