//! Mouse: click to select (a second click on the selected room joins it),
//! wheel to move or scroll (the access overlay too), click the input line
//! to type, click a refusal in the status bar to read why.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use crate::action::Command;
use crate::model::{App, DaemonLink, Focus, Modal, RowKind};
use crate::view::layout::{areas, inner, tree_offset};

/// Lines one wheel step scrolls the access overlay.
const WHEEL: isize = 3;

pub(super) fn on_mouse(app: &mut App, mouse: MouseEvent) -> Vec<Command> {
    if app.mirror.daemon != DaemonLink::Up {
        return Vec::new();
    }
    if let Some(Modal::Acl(view)) = app.modal {
        let delta = match mouse.kind {
            MouseEventKind::ScrollUp => -WHEEL,
            MouseEventKind::ScrollDown => WHEEL,
            _ => return Vec::new(),
        };
        app.modal = Some(Modal::Acl(super::access::scroll(app, view, delta)));
        return Vec::new();
    }
    if app.modal.is_some() {
        return Vec::new();
    }
    let screen = Rect::new(0, 0, app.size.0, app.size.1);
    let panes = areas(screen);
    let at = Position::new(mouse.column, mouse.row);
    match mouse.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            if panes.status.contains(at) || panes.hint.contains(at) {
                // The refusal shown there opens in full.
                if app.refusal_shown() {
                    super::access::open_why(app);
                }
            } else if panes.input.contains(at) {
                app.focus = Focus::Chat;
            } else if panes.tree.contains(at) {
                app.focus = Focus::Tree;
                return click_tree(app, panes.tree, at);
            }
        }
        MouseEventKind::ScrollUp if panes.tree.contains(at) => super::keys::move_selection(app, -1),
        MouseEventKind::ScrollDown if panes.tree.contains(at) => {
            super::keys::move_selection(app, 1)
        }
        MouseEventKind::ScrollUp if panes.chat.contains(at) => super::keys::scroll_chat(app, 1),
        MouseEventKind::ScrollDown if panes.chat.contains(at) => super::keys::scroll_chat(app, -1),
        _ => {}
    }
    Vec::new()
}

fn click_tree(app: &mut App, tree: Rect, at: Position) -> Vec<Command> {
    let body = inner(tree);
    if !body.contains(at) {
        return Vec::new();
    }
    let rows = app.mirror.rows();
    let offset = tree_offset(app.selected_index(&rows), usize::from(body.height));
    let Some(row) = rows.get(offset + usize::from(at.y - body.y)) else {
        return Vec::new();
    };
    let again = app.selected == Some(row.kind);
    app.selected = Some(row.kind);
    match row.kind {
        RowKind::Room(id) if again && id != app.mirror.current_room() => {
            vec![Command::Join(id.to_string())]
        }
        _ => Vec::new(),
    }
}
