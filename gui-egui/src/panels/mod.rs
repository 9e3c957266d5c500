//! One module per part of the window; each draws with a `*_ui` function
//! that reads the model and queues calls through [`App::send`](crate::App::send).

pub mod access;
pub mod chat;
pub mod connect;
pub mod files;
pub mod notifications;
pub mod offline;
pub mod rooms;
pub mod settings;
pub mod status;
pub mod toolbar;
pub mod user_menu;
pub mod why;

use eframe::egui;

/// A small filled dot (a talking light, the connection light), with an
/// accessible label saying what it means.
pub fn dot_ui(ui: &mut egui::Ui, color: egui::Color32, meaning: &str) -> egui::Response {
    let size = egui::vec2(12.0, ui.spacing().interact_size.y.min(18.0));
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::hover());
    ui.painter().circle_filled(rect.center(), 4.5, color);
    let meaning = meaning.to_owned();
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &meaning));
    response.on_hover_text(meaning)
}
