//! The one "Why can't I …?" line of the window: folded under a refused
//! action (in the notifications, in the access editor), unfolded it gives
//! the reason, which names the permission, the room and the rule.

use std::hash::Hash;

use eframe::egui;

use crate::model::refusal::Refusal;

/// Words before what the mirrored rules say, when they add to the reason.
pub const LOCAL: &str = "By the rules this window mirrors:";

/// Draws `refusal` as a foldable question (unfolded at first when `open`);
/// `salt` keeps two of them apart.
pub fn why_ui(ui: &mut egui::Ui, salt: impl Hash, refusal: &Refusal, open: bool) {
    egui::CollapsingHeader::new(&refusal.question)
        .id_salt(("why", salt))
        .default_open(open)
        .show(ui, |ui| {
            ui.add(egui::Label::new(&refusal.reason).wrap());
            if let Some(local) = &refusal.local {
                ui.add(egui::Label::new(format!("{LOCAL} {local}")).wrap());
            }
        });
}
