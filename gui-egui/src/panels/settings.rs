//! Settings: input and output devices (applied at once), voice mode, the
//! detection threshold over a live input level meter, the push-to-talk key,
//! bitrate, frame size, and the microphone's noise suppression, echo
//! cancellation and automatic gain control. A voiced without an audio
//! engine answers the audio calls with an error: the window says so and
//! still works.

use eframe::egui;
use voice_proto::pb::control::{AudioConfig, Device, VoiceMode};

use crate::App;
use crate::link::Command;
use crate::panels::toolbar::VOICE_MODES;

/// Title of the settings window.
pub const SETTINGS_TITLE: &str = "Settings";
/// Opus frame sizes voiced accepts, in ms.
pub const FRAME_SIZES: [u32; 4] = [10, 20, 40, 60];
/// Opus bitrates voiced accepts, in bits per second.
pub const BITRATES: std::ops::RangeInclusive<u32> = 6_000..=128_000;

/// Hover text of the noise suppression checkbox.
pub const NOISE_SUPPRESSION_HINT: &str =
    "Takes steady background noise (fans, hum) out of your microphone.";
/// Hover text of the echo cancellation checkbox.
pub const ECHO_CANCELLATION_HINT: &str =
    "Removes what your speakers play from your microphone. Turn off with a headset.";
/// Hover text of the automatic gain control checkbox.
pub const AUTO_GAIN_HINT: &str =
    "Keeps your voice at an even level, however near the microphone you are.";

/// What the settings window keeps between frames.
#[derive(Clone, Debug)]
pub struct SettingsDialog {
    /// Shown.
    pub open: bool,
    /// The settings being edited (from voiced, or defaults until it answers).
    pub draft: Option<AudioConfig>,
    /// voiced's settings the draft started from (`None`: defaults, voiced
    /// has not answered); while the draft is unchanged it follows voiced.
    pub base: Option<AudioConfig>,
    /// The push-to-talk key (while the window has focus).
    pub ptt_key: egui::Key,
    /// Waiting for a key press to become the push-to-talk key.
    pub capturing: bool,
}

impl Default for SettingsDialog {
    fn default() -> Self {
        Self {
            open: false,
            draft: None,
            base: None,
            ptt_key: egui::Key::F9,
            capturing: false,
        }
    }
}

/// Settings to edit before voiced has answered (or when it has no audio engine).
pub fn default_config(mode: VoiceMode) -> AudioConfig {
    AudioConfig {
        voice_mode: mode as i32,
        bitrate: 32_000,
        frame_ms: 20,
        vad_threshold: 0.5,
        noise_suppression: true,
        input_device: String::new(),
        output_device: String::new(),
        echo_cancellation: true,
        auto_gain: true,
    }
}

/// Draws the settings window when open.
pub fn settings_ui(ctx: &egui::Context, app: &mut App) {
    if !app.settings.open {
        return;
    }
    follow_voiced(app);
    let mut open = true;
    egui::Window::new(SETTINGS_TITLE)
        .collapsible(false)
        .default_width(420.0)
        .open(&mut open)
        .show(ctx, |ui| {
            if let Some(error) = &app.model.audio_error {
                ui.colored_label(
                    egui::Color32::from_rgb(230, 180, 60),
                    format!("voiced's audio is not available: {error}"),
                );
                ui.separator();
            }
            devices_ui(ui, app);
            ui.separator();
            voice_ui(ui, app);
            ui.separator();
            codec_ui(ui, app);
        });
    app.settings.open = open;
    if !open {
        app.settings.capturing = false;
    }
}

/// The draft takes voiced's settings when they come, and later ones while
/// it is unchanged (a change from voicectl, an answer to Apply), so what
/// the window shows and Apply writes back is what voiced holds, edits aside.
fn follow_voiced(app: &mut App) {
    let settings = &mut app.settings;
    match &app.model.audio {
        Some(voiced) => {
            // Unedited, or applied and answered: in step with voiced.
            let unedited = settings.base.is_none()
                || settings.draft == settings.base
                || settings.draft.as_ref() == Some(voiced);
            if unedited {
                settings.draft = Some(voiced.clone());
                settings.base = Some(voiced.clone());
            }
        }
        None => {
            if settings.draft.is_none() {
                settings.draft = Some(default_config(app.model.voice_mode()));
            }
        }
    }
}

fn device_picker(ui: &mut egui::Ui, label: &str, devices: &[Device]) -> Option<String> {
    let current = devices
        .iter()
        .find(|d| d.selected)
        .map_or("Default".to_owned(), |d| d.name.clone());
    let mut chosen = None;
    ui.horizontal(|ui| {
        ui.label(label);
        egui::ComboBox::from_id_salt(label)
            .selected_text(&current)
            .width(280.0)
            .show_ui(ui, |ui| {
                if ui.selectable_label(false, "Default").clicked() {
                    chosen = Some(String::new());
                }
                for d in devices {
                    let name = if d.is_default {
                        format!("{} (default)", d.name)
                    } else {
                        d.name.clone()
                    };
                    if ui.selectable_label(d.selected, name).clicked() {
                        chosen = Some(d.name.clone());
                    }
                }
            });
    });
    chosen
}

