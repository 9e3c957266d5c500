//! One report from the link folded into the model: pure (no I/O, the clock
//! is passed in); the calls it asks for are returned.

use std::collections::BTreeMap;

use voice_proto::StateHash;
use voice_proto::pb::control::event::Kind;
use voice_proto::pb::control::{ConnectionState, Event, StatusReply, TrustPrompt};
use voice_proto::{State, state::RoomId};
use voiced_client::link::Report;
use voiced_client::mirror::mirror_limits;
use voiced_client::trust::prompt_from_error;

use super::{DaemonLink, Level, Model};
use crate::link::{Answer, Command, Inbound};

impl Model {
    /// Applies one report; returns the calls it asks for.
    pub fn apply(&mut self, report: Inbound, now_ms: u64) -> Vec<Command> {
        match report {
            Report::Up => {
                self.daemon = DaemonLink::Up;
                // Audio settings and devices are asked for when the settings
                // open: an audio-less voiced refuses them, which is news only then.
                vec![
                    Command::LoadBookmarks,
                    Command::LoadChatHistory,
                    Command::LoadIdentity,
                ]
            }
            Report::Down { error } => {
                let attempts = match &self.daemon {
                    DaemonLink::Down { attempts, .. } => attempts.saturating_add(1),
                    _ => 1,
                };
                self.daemon = DaemonLink::Down { attempts, error };
                self.talking.clear();
                self.level = None;
                Vec::new()
            }
            Report::Event(event) => self.on_event(event, now_ms),
            Report::Answer(answer) => self.on_answer(answer, now_ms),
            Report::Failed { what, message } => {
                if let Some(prompt) = prompt_from_error(&message) {
                    self.ask_trust(prompt);
                } else if matches!(
                    what,
                    "audio settings" | "audio devices" | "change audio settings" | "select device"
                ) {
                    self.audio_error = Some(message.clone());
                }
                self.notifications
                    .push(Level::Error, format!("{what} failed: {message}"), now_ms);
                Vec::new()
            }
        }
    }

    fn on_answer(&mut self, answer: Answer, now_ms: u64) -> Vec<Command> {
        match answer {
            Answer::Status(status) => self.on_status(status, now_ms),
            Answer::State(reply) => {
                return self.on_event(
                    Event {
                        kind: Some(Kind::State(reply)),
                    },
                    now_ms,
                );
            }
            Answer::Bookmarks(bookmarks) => self.bookmarks = bookmarks,
            Answer::ChatHistory(messages) => self.chat.extend(messages),
            Answer::Identity(identity) => self.default_name = identity.display_name,
            Answer::Audio(config) => {
                self.audio = Some(config);
                self.audio_error = None;
            }
            Answer::Devices(devices) => self.devices = Some(devices),
            Answer::DeviceSelected => return vec![Command::LoadDevices],
        }
        Vec::new()
    }

    fn on_status(&mut self, status: StatusReply, now_ms: u64) {
        let was = self.connection();
        self.status = status;
        let now = self.connection();
        if now != ConnectionState::Connected {
            self.talking.clear();
            if was == ConnectionState::Connected {
                self.state = None;
            }
        }
        if now == ConnectionState::Connected && was != ConnectionState::Connected {
            self.notifications.push(
                Level::Info,
                format!("connected to {}", self.status.server),
                now_ms,
            );
        }
    }

