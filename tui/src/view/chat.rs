//! The chat pane of the current room, and the input line.

use crossterm::event::KeyCode;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};
use voiced_client::chat::{SERVER_TAG, from_server};
use voiced_client::command::FETCH_HISTORY;
use voiced_client::history::{EARLIER_MARKER, HistoryFetch, LOAD_EARLIER, LOADING};
use voiced_client::text::{printable, printable_multiline};

use super::clock;
use super::layout::inner;
use super::tree::border_style;
use crate::model::{App, Focus};
use crate::update::HISTORY_KEY;

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let room = app.mirror.current_room();
    let path = app
        .mirror
        .state
        .as_ref()
        .and_then(|s| s.path(room))
        .unwrap_or_default();
    let mut title = format!(" Chat {path}");
    if app.chat_scroll > 0 {
        title.push_str(&format!(" (↑{})", app.chat_scroll));
    }
    title = format!("{} ", title.trim_end());
    let block = Block::bordered()
        .title(title)
        .border_style(border_style(false));
    let body = inner(area);
    let width = usize::from(body.width).max(1);
    let top = history_lines(app, room, width);
    let height = usize::from(body.height).saturating_sub(top.len());
    let dim = Style::new().fg(Color::DarkGray);
    // Build lines from the newest message backwards until the screen (plus the
    // scrollback offset, counted in messages) is full.
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut messages = app
        .mirror
        .chat
        .in_room(room)
        .rev()
        .skip(app.chat_scroll)
        .peekable();
    while let Some(message) = messages.next() {
        // Text from other users is escaped; a cell holds no line break, so
        // a newline shows as ↵. The server's messages (a bot's) say so after
        // the name, in a colour no member's name has.
        let server = from_server(message);
        let tag = if server {
            format!(" ({SERVER_TAG})")
        } else {
            String::new()
        };
        let head = format!(
            "{} {}{tag}: ",
            clock(message.time_ms),
            printable(&message.sender_name)
        );
        let text = printable_multiline(&message.text)
            .replace('\n', " ↵ ")
            .replace('\t', " ");
        let mut wrapped = wrap(&head, &text, width);
        let first = wrapped.remove(0);
        // History lines (from the room's members) are dim throughout.
        let (name, body_style) = if message.history {
            (
                dim.add_modifier(Modifier::ITALIC),
                dim.add_modifier(Modifier::ITALIC),
            )
        } else if server {
            (
                Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
                Style::new(),
            )
        } else {
            (
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
                Style::new(),
            )
        };
        let mut block_lines = vec![Line::from(vec![
            Span::styled(first.0, dim),
            Span::styled(first.1, name),
            Span::styled(first.2, body_style),
        ])];
        block_lines.extend(
            wrapped
                .into_iter()
                .map(|l| Line::from(vec![Span::raw(l.0), Span::styled(l.2, body_style)])),
        );
        for line in block_lines.into_iter().rev() {
            lines.push(line);
        }
        // The marker above the oldest history line of the run.
        if message.history && !messages.peek().is_some_and(|m| m.history) {
            lines.push(Line::styled(EARLIER_MARKER, dim));
        }
        if lines.len() >= height {
            break;
        }
    }
    lines.truncate(height);
    lines.reverse();
    if lines.is_empty() {
        lines.push(Line::styled("No messages yet. Press i to write.", dim));
    }
    lines.splice(0..0, top);
    Paragraph::new(lines).block(block).render(area, buf);
}

/// The lines above the chat about the room's earlier messages: the key that
/// loads them, that they are loading, why they could not be (wrapped to
/// `width`), or what came.
fn history_lines(app: &App, room: u32, width: usize) -> Vec<Line<'static>> {
    let dim = Style::new().fg(Color::DarkGray);
    let key = match HISTORY_KEY {
        KeyCode::Char(c) => c,
        _ => '?',
    };
    let offer = format!("{key}: {LOAD_EARLIER}");
    match app.mirror.history_of(room) {
        Some(HistoryFetch::Loading) => vec![Line::styled(LOADING, Style::new().fg(Color::Yellow))],
        Some(HistoryFetch::Failed(why)) => {
            let text = format!("{FETCH_HISTORY} failed: {} ({offer})", printable(why));
            wrap("", &text, width)
                .into_iter()
                .map(|(_, _, part)| Line::styled(part, Style::new().fg(Color::Red)))
                .collect()
        }
        Some(HistoryFetch::Loaded(summary)) => vec![Line::styled(summary.to_string(), dim)],
        None if app.mirror.offers_history(room) => vec![Line::styled(offer, dim)],
        None => Vec::new(),
    }
}

/// Indentation of a message's continuation lines (the width of `HH:MM `).
const INDENT: &str = "      ";

/// Wraps `head` + `text` to `width` columns, breaking at spaces where it can.
/// Each line is (time part, name part, text part); only the first has the
/// first two.
fn wrap(head: &str, text: &str, width: usize) -> Vec<(String, String, String)> {
    let (time, name) = head.split_once(' ').unwrap_or(("", head));
    let time = format!("{time} ");
    let used = time.chars().count() + name.chars().count();
    let mut out = Vec::new();
    let mut room = width.saturating_sub(used).max(1);
    let mut rest: Vec<char> = text.chars().collect();
    let mut first = true;
    loop {
        let take = if rest.len() <= room {
            rest.len()
        } else {
            rest[..=room]
                .iter()
                .rposition(|c| *c == ' ')
                .filter(|p| *p > 0)
                .unwrap_or(room)
        };
        let part: String = rest[..take].iter().collect();
        rest.drain(..take);
        while rest.first() == Some(&' ') {
            rest.remove(0);
        }
        if first {
            out.push((time.clone(), name.to_owned(), part));
            first = false;
            // Continuation lines start under the text, past the time.
            room = width.saturating_sub(INDENT.len()).max(1);
        } else {
            out.push((INDENT.to_owned(), String::new(), part));
        }
        if rest.is_empty() {
            break;
        }
    }
    out
}

pub(super) fn render_input(app: &App, area: Rect, buf: &mut Buffer) {
    let focused = app.focus == Focus::Chat && app.modal.is_none();
    let block = Block::bordered()
        .title(" Message ")
        .border_style(border_style(focused));
    let body = inner(area);
    let line = if focused {
        // Show the end of a long line, with a block cursor.
        let width = usize::from(body.width).saturating_sub(1);
        let chars: Vec<char> = app.input.chars().collect();
        let start = chars.len().saturating_sub(width);
        let visible: String = chars[start..].iter().collect();
        Line::from(vec![
            Span::raw(visible),
            Span::styled(" ", Style::new().add_modifier(Modifier::REVERSED)),
        ])
    } else if app.input.is_empty() {
        Line::styled("press i to write", Style::new().fg(Color::DarkGray))
    } else {
        Line::raw(app.input.as_str())
    };
    Paragraph::new(line).block(block).render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_spaces_and_keeps_every_word() {
        let lines = wrap("12:00 ann: ", "one two three four", 16);
        let text: Vec<_> = lines.iter().map(|l| l.2.as_str()).collect();
        assert_eq!(text, ["one", "two three", "four"]);
        let long = wrap("12:00 a: ", "abcdefghijklmnop", 10);
        let joined: String = long.iter().map(|l| l.2.as_str()).collect();
        assert_eq!(joined, "abcdefghijklmnop");
        assert!(
            long.iter()
                .skip(1)
                .all(|l| l.0.len() + l.2.chars().count() <= 10)
        );
    }
}
