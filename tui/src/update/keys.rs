//! Keys on the main screen: tree commands and the chat input line.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use voice_proto::pb::control::VoiceMode;
use voice_proto::state::ROOT;

use crate::action::Command;
use crate::model::{App, ConnectDialog, DaemonLink, Focus, Modal, Pane, PromptKind, RowKind};

/// The push-to-talk key (held where the terminal reports releases).
pub const PTT_KEY: KeyCode = KeyCode::Char(' ');

/// The key that loads the current room's earlier messages (its history).
pub const HISTORY_KEY: KeyCode = KeyCode::Char('h');

/// The key that shows the selected room's access rules (and who may do
/// what there).
pub const ACL_KEY: KeyCode = KeyCode::Char('a');

/// The key that shows the selected user's roles (yours on a room row).
pub const ROLES_KEY: KeyCode = KeyCode::Char('u');

/// The key that shows the audio settings (echo cancellation, automatic
/// gain, noise suppression; the codec and devices).
pub const AUDIO_KEY: KeyCode = KeyCode::Char('o');

/// The key that shows the last refusal in full ("why can't I …?").
pub const WHY_KEY: KeyCode = KeyCode::Char('w');

/// Step of `+`/`-` on a user's volume.
const VOLUME_STEP: f32 = 0.1;
/// Highest local volume voiced accepts.
const VOLUME_MAX: f32 = 4.0;
/// Chat lines one PageUp/PageDown moves.
const CHAT_PAGE: usize = 5;

pub(super) fn on_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    // Push-to-talk is the only key whose release matters.
    if key.code == PTT_KEY
        && app.modal.is_none()
        && matches!(app.focus, Focus::Tree | Focus::Files)
        && app.mirror.daemon == DaemonLink::Up
    {
        return push_to_talk(app, key.kind);
    }
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        app.quit = true;
        return Vec::new();
    }
    if app.modal.is_some() {
        return super::modal::on_key(app, key);
    }
    if let DaemonLink::Down { .. } | DaemonLink::Connecting = app.mirror.daemon {
        if matches!(key.code, KeyCode::Char('q') | KeyCode::Esc) {
            app.quit = true;
        }
        return Vec::new();
    }
    match app.focus {
        Focus::Tree => tree_key(app, key),
        Focus::Chat => chat_key(app, key),
        Focus::Files => super::files::on_key(app, key),
    }
}

fn push_to_talk(app: &mut App, kind: KeyEventKind) -> Vec<Command> {
    let pressed = match (app.ptt.hold, kind) {
        (true, KeyEventKind::Press) => true,
        (true, KeyEventKind::Release) => false,
        (false, KeyEventKind::Press) => !app.ptt.active,
        _ => return Vec::new(),
    };
    if pressed == app.ptt.active {
        return Vec::new();
    }
    app.ptt.active = pressed;
    vec![Command::PushToTalk(pressed)]
}

fn tree_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match key.code {
        KeyCode::Char('q') => app.quit = true,
        KeyCode::Char('?') => app.modal = Some(Modal::Help),
        KeyCode::Up | KeyCode::Char('k') => move_selection(app, -1),
        KeyCode::Down | KeyCode::Char('j') => move_selection(app, 1),
        KeyCode::Home | KeyCode::Char('g') => move_selection(app, isize::MIN),
        KeyCode::End | KeyCode::Char('G') => move_selection(app, isize::MAX),
        KeyCode::PageUp => scroll_chat(app, CHAT_PAGE as isize),
        KeyCode::PageDown => scroll_chat(app, -(CHAT_PAGE as isize)),
        KeyCode::Enter => {
            if let Some(RowKind::Room(id)) = app.selected
                && app
                    .mirror
                    .state
                    .as_ref()
                    .is_some_and(|s| s.room(id).is_some())
            {
                return vec![Command::Join(id.to_string())];
            }
        }
        KeyCode::Char('m') => {
            app.mirror.status.self_mute = !app.mirror.status.self_mute;
            return vec![Command::SetMute(app.mirror.status.self_mute)];
        }
        KeyCode::Char('d') => {
            app.mirror.status.self_deaf = !app.mirror.status.self_deaf;
            return vec![Command::SetDeaf(app.mirror.status.self_deaf)];
        }
        KeyCode::Char('v') => {
            let next = match app.mirror.voice_mode() {
                VoiceMode::VoiceActivity => VoiceMode::PushToTalk,
                VoiceMode::PushToTalk => VoiceMode::Continuous,
                _ => VoiceMode::VoiceActivity,
            };
            app.mirror.status.voice_mode = next as i32;
            return vec![Command::SetVoiceMode(next)];
        }
        KeyCode::Char('+') | KeyCode::Char('=') => return change_volume(app, VOLUME_STEP),
        KeyCode::Char('-') => return change_volume(app, -VOLUME_STEP),
        KeyCode::Char('n') => {
            if let Some(parent) = app.selected_room() {
                app.modal = Some(Modal::Prompt {
                    kind: PromptKind::NewRoom { parent },
                    text: String::new(),
                });
            }
        }
        KeyCode::Char('r') => {
            if let Some(RowKind::Room(room)) = app.selected
                && let Some(r) = app.mirror.state.as_ref().and_then(|s| s.room(room))
            {
                app.modal = Some(Modal::Prompt {
                    kind: PromptKind::Rename { room },
                    text: r.name.clone(),
                });
            }
        }
        KeyCode::Char('x') => {
            if let Some((room, name)) = selected_editable_room(app) {
                app.modal = Some(Modal::ConfirmDelete { room, name });
            }
        }
        KeyCode::Char('c') => {
            app.modal = Some(Modal::Connect(ConnectDialog::default()));
            super::modal::clamp_connect_selection(app);
            return vec![Command::LoadBookmarks];
        }
        KeyCode::Char('i') | KeyCode::Tab => {
            app.pane = Pane::Chat;
            app.focus = Focus::Chat;
        }
        KeyCode::Char('f') if app.mirror.state.is_some() => return super::files::open(app),
        HISTORY_KEY => return load_history(app),
        ACL_KEY => super::access::open_acl(app),
        ROLES_KEY => super::access::open_roles(app),
        WHY_KEY => super::access::open_why(app),
        AUDIO_KEY => return super::audio::open_audio(app),
        KeyCode::Esc => app.notice = None,
        _ => {}
    }
    Vec::new()
}

