//! A user's roles: every role on the server, those the user holds checked
//! (`everyone` always), to grant or revoke; the last refusal of a role
//! change under them.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use voice_proto::state::ROLE_EVERYONE;
use voiced_client::text::printable;

use super::overlay::dialog;
use crate::model::{App, RolesView};
use crate::update::WHY_KEY;
use voiced_client::command::{GRANT_ROLE, REVOKE_ROLE};

pub(super) fn render(app: &App, view: &RolesView, area: Rect, buf: &mut Buffer) {
    let dim = Style::new().fg(Color::DarkGray);
    let Some((state, user)) = app
        .mirror
        .state
        .as_ref()
        .and_then(|s| Some((s, s.session(view.session)?)))
    else {
        let lines = vec![Line::styled("This user has left.", dim)];
        dialog(" Roles ", lines, 60, area, buf);
        return;
    };
    let roles = voiced_client::acl::roles(state);
    let selected = view.selected.min(roles.len().saturating_sub(1));
    let mut lines = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        let everyone = role.name == ROLE_EVERYONE;
        let held = everyone || user.roles.contains(&role.name);
        let about = if everyone {
            "(built-in) everyone holds it".to_owned()
        } else if role.builtin {
            "(built-in)".to_owned()
        } else {
            printable(&role.description).into_owned()
        };
        let mut line = Line::from(vec![
            Span::raw(if i == selected { "› " } else { "  " }),
            if held {
                Span::styled("[✓] ", Style::new().fg(Color::Green))
            } else {
                Span::styled("[ ] ", dim)
            },
            Span::styled(
                format!("{:<16}", printable(&role.name)),
                if held {
                    Style::new().add_modifier(Modifier::BOLD)
                } else {
                    Style::new()
                },
            ),
            Span::styled(format!(" {about}"), dim),
        ]);
        if i == selected {
            line = line.patch_style(Style::new().bg(Color::DarkGray));
        }
        lines.push(line);
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "↑↓: choose  Enter/space: grant or revoke  Esc: close",
        dim,
    ));
    // A refused role change shows here too, with its reason a key away.
    if let Some(refusal) = app
        .refusal
        .as_ref()
        .filter(|r| [GRANT_ROLE, REVOKE_ROLE].contains(&r.what))
        .filter(|_| app.refusal_shown())
    {
        let key = match WHY_KEY {
            crossterm::event::KeyCode::Char(c) => c,
            _ => '?',
        };
        lines.push(Line::styled(
            format!("{}  ({key}: why)", printable(&refusal.notice())),
            Style::new().fg(Color::Red),
        ));
    }
    let title = format!(" Roles of {} ", printable(&user.name));
    dialog(&title, lines, 64, area, buf);
}
