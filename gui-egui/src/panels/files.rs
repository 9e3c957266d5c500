//! The files panel (right): the files shared in the current room, each with
//! a *Download* button, and voiced's transfers with progress bars, how their
//! peers are connected (directly or through the server's relay), *Cancel*,
//! and *Open folder* once a download is complete.

use std::path::Path;

use eframe::egui;
use voice_proto::pb::control::{ConnectionState, Transfer, TransferKind, TransferState};
use voiced_client::files::{
    TransferRoute, human_size, human_speed, percent, progress, route_words, transfer_route,
    transfer_state, transfer_state_name,
};
use voiced_client::text::printable;

use crate::App;
use crate::app::now_ms;
use crate::link::Command;
use crate::model::Level;

/// Label of the toolbar button that shows or hides this panel.
pub const FILES_BUTTON: &str = "Files";
/// Label of a file's (and a magnet link's) download button.
pub const DOWNLOAD: &str = "Download";
/// Label of a transfer's cancel button.
pub const CANCEL: &str = "Cancel";
/// Label of a complete download's button that shows its folder.
pub const OPEN_FOLDER: &str = "Open folder";
/// What a transfer's route label starts with (`Route: direct`).
pub const ROUTE: &str = "Route: ";

/// How often an open panel asks for the files again (their seeders change
/// without a change of state).
const REFRESH_MS: u64 = 5_000;

/// Opens the panel and asks voiced for the current room's files.
pub fn open(app: &mut App) {
    app.files_open = true;
    ask(app);
}

fn ask(app: &mut App) {
    app.files_asked_ms = now_ms();
    app.send(Command::LoadFiles(app.model.current_room()));
}

/// Starts a download (a magnet link or a file id) into voiced's download
/// directory and shows the panel, where its progress is.
pub fn download(app: &mut App, file: String) {
    app.send(Command::Download {
        file,
        to: String::new(),
    });
    if !app.files_open {
        open(app);
    }
}

/// Draws the panel.
pub fn files_ui(ui: &mut egui::Ui, app: &mut App) {
    if now_ms().saturating_sub(app.files_asked_ms) >= REFRESH_MS {
        ask(app);
    }
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_millis(REFRESH_MS));
    let room = app.model.current_room();
    ui.heading(format!("Files {}", printable(&app.model.room_path(room))));
    ui.separator();
    egui::ScrollArea::vertical()
        .id_salt("files")
        .max_height(ui.available_height() / 2.0)
        .auto_shrink([false, true])
        .show(ui, |ui| shared_files_ui(ui, app));
    ui.separator();
    ui.heading("Transfers");
    egui::ScrollArea::vertical()
        .id_salt("transfers")
        .auto_shrink([false, true])
        .show(ui, |ui| transfers_ui(ui, app));
}

fn shared_files_ui(ui: &mut egui::Ui, app: &mut App) {
    if app.model.connection() != ConnectionState::Connected {
        ui.weak("Connect to a server to see its files.");
        return;
    }
    let Some(files) = app.model.files_here() else {
        ui.weak("Asking voiced for the files…");
        return;
    };
    if files.is_empty() {
        ui.weak("No files shared in this room.");
        return;
    }
    let mut wanted = None;
    for file in files {
        ui.horizontal(|ui| {
            if ui
                .button(DOWNLOAD)
                .on_hover_text(format!("Download {}", printable(&file.name)))
                .clicked()
            {
                wanted = Some(file.id.to_string());
            }
            ui.vertical(|ui| {
                ui.label(egui::RichText::new(printable(&file.name)).strong());
                let seeders = if file.seeders == 1 {
                    "seeder"
                } else {
                    "seeders"
                };
                ui.weak(format!(
                    "{} · from {} · {} {seeders}",
                    human_size(file.size),
                    printable(&file.sharer),
                    file.seeders
                ));
            });
        });
    }
    if let Some(file) = wanted {
        download(app, file);
    }
}

