//! `update`: the pure step from (model, action) to (model', commands).

mod access;
mod audio;
mod daemon;
mod files;
mod keys;
mod modal;
mod mouse;

use crate::action::{Action, Command};
use crate::model::{App, DaemonLink};

pub use files::FILES_REFRESH_MS;
pub use keys::{ACL_KEY, AUDIO_KEY, HISTORY_KEY, PTT_KEY, ROLES_KEY, WHY_KEY};

/// Applies one action to the model and returns the calls to make. Pure: no
/// I/O, no clock; everything it needs is in `app` and `action`.
pub fn update(app: &mut App, action: Action) -> Vec<Command> {
    let commands = match action {
        Action::Key(key) => keys::on_key(app, key),
        Action::Mouse(mouse) => mouse::on_mouse(app, mouse),
        Action::Resize(w, h) => {
            app.size = (w, h);
            Vec::new()
        }
        Action::Tick(now_ms) => {
            app.now_ms = now_ms;
            files::on_tick(app)
        }
        Action::KeyReleases(hold) => {
            app.ptt.hold = hold;
            Vec::new()
        }
        Action::Link(report) => daemon::on_report(app, report),
    };
    // A failure names only the kind of call: remember which one it was.
    for command in &commands {
        app.asked.insert(command.what(), command.clone());
    }
    commands
}

/// Whether an action changes what is on screen: a tick only does while the
/// reconnect countdown shows.
pub fn needs_redraw(app: &App, action: &Action) -> bool {
    match action {
        Action::Tick(_) => {
            app.mirror.daemon == DaemonLink::Up
                && app.mirror.connection()
                    == voice_proto::pb::control::ConnectionState::Reconnecting
                && app.mirror.status.next_attempt_ms > 0
        }
        _ => true,
    }
}