fn chat_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match key.code {
        KeyCode::Esc | KeyCode::Tab => app.focus = Focus::Tree,
        KeyCode::Enter => {
            let text = app.input.trim().to_owned();
            app.input.clear();
            app.chat_scroll = 0;
            if !text.is_empty() {
                return vec![Command::SendChat {
                    text,
                    room: String::new(),
                }];
            }
        }
        KeyCode::Backspace => {
            app.input.pop();
        }
        KeyCode::PageUp => scroll_chat(app, CHAT_PAGE as isize),
        KeyCode::PageDown => scroll_chat(app, -(CHAT_PAGE as isize)),
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => app.input.clear(),
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => app.input.push(c),
        _ => {}
    }
    Vec::new()
}

/// Asks voiced for the current room's earlier messages, where they are
/// offered (connected, history not off, not loading or loaded yet).
fn load_history(app: &mut App) -> Vec<Command> {
    let room = app.mirror.current_room();
    if !app.mirror.offers_history(room) {
        return Vec::new();
    }
    app.mirror.fetch_history(room).into_iter().collect()
}

/// Moves the selection by `delta` rows, clamped to the tree.
pub(super) fn move_selection(app: &mut App, delta: isize) {
    let rows = app.mirror.rows();
    if rows.is_empty() {
        return;
    }
    let next = step(app.selected_index(&rows), rows.len(), delta);
    app.selected = Some(rows[next].kind);
}

/// The row `delta` rows from `current` in a list of `len` (> 0), clamped.
pub(super) fn step(current: usize, len: usize, delta: isize) -> usize {
    (current as isize)
        .saturating_add(delta)
        .clamp(0, len as isize - 1) as usize
}

/// Scrolls the chat back (`delta` > 0) or forward.
pub(super) fn scroll_chat(app: &mut App, delta: isize) {
    app.chat_scroll = app.chat_scroll.saturating_add_signed(delta);
    let max = app.mirror.chat.in_room(app.mirror.current_room()).count();
    app.chat_scroll = app.chat_scroll.min(max.saturating_sub(1));
}

fn change_volume(app: &mut App, delta: f32) -> Vec<Command> {
    let Some(RowKind::User(session)) = app.selected else {
        return Vec::new();
    };
    if session == app.mirror.session_id() {
        return Vec::new();
    }
    let volume = ((app.mirror.volume(session) + delta) * 10.0).round() / 10.0;
    let volume = volume.clamp(0.0, VOLUME_MAX);
    app.mirror.volumes.insert(session, volume);
    vec![Command::SetUserVolume { session, volume }]
}

/// The selected room and its name, unless it is the root (which cannot be
/// deleted).
fn selected_editable_room(app: &App) -> Option<(u32, String)> {
    let RowKind::Room(id) = app.selected? else {
        return None;
    };
    let room = app.mirror.state.as_ref()?.room(id)?;
    (id != ROOT).then(|| (id, room.name.clone()))
}
