//! The connect dialog (bookmarks, server, password, display name) and the
//! trust prompt for a server certificate: accept once, always, or cancel for
//! an unknown one; a loud refusal for one that changed.

use eframe::egui;
use voice_proto::pb::control::{Bookmark, ConnectRequest, TrustPrompt};
use voiced_client::trust::TrustAnswer as Answer;

use crate::App;
use crate::link::Command;
use crate::model::Mirror;

/// Title of the connect dialog.
pub const CONNECT_TITLE: &str = "Connect to a server";
/// Title of the prompt for an unknown certificate.
pub const UNKNOWN_TITLE: &str = "Unknown server certificate";
/// Title of the refusal for a changed certificate.
pub const CHANGED_TITLE: &str = "SERVER CERTIFICATE CHANGED";
/// Button: trust the certificate for this run of voiced only.
pub const ACCEPT_ONCE: &str = "Accept once";
/// Button: pin the certificate.
pub const ACCEPT_ALWAYS: &str = "Accept always";

/// The fields of the connect dialog.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectDialog {
    /// Shown.
    pub open: bool,
    /// host or host:port.
    pub server: String,
    /// Server password (may be empty).
    pub password: String,
    /// Display name on this server (empty = the identity's default).
    pub display_name: String,
    /// Name to save the fields under as a bookmark.
    pub bookmark_name: String,
}

impl ConnectDialog {
    /// Opens the dialog; empty fields start from the current (or last)
    /// server and the name used there, else the identity's default name.
    pub fn open_with(&mut self, model: &Mirror) {
        self.open = true;
        if self.server.is_empty() {
            self.server = model.status.server.clone();
        }
        if self.display_name.is_empty() {
            self.display_name = if model.status.display_name.is_empty() {
                model.default_name.clone()
            } else {
                model.status.display_name.clone()
            };
        }
    }

    /// The connect request these fields make.
    pub fn request(&self) -> ConnectRequest {
        ConnectRequest {
            server: self.server.trim().to_owned(),
            password: self.password.clone(),
            display_name: self.display_name.trim().to_owned(),
            ..ConnectRequest::default()
        }
    }

    /// The bookmark these fields make.
    pub fn bookmark(&self) -> Bookmark {
        Bookmark {
            name: self.bookmark_name.trim().to_owned(),
            server: self.server.trim().to_owned(),
            display_name: self.display_name.trim().to_owned(),
            password: self.password.clone(),
        }
    }

    /// Fills the fields from a bookmark (to edit or connect to it).
    pub fn load(&mut self, bookmark: &Bookmark) {
        self.bookmark_name = bookmark.name.clone();
        self.server = bookmark.server.clone();
        self.display_name = bookmark.display_name.clone();
        self.password = bookmark.password.clone();
    }
}

fn field(ui: &mut egui::Ui, label: &str, text: &mut String, password: bool, hint: &str) {
    let label = ui.label(label);
    ui.add(
        egui::TextEdit::singleline(text)
            .password(password)
            .hint_text(hint)
            .desired_width(260.0),
    )
    .labelled_by(label.id);
    ui.end_row();
}

