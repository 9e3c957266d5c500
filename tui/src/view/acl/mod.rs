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
use voiced_client::acl;
use voiced_client::text::printable;

mod effective;
mod rules;

use super::layout::{centered, inner};
use crate::model::{AclTab, AclView, App};

/// Widest the overlay gets.
const MAX_WIDTH: u16 = 110;

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
            Some(listing) => rules::lines(&listing, width),
            None => vec![gone(view.room)],
        },
        AclTab::Effective => match acl::effective(state, view.room) {
            Some(users) => {
                let path = state.path(view.room).unwrap_or_default();
                effective::lines(app, &path, view.room, &users, width)
            }
            None => vec![gone(view.room)],
        },
    }
}

fn gone(room: u32) -> Line<'static> {
    Line::styled(format!("Room {room} is gone."), dim())
}

pub(super) fn heading(text: &'static str) -> Line<'static> {
    Line::styled(text, Style::new().fg(Color::Cyan))
}

pub(super) fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}
