//! The status bar and the one-line key hint.

use crossterm::event::KeyCode;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use voice_proto::pb::control::{ConnectionState, VoiceMode};

use voiced_client::text::printable;

use crate::model::{App, Focus};
use crate::update::{HISTORY_KEY, WHY_KEY};

/// Cells of the input level meter.
const METER_CELLS: usize = 8;
/// The meter's floor in dBFS (an empty meter).
const METER_FLOOR_DB: f32 = -60.0;

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let bar = Style::new().bg(Color::Black).fg(Color::White);
    let sep = Span::styled(" │ ", Style::new().fg(Color::DarkGray));
    let mut spans = vec![Span::raw(" ")];
    spans.extend(connection_spans(app));
    spans.push(sep.clone());
    if app.mirror.status.self_mute {
        spans.push(Span::styled(
            "MUTED",
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    } else {
        spans.push(Span::raw("mic "));
        spans.extend(meter(app));
    }
    if app.mirror.status.self_deaf {
        spans.push(Span::styled(
            " DEAF",
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    if app.mirror.own_session().is_some_and(|s| s.recording) {
        spans.push(Span::styled(
            " REC",
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    spans.push(sep.clone());
    spans.push(match app.mirror.voice_mode() {
        VoiceMode::PushToTalk if app.ptt.active => Span::styled(
            "PTT talking",
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        ),
        VoiceMode::PushToTalk => Span::raw("PTT"),
        VoiceMode::Continuous => Span::raw("open mic"),
        _ => Span::raw("VAD"),
    });
    if let Some(notice) = &app.notice {
        spans.push(sep);
        spans.push(Span::styled(printable(notice), Style::new().fg(Color::Red)));
    }
    Paragraph::new(Line::from(spans))
        .style(bar)
        .render(area, buf);
}

fn connection_spans(app: &App) -> Vec<Span<'_>> {
    let server = if app.mirror.status.server.is_empty() {
        "no server".to_owned()
    } else {
        app.mirror.status.server.clone()
    };
    let (text, color) = match app.mirror.connection() {
        ConnectionState::Connected => {
            let mut text = "connected".to_owned();
            if app.mirror.status.rtt_ms > 0 {
                text.push_str(&format!(" {}ms", app.mirror.status.rtt_ms));
            }
            if app.mirror.status.loss_permille > 0 {
                text.push_str(&format!(
                    " {}.{}% loss",
                    app.mirror.status.loss_permille / 10,
                    app.mirror.status.loss_permille % 10
                ));
            }
            (text, Color::Green)
        }
        ConnectionState::Connecting => ("connecting…".to_owned(), Color::Yellow),
        ConnectionState::Reconnecting => {
            let wait = app.mirror.status.next_attempt_ms.saturating_sub(app.now_ms);
            let text = if app.mirror.status.next_attempt_ms > 0 && app.now_ms > 0 {
                format!("reconnecting in {}s", wait.div_ceil(1000))
            } else {
                "reconnecting…".to_owned()
            };
            (text, Color::Yellow)
        }
        _ => ("disconnected".to_owned(), Color::Red),
    };
    vec![
        Span::styled(server, Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(" "),
        Span::styled(text, Style::new().fg(color)),
    ]
}

/// The microphone level: filled cells from -60 dBFS to 0, green while sending.
fn meter(app: &App) -> Vec<Span<'static>> {
    let (fill, sending) = match &app.mirror.level {
        Some(level) => {
            let fraction = ((level.dbfs - METER_FLOOR_DB) / -METER_FLOOR_DB).clamp(0.0, 1.0);
            (
                (fraction * METER_CELLS as f32).round() as usize,
                level.transmitting,
            )
        }
        None => (0, false),
    };
    let color = if sending { Color::Green } else { Color::Gray };
    vec![
        Span::styled("▮".repeat(fill), Style::new().fg(color)),
        Span::styled(
            "▯".repeat(METER_CELLS - fill),
            Style::new().fg(Color::DarkGray),
        ),
    ]
}

pub(super) fn render_hint(app: &App, area: Rect, buf: &mut Buffer) {
    // A refusal takes the line (the status bar may cut it): what was
    // refused, and the key (or a click) that says why.
    if app.refusal_shown()
        && app.modal.is_none()
        && app.focus != Focus::Chat
        && let (Some(notice), KeyCode::Char(key)) = (&app.notice, WHY_KEY)
    {
        let line = Line::from(vec![
            Span::styled(
                format!(" {key}: why? "),
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
            Span::styled(printable(notice), Style::new().fg(Color::Red)),
        ]);
        Paragraph::new(line).render(area, buf);
        return;
    }
    let text = if app.modal.is_some() {
        " Esc: close"
    } else if app.focus == Focus::Files {
        " ↑↓:select ⏎/d:download x:cancel transfer r:refresh Esc/f:back ?:help"
    } else if app.focus == Focus::Chat {
        " Enter: send  Esc/Tab: back to rooms  PgUp/PgDn: scroll  Ctrl-U: clear"
    } else {
        " ?:help ⏎:join m:mute d:deaf v:mode space:talk i:chat f:files c:connect q:quit a:acl u:roles o:audio"
    };
    // While earlier messages are offered, their key too (the chat pane's
    // top line says it where this line is cut).
    let offered = app.modal.is_none()
        && app.focus == Focus::Tree
        && app.mirror.offers_history(app.mirror.current_room());
    let text = match HISTORY_KEY {
        KeyCode::Char(key) if offered => format!("{text} {key}:history"),
        _ => text.to_owned(),
    };
    Paragraph::new(text)
        .style(Style::new().fg(Color::DarkGray))
        .render(area, buf);
}
