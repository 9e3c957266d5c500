//! The connection manager: connect, keep the link, reconnect with capped
//! exponential backoff and jitter after any loss, rejoin the previous room.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use voice_proto::pb::control::{ConnectRequest, StatusReply, event};
use voice_proto::pb::wire::{SessionFlags, change::Kind};

use super::link::Link;
use super::{ConnState, Engine, Target, readers};
use crate::config;
use crate::connection::dial::{self, DialError, DialParams};
use crate::connection::mirror::Mirror;
use crate::error::Error;
use crate::trust::{self, Accept, KnownServers, TrustDecision};

/// Longest wait for the first attempt (the server's handshake limit is 10 s).
const FIRST_ATTEMPT: Duration = Duration::from_secs(12);
/// Longest wait for a reconnection attempt; short so a restarted server is
/// found again quickly.
const RETRY_ATTEMPT: Duration = Duration::from_secs(2);

struct Plan {
    server: String,
    password: String,
    display_name: String,
    admin_token: String,
    ca_file: Option<std::path::PathBuf>,
}

impl Engine {
    /// Connects to a server (or bookmark) and waits for the first attempt.
    /// A lost connection is then re-established in the background.
    pub async fn connect(&self, req: ConnectRequest) -> Result<StatusReply, Error> {
        let plan = self.plan(&req)?;
        let accept = if !req.accept_fingerprint.is_empty() {
            Accept::Fingerprint(
                trust::normalize_fingerprint(&req.accept_fingerprint).ok_or_else(|| {
                    Error::Invalid(format!(
                        "{:?} is not a SHA-256 fingerprint (64 hex digits)",
                        req.accept_fingerprint
                    ))
                })?,
            )
        } else if req.accept_new {
            Accept::Any
        } else {
            Accept::No
        };
        let roots = trust::verifier::root_store(plan.ca_file.as_deref()).map_err(Error::Invalid)?;
        let cancel = CancellationToken::new();
        let generation = {
            let mut st = self.lock();
            if let Some(old) = st.target.take() {
                old.cancel.cancel();
            }
            if st.server != plan.server {
                st.last_room = 0;
            }
            st.generation += 1;
            st.conn = ConnState::Connecting;
            st.server = plan.server.clone();
            st.last_login = (plan.password.clone(), plan.display_name.clone());
            st.last_error.clear();
            st.fingerprint.clear();
            st.link = None;
            st.mirror = None;
            st.target = Some(Target {
                cancel: cancel.clone(),
            });
            st.generation
        };
        self.emit_status();
        let (first_tx, first_rx) = oneshot::channel();
        let engine = self.clone();
        tokio::spawn(async move {
            engine
                .run_target(generation, plan, accept, roots, cancel, first_tx)
                .await;
        });
        match first_rx.await {
            Ok(Ok(())) => Ok(self.status()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Failed("the connection was cancelled".into())),
        }
    }

    /// Drops the connection and stops reconnecting.
    pub async fn disconnect(&self) -> StatusReply {
        let link = {
            let mut st = self.lock();
            if let Some(t) = st.target.take() {
                t.cancel.cancel();
            }
            st.generation += 1;
            st.conn = ConnState::Disconnected;
            st.mirror = None;
            st.link.take()
        };
        if let Some(link) = link {
            link.conn.close(
                voice_proto::close::NORMAL.into(),
                b"disconnected by the user",
            );
        }
        self.publish_hash(None);
        self.emit_status();
        self.status()
    }

    fn plan(&self, req: &ConnectRequest) -> Result<Plan, Error> {
        let st = self.lock();
        let default_name = super::settings::default_name(&st.config, &self.inner.identity);
        let config_ca = st.config.ca_file.clone();
        let (current, last_login) = (st.server.clone(), st.last_login.clone());
        drop(st);
        let mut plan = Plan {
            server: req.server.clone(),
            password: req.password.clone(),
            display_name: req.display_name.clone(),
            admin_token: req.admin_token.clone(),
            ca_file: if req.ca_file.is_empty() {
                config_ca
            } else {
                Some(req.ca_file.clone().into())
            },
        };
        // A bookmark by name (explicitly, or when `server` names one).
        let name = if req.bookmark.is_empty() {
            &req.server
        } else {
            &req.bookmark
        };
        let marks = config::load_bookmarks(&self.inner.paths.bookmarks_file())
            .map_err(|e| Error::Failed(e.to_string()))?;
        match marks.iter().find(|b| b.name == *name) {
            Some(b) => {
                plan.server = b.server.clone();
                if plan.password.is_empty() {
                    plan.password = b.password.clone();
                }
                if plan.display_name.is_empty() {
                    plan.display_name = b.display_name.clone();
                }
            }
            None if !req.bookmark.is_empty() => {
                return Err(Error::NotFound(format!(
                    "no bookmark {name:?}; `voicectl server list` shows them"
                )));
            }
            None => {}
        }
        plan.server = dial::normalize_server(&plan.server).map_err(Error::Invalid)?;
        if plan.server == current {
            if plan.password.is_empty() {
                plan.password = last_login.0;
            }
            if plan.display_name.is_empty() {
                plan.display_name = last_login.1;
            }
        }
        if plan.display_name.is_empty() {
            plan.display_name = default_name;
        }
        Ok(plan)
    }

