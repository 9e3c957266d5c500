//! The access overlay of a room: the rules in force there (inherited, each
//! with the room it comes from, then the room's own, with their scope), and
//! who may do what there (every user present × every permission, allowed or
//! denied, and the rule that decided). Worded like `voicectl acl show` and
//! `voicectl acl effective`; names from the network are escaped.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};
use voiced_client::acl::{self, Decision, Effective, Entry, Listing, RuleSubject};
use voiced_client::text::printable;

use super::layout::{centered, inner};
use crate::model::{AclTab, AclView, App};

/// Widest the overlay gets.
const MAX_WIDTH: u16 = 110;
/// Indentation of a rule's permissions under its first line.
const GRANTS_INDENT: usize = 8;

/// Where the overlay goes on a screen of `area`: nearly all of it.
pub fn panel(area: Rect) -> Rect {
    centered(
        area,
        area.width.saturating_sub(4).min(MAX_WIDTH),
        area.height.saturating_sub(2),
    )
}

/// The scrolled text inside `panel`: below the tabs, above the keys.
pub fn body(panel: Rect) -> Rect {
    let inside = inner(panel);
    Rect {
        y: inside.y.saturating_add(1),
        height: inside.height.saturating_sub(2),
        ..inside
    }
}

/// The furthest the overlay scrolls on the model's screen: its text less
/// what fits.
pub fn max_scroll(app: &App, view: &AclView) -> usize {
    let body = body(panel(Rect::new(0, 0, app.size.0, app.size.1)));
    lines(app, view, usize::from(body.width))
        .len()
        .saturating_sub(usize::from(body.height))
}

pub(super) fn render(app: &App, view: &AclView, area: Rect, buf: &mut Buffer) {
    let panel = panel(area);
    let path = printable(&app.mirror.room_path(view.room)).into_owned();
    Clear.render(panel, buf);
    Block::bordered()
        .title(format!(" Access: {path} "))
        .border_style(Style::new().fg(Color::Cyan))
        .render(panel, buf);
    let inside = inner(panel);
    let body = body(panel);
    let tab = |name: &'static str, on: bool| {
        if on {
            Span::styled(
                format!(" {name} "),
                Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            )
        } else {
            Span::styled(format!(" {name} "), dim())
        }
    };
    let tabs = Line::from(vec![
        tab("Rules in force", view.tab == AclTab::Rules),
        Span::raw(" "),
        tab("Who may do what", view.tab == AclTab::Effective),
    ]);
    Paragraph::new(tabs).render(
        Rect {
            height: 1,
            ..inside
        },
        buf,
    );
    let all = lines(app, view, usize::from(body.width));
    let height = usize::from(body.height);
    let offset = view.scroll.min(all.len().saturating_sub(height));
    let more = all.len() > offset + height;
    Paragraph::new(
        all.into_iter()
            .skip(offset)
            .take(height)
            .collect::<Vec<_>>(),
    )
    .render(body, buf);
    let mut keys = "Tab: rules / who may do what   ↑↓ PgUp PgDn: scroll   Esc: close".to_owned();
    if offset > 0 || more {
        keys.push_str(if more { "   ▼ more" } else { "   ▲ more" });
    }
    let foot = Rect {
        y: body.y.saturating_add(body.height),
        height: 1,
        ..inside
    };
    Paragraph::new(Line::styled(keys, dim())).render(foot, buf);
}

/// The text of the tab shown, wrapped to `width` columns.
pub fn lines(app: &App, view: &AclView, width: usize) -> Vec<Line<'static>> {
    let Some(state) = app.mirror.state.as_ref() else {
        return vec![Line::styled("Not connected to a server.", dim())];
    };
    match view.tab {
        AclTab::Rules => match acl::listing(state, view.room) {
            Some(listing) => rules_lines(&listing, width),
            None => vec![gone(view.room)],
        },
        AclTab::Effective => match acl::effective(state, view.room) {
            Some(users) => {
                let path = state.path(view.room).unwrap_or_default();
                effective_lines(app, &path, view.room, &users, width)
            }
            None => vec![gone(view.room)],
        },
    }
}

fn gone(room: u32) -> Line<'static> {
    Line::styled(format!("Room {room} is gone."), dim())
}

