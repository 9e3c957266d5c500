//! The window while voiced is not reachable: what is wrong, how to start it,
//! and that the window keeps trying.

use eframe::egui;
use voiced_client::HOW_TO_START;

use crate::App;
use crate::model::DaemonLink;

/// Title of the view while voiced does not answer.
pub const NOT_RUNNING: &str = "voiced is not running";

/// Draws the "voiced is not running" view (or the first attempt).
pub fn offline_ui(ui: &mut egui::Ui, app: &mut App) {
    ui.vertical_centered(|ui| {
        ui.add_space(ui.available_height() / 4.0);
        match &app.model.daemon {
            DaemonLink::Connecting | DaemonLink::Up => {
                ui.heading("Reaching voiced…");
                ui.spinner();
            }
            DaemonLink::Down { attempts, error } => {
                ui.heading(NOT_RUNNING);
                ui.add_space(8.0);
                ui.label(format!(
                    "voice-gui talks to voiced, your voice chat daemon: {HOW_TO_START}."
                ));
                ui.add_space(4.0);
                ui.label(format!("Socket: {}", app.socket));
                ui.weak(format!("Last error: {error}"));
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("Trying again every second (attempt {attempts})…"));
                });
            }
        }
    });
}
