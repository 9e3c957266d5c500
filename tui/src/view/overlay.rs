//! Dialogs drawn over the main screen.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};
use voice_proto::pb::control::TrustPrompt;
use voiced_client::text::printable;

use super::layout::centered;
use crate::model::{App, ConnectDialog, ConnectEntry, Modal, PromptKind};
use crate::update::PTT_KEY;

/// Every key, as the help overlay lists it.
pub const KEYS: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move in the room tree"),
    ("Enter", "join the selected room (or click it twice)"),
    ("m / d", "mute / deafen yourself"),
    ("v", "voice mode: activity → push-to-talk → continuous"),
    (
        "space",
        "push-to-talk (hold, or toggle where releases are unknown)",
    ),
    ("+ / -", "volume of the selected user"),
    ("n r x", "new / rename / delete room"),
    ("c", "connect: bookmarks, address, disconnect"),
    ("i / Tab", "write in the chat (Esc to leave)"),
    ("f", "files of this room and transfers (Esc to leave)"),
    ("  ⏎ / d", "there: download the selected file"),
    (
        "  x / r",
        "there: cancel the selected transfer / list again",
    ),
    ("PgUp PgDn", "scroll the chat"),
    (
        "a u w",
        "room's access rules / user's roles / why was I refused?",
    ),
    ("h", "load the earlier messages of this room (history)"),
    (
        "o",
        "audio settings: echo cancellation, gain, noise suppression",
    ),
    ("?", "this help"),
    ("q", "quit (the call goes on in voiced)"),
];

pub(super) fn render(app: &App, modal: &Modal, area: Rect, buf: &mut Buffer) {
    match modal {
        Modal::Help => help(app, area, buf),
        Modal::Prompt { kind, text } => {
            let title = match kind {
                PromptKind::NewRoom { parent } => {
                    format!(" New room in {} ", room_path(app, *parent))
                }
                PromptKind::Rename { room } => format!(" Rename {} ", room_path(app, *room)),
            };
            let lines = vec![
                Line::from(vec![
                    Span::raw("Name: "),
                    Span::styled(text.as_str(), Style::new().add_modifier(Modifier::BOLD)),
                    Span::styled(" ", Style::new().add_modifier(Modifier::REVERSED)),
                ]),
                Line::raw(""),
                Line::styled("Enter: ok   Esc: cancel", dim()),
            ];
            dialog(&title, lines, 50, area, buf);
        }
        Modal::ConfirmDelete { room, name } => {
            let lines = vec![
                Line::raw(format!(
                    "Delete room \"{}\" ({})?",
                    printable(name),
                    room_path(app, *room)
                )),
                Line::raw("Its sub-rooms go with it."),
                Line::raw(""),
                Line::styled("y: delete   n / Esc: keep", dim()),
            ];
            dialog(" Delete room ", lines, 50, area, buf);
        }
        Modal::Connect(d) => connect(app, d, area, buf),
        Modal::Trust(prompt) => trust(prompt, area, buf),
        Modal::Acl(view) => super::acl::render(app, view, area, buf),
        Modal::Roles(view) => super::roles::render(app, view, area, buf),
        Modal::Audio(view) => super::audio::render(app, view, area, buf),
        Modal::Why => super::why::render(app, area, buf),
    }
}

fn help(app: &App, area: Rect, buf: &mut Buffer) {
    let mut lines: Vec<Line<'_>> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("{key:<11}"), Style::new().fg(Color::Cyan)),
                Span::raw(*what),
            ])
        })
        .collect();
    let ptt = if app.ptt.hold {
        "This terminal reports key releases: hold space to talk."
    } else {
        "This terminal does not report key releases: space toggles."
    };
    debug_assert_eq!(PTT_KEY, crossterm::event::KeyCode::Char(' '));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "● talking   [M] [D] muted, deaf   [SM] [SD] by the server",
        dim(),
    ));
    lines.push(Line::styled(ptt, dim()));
    lines.push(Line::styled("Any key closes this help.", dim()));
    dialog(" Keys ", lines, 72, area, buf);
}

