//! "Why can't I …?": the last refusal in full: voiced's message, the
//! permission the call needs and where, and what the rules mirrored here
//! say about it (`voice_proto::acl::why`).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use voice_proto::acl::Permissions;
use voiced_client::text::printable;

use super::overlay::dialog;
use crate::model::{App, Reading, Refusal};
use crate::update::ACL_KEY;

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(refusal) = &app.refusal else {
        return;
    };
    let lines = lines(app, refusal);
    let title = format!(" Why can't I {}? ", refusal.what);
    dialog(&title, lines, 76, area, buf);
}

fn lines(app: &App, refusal: &Refusal) -> Vec<Line<'static>> {
    let dim = Style::new().fg(Color::DarkGray);
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut lines = vec![
        Line::styled(format!("{} failed. voiced says:", refusal.what), bold),
        Line::styled(
            format!("  {}", printable(&refusal.message)),
            Style::new().fg(Color::Red),
        ),
    ];
    let Some((permission, room)) = refusal.needs else {
        lines.push(Line::raw(""));
        lines.push(Line::styled("Esc: close", dim));
        return lines;
    };
    let name = Permissions::name(permission);
    let path = printable(&app.mirror.room_path(room)).into_owned();
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::raw("It needs the "),
        Span::styled(name, bold),
        Span::raw(" permission in "),
        Span::styled(path.clone(), bold),
        Span::raw("."),
    ]));
    match &refusal.reading {
        Reading::Lacking { why, .. } => {
            lines.push(Line::raw("By the rules this client mirrors, you lack it:"));
            lines.push(Line::styled(
                format!("  {}", printable(why)),
                Style::new().fg(Color::Yellow),
            ));
        }
        Reading::Held => lines.push(Line::styled(
            format!(
                "By the rules this client mirrors you hold {name} there: the server refused for \
                 the reason above, or the rules changed since."
            ),
            dim,
        )),
        Reading::Unknown => {}
    }
    let key = match ACL_KEY {
        crossterm::event::KeyCode::Char(c) => c,
        _ => '?',
    };
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("{key}: the rules of {path}   Esc: close"),
        dim,
    ));
    lines
}
