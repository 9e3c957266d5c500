//! Events from voiced's `Watch` stream.

use voice_proto::State;
use voice_proto::StateHash;
use voice_proto::pb::control::event::Kind;
use voice_proto::pb::control::{ConnectionState, Event};

use crate::action::Command;
use crate::model::{App, RowKind, mirror_limits};

pub(super) fn on_event(app: &mut App, event: Event) -> Vec<Command> {
    let Some(kind) = event.kind else {
        return Vec::new();
    };
    match kind {
        Kind::Connection(status) => {
            let was_connected = app.connection() == ConnectionState::Connected;
            app.status = status;
            if app.connection() == ConnectionState::Connected {
                // Errors of earlier attempts are over.
                if !was_connected {
                    app.notice = None;
                }
            } else {
                app.talking.clear();
                if was_connected {
                    app.state = None;
                }
            }
            if !app.status.last_error.is_empty() && app.connection() != ConnectionState::Connected {
                app.notice = Some(app.status.last_error.clone());
            }
        }
        Kind::State(reply) => {
            let snapshot = reply.state.unwrap_or_default();
            match State::from_snapshot(&snapshot, mirror_limits()) {
                Ok(state) => {
                    if reply.session_id != 0 {
                        app.status.session_id = reply.session_id;
                    }
                    app.state = Some(state);
                    if app.selected.is_none() {
                        app.selected = Some(RowKind::Room(app.current_room()));
                    }
                }
                Err(e) => app.notice = Some(format!("voiced sent an invalid state: {e}")),
            }
        }
        Kind::Update(update) => {
            let Some(state) = app.state.as_mut() else {
                return vec![Command::LoadState];
            };
            let Some(change) = update.change else {
                return Vec::new();
            };
            let applied = state.apply(&change).is_ok();
            let matches =
                StateHash::from_slice(&update.resulting_hash).is_none_or(|h| h == state.hash());
            if !applied || !matches {
                return vec![Command::LoadState];
            }
            app.talking.retain(|s| {
                app.state
                    .as_ref()
                    .is_some_and(|st| st.session(*s).is_some())
            });
        }
        Kind::Chat(message) => {
            let in_view = message.room == app.current_room();
            app.chat.push(message);
            if in_view && app.chat_scroll > 0 {
                // Keep the lines in view where they are while reading back.
                app.chat_scroll += 1;
            }
        }
        Kind::Talking(t) => {
            if t.talking {
                app.talking.insert(t.session);
            } else {
                app.talking.remove(&t.session);
            }
        }
        Kind::Level(level) => app.level = Some(level),
        Kind::Error(e) => {
            if let Some(prompt) = super::trust::prompt_from_error(&e.message) {
                super::trust::ask(app, prompt);
            }
            app.notice = Some(e.message);
        }
        Kind::Device(d) => app.notice = Some(d.message),
        Kind::Trust(prompt) => super::trust::ask(app, prompt),
    }
    Vec::new()
}
