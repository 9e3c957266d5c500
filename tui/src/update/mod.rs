//! `update`: the pure step from (model, action) to (model', commands).

mod daemon;
mod keys;
mod modal;
mod mouse;
mod trust;

use crate::action::{Action, Command};
use crate::model::{App, DaemonLink};

pub use keys::PTT_KEY;
pub use trust::prompt_from_error;

/// Applies one action to the model and returns the calls to make. Pure: no
/// I/O, no clock; everything it needs is in `app` and `action`.
pub fn update(app: &mut App, action: Action) -> Vec<Command> {
    match action {
        Action::Key(key) => keys::on_key(app, key),
        Action::Mouse(mouse) => mouse::on_mouse(app, mouse),
        Action::Resize(w, h) => {
            app.size = (w, h);
            Vec::new()
        }
        Action::Tick(now_ms) => {
            app.now_ms = now_ms;
            Vec::new()
        }
        Action::KeyReleases(hold) => {
            app.ptt.hold = hold;
            Vec::new()
        }
        Action::DaemonUp => {
            app.daemon = DaemonLink::Up;
            app.notice = None;
            vec![Command::LoadBookmarks, Command::LoadChatHistory]
        }
        Action::DaemonDown { error } => {
            let attempts = match &app.daemon {
                DaemonLink::Down { attempts, .. } => attempts.saturating_add(1),
                _ => 1,
            };
            app.daemon = DaemonLink::Down { attempts, error };
            app.talking.clear();
            app.level = None;
            app.ptt.active = false;
            Vec::new()
        }
        Action::Daemon(event) => daemon::on_event(app, event),
        Action::Bookmarks(bookmarks) => {
            app.bookmarks = bookmarks;
            modal::clamp_connect_selection(app);
            Vec::new()
        }
        Action::ChatHistory(messages) => {
            app.chat.extend(messages);
            Vec::new()
        }
        Action::CallFailed { what, message } => {
            if let Some(prompt) = trust::prompt_from_error(&message) {
                trust::ask(app, prompt);
            }
            app.notice = Some(format!("{what} failed: {message}"));
            Vec::new()
        }
    }
}

/// Whether an action changes what is on screen: a tick only does while the
/// reconnect countdown shows.
pub fn needs_redraw(app: &App, action: &Action) -> bool {
    match action {
        Action::Tick(_) => {
            app.daemon == DaemonLink::Up
                && app.connection() == voice_proto::pb::control::ConnectionState::Reconnecting
                && app.status.next_attempt_ms > 0
        }
        _ => true,
    }
}
