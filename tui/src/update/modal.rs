//! Keys while a dialog is open.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use voice_proto::pb::control::{Bookmark, ConnectRequest};

use voiced_client::trust::TrustAnswer;

use crate::action::Command;
use crate::model::{App, ConnectDialog, ConnectEntry, Modal, PromptKind};

pub(super) fn on_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let Some(modal) = app.modal.take() else {
        return Vec::new();
    };
    // The access and audio overlays make calls of their own (role and
    // settings changes).
    let modal = match modal {
        Modal::Acl(view) => {
            app.modal = super::access::acl_key(app, view, key);
            return Vec::new();
        }
        Modal::Roles(view) => return super::access::roles_key(app, view, key),
        Modal::Audio(view) => return super::audio::audio_key(app, view, key),
        Modal::Why => {
            app.modal = super::access::why_key(app, key);
            return Vec::new();
        }
        modal => modal,
    };
    let (keep, commands) = match modal {
        Modal::Help => (None, Vec::new()),
        Modal::Prompt { kind, text } => prompt_key(kind, text, key),
        Modal::ConfirmDelete { room, name } => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => (None, vec![Command::DeleteRoom(room)]),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => (None, Vec::new()),
            _ => (Some(Modal::ConfirmDelete { room, name }), Vec::new()),
        },
        Modal::Connect(dialog) => connect_key(app, dialog, key),
        Modal::Trust(prompt) => {
            let answer = match key.code {
                KeyCode::Char('a') | KeyCode::Char('y') => TrustAnswer::Always,
                KeyCode::Char('o') => TrustAnswer::Once,
                KeyCode::Char('n') | KeyCode::Esc => TrustAnswer::Cancel,
                _ => {
                    app.modal = Some(Modal::Trust(prompt));
                    return Vec::new();
                }
            };
            // The core repeats the refused request (it may carry a password),
            // or connects to the prompt's server when it was not made here.
            app.mirror.trust = Some(prompt);
            (None, app.mirror.answer_trust(answer))
        }
        open @ (Modal::Acl(_) | Modal::Roles(_) | Modal::Audio(_) | Modal::Why) => {
            (Some(open), Vec::new())
        }
    };
    app.modal = keep;
    commands.into_iter().map(|c| app.mirror.sent(c)).collect()
}

fn connect_key(
    app: &App,
    mut dialog: ConnectDialog,
    key: KeyEvent,
) -> (Option<Modal>, Vec<Command>) {
    let entries = app.connect_entries();
    let last = entries.len().saturating_sub(1);
    let entry = entries.get(dialog.selected).cloned();
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let mut commands = Vec::new();
    match key.code {
        KeyCode::Esc => return (None, Vec::new()),
        KeyCode::Up => dialog.selected = dialog.selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Tab => dialog.selected = (dialog.selected + 1).min(last),
        KeyCode::Enter => match entry {
            Some(ConnectEntry::Disconnect) => return (None, vec![Command::Disconnect]),
            Some(ConnectEntry::Bookmark(i)) => {
                if let Some(b) = app.mirror.bookmarks.get(i) {
                    let request = ConnectRequest {
                        bookmark: b.name.clone(),
                        ..ConnectRequest::default()
                    };
                    return (None, vec![Command::Connect(request)]);
                }
            }
            _ => {
                let server = dialog.address.trim().to_owned();
                if !server.is_empty() {
                    let request = ConnectRequest {
                        server,
                        password: dialog.password.clone(),
                        ..ConnectRequest::default()
                    };
                    return (None, vec![Command::Connect(request)]);
                }
            }
        },
        KeyCode::Delete => {
            if let Some(ConnectEntry::Bookmark(i)) = entry
                && let Some(b) = app.mirror.bookmarks.get(i)
            {
                commands.push(Command::RemoveBookmark(b.name.clone()));
            }
        }
        KeyCode::Char('s') if ctrl => {
            let server = dialog.address.trim().to_owned();
            if !server.is_empty() {
                commands.push(Command::SaveBookmark(Bookmark {
                    name: server.clone(),
                    server,
                    password: dialog.password.clone(),
                    ..Bookmark::default()
                }));
            }
        }
        KeyCode::Backspace | KeyCode::Char(_) if !ctrl => {
            // Typing goes to the selected field, or to the address.
            let password_at = entries.iter().position(|e| *e == ConnectEntry::Password);
            let field = if entry == Some(ConnectEntry::Password) {
                &mut dialog.password
            } else {
                dialog.selected = password_at.map_or(last, |p| p.saturating_sub(1));
                &mut dialog.address
            };
            match key.code {
                KeyCode::Char(c) => field.push(c),
                _ => {
                    field.pop();
                }
            }
        }
        _ => {}
    }
    (Some(Modal::Connect(dialog)), commands)
}

fn prompt_key(kind: PromptKind, mut text: String, key: KeyEvent) -> (Option<Modal>, Vec<Command>) {
    match key.code {
        KeyCode::Esc => return (None, Vec::new()),
        KeyCode::Enter => {
            let name = text.trim().to_owned();
            if name.is_empty() {
                return (None, Vec::new());
            }
            let command = match kind {
                PromptKind::NewRoom { parent } => Command::CreateRoom { parent, name },
                PromptKind::Rename { room } => Command::RenameRoom { room, name },
            };
            return (None, vec![command]);
        }
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => text.clear(),
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => text.push(c),
        _ => {}
    }
    (Some(Modal::Prompt { kind, text }), Vec::new())
}

/// Keeps the connect dialog's highlight on an existing entry after the
/// bookmarks change; a new dialog starts on the first bookmark, or the
/// address field when there is none.
pub(super) fn clamp_connect_selection(app: &mut App) {
    let entries = app.connect_entries();
    if let Some(Modal::Connect(dialog)) = app.modal.as_mut() {
        dialog.selected = dialog.selected.min(entries.len().saturating_sub(1));
    }
}
