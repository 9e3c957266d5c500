//! The room tree pane: rooms, and the users in each.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};
use voice_proto::pb::control::ConnectionState;
use voiced_client::text::printable;

use super::layout::{inner, tree_offset};
use crate::model::{App, Focus, Row, RowKind};

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let focused = app.focus == Focus::Tree && app.modal.is_none();
    let block = Block::bordered()
        .title(" Rooms ")
        .border_style(border_style(focused));
    let Some(state) = app.mirror.state.as_ref() else {
        let text = match app.mirror.connection() {
            ConnectionState::Connecting => "Connecting…",
            ConnectionState::Reconnecting => "Reconnecting…",
            _ => "Not connected.\n\nPress c to connect.",
        };
        Paragraph::new(text).block(block).render(area, buf);
        return;
    };
    let body = inner(area);
    let rows = app.mirror.rows();
    let selected = app.selected_index(&rows);
    let offset = tree_offset(selected, usize::from(body.height));
    let lines: Vec<Line<'_>> = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(usize::from(body.height))
        .map(|(i, row)| {
            let line = row_line(app, state, row);
            if i == selected {
                let style = if focused {
                    Style::new().add_modifier(Modifier::REVERSED)
                } else {
                    Style::new().bg(Color::DarkGray)
                };
                line.patch_style(style)
            } else {
                line
            }
        })
        .collect();
    Paragraph::new(lines).block(block).render(area, buf);
}

fn row_line<'a>(app: &'a App, state: &'a voice_proto::State, row: &Row) -> Line<'a> {
    let indent = "  ".repeat(row.depth);
    match row.kind {
        RowKind::Room(id) => {
            let name = state.room(id).map_or("?".into(), |r| printable(&r.name));
            let here = id == app.mirror.current_room();
            let name_style = if here {
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
            } else {
                Style::new().fg(Color::Blue)
            };
            Line::from(vec![
                Span::raw(indent),
                Span::raw(if here { "▸ " } else { "# " }),
                Span::styled(name, name_style),
            ])
        }
        RowKind::User(session) => {
            let Some(user) = state.session(session) else {
                return Line::raw(indent);
            };
            let talking = app.mirror.is_talking(session);
            let mut spans = vec![
                Span::raw(indent),
                if talking {
                    Span::styled(
                        "● ",
                        Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
                    )
                } else {
                    Span::styled("○ ", Style::new().fg(Color::DarkGray))
                },
            ];
            let own = session == app.mirror.session_id();
            let name_style = if own {
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
            } else if talking {
                Style::new().fg(Color::Green)
            } else {
                Style::new()
            };
            spans.push(Span::styled(printable(&user.name), name_style));
            if own {
                spans.push(Span::styled(" (you)", Style::new().fg(Color::DarkGray)));
            }
            let mark = |text: &'static str, color| Span::styled(text, Style::new().fg(color));
            if user.recording {
                spans.push(Span::styled(
                    " [REC]",
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                ));
            }
            if user.server_mute {
                spans.push(mark(" [SM]", Color::Red));
            } else if user.self_mute {
                spans.push(mark(" [M]", Color::Yellow));
            }
            if user.server_deaf {
                spans.push(mark(" [SD]", Color::Red));
            } else if user.self_deaf {
                spans.push(mark(" [D]", Color::Yellow));
            }
            let volume = app.mirror.volume(session);
            if !own && (volume - 1.0).abs() > f32::EPSILON {
                spans.push(Span::styled(
                    format!(" {:.0}%", volume * 100.0),
                    Style::new().fg(Color::Magenta),
                ));
            }
            Line::from(spans)
        }
    }
}

/// Border of a pane: highlighted when it takes the keys.
pub(super) fn border_style(focused: bool) -> Style {
    if focused {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::DarkGray)
    }
}