/// Draws the connect dialog when open.
pub fn connect_ui(ctx: &egui::Context, app: &mut App) {
    if !app.connect.open {
        return;
    }
    let mut open = true;
    let mut close = false;
    egui::Window::new(CONNECT_TITLE)
        .collapsible(false)
        .resizable(false)
        .open(&mut open)
        .show(ctx, |ui| {
            ui.label(egui::RichText::new("Bookmarks").strong());
            if app.model.bookmarks.is_empty() {
                ui.weak("None saved yet: fill in the fields and use Save bookmark.");
            }
            let bookmarks = app.model.bookmarks.clone();
            egui::Grid::new("bookmarks").striped(true).show(ui, |ui| {
                for bookmark in &bookmarks {
                    ui.label(&bookmark.name);
                    ui.weak(&bookmark.server);
                    if ui
                        .button("Connect")
                        .on_hover_text(format!("Connect to {}", bookmark.name))
                        .clicked()
                    {
                        app.connect.load(bookmark);
                        app.send(Command::Connect(ConnectRequest {
                            bookmark: bookmark.name.clone(),
                            ..ConnectRequest::default()
                        }));
                        close = true;
                    }
                    if ui.button("Edit").clicked() {
                        app.connect.load(bookmark);
                    }
                    if ui.button("Remove").clicked() {
                        app.send(Command::RemoveBookmark(bookmark.name.clone()));
                    }
                    ui.end_row();
                }
            });
            ui.separator();
            egui::Grid::new("connect-fields")
                .num_columns(2)
                .show(ui, |ui| {
                    let d = &mut app.connect;
                    field(ui, "Server", &mut d.server, false, "host or host:port");
                    field(
                        ui,
                        "Password",
                        &mut d.password,
                        true,
                        "if the server has one",
                    );
                    field(
                        ui,
                        "Display name",
                        &mut d.display_name,
                        false,
                        "your name there",
                    );
                    field(
                        ui,
                        "Bookmark name",
                        &mut d.bookmark_name,
                        false,
                        "to save these",
                    );
                });
            ui.horizontal(|ui| {
                let ready = !app.connect.server.trim().is_empty();
                if ui
                    .add_enabled(ready, egui::Button::new("Connect"))
                    .clicked()
                {
                    let request = app.connect.request();
                    app.send(Command::Connect(request));
                    close = true;
                }
                let can_save = ready && !app.connect.bookmark_name.trim().is_empty();
                if ui
                    .add_enabled(can_save, egui::Button::new("Save bookmark"))
                    .clicked()
                {
                    let bookmark = app.connect.bookmark();
                    app.send(Command::SaveBookmark(bookmark));
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
    app.connect.open = open && !close;
}

/// Draws the trust prompt when voiced asks for one.
pub fn trust_ui(ctx: &egui::Context, app: &mut App) {
    let Some(prompt) = app.model.trust.clone() else {
        return;
    };
    let changed = !prompt.previous_fingerprint.is_empty();
    let mut answer: Option<Answer> = None;
    let title = if changed {
        CHANGED_TITLE
    } else {
        UNKNOWN_TITLE
    };
    egui::Modal::new(egui::Id::new("trust")).show(ctx, |ui| {
        ui.set_max_width(520.0);
        if changed {
            changed_ui(ui, &prompt, &mut app.trust_checked, &mut answer);
        } else {
            ui.heading(title);
            ui.label(format!(
                "{} shows a certificate this computer has not seen before. \
                 Check its SHA-256 fingerprint with the server's operator:",
                prompt.server
            ));
            ui.add_space(4.0);
            ui.monospace(group_hex(&prompt.fingerprint));
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                if ui
                    .button(ACCEPT_ONCE)
                    .on_hover_text("Trust it until voiced stops")
                    .clicked()
                {
                    answer = Some(Answer::Once);
                }
                if ui
                    .button(ACCEPT_ALWAYS)
                    .on_hover_text("Remember it for this server")
                    .clicked()
                {
                    answer = Some(Answer::Always);
                }
                if ui.button("Cancel").clicked() {
                    answer = Some(Answer::Cancel);
                }
            });
        }
    });
    if let Some(answer) = answer {
        answer_trust(app, answer);
    }
}

fn changed_ui(
    ui: &mut egui::Ui,
    prompt: &TrustPrompt,
    checked: &mut bool,
    answer: &mut Option<Answer>,
) {
    let red = egui::Color32::from_rgb(240, 80, 70);
    ui.heading(egui::RichText::new(CHANGED_TITLE).color(red).strong());
    ui.label(
        egui::RichText::new(format!(
            "The connection to {} was refused: its certificate is not the one pinned{}. \
             Someone may be intercepting the connection, or the server was reinstalled.",
            prompt.server,
            if prompt.previous_first_seen_ms > 0 {
                format!(
                    " on {}",
                    voiced_client::names::date(prompt.previous_first_seen_ms)
                )
            } else {
                String::new()
            }
        ))
        .color(red),
    );
    ui.add_space(4.0);
    ui.label("Pinned:");
    ui.monospace(group_hex(&prompt.previous_fingerprint));
    ui.label("Now shown:");
    ui.monospace(group_hex(&prompt.fingerprint));
    ui.add_space(8.0);
    ui.checkbox(
        checked,
        "I checked the new fingerprint with the server's operator",
    );
    ui.horizontal(|ui| {
        if ui.button("Cancel").clicked() {
            *answer = Some(Answer::Cancel);
        }
        if ui
            .add_enabled(*checked, egui::Button::new("Trust the new certificate"))
            .clicked()
        {
            *answer = Some(Answer::Always);
        }
    });
}

fn answer_trust(app: &mut App, answer: Answer) {
    app.trust_checked = false;
    // The core repeats the refused request (it may carry a password), or
    // connects to the prompt's server when it was not made here.
    for command in app.model.answer_trust(answer) {
        app.send(command);
    }
}

/// A hex fingerprint in groups of four, two lines of eight groups.
pub fn group_hex(hex: &str) -> String {
    let groups: Vec<&str> = hex
        .as_bytes()
        .chunks(4)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    groups
        .chunks(8)
        .map(|line| line.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}
