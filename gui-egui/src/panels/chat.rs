//! The chat of the current room, links clickable, its earlier messages
//! (history from the other members) on request, and the message input.

use eframe::egui;
use voice_proto::pb::control::ConnectionState;
use voice_proto::pb::wire::ChatMessage;
use voiced_client::chat::{SERVER_TAG, SERVER_TAG_HINT, from_server};
use voiced_client::files::{magnet_links, magnet_name};
use voiced_client::history::{EARLIER_MARKER, HistoryFetch, LOAD_EARLIER, LOADING};
use voiced_client::mirror::Mirror;
use voiced_client::text::{printable, printable_multiline};

use crate::App;
use crate::link::Command;

/// Hint text of the message input (also its accessible label).
pub const INPUT_HINT: &str = "Message";

/// Longest message this window sends (the server has its own limit).
pub const MAX_MESSAGE: usize = 4000;

/// A piece of a chat line: text, or a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Plain text.
    Text(&'a str),
    /// A web link (http, https).
    Link(&'a str),
}

/// Splits a message into text and links; a link is a word that starts with
/// `http://` or `https://` (trailing punctuation stays text).
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = find_link(rest) {
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let tail = &rest[start..];
        let mut end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        while end > 0 && tail[..end].ends_with(['.', ',', ')', ';', ':', '!', '?', '"', '\'']) {
            end -= 1;
        }
        out.push(Piece::Link(&tail[..end]));
        rest = &tail[end..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

fn find_link(text: &str) -> Option<usize> {
    ["https://", "http://"]
        .iter()
        .filter_map(|scheme| {
            text.match_indices(scheme)
                .find(|(i, _)| *i == 0 || text[..*i].ends_with(char::is_whitespace))
                .map(|(i, _)| i)
        })
        .min()
}

pub use voiced_client::names::{clock, date};

/// Draws the chat of the current room and the input.
pub fn chat_ui(ui: &mut egui::Ui, app: &mut App) {
    let connected = app.model.connection() == ConnectionState::Connected;
    let room = app.model.current_room();
    let path = app.model.room_path(room);
    ui.heading(if connected {
        format!("Chat {path}")
    } else {
        "Chat".to_owned()
    });
    ui.separator();
    if history_ui(ui, &app.model, room)
        && let Some(command) = app.model.fetch_history(room)
    {
        app.send(command);
    }
    let input_height = 34.0;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .stick_to_bottom(true)
        .max_height((ui.available_height() - input_height).max(40.0))
        .show(ui, |ui| {
            if let Some(magnet) = messages_ui(ui, &app.model, room) {
                super::files::download(app, magnet);
            }
        });
    ui.separator();
    ui.horizontal(|ui| {
        let edit = ui.add_enabled(
            connected,
            egui::TextEdit::singleline(&mut app.chat_input)
                .hint_text(INPUT_HINT)
                .char_limit(MAX_MESSAGE)
                .desired_width(ui.available_width() - 60.0),
        );
        // The hint is only drawn; screen readers (and tests) need a label.
        ui.ctx()
            .accesskit_node_builder(edit.id, |node| node.set_label(INPUT_HINT));
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let clicked = ui
            .add_enabled(connected, egui::Button::new("Send"))
            .clicked();
        if (enter || clicked) && !app.chat_input.trim().is_empty() {
            let text = std::mem::take(&mut app.chat_input);
            app.send(Command::SendChat {
                text: text.trim().to_owned(),
                room: String::new(),
            });
            if enter {
                edit.request_focus();
            }
        }
    });
}

/// Draws the state of the room's earlier messages above its chat: the
/// *Load earlier messages* button where they are offered (again after a
/// failure, whose words are a notification), a spinner while voiced fetches
/// them, what came once they are here. Returns whether the button was
/// clicked.
pub fn history_ui(ui: &mut egui::Ui, model: &Mirror, room: u32) -> bool {
    let mut clicked = false;
    match model.history_of(room) {
        Some(HistoryFetch::Loading) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(LOADING);
            });
        }
        Some(HistoryFetch::Loaded(summary)) => {
            ui.weak(summary.to_string());
        }
        Some(HistoryFetch::Failed(_)) | None => {
            if model.offers_history(room) {
                clicked = ui
                    .button(LOAD_EARLIER)
                    .on_hover_text("Ask the room's other members for the chat before you came")
                    .clicked();
            }
        }
    }
    clicked
}

