//! What a user can do: proposals to the shared state (with the automatic
//! retry of a stale one), requests, chat, voice settings, identity,
//! bookmarks and trust.

use std::sync::Arc;
use std::time::Duration;

use voice_proto::pb::control::{
    AudioConfig, Bookmark, DevicesReply, IdentityReply, KnownServer, VoiceMode,
};
use voice_proto::pb::wire::{
    self, Change, ChatMessage, Explanation, Permission, Propose, RoomEdit, RoomMove, RoomRemove,
    SessionFlags, SessionMove, SessionRename, change::Kind, client_msg, rejected,
};
use voice_proto::{State, StateHash};

use super::link::{Link, Reply};
use super::{Engine, resolve};
use crate::config::{self, Bookmark as SavedBookmark};
use crate::connection::dial;
use crate::error::Error;
use crate::trust::{self, KnownServers};

/// How long a request may wait for the server.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stale proposal waits to catch up before its retry.
const CATCH_UP: Duration = Duration::from_secs(5);

fn permission_name(p: i32) -> String {
    Permission::try_from(p)
        .map(|p| p.as_str_name().to_ascii_lowercase().replace('_', "-"))
        .unwrap_or_else(|_| format!("permission {p}"))
}

impl Engine {
    fn link(&self) -> Result<Arc<Link>, Error> {
        self.lock().link.clone().ok_or(Error::NotConnected)
    }

    /// Runs `f` on the mirrored state and our session id.
    pub fn with_state<T>(
        &self,
        f: impl FnOnce(&State, u32) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let st = self.lock();
        let (Some(m), Some(l)) = (&st.mirror, &st.link) else {
            return Err(Error::NotConnected);
        };
        f(m.state(), l.session_id)
    }

