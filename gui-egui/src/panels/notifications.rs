//! The notifications corner: joins, leaves and errors, newest at the
//! bottom, each dismissible; never in the way (no modal). A refused
//! action carries its "Why can't I …?" line.

use std::time::Duration;

use eframe::egui;

use crate::App;
use crate::model::Level;

/// Draws the notifications in the bottom-right corner.
pub fn notifications_ui(ctx: &egui::Context, app: &mut App) {
    if app.notifications.is_empty() {
        return;
    }
    // Wake up to let them fade even when nothing else happens.
    ctx.request_repaint_after(Duration::from_secs(1));
    let mut dismissed = None;
    egui::Area::new(egui::Id::new("notifications"))
        .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -84.0))
        .order(egui::Order::Foreground)
        .interactable(true)
        .show(ctx, |ui| {
            ui.set_max_width(380.0);
            for n in app.notifications.iter() {
                let (fill, text) = match n.level {
                    Level::Info => (ui.visuals().extreme_bg_color, ui.visuals().text_color()),
                    Level::Error => (
                        egui::Color32::from_rgb(90, 30, 30),
                        egui::Color32::from_rgb(255, 210, 200),
                    ),
                };
                egui::Frame::popup(ui.style()).fill(fill).show(ui, |ui| {
                    ui.horizontal(|ui| {
                        if ui.small_button("×").on_hover_text("Dismiss").clicked() {
                            dismissed = Some(n.id);
                        }
                        ui.add(egui::Label::new(egui::RichText::new(&n.text).color(text)).wrap());
                    });
                    if let Some(why) = &n.why {
                        ui.visuals_mut().override_text_color = Some(text);
                        crate::panels::why::why_ui(ui, n.id, why, false);
                    }
                });
            }
        });
    if let Some(id) = dismissed {
        app.notifications.dismiss(id);
    }
}