/// Draws the messages of `room`: its history lines dim and italic under
/// their marker, a separator, then its live chat. A *Download* button
/// clicked next to a magnet link gives the link back.
pub fn messages_ui(ui: &mut egui::Ui, model: &Mirror, room: u32) -> Option<String> {
    let connected = model.connection() == ConnectionState::Connected;
    let mut wanted = None;
    let mut in_history = false;
    let mut any = false;
    for message in model.chat.in_room(room) {
        if message.history && !in_history {
            ui.separator();
            ui.weak(EARLIER_MARKER);
        } else if !message.history && in_history {
            ui.separator();
        }
        in_history = message.history;
        if let Some(magnet) = message_ui(ui, message) {
            wanted = Some(magnet);
        }
        any = true;
    }
    if !any {
        ui.weak(if connected {
            "No messages here yet."
        } else {
            "Connect to a server to chat."
        });
    }
    wanted
}

/// Draws one message (a history line dim and italic, a message from the
/// server tagged after its name); a magnet link in it gets a *Download*
/// button, whose link comes back when clicked.
fn message_ui(ui: &mut egui::Ui, message: &ChatMessage) -> Option<String> {
    let mut wanted = None;
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 0.0;
        let history = message.history;
        // History lines are dim and italic; live ones as they are.
        let look = |text: &str| {
            let text = egui::RichText::new(text);
            if history { text.weak().italics() } else { text }
        };
        ui.weak(clock(message.time_ms)).on_hover_text("UTC");
        ui.label(" ");
        ui.label(look(&printable(&message.sender_name)).strong());
        if from_server(message) {
            server_tag_ui(ui);
        }
        ui.label(look(": "));
        let text = printable_multiline(&message.text);
        for piece in pieces(&text) {
            match piece {
                Piece::Text(text) => {
                    ui.label(look(text));
                }
                Piece::Link(url) => {
                    ui.hyperlink(url);
                }
            }
        }
        for magnet in magnet_links(&message.text) {
            let name = magnet_name(magnet).unwrap_or_else(|| "this file".to_owned());
            ui.label(" ");
            if ui
                .button(super::files::DOWNLOAD)
                .on_hover_text(format!("Download {}", printable(&name)))
                .clicked()
            {
                wanted = Some(magnet.to_owned());
            }
        }
    });
    wanted
}

/// The tag after the name of a message the server sent (a bot's, through
/// the admin API): small and filled like a selection, which no name can
/// look like, with what it means on hover.
fn server_tag_ui(ui: &mut egui::Ui) {
    ui.label(" ");
    let visuals = ui.visuals();
    let tag = egui::RichText::new(SERVER_TAG)
        .small()
        .color(visuals.selection.stroke.color)
        .background_color(visuals.selection.bg_fill);
    ui.label(tag).on_hover_text(SERVER_TAG_HINT);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_split_out_without_trailing_punctuation() {
        assert_eq!(
            pieces("see https://example.org/a?b=1, and http://x.y."),
            vec![
                Piece::Text("see "),
                Piece::Link("https://example.org/a?b=1"),
                Piece::Text(", and "),
                Piece::Link("http://x.y"),
                Piece::Text("."),
            ]
        );
        assert_eq!(pieces("nohttps://x"), vec![Piece::Text("nohttps://x")]);
        assert_eq!(pieces(""), Vec::<Piece<'_>>::new());
        assert_eq!(clock(3_600_000 * 25 + 61_000), "01:01");
        assert_eq!(date(0), "1970-01-01");
        // 2026-11-20T00:00:00Z
        assert_eq!(date(1_795_132_800_000), "2026-11-20");
    }
}