fn transfers_ui(ui: &mut egui::Ui, app: &mut App) {
    if app.model.transfers.is_empty() {
        ui.weak("No downloads or shares yet.");
        return;
    }
    let mut cancel = None;
    let mut open_failed = None;
    for t in app.model.transfer_list() {
        ui.group(|ui| {
            ui.horizontal(|ui| {
                let arrow = if t.kind == TransferKind::Download as i32 {
                    "⬇"
                } else {
                    "⬆"
                };
                ui.label(format!("{arrow} {}", printable(&t.name)));
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui.small_button(CANCEL).clicked() {
                        cancel = Some(t.id);
                    }
                    if transfer_state(t) == TransferState::Complete
                        && ui.small_button(OPEN_FOLDER).clicked()
                        && let Err(e) = open_folder(Path::new(&t.path))
                    {
                        open_failed = Some(format!("cannot open the folder of {}: {e}", t.path));
                    }
                });
            });
            ui.add(
                egui::ProgressBar::new(progress(t) as f32)
                    .text(progress_text(t))
                    .fill(bar_color(t)),
            );
            route_ui(ui, t);
            if transfer_state(t) == TransferState::Failed && !t.error.is_empty() {
                ui.colored_label(ui.visuals().error_fg_color, printable(&t.error));
            }
        });
    }
    if let Some(id) = cancel {
        app.send(Command::CancelTransfer(id));
    }
    if let Some(message) = open_failed {
        app.notifications.push(Level::Error, message, now_ms());
    }
}

/// How a transfer's peers are connected, as a label: `Route: direct`,
/// `Route: relayed (1 of 2 peers, 14.2 MiB)`; nothing with no peer.
fn route_ui(ui: &mut egui::Ui, t: &Transfer) {
    let route = transfer_route(t);
    if route == TransferRoute::NoPeer {
        return;
    }
    let text = egui::RichText::new(route_text(t)).small();
    if t.relayed_peers > 0 {
        ui.label(text.color(ui.visuals().warn_fg_color))
            .on_hover_text(
                "Some peers reach each other only through the server's relay \
             (both behind NAT): slower, and it uses the server's bandwidth.",
            );
    } else {
        ui.label(text.weak());
    }
}

/// The words of a transfer's route label (its accessible name too).
pub fn route_text(t: &Transfer) -> String {
    format!("{ROUTE}{}", route_words(t))
}

/// The words on a transfer's progress bar.
pub fn progress_text(t: &Transfer) -> String {
    match transfer_state(t) {
        TransferState::Downloading => format!(
            "{}% of {} · {} · {} peers",
            percent(t),
            human_size(t.size),
            human_speed(t.download_bps),
            t.peers
        ),
        TransferState::Seeding => format!(
            "seeding {} · ↑ {} · {} peers",
            human_size(t.size),
            human_speed(t.upload_bps),
            t.peers
        ),
        TransferState::Complete => format!("complete · {}", human_size(t.size)),
        _ => transfer_state_name(t.state).to_owned(),
    }
}

fn bar_color(t: &Transfer) -> egui::Color32 {
    match transfer_state(t) {
        TransferState::Failed => egui::Color32::from_rgb(0xc0, 0x40, 0x40),
        TransferState::Complete | TransferState::Seeding => {
            egui::Color32::from_rgb(0x3c, 0x96, 0x4b)
        }
        _ => egui::Color32::from_rgb(0x3c, 0x6e, 0xb4),
    }
}

/// Shows the folder that holds `file` in the system's file manager.
pub fn open_folder(file: &Path) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(file);
    let opener = if cfg!(windows) {
        "explorer"
    } else if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    // Not waited for: the file manager lives on its own.
    std::process::Command::new(opener)
        .arg(dir)
        .spawn()
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bars_say_how_far_how_fast_and_from_how_many() {
        let mut t = Transfer {
            kind: TransferKind::Download as i32,
            state: TransferState::Downloading as i32,
            size: 4 * 1024 * 1024,
            done_bytes: 1024 * 1024,
            download_bps: 2 * 1024 * 1024,
            peers: 3,
            ..Transfer::default()
        };
        assert_eq!(progress_text(&t), "25% of 4.0 MiB · 2.0 MiB/s · 3 peers");
        t.state = TransferState::Complete as i32;
        assert_eq!(progress_text(&t), "complete · 4.0 MiB");
        t.state = TransferState::Checking as i32;
        assert_eq!(progress_text(&t), "checking");
    }

    #[test]
    fn route_labels_say_how_many_peers_come_through_the_relay() {
        let mut t = Transfer {
            peers: 2,
            route: "direct".into(),
            ..Transfer::default()
        };
        assert_eq!(route_text(&t), "Route: direct");
        t.route = "mixed".into();
        t.relayed_peers = 1;
        t.relayed_bytes = 3 * 1024 * 1024;
        assert_eq!(route_text(&t), "Route: mixed (1 of 2 peers, 3.0 MiB)");
    }
}
