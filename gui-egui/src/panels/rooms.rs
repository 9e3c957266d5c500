//! The room tree with its users: click selects, double-click (or "Join")
//! joins, a user dragged onto a room is moved there (the server refuses
//! what this client may not do; the refusal shows as a notification).
//! "Edit access…" (the room's menu, or beside "New room…") opens the
//! room's access editor.

use eframe::egui;
use voice_proto::pb::wire::{Permission, Session};
use voiced_client::text::{printable, printable_multiline};
use voiced_client::tree::{Row, RowKind};

use crate::App;
use crate::link::Command;
use crate::panels::access::{self, EDIT_ACCESS};
use crate::panels::user_menu::user_menu_ui;

/// What is carried while a user row is dragged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DraggedUser(pub u32);

/// Label of the button that joins the selected room.
pub const JOIN_LABEL: &str = "Join";

const TALKING: egui::Color32 = egui::Color32::from_rgb(80, 200, 120);
const SILENT: egui::Color32 = egui::Color32::from_rgb(90, 90, 90);
const SERVER: egui::Color32 = egui::Color32::from_rgb(230, 90, 80);

/// The accessible label of a room row: its name, and "(here)" for ours.
pub fn room_label(name: &str, here: bool) -> String {
    if here {
        format!("# {name} (here)")
    } else {
        format!("# {name}")
    }
}

/// The accessible label of a user row: name, "(you)", the recording mark
/// and mute/deaf marks.
pub fn user_label(session: &Session, own: bool) -> String {
    // Names from other users: bidi and invisible characters shown escaped.
    let mut label = printable(&session.name).into_owned();
    if own {
        label.push_str(" (you)");
    }
    for (on, mark) in [
        (session.recording, " [recording]"),
        (session.self_mute, " 🔇"),
        (session.self_deaf, " 🔕"),
        (session.server_mute, " ⛔mute"),
        (session.server_deaf, " ⛔deaf"),
    ] {
        if on {
            label.push_str(mark);
        }
    }
    label
}

/// Draws the tree (and the join bar under its heading).
pub fn rooms_ui(ui: &mut egui::Ui, app: &mut App) {
    ui.horizontal(|ui| {
        ui.heading("Rooms");
        let room = selected_room(app);
        if let Some(room) = room {
            let here = room == app.model.current_room();
            if ui
                .add_enabled(!here, egui::Button::new(JOIN_LABEL))
                .on_hover_text("Join the selected room (or double-click it)")
                .clicked()
            {
                app.send(Command::join(room));
            }
            if ui
                .button("New room…")
                .on_hover_text("Create a room inside the selected one")
                .clicked()
            {
                app.new_room = Some((room, String::new()));
            }
            if ui
                .button(EDIT_ACCESS)
                .on_hover_text("Who may do what in the selected room")
                .clicked()
            {
                access::open(app, room);
            }
        }
    });
    ui.separator();
    let rows = app.model.rows();
    if rows.is_empty() {
        ui.weak("Not connected. Use Connect… to choose a server.");
        return;
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for row in rows {
                row_ui(ui, app, row);
            }
        });
}

fn selected_room(app: &App) -> Option<u32> {
    let state = app.model.state.as_ref()?;
    match app.selected? {
        RowKind::Room(id) => state.room(id).map(|r| r.id),
        RowKind::User(s) => state.session(s).map(|s| s.room),
    }
}

