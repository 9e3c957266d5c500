//! The "who may do what" tab: every user × every permission in a room, as
//! a matrix, then user by user with the rule that decided each.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use voiced_client::acl::{Decision, Effective};
use voiced_client::text::printable;

use super::{dim, heading};
use crate::model::App;

/// The matrix (a row per permission, a column per user, as many as fit),
/// then every user with a line per permission: held or not, and the rule
/// that decided.
pub(super) fn lines(
    app: &App,
    path: &str,
    room: u32,
    users: &[Effective],
    width: usize,
) -> Vec<Line<'static>> {
    let mut out = vec![Line::styled(
        format!("Who may do what in {} (room {room})", printable(path)),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    out.extend(matrix(users, width));
    out.push(heading("Why, user by user"));
    let me = app.mirror.session_id();
    for u in users {
        let held = u.permissions.iter().filter(|d| d.granted).count();
        let mut name = vec![Span::styled(
            printable(&u.name).into_owned(),
            if u.session == me {
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
            } else {
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
            },
        )];
        if u.session == me {
            name.push(Span::styled(" (you)", dim()));
        }
        name.push(Span::styled(
            format!("  {held} of {} allowed", u.permissions.len()),
            dim(),
        ));
        out.push(Line::from(name));
        if u.admin {
            out.push(Line::styled(
                "  admin: every permission",
                Style::new().fg(Color::Green),
            ));
            continue;
        }
        if let Some(at) = &u.traverse_denied_at {
            out.push(Line::styled(
                format!("  no traverse at {}: nothing here", printable(at)),
                Style::new().fg(Color::Red),
            ));
            continue;
        }
        out.extend(u.permissions.iter().map(decision_line));
    }
    out
}

/// Width of the matrix's permission column, and of each user's column.
const PERMISSION_COLUMN: usize = 15;
const USER_COLUMN: usize = 8;

/// Users × permissions at a glance: `✓` allowed, `✗` denied.
fn matrix(users: &[Effective], width: usize) -> Vec<Line<'static>> {
    let fit = (width.saturating_sub(PERMISSION_COLUMN) / USER_COLUMN).max(1);
    let shown = &users[..users.len().min(fit)];
    let mut head = vec![Span::raw(" ".repeat(PERMISSION_COLUMN))];
    head.extend(shown.iter().map(|u| {
        let name: String = printable(&u.name).chars().take(USER_COLUMN - 1).collect();
        Span::styled(
            format!("{name:<USER_COLUMN$}"),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        )
    }));
    if users.len() > shown.len() {
        head.push(Span::styled(
            format!("+{} below", users.len() - shown.len()),
            dim(),
        ));
    }
    let mut out = vec![Line::from(head)];
    let permissions = users.first().map_or(0, |u| u.permissions.len());
    for p in 0..permissions {
        let name = users[0].permissions[p].permission;
        let mut row = vec![Span::raw(format!("{name:<PERMISSION_COLUMN$}"))];
        row.extend(shown.iter().map(|u| match u.permissions.get(p) {
            Some(d) if d.granted => Span::styled(
                format!("{:<USER_COLUMN$}", "✓"),
                Style::new().fg(Color::Green),
            ),
            _ => Span::styled(
                format!("{:<USER_COLUMN$}", "✗"),
                Style::new().fg(Color::Red),
            ),
        }));
        out.push(Line::from(row));
    }
    out
}

fn decision_line(d: &Decision) -> Line<'static> {
    let why = match &d.rule {
        Some((_, path, index)) => format!("rule #{index} of {}", printable(path)),
        None => "no rule grants it".to_owned(),
    };
    let (mark, word, color) = if d.granted {
        ("✓", "allowed", Color::Green)
    } else {
        ("✗", "denied", Color::Red)
    };
    Line::from(vec![
        Span::styled(
            format!("  {mark} {:<14} {word:<7}  ", d.permission),
            Style::new().fg(color),
        ),
        Span::styled(why, dim()),
    ])
}
