//! Keys of the files pane: choose a file or a transfer, download, cancel.

use crossterm::event::{KeyCode, KeyEvent};

use crate::action::Command;
use crate::model::{App, FilesRow, Focus, Modal, Pane};

/// How often an open files pane asks for the files again (their seeders
/// change without a change of state).
pub const FILES_REFRESH_MS: u64 = 5_000;

/// Opens the files pane of the current room and asks voiced for its files.
pub(super) fn open(app: &mut App) -> Vec<Command> {
    app.pane = Pane::Files;
    app.focus = Focus::Files;
    ask(app)
}

fn ask(app: &mut App) -> Vec<Command> {
    app.files_asked_ms = app.now_ms;
    vec![Command::LoadFiles(app.mirror.current_room())]
}

/// Back to the chat and the room tree.
fn close(app: &mut App) {
    app.pane = Pane::Chat;
    app.focus = Focus::Tree;
}

pub(super) fn on_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match key.code {
        KeyCode::Esc | KeyCode::Tab | KeyCode::Char('f') => close(app),
        KeyCode::Char('q') => app.quit = true,
        KeyCode::Char('?') => app.modal = Some(Modal::Help),
        KeyCode::Up | KeyCode::Char('k') => move_selection(app, -1),
        KeyCode::Down | KeyCode::Char('j') => move_selection(app, 1),
        KeyCode::Home | KeyCode::Char('g') => move_selection(app, isize::MIN),
        KeyCode::End | KeyCode::Char('G') => move_selection(app, isize::MAX),
        KeyCode::Char('r') => return ask(app),
        super::keys::WHY_KEY => super::access::open_why(app),
        KeyCode::Enter | KeyCode::Char('d') => {
            if let Some(FilesRow::File(id)) = selected(app) {
                return vec![Command::Download {
                    file: id.to_string(),
                    to: String::new(),
                }];
            }
        }
        KeyCode::Char('x') | KeyCode::Delete => {
            if let Some(FilesRow::Transfer(id)) = selected(app) {
                return vec![Command::CancelTransfer(id)];
            }
        }
        _ => {}
    }
    Vec::new()
}

/// An open files pane asks again every [`FILES_REFRESH_MS`].
pub(super) fn on_tick(app: &mut App) -> Vec<Command> {
    if app.pane == Pane::Files
        && app.mirror.files.is_some()
        && app.now_ms.saturating_sub(app.files_asked_ms) >= FILES_REFRESH_MS
    {
        return ask(app);
    }
    Vec::new()
}

/// The selected row, if it is still there.
fn selected(app: &App) -> Option<FilesRow> {
    let rows = app.files_rows();
    rows.get(app.files_selected_index(&rows)).copied()
}

fn move_selection(app: &mut App, delta: isize) {
    let rows = app.files_rows();
    if rows.is_empty() {
        return;
    }
    let next = super::keys::step(app.files_selected_index(&rows), rows.len(), delta);
    app.files_selected = Some(rows[next]);
}