fn row_ui(ui: &mut egui::Ui, app: &mut App, row: Row) {
    ui.horizontal(|ui| {
        ui.add_space(row.depth as f32 * 14.0);
        match row.kind {
            RowKind::Room(id) => {
                let Some(room) = app.model.state.as_ref().and_then(|s| s.room(id)).cloned() else {
                    return;
                };
                let here = id == app.model.current_room();
                let name = if id == voice_proto::state::ROOT && room.name.is_empty() {
                    "Server".to_owned()
                } else {
                    printable(&room.name).into_owned()
                };
                let selected = app.selected == Some(row.kind);
                let text = egui::RichText::new(room_label(&name, here)).strong();
                let response = ui.add(egui::Button::selectable(selected, text));
                let response = if room.description.is_empty() {
                    response
                } else {
                    response.on_hover_text(printable_multiline(&room.description).into_owned())
                };
                if response.clicked() {
                    app.selected = Some(row.kind);
                }
                if response.double_clicked() && !here {
                    app.send(Command::join(id));
                }
                // A user dropped here: move them (the server checks the right).
                if let Some(hovered) = response.dnd_hover_payload::<DraggedUser>() {
                    let color = if hovered.0 == app.model.session_id()
                        || app.model.may(Permission::MoveUsers, id)
                    {
                        TALKING
                    } else {
                        SERVER
                    };
                    ui.painter().rect_stroke(
                        response.rect,
                        2.0,
                        egui::Stroke::new(1.5, color),
                        egui::StrokeKind::Outside,
                    );
                }
                if let Some(dropped) = response.dnd_release_payload::<DraggedUser>() {
                    let session = dropped.0;
                    if session == app.model.session_id() {
                        app.send(Command::join(id));
                    } else {
                        app.send(Command::MoveUser { session, room: id });
                    }
                }
                response.context_menu(|ui| {
                    if ui
                        .add_enabled(!here, egui::Button::new(JOIN_LABEL))
                        .clicked()
                    {
                        app.send(Command::join(id));
                        ui.close();
                    }
                    if ui.button("New room inside…").clicked() {
                        app.new_room = Some((id, String::new()));
                        ui.close();
                    }
                    if ui.button(EDIT_ACCESS).clicked() {
                        access::open(app, id);
                        ui.close();
                    }
                });
            }
            RowKind::User(session_id) => {
                let Some(session) = app
                    .model
                    .state
                    .as_ref()
                    .and_then(|s| s.session(session_id))
                    .cloned()
                else {
                    return;
                };
                let own = session_id == app.model.session_id();
                let talking = app.model.is_talking(session_id);
                crate::panels::dot_ui(
                    ui,
                    if talking { TALKING } else { SILENT },
                    if talking { "talking" } else { "silent" },
                );
                let mut text = egui::RichText::new(user_label(&session, own));
                if own {
                    text = text.strong().underline();
                }
                if session.server_mute || session.server_deaf {
                    text = text.color(SERVER);
                }
                let selected = app.selected == Some(row.kind);
                let response = ui.add(
                    egui::Button::selectable(selected, text).sense(egui::Sense::click_and_drag()),
                );
                response.dnd_set_drag_payload(DraggedUser(session_id));
                if response.dragged() {
                    // Show what is being dragged next to the pointer.
                    if let Some(pos) = ui.ctx().pointer_interact_pos() {
                        egui::Area::new(egui::Id::new("dragged-user"))
                            .fixed_pos(pos + egui::vec2(12.0, 4.0))
                            .order(egui::Order::Tooltip)
                            .show(ui.ctx(), |ui| {
                                ui.label(format!("Move {}", printable(&session.name)));
                            });
                    }
                }
                if response.clicked() {
                    app.selected = Some(row.kind);
                }
                response.context_menu(|ui| user_menu_ui(ui, app, &session));
            }
        }
    });
}

/// The small window that names a new room.
pub fn new_room_ui(ctx: &egui::Context, app: &mut App) {
    let Some((parent, mut name)) = app.new_room.take() else {
        return;
    };
    let mut open = true;
    let mut done = false;
    let parent_path = app.model.room_path(parent);
    egui::Window::new("New room")
        .collapsible(false)
        .resizable(false)
        .open(&mut open)
        .show(ctx, |ui| {
            ui.label(format!("Inside {parent_path}"));
            let edit = ui.horizontal(|ui| {
                let label = ui.label("Room name");
                ui.add(egui::TextEdit::singleline(&mut name))
                    .labelled_by(label.id)
            });
            let edit = edit.inner;
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Create").clicked() || enter) && !name.trim().is_empty() {
                app.send(Command::CreateRoom {
                    parent,
                    name: name.trim().to_owned(),
                });
                done = true;
            }
        });
    if open && !done {
        app.new_room = Some((parent, name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_user_says_so_first() {
        let mut session = Session {
            name: "bob".into(),
            self_mute: true,
            ..Session::default()
        };
        assert_eq!(user_label(&session, false), "bob 🔇");
        session.recording = true;
        assert_eq!(user_label(&session, false), "bob [recording] 🔇");
        assert_eq!(user_label(&session, true), "bob (you) [recording] 🔇");
    }
}
