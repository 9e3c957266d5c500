//! The native window.

use std::path::PathBuf;

use eframe::egui;

use crate::App;

/// The window's title (also how the screenshot script finds it).
pub const TITLE: &str = "voice-gui";

/// Opens the window against voiced's socket and runs until it is closed.
pub fn run(socket: PathBuf) -> Result<(), eframe::Error> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(TITLE)
            .with_app_id("voice-gui")
            .with_inner_size([1000.0, 640.0])
            .with_min_inner_size([560.0, 360.0]),
        ..eframe::NativeOptions::default()
    };
    eframe::run_native(
        TITLE,
        options,
        Box::new(move |cc| {
            let app = App::new(socket, crate::prefs::default_path(), &cc.egui_ctx)?;
            Ok(Box::new(app))
        }),
    )
}