fn rules_lines(listing: &Listing, width: usize) -> Vec<Line<'static>> {
    let mut out = vec![Line::styled(
        format!(
            "{} (room {}){}",
            printable(&listing.path),
            listing.room,
            if listing.inherit {
                ""
            } else {
                ": does not inherit, only its own rules count"
            }
        ),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if listing.entries.is_empty() {
        out.push(Line::styled(
            "  no rules: nobody but an admin may do anything here",
            dim(),
        ));
        return out;
    }
    let (inherited, own): (Vec<&Entry>, Vec<&Entry>) =
        listing.entries.iter().partition(|e| e.inherited);
    if !inherited.is_empty() {
        out.push(heading("Inherited, in the order they apply"));
        for e in inherited {
            out.extend(entry_lines(e, width));
        }
    }
    out.push(heading("This room's own"));
    if own.is_empty() {
        out.push(Line::styled("  none", dim()));
    }
    for e in own {
        out.extend(entry_lines(e, width));
    }
    out
}

fn heading(text: &'static str) -> Line<'static> {
    Line::styled(text, Style::new().fg(Color::Cyan))
}

/// A rule: where it comes from, its place, whom it is about and its scope;
/// under it, what it allows and denies.
fn entry_lines(e: &Entry, width: usize) -> Vec<Line<'static>> {
    let from = if e.inherited {
        format!("from {}", printable(&e.room_path))
    } else {
        "own".to_owned()
    };
    let scope = match (e.here, e.below) {
        (true, true) => "here and below",
        (true, false) => "here only",
        (false, true) => "below only",
        (false, false) => "nowhere",
    };
    let base = if e.in_force { Style::new() } else { dim() };
    let mut head = vec![
        Span::styled(format!("  {from:<16} #{:<2} ", e.index), base),
        Span::styled(subject_text(&e.subject), base.add_modifier(Modifier::BOLD)),
        Span::styled(format!("  [{scope}]"), dim()),
    ];
    if !e.in_force {
        head.push(Span::styled(" (not in force here)", dim()));
    }
    let mut out = vec![Line::from(head)];
    let mut grants = Vec::new();
    if !e.allow.is_empty() {
        grants.push((format!("allow {}", e.allow.join(",")), Color::Green));
    }
    if !e.deny.is_empty() {
        grants.push((format!("deny {}", e.deny.join(",")), Color::Red));
    }
    if grants.is_empty() {
        grants.push(("nothing".to_owned(), Color::DarkGray));
    }
    for (text, color) in grants {
        let style = if e.in_force {
            Style::new().fg(color)
        } else {
            dim()
        };
        for part in wrap(&text, width.saturating_sub(GRANTS_INDENT)) {
            out.push(Line::styled(
                format!("{}{part}", " ".repeat(GRANTS_INDENT)),
                style,
            ));
        }
    }
    out
}

/// Whom a rule is about, as `voicectl acl show` says it.
fn subject_text(s: &RuleSubject) -> String {
    match s {
        RuleSubject::Role(r) => format!("role {}", printable(r)),
        RuleSubject::User { key, names } if names.is_empty() => {
            format!("user {}…", &key[..16.min(key.len())])
        }
        RuleSubject::User { key, names } => format!(
            "user {} ({}…)",
            printable(&names.join(", ")),
            &key[..8.min(key.len())]
        ),
        RuleSubject::Nobody => "nobody".to_owned(),
    }
}

/// The matrix (a row per permission, a column per user, as many as fit),
/// then every user with a line per permission: held or not, and the rule
/// that decided.
fn effective_lines(
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

/// `text` in lines of at most `width` columns, broken after commas and at
/// spaces where it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split_inclusive([',', ' ']) {
        let fits = line.chars().count() + word.trim_end().chars().count() <= width;
        if !line.is_empty() && !fits {
            out.push(line.trim_end().to_owned());
            line.clear();
        }
        line.push_str(word);
    }
    if !line.trim_end().is_empty() || out.is_empty() {
        out.push(line.trim_end().to_owned());
    }
    out
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn grants_wrap_after_commas_and_keep_every_name() {
        let text = "allow traverse,enter,speak,whisper,text_message";
        let lines = wrap(text, 24);
        assert!(lines.iter().all(|l| l.chars().count() <= 24), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
        assert_eq!(lines[0], "allow traverse,enter,");
        assert_eq!(wrap("deny speak", 40), ["deny speak"]);
    }
}