fn devices_ui(ui: &mut egui::Ui, app: &mut App) {
    ui.label(egui::RichText::new("Devices").strong());
    let (inputs, outputs, backend) = app.model.devices.as_ref().map_or_else(
        || (Vec::new(), Vec::new(), String::new()),
        |d| (d.inputs.clone(), d.outputs.clone(), d.backend.clone()),
    );
    if !backend.is_empty() {
        ui.weak(format!("Audio backend: {backend}"));
    }
    if let Some(name) = device_picker(ui, "Input", &inputs) {
        app.send(Command::SelectDevice { input: true, name });
    }
    if let Some(name) = device_picker(ui, "Output", &outputs) {
        app.send(Command::SelectDevice { input: false, name });
    }
}

fn voice_ui(ui: &mut egui::Ui, app: &mut App) {
    ui.label(egui::RichText::new("Voice").strong());
    let mode = app.model.voice_mode();
    ui.horizontal(|ui| {
        for (m, name) in VOICE_MODES {
            if ui.radio(mode == m, name).clicked() && mode != m {
                app.send(Command::SetVoiceMode(m));
            }
        }
    });
    let Some(draft) = app.settings.draft.as_mut() else {
        return;
    };
    ui.add(
        egui::Slider::new(&mut draft.vad_threshold, 0.0..=1.0)
            .text("Detection threshold")
            .fixed_decimals(2),
    );
    level_meter_ui(ui, app.model.level.as_ref(), draft.vad_threshold);
    ui.horizontal(|ui| {
        ui.label("Push-to-talk key");
        let text = if app.settings.capturing {
            "Press a key…".to_owned()
        } else {
            app.settings.ptt_key.name().to_owned()
        };
        if ui.button(text).clicked() {
            app.settings.capturing = true;
        }
        ui.weak("(while this window has focus)");
    });
    if app.settings.capturing {
        let pressed = ui.input(|i| {
            i.events.iter().find_map(|e| match e {
                egui::Event::Key {
                    key, pressed: true, ..
                } => Some(*key),
                _ => None,
            })
        });
        if let Some(key) = pressed {
            if key != egui::Key::Escape {
                app.set_ptt_key(key);
            }
            app.settings.capturing = false;
        }
    }
}

/// The microphone level: voice probability against the threshold, and the
/// peak in dBFS.
fn level_meter_ui(
    ui: &mut egui::Ui,
    level: Option<&voice_proto::pb::control::InputLevel>,
    threshold: f32,
) {
    let Some(level) = level else {
        ui.weak("Input level: no microphone data from voiced");
        return;
    };
    let bar = ui.add(
        egui::ProgressBar::new(level.voice.clamp(0.0, 1.0))
            .desired_width(ui.available_width().min(320.0))
            .text(format!(
                "voice {:.0}% · peak {:.0} dBFS{}",
                level.voice * 100.0,
                level.dbfs,
                if level.transmitting {
                    " · sending"
                } else {
                    ""
                }
            )),
    );
    let x = bar.rect.left() + bar.rect.width() * threshold.clamp(0.0, 1.0);
    ui.painter().vline(
        x,
        bar.rect.y_range(),
        egui::Stroke::new(2.0, egui::Color32::from_rgb(230, 180, 60)),
    );
}

fn codec_ui(ui: &mut egui::Ui, app: &mut App) {
    ui.label(egui::RichText::new("Codec").strong());
    let Some(mut draft) = app.settings.draft.take() else {
        return;
    };
    let mut kbps = draft.bitrate.clamp(*BITRATES.start(), *BITRATES.end()) / 1000;
    if ui
        .add(
            egui::Slider::new(&mut kbps, BITRATES.start() / 1000..=BITRATES.end() / 1000)
                .text("Bitrate (kbit/s)"),
        )
        .changed()
    {
        draft.bitrate = kbps * 1000;
    }
    ui.horizontal(|ui| {
        ui.label("Frame size");
        for ms in FRAME_SIZES {
            ui.radio_value(&mut draft.frame_ms, ms, format!("{ms} ms"));
        }
    });
    ui.checkbox(&mut draft.noise_suppression, "Noise suppression")
        .on_hover_text(NOISE_SUPPRESSION_HINT);
    ui.checkbox(&mut draft.echo_cancellation, "Echo cancellation")
        .on_hover_text(ECHO_CANCELLATION_HINT);
    ui.checkbox(&mut draft.auto_gain, "Automatic gain control")
        .on_hover_text(AUTO_GAIN_HINT);
    ui.horizontal(|ui| {
        if ui.button("Apply").clicked() {
            let mut config = draft.clone();
            // Mode and devices have their own calls; send what voiced has.
            config.voice_mode = app.model.voice_mode() as i32;
            app.send(Command::SetAudioSettings(config));
        }
        if ui.button("Revert").clicked()
            && let Some(audio) = &app.model.audio
        {
            draft = audio.clone();
            app.settings.base = Some(audio.clone());
        }
    });
    app.settings.draft = Some(draft);
}