    async fn request(&self, link: &Link, id: u64, msg: client_msg::Msg) -> Result<Reply, Error> {
        let rx = link.expect(id);
        if let Err(e) = link.send_control(msg).await {
            link.forget(id);
            return Err(Error::Failed(format!("connection lost: {e}")));
        }
        match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(_)) => Err(Error::Failed(
                "the connection was lost before the server answered; try again once reconnected"
                    .into(),
            )),
            Err(_) => {
                link.forget(id);
                Err(Error::Failed(
                    "the server did not answer within 10 s".into(),
                ))
            }
        }
    }

    /// Proposes the change that `make` builds from the current state. A
    /// stale proposal is rebuilt and retried once after catching up; the
    /// caller sees only real refusals. Returns the assigned id.
    pub async fn propose(
        &self,
        make: impl Fn(&State, u32) -> Result<Kind, Error>,
    ) -> Result<u32, Error> {
        let _one_at_a_time = self.inner.proposing.lock().await;
        for attempt in 0..2 {
            let (link, kind, hash) = {
                let st = self.lock();
                let (Some(m), Some(l)) = (&st.mirror, &st.link) else {
                    return Err(Error::NotConnected);
                };
                (l.clone(), make(m.state(), l.session_id)?, m.state().hash())
            };
            let id = link.next_id();
            let msg = client_msg::Msg::Propose(Propose {
                request_id: id,
                expected_hash: hash.to_vec(),
                change: Some(Change { kind: Some(kind) }),
            });
            match self.request(&link, id, msg).await? {
                Reply::Accepted(a) => {
                    // The updates come before `Accepted`: our mirror has them.
                    return Ok(a.assigned_id);
                }
                Reply::Rejected(r) => match rejected::Reason::try_from(r.reason) {
                    Ok(rejected::Reason::Stale) if attempt == 0 => {
                        tracing::debug!("stale proposal; catching up to retry");
                        self.catch_up(&r.current_hash).await;
                    }
                    Ok(rejected::Reason::Stale) => {
                        return Err(Error::Failed(
                            "the state kept changing under this request; try again".into(),
                        ));
                    }
                    Ok(rejected::Reason::Denied) => {
                        let why = if r.message.is_empty() {
                            format!("you lack {}", permission_name(r.permission))
                        } else {
                            r.message
                        };
                        return Err(Error::Denied(format!(
                            "permission denied: {why}; `voicectl explain ROOM` shows why"
                        )));
                    }
                    Ok(rejected::Reason::RateLimited) => {
                        return Err(Error::Failed(
                            "rate limited by the server; wait a moment".into(),
                        ));
                    }
                    _ => return Err(Error::Invalid(format!("refused: {}", r.message))),
                },
                Reply::Failed(m) => return Err(Error::Failed(m)),
                Reply::Explain(_) => return Err(Error::Failed("unexpected answer".into())),
            }
        }
        Err(Error::Failed("the state kept changing; try again".into()))
    }

    /// Waits until the mirror has reached (or passed) the server's
    /// `current` hash, i.e. has every update the stale proposal missed.
    async fn catch_up(&self, current: &[u8]) {
        let Some(want) = StateHash::from_slice(current) else {
            return;
        };
        let mut rx = self.inner.hash.subscribe();
        let _ = tokio::time::timeout(CATCH_UP, async {
            loop {
                if self.passed(&want) || rx.borrow_and_update().is_none() {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }

    /// Moves me to a room.
    pub async fn join(&self, room: &str) -> Result<(), Error> {
        let room = room.to_owned();
        self.propose(move |s, me| {
            Ok(Kind::MoveSession(SessionMove {
                session: me,
                room: resolve::room(s, &room)?,
            }))
        })
        .await
        .map(|_| ())
    }

    /// Creates a room; returns its id.
    pub async fn create_room(
        &self,
        parent: &str,
        name: &str,
        description: &str,
    ) -> Result<u32, Error> {
        let (parent, name, description) =
            (parent.to_owned(), name.to_owned(), description.to_owned());
        self.propose(move |s, _| {
            let parent = resolve::room(s, &parent)?;
            if s.child_named(parent, &name).is_some() {
                return Err(Error::Invalid(format!(
                    "a room named {name:?} already exists there"
                )));
            }
            Ok(Kind::AddRoom(wire::Room {
                id: 0,
                parent,
                name: name.clone(),
                description: description.clone(),
                position: 0,
                inherit_acl: true,
                acl: Vec::new(),
            }))
        })
        .await
    }

    /// Renames a room.
    pub async fn rename_room(&self, room: &str, name: &str) -> Result<(), Error> {
        let (room, name) = (room.to_owned(), name.to_owned());
        self.propose(move |s, _| {
            Ok(Kind::EditRoom(RoomEdit {
                id: resolve::room(s, &room)?,
                name: Some(name.clone()),
                ..Default::default()
            }))
        })
        .await
        .map(|_| ())
    }

    /// Moves a room under another.
    pub async fn move_room(&self, room: &str, parent: &str) -> Result<(), Error> {
        let (room, parent) = (room.to_owned(), parent.to_owned());
        self.propose(move |s, _| {
            Ok(Kind::MoveRoom(RoomMove {
                id: resolve::room(s, &room)?,
                parent: resolve::room(s, &parent)?,
            }))
        })
        .await
        .map(|_| ())
    }

    /// Deletes a room (its users move to the parent).
    pub async fn delete_room(&self, room: &str) -> Result<(), Error> {
        let room = room.to_owned();
        self.propose(move |s, _| {
            let id = resolve::room(s, &room)?;
            if id == 0 {
                return Err(Error::Invalid("the root room cannot be deleted".into()));
            }
            Ok(Kind::RemoveRoom(RoomRemove { id }))
        })
        .await
        .map(|_| ())
    }

    /// Moves a user to a room.
    pub async fn move_user(&self, user: &str, room: &str) -> Result<(), Error> {
        let (user, room) = (user.to_owned(), room.to_owned());
        self.propose(move |s, _| {
            Ok(Kind::MoveSession(SessionMove {
                session: resolve::user(s, &user)?,
                room: resolve::room(s, &room)?,
            }))
        })
        .await
        .map(|_| ())
    }

    /// Server-mutes or -deafens a user.
    pub async fn server_mute(&self, user: &str, mute: bool, deaf: bool) -> Result<(), Error> {
        let user = user.to_owned();
        self.propose(move |s, _| {
            Ok(Kind::SetSessionFlags(SessionFlags {
                session: resolve::user(s, &user)?,
                server_mute: Some(mute),
                server_deaf: Some(deaf),
                ..Default::default()
            }))
        })
        .await
        .map(|_| ())
    }

    /// Why a user (empty = me) has or lacks permissions in a room.
    pub async fn explain(&self, room: &str, user: &str) -> Result<Explanation, Error> {
        let (room, session) = self.with_state(|s, _| {
            let room = resolve::room(s, room)?;
            let session = if user.trim().is_empty() {
                0
            } else {
                resolve::user(s, user)?
            };
            Ok((room, session))
        })?;
        let link = self.link()?;
        let id = link.next_id();
        let msg = client_msg::Msg::Explain(wire::ExplainRequest {
            request_id: id,
            room,
            session,
        });
        match self.request(&link, id, msg).await? {
            Reply::Explain(x) => Ok(x),
            Reply::Failed(m) => Err(Error::Failed(m)),
            other => Err(Error::Failed(format!("unexpected answer: {other:?}"))),
        }
    }

    /// Kicks (or bans) a user.
    pub async fn kick(
        &self,
        user: &str,
        reason: &str,
        ban: bool,
        ban_seconds: u64,
    ) -> Result<(), Error> {
        let session = self.with_state(|s, _| resolve::user(s, user))?;
        let link = self.link()?;
        let id = link.next_id();
        let msg = client_msg::Msg::Kick(wire::KickRequest {
            request_id: id,
            session,
            reason: reason.to_owned(),
            ban,
            ban_seconds,
        });
        match self.request(&link, id, msg).await? {
            Reply::Accepted(_) => Ok(()),
            Reply::Failed(m) => Err(Error::Denied(m)),
            other => Err(Error::Failed(format!("unexpected answer: {other:?}"))),
        }
    }

    /// Sends a chat message to a room (empty = mine).
    pub async fn send_chat(&self, text: &str, room: &str) -> Result<(), Error> {
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            return Err(Error::Invalid("empty message".into()));
        }
        let room = self.with_state(|s, _| {
            if room.trim().is_empty() {
                Ok(0)
            } else {
                resolve::room(s, room)
            }
        })?;
        let link = self.link()?;
        let chars = text.chars().count();
        if link.max_message_len > 0 && chars > link.max_message_len as usize {
            return Err(Error::Invalid(format!(
                "message too long: {chars} characters, the server allows {}",
                link.max_message_len
            )));
        }
        let id = link.next_id();
        link.send_chat(client_msg::Msg::Chat(wire::ChatSend {
            client_id: id,
            room,
            text: text.to_owned(),
        }))
        .await
        .map_err(|e| Error::Failed(format!("connection lost: {e}")))
    }

    /// Sends one voice packet (for the audio engine). Dropped silently when
    /// not connected: stale voice is never queued.
    pub fn send_voice(&self, seq: u32, opus: &[u8], end_of_burst: bool) {
        let Some(link) = self.lock().link.clone() else {
            return;
        };
        let mut buf = Vec::with_capacity(opus.len() + 6);
        let flags = if end_of_burst {
            voice_proto::voice::FLAG_END_OF_BURST
        } else {
            0
        };
        voice_proto::voice::encode_client(&mut buf, flags, seq, opus);
        if let Err(e) = link.conn.send_datagram(buf.into()) {
            tracing::trace!(error = %e, "voice packet not sent");
        }
    }

    /// Chat of this session, oldest first (room empty = all; limit 0 = all).
    pub fn chat_history(&self, room: &str, limit: usize) -> Result<Vec<ChatMessage>, Error> {
        let room = if room.trim().is_empty() {
            None
        } else {
            Some(self.with_state(|s, _| resolve::room(s, room))?)
        };
        let st = self.lock();
        let all: Vec<ChatMessage> = st
            .chat
            .iter()
            .filter(|m| room.is_none_or(|r| m.room == r))
            .cloned()
            .collect();
        let skip = if limit == 0 {
            0
        } else {
            all.len().saturating_sub(limit)
        };
        Ok(all.into_iter().skip(skip).collect())
    }

    async fn push_flags(&self) -> Result<(), Error> {
        let (mute, deaf) = {
            let st = self.lock();
            (st.voice.muted(), st.voice.deaf)
        };
        self.apply_audio();
        if self.lock().link.is_none() {
            // Applied at the next login.
            return Ok(());
        }
        self.propose(move |_, me| {
            Ok(Kind::SetSessionFlags(SessionFlags {
                session: me,
                self_mute: Some(mute),
                self_deaf: Some(deaf),
                ..Default::default()
            }))
        })
        .await
        .map(|_| ())
    }

    fn apply_audio(&self) {
        let v = self.lock().voice.clone();
        self.inner
            .audio
            .set_transmit(v.mode, v.ptt_pressed, v.muted());
        self.inner.audio.set_deaf(v.deaf);
    }

    /// Mutes or unmutes myself.
    pub async fn set_mute(&self, on: bool) -> Result<(), Error> {
        self.lock().voice.mute = on;
        self.push_flags().await?;
        self.emit_status();
        Ok(())
    }

    /// Deafens or undeafens myself (deafened implies muted).
    pub async fn set_deaf(&self, on: bool) -> Result<(), Error> {
        self.lock().voice.deaf = on;
        self.push_flags().await?;
        self.emit_status();
        Ok(())
    }

    /// Push-to-talk key pressed or released.
    pub fn push_to_talk(&self, pressed: bool) {
        self.lock().voice.ptt_pressed = pressed;
        self.apply_audio();
    }

    /// Sets the transmission mode.
    pub fn set_voice_mode(&self, mode: VoiceMode) -> Result<(), Error> {
        if mode == VoiceMode::Unspecified {
            return Err(Error::Invalid("choose vad, ptt or continuous".into()));
        }
        {
            let mut st = self.lock();
            st.voice.mode = mode;
            st.voice.audio.voice_mode = mode as i32;
        }
        self.apply_audio();
        self.emit_status();
        Ok(())
    }

    /// The codec and device settings.
    pub fn audio_settings(&self) -> AudioConfig {
        self.lock().voice.audio.clone()
    }

    /// Changes codec and device settings (checked).
    pub fn set_audio_settings(&self, c: AudioConfig) -> Result<AudioConfig, Error> {
        if !(6000..=128_000).contains(&c.bitrate) {
            return Err(Error::Invalid("bitrate must be 6000..=128000 b/s".into()));
        }
        if ![10, 20, 40, 60].contains(&c.frame_ms) {
            return Err(Error::Invalid("frame must be 10, 20, 40 or 60 ms".into()));
        }
        if !(0.0..=1.0).contains(&c.vad_threshold) {
            return Err(Error::Invalid("vad threshold must be 0.0..=1.0".into()));
        }
        let mode = VoiceMode::try_from(c.voice_mode).unwrap_or(VoiceMode::VoiceActivity);
        // Devices named in the settings are chosen like `SelectDevice`.
        let (input, output) = {
            let st = self.lock();
            (
                st.voice.audio.input_device.clone(),
                st.voice.audio.output_device.clone(),
            )
        };
        if c.input_device != input {
            self.select_device(true, &c.input_device)?;
        }
        if c.output_device != output {
            self.select_device(false, &c.output_device)?;
        }
        self.inner.audio.set_codec(&c)?;
        {
            let mut st = self.lock();
            st.voice.audio = c.clone();
            st.voice.mode = if mode == VoiceMode::Unspecified {
                VoiceMode::VoiceActivity
            } else {
                mode
            };
        }
        self.apply_audio();
        Ok(c)
    }

    /// Audio devices (from the audio engine).
    pub fn devices(&self) -> Result<DevicesReply, Error> {
        self.inner.audio.devices()
    }

    /// Selects an audio device.
    pub fn select_device(&self, input: bool, name: &str) -> Result<(), Error> {
        let name = (!name.is_empty()).then_some(name);
        self.inner.audio.select_device(input, name)?;
        let mut st = self.lock();
        let slot = if input {
            &mut st.voice.audio.input_device
        } else {
            &mut st.voice.audio.output_device
        };
        *slot = name.unwrap_or_default().to_owned();
        Ok(())
    }

    fn user_key(&self, user: &str) -> Result<(u32, String), Error> {
        self.with_state(|s, _| {
            let id = resolve::user(s, user)?;
            let key = s
                .session(id)
                .map(|x| voice_proto::hash::hex(&x.public_key))
                .unwrap_or_default();
            Ok((id, key))
        })
    }

    /// Sets a user's playback volume (linear gain 0..=4).
    pub fn set_user_volume(&self, user: &str, gain: f32) -> Result<(), Error> {
        if !(0.0..=4.0).contains(&gain) {
            return Err(Error::Invalid("volume must be 0..=400 %".into()));
        }
        let (id, key) = self.user_key(user)?;
        let muted = {
            let mut st = self.lock();
            st.voice.volumes.insert(key.clone(), gain);
            st.voice.local_mutes.get(&key).copied().unwrap_or(false)
        };
        self.inner.audio.set_user_gain(id, gain, muted);
        Ok(())
    }

    /// Mutes a user for me only.
    pub fn set_user_local_mute(&self, user: &str, mute: bool) -> Result<(), Error> {
        let (id, key) = self.user_key(user)?;
        let gain = {
            let mut st = self.lock();
            st.voice.local_mutes.insert(key.clone(), mute);
            st.voice.volumes.get(&key).copied().unwrap_or(1.0)
        };
        self.inner.audio.set_user_gain(id, gain, mute);
        Ok(())
    }

    /// My public key and display name.
    pub fn identity_reply(&self) -> IdentityReply {
        let st = self.lock();
        IdentityReply {
            public_key: self.inner.identity.public_hex(),
            display_name: super::settings::default_name(&st.config, &self.inner.identity),
        }
    }

    /// Changes my display name (saved; applied on the server if connected).
    pub async fn set_display_name(&self, name: &str) -> Result<IdentityReply, Error> {
        let name = name.trim().to_owned();
        let limits = voice_proto::Limits::default();
        if name.is_empty()
            || name.chars().count() > limits.max_name_len
            || name.chars().any(char::is_control)
        {
            return Err(Error::Invalid(format!(
                "a name has 1 to {} characters and no control characters",
                limits.max_name_len
            )));
        }
        let config = {
            let mut st = self.lock();
            st.config.display_name = name.clone();
            st.config.clone()
        };
        config
            .save(&self.inner.paths.config_file())
            .map_err(|e| Error::Failed(e.to_string()))?;
        if self.lock().link.is_some() {
            self.propose(move |_, me| {
                Ok(Kind::RenameSession(SessionRename {
                    session: me,
                    name: name.clone(),
                }))
            })
            .await?;
        }
        Ok(self.identity_reply())
    }

    /// Saved servers.
    pub fn bookmarks(&self) -> Result<Vec<Bookmark>, Error> {
        let marks = config::load_bookmarks(&self.inner.paths.bookmarks_file())
            .map_err(|e| Error::Failed(e.to_string()))?;
        Ok(marks
            .into_iter()
            .map(|b| Bookmark {
                name: b.name,
                server: b.server,
                display_name: b.display_name,
                password: b.password,
            })
            .collect())
    }

    /// Adds or replaces a bookmark.
    pub fn save_bookmark(&self, b: Bookmark) -> Result<Vec<Bookmark>, Error> {
        if b.name.trim().is_empty() {
            return Err(Error::Invalid("a bookmark needs a name".into()));
        }
        let server = dial::normalize_server(&b.server).map_err(Error::Invalid)?;
        let path = self.inner.paths.bookmarks_file();
        let mut marks = config::load_bookmarks(&path).map_err(|e| Error::Failed(e.to_string()))?;
        marks.retain(|m| m.name != b.name);
        marks.push(SavedBookmark {
            name: b.name.trim().to_owned(),
            server,
            display_name: b.display_name,
            password: b.password,
        });
        marks.sort_by(|a, b| a.name.cmp(&b.name));
        config::save_bookmarks(&path, &marks).map_err(|e| Error::Failed(e.to_string()))?;
        self.bookmarks()
    }

    /// Removes a bookmark.
    pub fn remove_bookmark(&self, name: &str) -> Result<Vec<Bookmark>, Error> {
        let path = self.inner.paths.bookmarks_file();
        let mut marks = config::load_bookmarks(&path).map_err(|e| Error::Failed(e.to_string()))?;
        let before = marks.len();
        marks.retain(|m| m.name != name);
        if marks.len() == before {
            return Err(Error::NotFound(format!(
                "no bookmark {name:?}; `voicectl server list` shows them"
            )));
        }
        config::save_bookmarks(&path, &marks).map_err(|e| Error::Failed(e.to_string()))?;
        self.bookmarks()
    }

    /// Pinned servers.
    pub fn known_servers(&self) -> Result<Vec<KnownServer>, Error> {
        let k = KnownServers::load(&self.inner.paths.known_servers_file())
            .map_err(|e| Error::Failed(format!("known_servers: {e}")))?;
        Ok(k.entries()
            .iter()
            .map(|e| KnownServer {
                server: e.server.clone(),
                fingerprint: e.fingerprint.clone(),
                first_seen_ms: e.first_seen_ms,
            })
            .collect())
    }

    /// Trusts a fingerprint for a server (pinned, or for this run only).
    pub fn trust(&self, server: &str, fingerprint: &str, permanent: bool) -> Result<(), Error> {
        let server = dial::normalize_server(server).map_err(Error::Invalid)?;
        let fp = trust::normalize_fingerprint(fingerprint).ok_or_else(|| {
            Error::Invalid(format!(
                "{fingerprint:?} is not a SHA-256 fingerprint (64 hex digits)"
            ))
        })?;
        if permanent {
            KnownServers::load(&self.inner.paths.known_servers_file())
                .and_then(|mut k| k.pin(&server, &fp, trust::now_ms()))
                .map_err(|e| Error::Failed(format!("known_servers: {e}")))?;
        } else {
            self.lock().session_pins.insert(server, fp);
        }
        Ok(())
    }
}
