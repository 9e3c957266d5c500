//! The status line: server, connection state, reconnect countdown, link quality.

use eframe::egui;
use voice_proto::pb::control::ConnectionState;
use voiced_client::text::printable;

use crate::App;
use crate::app::now_ms;

/// The connection in words, as the status line shows it.
pub fn connection_text(app: &App, now_ms: u64) -> String {
    let status = &app.model.status;
    let server = if status.server.is_empty() {
        "no server"
    } else {
        status.server.as_str()
    };
    match app.model.connection() {
        ConnectionState::Connected => format!(
            "Connected to {server} as {} · rtt {} ms · loss {:.1}%",
            status.display_name,
            status.rtt_ms,
            f64::from(status.loss_permille) / 10.0
        ),
        ConnectionState::Connecting => format!("Connecting to {server}…"),
        ConnectionState::Reconnecting => {
            let wait = status.next_attempt_ms.saturating_sub(now_ms);
            let mut text = format!("Reconnecting to {server} in {:.1} s", wait as f64 / 1000.0);
            if !status.last_error.is_empty() {
                text.push_str(&format!(" ({})", printable(&status.last_error)));
            }
            text
        }
        ConnectionState::Disconnected | ConnectionState::Unspecified => {
            if status.last_error.is_empty() {
                "Disconnected".to_owned()
            } else {
                format!("Disconnected: {}", printable(&status.last_error))
            }
        }
    }
}

/// Draws the status line.
pub fn status_ui(ui: &mut egui::Ui, app: &mut App) {
    let color = match app.model.connection() {
        ConnectionState::Connected => egui::Color32::from_rgb(80, 200, 120),
        ConnectionState::Connecting | ConnectionState::Reconnecting => {
            egui::Color32::from_rgb(230, 180, 60)
        }
        _ => egui::Color32::GRAY,
    };
    ui.horizontal(|ui| {
        crate::panels::dot_ui(ui, color, "connection");
        ui.label(connection_text(app, now_ms()));
    });
}