    fn on_event(&mut self, event: Event, now_ms: u64) -> Vec<Command> {
        let Some(kind) = event.kind else {
            return Vec::new();
        };
        match kind {
            Kind::Connection(status) => self.on_status(status, now_ms),
            Kind::State(reply) => {
                let snapshot = reply.state.unwrap_or_default();
                match State::from_snapshot(&snapshot, mirror_limits()) {
                    Ok(state) => {
                        if reply.session_id != 0 {
                            self.status.session_id = reply.session_id;
                        }
                        self.state = Some(state);
                    }
                    Err(e) => self.notifications.push(
                        Level::Error,
                        format!("voiced sent an invalid state: {e}"),
                        now_ms,
                    ),
                }
            }
            Kind::Update(update) => {
                let Some(state) = self.state.as_mut() else {
                    return vec![Command::LoadState];
                };
                let Some(change) = update.change else {
                    return Vec::new();
                };
                let before = whereabouts(state);
                let applied = state.apply(&change).is_ok();
                let matches =
                    StateHash::from_slice(&update.resulting_hash).is_none_or(|h| h == state.hash());
                if !applied || !matches {
                    return vec![Command::LoadState];
                }
                let after = whereabouts(state);
                self.talking.retain(|s| after.contains_key(s));
                self.announce_moves(&before, &after, now_ms);
            }
            Kind::Chat(message) => self.chat.push(message),
            Kind::Talking(t) => {
                if t.talking {
                    self.talking.insert(t.session);
                } else {
                    self.talking.remove(&t.session);
                }
            }
            Kind::Level(level) => self.level = Some(level),
            Kind::Error(e) => {
                if let Some(prompt) = prompt_from_error(&e.message) {
                    self.ask_trust(prompt);
                }
                self.notifications.push(Level::Error, e.message, now_ms);
            }
            Kind::Device(d) => {
                self.notifications.push(Level::Info, d.message, now_ms);
                return vec![Command::LoadDevices];
            }
            Kind::Trust(prompt) => self.ask_trust(prompt),
        }
        Vec::new()
    }

    /// Shows a trust prompt, unless that fingerprint was just answered:
    /// voiced reports one refusal twice (an event and the failed call).
    pub fn ask_trust(&mut self, prompt: TrustPrompt) {
        if self.answered_fingerprint.as_deref() == Some(prompt.fingerprint.as_str()) {
            return;
        }
        self.trust = Some(prompt);
    }

    /// News of users who came, left, or entered or left our room.
    fn announce_moves(
        &mut self,
        before: &BTreeMap<u32, (String, RoomId)>,
        after: &BTreeMap<u32, (String, RoomId)>,
        now_ms: u64,
    ) {
        let own = self.session_id();
        let here = self.current_room();
        for (id, (name, room)) in after {
            if *id == own {
                continue;
            }
            match before.get(id) {
                None => self.notifications.push(
                    Level::Info,
                    format!("{name} connected ({})", self.room_path(*room)),
                    now_ms,
                ),
                Some((_, was)) if was != room && *room == here => {
                    self.notifications.push(
                        Level::Info,
                        format!("{name} joined your room"),
                        now_ms,
                    );
                }
                Some((_, was)) if was != room && *was == here => {
                    self.notifications.push(
                        Level::Info,
                        format!("{name} left for {}", self.room_path(*room)),
                        now_ms,
                    );
                }
                Some(_) => {}
            }
        }
        for (id, (name, _)) in before {
            if !after.contains_key(id) && *id != own {
                self.notifications
                    .push(Level::Info, format!("{name} disconnected"), now_ms);
            }
        }
    }
}

/// Every session's name and room.
fn whereabouts(state: &State) -> BTreeMap<u32, (String, RoomId)> {
    state
        .sessions()
        .values()
        .map(|s| (s.id, (s.name.clone(), s.room)))
        .collect()
}

#[cfg(test)]
mod tests {
    use voice_proto::pb::control::{ErrorEvent, StateReply};
    use voice_proto::pb::wire::{Change, Room, Session, StateUpdate, change};

    use super::*;
    use crate::model::Notification;

    fn event(kind: Kind) -> Inbound {
        Report::Event(Event { kind: Some(kind) })
    }

    fn texts(model: &Model) -> Vec<String> {
        model
            .notifications
            .iter()
            .map(|n: &Notification| n.text.clone())
            .collect()
    }