    fn current(&self, generation: u64) -> bool {
        self.lock().generation == generation
    }

    fn params(&self, plan: &Plan, accept: &Accept, roots: &rustls::RootCertStore) -> DialParams {
        let (room, session_pin) = {
            let st = self.lock();
            (st.last_room, st.session_pins.get(&plan.server).cloned())
        };
        let pinned = KnownServers::load(&self.inner.paths.known_servers_file())
            .ok()
            .and_then(|k| k.get(&plan.server).cloned())
            .or_else(|| {
                session_pin.map(|fp| trust::KnownServer {
                    server: plan.server.clone(),
                    fingerprint: fp,
                    first_seen_ms: trust::now_ms(),
                })
            });
        DialParams {
            server: plan.server.clone(),
            password: plan.password.clone(),
            display_name: plan.display_name.clone(),
            admin_token: plan.admin_token.clone(),
            room,
            share_history: self.lock().config.history_share,
            pinned,
            accept: accept.clone(),
            roots: roots.clone(),
        }
    }

    async fn run_target(
        &self,
        generation: u64,
        plan: Plan,
        accept: Accept,
        roots: rustls::RootCertStore,
        cancel: CancellationToken,
        first_tx: oneshot::Sender<Result<(), Error>>,
    ) {
        let mut first = Some(first_tx);
        let mut attempt: u32 = 0;
        let span = tracing::info_span!("server", server = %plan.server);
        let _enter = span.enter();
        loop {
            // The user's acceptance is for the first attempt; later ones use the pin.
            let accept_now = if first.is_some() {
                accept.clone()
            } else {
                Accept::No
            };
            let params = self.params(&plan, &accept_now, &roots);
            let limit = if first.is_some() {
                FIRST_ATTEMPT
            } else {
                RETRY_ATTEMPT
            };
            let identity = self.inner.identity.clone();
            let result = tokio::select! {
                () = cancel.cancelled() => return,
                r = tokio::time::timeout(limit, dial::dial(&params, &identity)) => r,
            };
            let error = match result {
                Ok(Ok(dialed)) => {
                    attempt = 0;
                    match self.install(generation, &plan, dialed) {
                        Ok(link) => {
                            if let Some(tx) = first.take() {
                                let _ = tx.send(Ok(()));
                            }
                            self.path_connected(&link);
                            let closed = tokio::select! {
                                () = cancel.cancelled() => {
                                    link.conn.close(voice_proto::close::NORMAL.into(), b"bye");
                                    return;
                                }
                                e = link.conn.closed() => e,
                                // Never ends: it watches the local address while the link lives.
                                never = self.watch_path(&link) => match never {},
                            };
                            self.path_lost();
                            tracing::info!(reason = %closed, "connection lost");
                            let err = DialError::from(closed);
                            self.uninstall(generation, &err.to_string());
                            err
                        }
                        Err(e) => DialError::Protocol(e.to_string()),
                    }
                }
                Ok(Err(e)) => e,
                Err(_) => DialError::Network(format!(
                    "no answer from {} within {} s (is the server running and its UDP port open?)",
                    plan.server,
                    limit.as_secs()
                )),
            };
            if !self.current(generation) {
                return;
            }
            let message = error.to_string();
            let stop = first.is_some() || !error.is_transient() && !is_loss(&error);
            if stop {
                {
                    let mut st = self.lock();
                    st.conn = ConnState::Disconnected;
                    st.last_error = message.clone();
                    st.target = None;
                }
                if let Some(prompt) = trust_prompt(&error) {
                    self.emit(event::Kind::Trust(prompt));
                }
                self.emit(event::Kind::Error(voice_proto::pb::control::ErrorEvent {
                    message: message.clone(),
                }));
                self.emit_status();
                if let Some(tx) = first.take() {
                    let _ = tx.send(Err(match (&error, trust_prompt(&error)) {
                        (DialError::Resolve(..), _) => Error::Invalid(message),
                        (_, Some(prompt)) => {
                            Error::Untrusted(Box::new(crate::error::Untrusted { message, prompt }))
                        }
                        (_, None) => Error::Failed(message),
                    }));
                }
                return;
            }
            let delay = self.inner.backoff.delay(attempt);
            attempt = attempt.saturating_add(1);
            {
                let mut st = self.lock();
                st.conn = ConnState::Reconnecting {
                    next_attempt_ms: trust::now_ms() + delay.as_millis() as u64,
                };
                st.last_error = message;
            }
            self.emit_status();
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    fn install(&self, generation: u64, plan: &Plan, d: dial::Dialed) -> Result<Arc<Link>, Error> {
        let w = &d.welcome;
        let snapshot = w.snapshot.clone().unwrap_or_default();
        let limits = voice_proto::Limits::from_server_limits(w.limits.as_ref());
        let mirror = Mirror::new(&snapshot, &w.hash, w.seq, limits)
            .map_err(|e| Error::Failed(e.to_string()))?;
        if let TrustDecision::Accepted { fingerprint } = &d.trust {
            // The user accepted this certificate: pin it now that it proved itself.
            let path = self.inner.paths.known_servers_file();
            let _writing = self.writing();
            let pinned = KnownServers::load(&path)
                .and_then(|mut k| k.pin(&plan.server, fingerprint, trust::now_ms()));
            if let Err(e) = pinned {
                tracing::warn!(error = %e, "cannot write known_servers");
            }
        }
        let link = Arc::new(Link::new(
            d.conn.clone(),
            w.session_id,
            w.limits.as_ref().map_or(0, |l| l.max_message_len),
            w.limits.as_ref().map_or(0, |l| l.max_file_size),
            d.control_tx,
            d.chat_tx,
            d.endpoint,
        ));
        let hash = mirror.state().hash();
        let me = mirror.state().session(w.session_id).cloned();
        let flags_needed;
        {
            let mut st = self.lock();
            if st.generation != generation {
                return Err(Error::Failed("superseded by another connection".into()));
            }
            st.conn = ConnState::Connected;
            st.last_error.clear();
            st.fingerprint = d.trust.fingerprint().to_owned();
            st.link = Some(link.clone());
            st.mirror = Some(mirror);
            if let Some(me) = &me {
                st.last_room = me.room;
            }
            let want_mute = st.voice.muted();
            let want_deaf = st.voice.deaf;
            // A recording in progress stays marked across reconnects.
            let want_recording = st.media.recording.is_some();
            flags_needed = me
                .as_ref()
                .is_some_and(|s| {
                    s.self_mute != want_mute
                        || s.self_deaf != want_deaf
                        || s.recording != want_recording
                })
                .then_some((want_mute, want_deaf, want_recording));
        }
        self.publish_hash(Some(hash));
        tracing::info!(session = w.session_id, server_name = %w.server_name, "logged in");
        readers::spawn(
            self.clone(),
            generation,
            link.clone(),
            d.control_rx,
            d.chat_rx,
        );
        self.emit_status();
        if let Ok(s) = self.state() {
            self.emit(event::Kind::State(s));
        }
        if let Some(me) = &me {
            self.auto_history(me.room);
        }
        if let Some((mute, deaf, recording)) = flags_needed {
            let engine = self.clone();
            let sid = w.session_id;
            tokio::spawn(async move {
                let r = engine
                    .propose(move |_, _| {
                        Ok(Kind::SetSessionFlags(SessionFlags {
                            session: sid,
                            self_mute: Some(mute),
                            self_deaf: Some(deaf),
                            recording: Some(recording),
                            ..Default::default()
                        }))
                    })
                    .await;
                if let Err(e) = r {
                    tracing::warn!(error = %e, "cannot restore mute/deaf/recording after login");
                }
            });
        }
        Ok(link)
    }

    fn uninstall(&self, generation: u64, error: &str) {
        let mut st = self.lock();
        if st.generation != generation {
            return;
        }
        if let Some(me) = st
            .link
            .as_ref()
            .and_then(|l| st.mirror.as_ref()?.state().session(l.session_id))
        {
            st.last_room = me.room;
        }
        if let Some(link) = st.link.take() {
            link.fail_pending();
        }
        st.mirror = None;
        st.last_error = error.to_owned();
        drop(st);
        self.publish_hash(None);
    }
}

/// A lost connection (not a refusal): worth reconnecting.
fn is_loss(e: &DialError) -> bool {
    match e {
        DialError::Refused { code, .. } => *code == voice_proto::close::SHUTDOWN,
        DialError::Protocol(_) => true,
        _ => false,
    }
}

/// The trust decision a front end should ask the user for, if any.
fn trust_prompt(e: &DialError) -> Option<voice_proto::pb::control::TrustPrompt> {
    match e {
        DialError::UnknownCertificate {
            server,
            fingerprint,
        } => Some(voice_proto::pb::control::TrustPrompt {
            server: server.clone(),
            fingerprint: fingerprint.clone(),
            ..Default::default()
        }),
        DialError::ChangedCertificate {
            server,
            fingerprint,
            pinned,
            pinned_ms,
            ..
        } => Some(voice_proto::pb::control::TrustPrompt {
            server: server.clone(),
            fingerprint: fingerprint.clone(),
            previous_fingerprint: pinned.clone(),
            previous_first_seen_ms: *pinned_ms,
        }),
        _ => None,
    }
}
