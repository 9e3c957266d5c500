//! The menu of a user row: local volume and mute for anyone; move, server
//! mute and kick where the mirrored ACL says this client may.

use eframe::egui;
use voice_proto::pb::wire::{Permission, Session};
use voiced_client::text::printable;
use voiced_client::tree::RowKind;

use crate::App;
use crate::link::Command;

/// Draws the menu for `session`.
pub fn user_menu_ui(ui: &mut egui::Ui, app: &mut App, session: &Session) {
    let id = session.id;
    let own = id == app.model.session_id();
    ui.label(egui::RichText::new(printable(&session.name)).strong());
    ui.separator();
    if !own {
        let mut volume = app.model.volume(id);
        let slider = ui.add(
            egui::Slider::new(&mut volume, 0.0..=4.0)
                .text("Volume")
                .custom_formatter(|v, _| format!("{:.0}%", v * 100.0)),
        );
        if slider.changed() {
            app.model.volumes.insert(id, volume);
        }
        // One call when the slider is let go (or changed by keyboard), not one per pixel.
        if slider.drag_stopped() || (slider.changed() && !slider.dragged()) {
            app.send(Command::SetUserVolume {
                session: id,
                volume,
            });
        }
        let mut muted = app.model.local_mutes.contains(&id);
        if ui.checkbox(&mut muted, "Mute for me").changed() {
            if muted {
                app.model.local_mutes.insert(id);
            } else {
                app.model.local_mutes.remove(&id);
            }
            app.send(Command::SetUserLocalMute {
                session: id,
                mute: muted,
            });
        }
    }
    let targets: Vec<(u32, String)> = app
        .model
        .rows()
        .into_iter()
        .filter_map(|row| match row.kind {
            RowKind::Room(room) if room != session.room => Some(room),
            _ => None,
        })
        // Moving someone else needs move_users where they are and where they go.
        .filter(|room| {
            own || (app.model.may(Permission::MoveUsers, session.room)
                && app.model.may(Permission::MoveUsers, *room))
        })
        .map(|room| (room, app.model.room_path(room)))
        .collect();
    if !targets.is_empty() {
        ui.menu_button(if own { "Go to" } else { "Move to" }, |ui| {
            for (room, path) in targets {
                if ui.button(path).clicked() {
                    app.send(if own {
                        Command::join(room)
                    } else {
                        Command::MoveUser { session: id, room }
                    });
                    ui.close();
                }
            }
        });
    }
    if !own && app.model.may(Permission::MuteDeafen, session.room) {
        let label = if session.server_mute {
            "Server unmute"
        } else {
            "Server mute"
        };
        if ui.button(label).clicked() {
            app.send(Command::ServerMute {
                session: id,
                mute: !session.server_mute,
                deaf: session.server_deaf,
            });
            ui.close();
        }
        let label = if session.server_deaf {
            "Server undeafen"
        } else {
            "Server deafen"
        };
        if ui.button(label).clicked() {
            app.send(Command::ServerMute {
                session: id,
                mute: session.server_mute,
                deaf: !session.server_deaf,
            });
            ui.close();
        }
    }
    if !own && app.model.may(Permission::Kick, session.room) && ui.button("Kick").clicked() {
        app.send(Command::Kick {
            session: id,
            reason: String::new(),
        });
        ui.close();
    }
}
