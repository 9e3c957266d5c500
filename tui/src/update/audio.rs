//! Keys of the audio settings overlay: choose a switch, turn it on or off
//! (the whole settings written back, as voiced holds them with that one
//! changed).

use crossterm::event::{KeyCode, KeyEvent};

use crate::action::Command;
use crate::model::{App, AudioSwitch, AudioView, Modal};

/// Opens the audio settings and asks voiced for them (they are asked for
/// where they are shown: an audio-less voiced may refuse them).
pub(super) fn open_audio(app: &mut App) -> Vec<Command> {
    app.modal = Some(Modal::Audio(AudioView::default()));
    vec![Command::LoadAudioSettings]
}

/// Keys of the audio settings overlay.
pub(super) fn audio_key(app: &mut App, mut view: AudioView, key: KeyEvent) -> Vec<Command> {
    let last = AudioSwitch::ALL.len() - 1;
    let mut calls = Vec::new();
    match key.code {
        KeyCode::Esc | KeyCode::Char('q') | super::keys::AUDIO_KEY => return Vec::new(),
        KeyCode::Up | KeyCode::Char('k') => view.selected = view.selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => view.selected = (view.selected + 1).min(last),
        KeyCode::Enter | KeyCode::Char(' ') => {
            // Flipped from what voiced last said is in force: the answer
            // (or the refusal) shows what became of it.
            if let (Some(switch), Some(config)) = (
                AudioSwitch::ALL.get(view.selected),
                app.mirror.audio.as_ref(),
            ) {
                calls.push(Command::SetAudioSettings(switch.flipped(config)));
            }
        }
        _ => {}
    }
    app.modal = Some(Modal::Audio(view));
    calls
}
