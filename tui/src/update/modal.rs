//! Keys while a dialog is open.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use voice_proto::pb::control::{Bookmark, ConnectRequest};

use crate::action::Command;
use crate::model::{App, ConnectEntry, Modal, PromptKind};

pub(super) fn on_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let Some(modal) = app.modal.take() else {
        return Vec::new();
    };
    let (keep, commands) = match modal {
        Modal::Help => (None, Vec::new()),
        Modal::Prompt { kind, text } => prompt_key(kind, text, key),
        Modal::ConfirmDelete { room, name } => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => (None, vec![Command::DeleteRoom(room)]),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => (None, Vec::new()),
            _ => (Some(Modal::ConfirmDelete { room, name }), Vec::new()),
        },
        Modal::Connect(mut dialog) => {
            let entries = app.connect_entries();
            let last = entries.len().saturating_sub(1);
            let entry = entries.get(dialog.selected).cloned();
            match key.code {
                KeyCode::Esc => (None, Vec::new()),
                KeyCode::Up => {
                    dialog.selected = dialog.selected.saturating_sub(1);
                    (Some(Modal::Connect(dialog)), Vec::new())
                }
                KeyCode::Down | KeyCode::Tab => {
                    dialog.selected = (dialog.selected + 1).min(last);
                    (Some(Modal::Connect(dialog)), Vec::new())
                }
                KeyCode::Enter => match entry {
                    Some(ConnectEntry::Disconnect) => (None, vec![Command::Disconnect]),
                    Some(ConnectEntry::Bookmark(i)) => match app.bookmarks.get(i) {
                        Some(b) => (
                            None,
                            vec![Command::Connect(ConnectRequest {
                                bookmark: b.name.clone(),
                                ..ConnectRequest::default()
                            })],
                        ),
                        None => (Some(Modal::Connect(dialog)), Vec::new()),
                    },
                    _ => {
                        let server = dialog.address.trim().to_owned();
                        if server.is_empty() {
                            (Some(Modal::Connect(dialog)), Vec::new())
                        } else {
                            (
                                None,
                                vec![Command::Connect(ConnectRequest {
                                    server,
                                    ..ConnectRequest::default()
                                })],
                            )
                        }
                    }
                },
                KeyCode::Delete => match entry {
                    Some(ConnectEntry::Bookmark(i)) => {
                        let commands = app
                            .bookmarks
                            .get(i)
                            .map(|b| vec![Command::RemoveBookmark(b.name.clone())])
                            .unwrap_or_default();
                        (Some(Modal::Connect(dialog)), commands)
                    }
                    _ => (Some(Modal::Connect(dialog)), Vec::new()),
                },
                KeyCode::Char('s') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    let server = dialog.address.trim().to_owned();
                    let commands = if server.is_empty() {
                        Vec::new()
                    } else {
                        vec![Command::SaveBookmark(Bookmark {
                            name: server.clone(),
                            server,
                            ..Bookmark::default()
                        })]
                    };
                    (Some(Modal::Connect(dialog)), commands)
                }
                KeyCode::Backspace => {
                    dialog.selected = last;
                    dialog.address.pop();
                    (Some(Modal::Connect(dialog)), Vec::new())
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    // Typing goes to the address field.
                    dialog.selected = last;
                    dialog.address.push(c);
                    (Some(Modal::Connect(dialog)), Vec::new())
                }
                _ => (Some(Modal::Connect(dialog)), Vec::new()),
            }
        }
        Modal::Trust(prompt) => {
            let trust = |permanent| {
                vec![
                    Command::Trust {
                        server: prompt.server.clone(),
                        fingerprint: prompt.fingerprint.clone(),
                        permanent,
                    },
                    Command::Connect(ConnectRequest {
                        server: prompt.server.clone(),
                        ..ConnectRequest::default()
                    }),
                ]
            };
            match key.code {
                KeyCode::Char('a') | KeyCode::Char('y') => (None, trust(true)),
                KeyCode::Char('o') => (None, trust(false)),
                KeyCode::Char('n') | KeyCode::Esc => (None, Vec::new()),
                _ => (Some(Modal::Trust(prompt)), Vec::new()),
            }
        }
    };
    app.modal = keep;
    commands
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
