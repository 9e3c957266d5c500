//! The toolbar: connect, mute, deafen, voice mode, push-to-talk, settings;
//! and the push-to-talk key while the window has focus.

use eframe::egui;
use voice_proto::pb::control::{ConnectionState, VoiceMode};

use crate::App;
use crate::link::Command;

/// Label of the push-to-talk button.
pub const PTT_LABEL: &str = "Push to talk";

/// The voice modes in menu order, with their names.
pub const VOICE_MODES: [(VoiceMode, &str); 3] = [
    (VoiceMode::VoiceActivity, "Voice activity"),
    (VoiceMode::PushToTalk, "Push to talk"),
    (VoiceMode::Continuous, "Continuous"),
];

/// The name of a voice mode.
pub fn voice_mode_name(mode: VoiceMode) -> &'static str {
    VOICE_MODES
        .iter()
        .find(|(m, _)| *m == mode)
        .map_or("Voice activity", |(_, name)| name)
}

/// Draws the toolbar.
pub fn toolbar_ui(ui: &mut egui::Ui, app: &mut App) {
    ui.horizontal(|ui| {
        let connected = app.model.connection() != ConnectionState::Disconnected;
        if ui.button("Connect…").clicked() {
            app.connect.open_with(&app.model);
        }
        if connected && ui.button("Disconnect").clicked() {
            app.send(Command::Disconnect);
        }
        ui.separator();
        let muted = app.model.status.self_mute;
        if ui
            .add(egui::Button::new("Mute").selected(muted))
            .on_hover_text("Mute your microphone")
            .clicked()
        {
            app.send(Command::SetMute(!muted));
        }
        let deaf = app.model.status.self_deaf;
        if ui
            .add(egui::Button::new("Deafen").selected(deaf))
            .on_hover_text("Hear nobody (and mute your microphone)")
            .clicked()
        {
            app.send(Command::SetDeaf(!deaf));
        }
        ui.separator();
        let mode = app.model.voice_mode();
        let mut chosen = mode;
        egui::ComboBox::from_id_salt("voice-mode")
            .selected_text(voice_mode_name(mode))
            .show_ui(ui, |ui| {
                for (m, name) in VOICE_MODES {
                    ui.selectable_value(&mut chosen, m, name);
                }
            })
            .response
            .on_hover_text("Voice mode");
        if chosen != mode {
            app.send(Command::SetVoiceMode(chosen));
        }
        let held = ui
            .add(
                egui::Button::new(PTT_LABEL)
                    .selected(app.ptt_active)
                    .sense(egui::Sense::click_and_drag()),
            )
            .on_hover_text(format!(
                "Hold to talk (or hold {} while this window has focus)",
                app.settings.ptt_key.name()
            ))
            .is_pointer_button_down_on();
        app.ptt_button = held;
        ui.separator();
        if ui
            .add(egui::Button::new(super::files::FILES_BUTTON).selected(app.files_open))
            .on_hover_text("Files shared in this room, and your downloads")
            .clicked()
        {
            if app.files_open {
                app.files_open = false;
            } else {
                super::files::open(app);
            }
        }
        if ui.button("Settings…").clicked() {
            app.settings.open = true;
            app.send(Command::LoadAudioSettings);
            app.send(Command::LoadDevices);
        }
    });
}

/// Push-to-talk from the button and the key (only while no text field takes
/// the keyboard, and only while the window has focus).
pub fn ptt_key(ctx: &egui::Context, app: &mut App) {
    let key = app.settings.ptt_key;
    let (focused, key_down) = ctx.input(|i| (i.focused, i.key_down(key)));
    let typing = ctx.wants_keyboard_input();
    let on = app.ptt_button || (focused && key_down && !typing);
    app.set_ptt(on);
}