fn connect(app: &App, d: &ConnectDialog, area: Rect, buf: &mut Buffer) {
    let mut lines = Vec::new();
    let entries = app.connect_entries();
    for (i, entry) in entries.iter().enumerate() {
        let selected = i == d.selected;
        let marker = if selected { "› " } else { "  " };
        let mut line = match entry {
            ConnectEntry::Disconnect => Line::from(vec![
                Span::raw(marker),
                Span::styled(
                    format!("Disconnect from {}", app.mirror.status.server),
                    Style::new().fg(Color::Red),
                ),
            ]),
            ConnectEntry::Bookmark(b) => {
                let b = &app.mirror.bookmarks[*b];
                Line::from(vec![
                    Span::raw(marker),
                    Span::styled(b.name.as_str(), Style::new().add_modifier(Modifier::BOLD)),
                    Span::styled(format!("  {}", b.server), dim()),
                ])
            }
            ConnectEntry::Address => {
                let mut spans = vec![Span::raw(marker), Span::raw("Server: ")];
                spans.push(Span::styled(
                    d.address.as_str(),
                    Style::new().add_modifier(Modifier::BOLD),
                ));
                if selected {
                    spans.push(Span::styled(
                        " ",
                        Style::new().add_modifier(Modifier::REVERSED),
                    ));
                } else if d.address.is_empty() {
                    spans.push(Span::styled("host[:port]", dim()));
                }
                Line::from(spans)
            }
            ConnectEntry::Password => {
                let mut spans = vec![
                    Span::raw(marker),
                    Span::raw("Password: "),
                    Span::raw("•".repeat(d.password.chars().count())),
                ];
                if selected {
                    spans.push(Span::styled(
                        " ",
                        Style::new().add_modifier(Modifier::REVERSED),
                    ));
                } else if d.password.is_empty() {
                    spans.push(Span::styled("(none)", dim()));
                }
                Line::from(spans)
            }
        };
        if selected {
            line = line.patch_style(Style::new().bg(Color::DarkGray));
        }
        lines.push(line);
        if *entry == ConnectEntry::Disconnect && entries.len() > 1 {
            lines.push(Line::raw(""));
        }
    }
    if app.mirror.bookmarks.is_empty() {
        lines.insert(0, Line::styled("No bookmarks yet.", dim()));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "↑↓: choose  Enter: connect  Ctrl-S: bookmark it  Del: remove",
        dim(),
    ));
    dialog(" Connect ", lines, 66, area, buf);
}

fn trust(prompt: &TrustPrompt, area: Rect, buf: &mut Buffer) {
    let warn = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    if prompt.previous_fingerprint.is_empty() {
        lines.push(Line::raw(format!(
            "{} is not known yet. Check its certificate fingerprint with the server's operator:",
            prompt.server
        )));
    } else {
        lines.push(Line::styled(
            format!(
                "The certificate of {} CHANGED since it was pinned!",
                prompt.server
            ),
            warn,
        ));
        lines.push(Line::raw(format!(
            "before ({}): {}",
            super::clock(prompt.previous_first_seen_ms),
            group(&prompt.previous_fingerprint)
        )));
    }
    lines.push(Line::raw(""));
    // Two lines of eight groups: a SHA-256 fingerprint fits 80 columns.
    let fingerprint: Vec<char> = prompt.fingerprint.chars().collect();
    for half in fingerprint.chunks(32) {
        lines.push(Line::styled(
            group(&half.iter().collect::<String>()),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "a: trust always   o: trust once   n / Esc: don't connect",
        dim(),
    ));
    dialog(" Unknown server certificate ", lines, 76, area, buf);
}

/// Hex in groups of four, so people can compare it by eye.
fn group(hex: &str) -> String {
    let chars: Vec<char> = hex.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

fn room_path(app: &App, room: u32) -> String {
    app.mirror
        .state
        .as_ref()
        .and_then(|s| s.path(room))
        .map_or_else(|| room.to_string(), |p| printable(&p).into_owned())
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// A bordered box of `lines`, cleared underneath and centred.
pub(super) fn dialog(title: &str, lines: Vec<Line<'_>>, width: u16, area: Rect, buf: &mut Buffer) {
    let width = width.min(area.width);
    let text_width = usize::from(width.saturating_sub(2)).max(1);
    // Wrapped lines: count each line's rows so the box fits its text.
    let rows: usize = lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(text_width))
        .sum();
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX);
    let panel = centered(area, width, height);
    Clear.render(panel, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(
            Block::bordered()
                .title(title.to_owned())
                .border_style(Style::new().fg(Color::Cyan)),
        )
        .render(panel, buf);
}