    /// A state with the root, a "Den" (id 1), us (session 1) in the root.
    fn connected() -> Model {
        let mut model = Model::new("/s");
        model.apply(Report::Up, 0);
        let mut state = State::new("Root", mirror_limits());
        let den = Change {
            kind: Some(change::Kind::AddRoom(Room {
                id: 1,
                parent: 0,
                name: "Den".into(),
                ..Room::default()
            })),
        };
        let me = Change {
            kind: Some(change::Kind::AddSession(Session {
                id: 1,
                name: "me".into(),
                public_key: vec![1; 32],
                ..Session::default()
            })),
        };
        state.apply(&den).unwrap();
        state.apply(&me).unwrap();
        model.apply(
            event(Kind::State(StateReply {
                state: Some(state.snapshot()),
                hash: Vec::new(),
                session_id: 1,
            })),
            0,
        );
        assert!(model.state.is_some(), "{:?}", texts(&model));
        model
    }

    fn update(model: &mut Model, kind: change::Kind) -> Vec<Command> {
        model.apply(
            event(Kind::Update(StateUpdate {
                seq: 0,
                change: Some(Change { kind: Some(kind) }),
                resulting_hash: Vec::new(),
                actor: 0,
            })),
            1,
        )
    }

    #[test]
    fn comings_and_goings_become_notifications() {
        let mut model = connected();
        let bob = Session {
            id: 2,
            name: "bob".into(),
            public_key: vec![2; 32],
            room: 1,
            ..Session::default()
        };
        assert!(update(&mut model, change::Kind::AddSession(bob)).is_empty());
        update(
            &mut model,
            change::Kind::MoveSession(voice_proto::pb::wire::SessionMove {
                session: 2,
                room: 0,
            }),
        );
        update(
            &mut model,
            change::Kind::RemoveSession(voice_proto::pb::wire::SessionRemove { id: 2 }),
        );
        assert_eq!(
            texts(&model),
            [
                "bob connected (/Den)",
                "bob joined your room",
                "bob disconnected"
            ]
        );
    }

    #[test]
    fn an_update_that_does_not_fit_asks_for_the_state() {
        let mut model = Model::new("/s");
        let commands = update(
            &mut model,
            change::Kind::RemoveSession(voice_proto::pb::wire::SessionRemove { id: 9 }),
        );
        assert_eq!(commands, [Command::LoadState]);
        let mut model = connected();
        let commands = update(
            &mut model,
            change::Kind::RemoveSession(voice_proto::pb::wire::SessionRemove { id: 9 }),
        );
        assert_eq!(commands, [Command::LoadState]);
    }

    #[test]
    fn a_refusal_reported_twice_asks_for_trust_once() {
        let mut model = Model::new("/s");
        let fp = "ab".repeat(32);
        let message = format!(
            "the certificate of 127.0.0.1:7878 is not trusted (self-signed); \
             its SHA-256 fingerprint is {fp}. …"
        );
        model.apply(event(Kind::Error(ErrorEvent { message })), 0);
        assert_eq!(
            model.trust.as_ref().map(|t| t.fingerprint.clone()),
            Some(fp.clone())
        );
        // Answered, then the failed call's copy arrives.
        model.trust = None;
        model.answered_fingerprint = Some(fp.clone());
        model.apply(
            Report::Failed {
                what: "connect",
                message: format!("the certificate of 127.0.0.1:7878 … fingerprint is {fp}."),
            },
            0,
        );
        assert!(model.trust.is_none());
    }

    #[test]
    fn audio_calls_refused_by_an_audio_less_voiced_are_news_not_blockers() {
        let mut model = Model::new("/s");
        model.apply(
            Report::Failed {
                what: "audio devices",
                message: "this voiced has no audio engine yet".into(),
            },
            0,
        );
        assert_eq!(
            model.audio_error.as_deref(),
            Some("this voiced has no audio engine yet")
        );
        assert_eq!(
            texts(&model),
            ["audio devices failed: this voiced has no audio engine yet"]
        );
        model.apply(
            Report::Down {
                error: "gone".into(),
            },
            0,
        );
        model.apply(
            Report::Down {
                error: "still gone".into(),
            },
            0,
        );
        assert_eq!(
            model.daemon,
            DaemonLink::Down {
                attempts: 2,
                error: "still gone".into()
            }
        );
    }
}
