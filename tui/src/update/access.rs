//! Keys of the access overlays: a room's rules and who may do what there,
//! a user's roles (granted or revoked from there), and the last refusal.

use crossterm::event::{KeyCode, KeyEvent};
use voice_proto::state::ROLE_EVERYONE;

use crate::action::Command;
use crate::model::{AclView, App, Modal, RolesView, RowKind};
use crate::view::acl;

/// Lines one PageUp/PageDown moves in the access overlay.
const PAGE: isize = 10;

/// Opens the access overlay of the selected room (a user row gives the
/// user's room).
pub(super) fn open_acl(app: &mut App) {
    if let Some(room) = app.selected_room() {
        app.modal = Some(Modal::Acl(AclView::new(room)));
    }
}

/// Opens the roles of the selected user (yours on a room row).
pub(super) fn open_roles(app: &mut App) {
    let session = match app.selected {
        Some(RowKind::User(session)) => session,
        _ => app.mirror.session_id(),
    };
    if app
        .mirror
        .state
        .as_ref()
        .is_some_and(|s| s.session(session).is_some())
    {
        app.modal = Some(Modal::Roles(RolesView {
            session,
            selected: 0,
        }));
    }
}

/// Opens the last refusal in full, if there is one.
pub(super) fn open_why(app: &mut App) {
    if app.refusal.is_some() {
        app.modal = Some(Modal::Why);
    }
}

/// Keys of the access overlay; `None` closes it.
pub(super) fn acl_key(app: &App, mut view: AclView, key: KeyEvent) -> Option<Modal> {
    match key.code {
        KeyCode::Esc | KeyCode::Char('q') | super::keys::ACL_KEY => return None,
        KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => {
            view.tab = view.tab.other();
            view.scroll = 0;
        }
        KeyCode::Up | KeyCode::Char('k') => view = scroll(app, view, -1),
        KeyCode::Down | KeyCode::Char('j') => view = scroll(app, view, 1),
        KeyCode::PageUp => view = scroll(app, view, -PAGE),
        KeyCode::PageDown | KeyCode::Char(' ') => view = scroll(app, view, PAGE),
        KeyCode::Home | KeyCode::Char('g') => view.scroll = 0,
        KeyCode::End | KeyCode::Char('G') => view = scroll(app, view, isize::MAX),
        _ => {}
    }
    Some(Modal::Acl(view))
}

/// The access overlay scrolled by `delta` lines, kept within its text.
pub(super) fn scroll(app: &App, mut view: AclView, delta: isize) -> AclView {
    let max = acl::max_scroll(app, &view);
    view.scroll = view.scroll.saturating_add_signed(delta).min(max);
    view
}

/// Keys of the roles overlay: choose a role, grant or revoke it.
pub(super) fn roles_key(app: &mut App, mut view: RolesView, key: KeyEvent) -> Vec<Command> {
    let roles = app
        .mirror
        .state
        .as_ref()
        .map(voiced_client::acl::roles)
        .unwrap_or_default();
    let last = roles.len().saturating_sub(1);
    view.selected = view.selected.min(last);
    let mut calls = Vec::new();
    match key.code {
        KeyCode::Esc | KeyCode::Char('q') | super::keys::ROLES_KEY => return Vec::new(),
        super::keys::WHY_KEY if app.refusal.is_some() => {
            app.modal = Some(Modal::Why);
            return Vec::new();
        }
        KeyCode::Up | KeyCode::Char('k') => view.selected = view.selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => view.selected = (view.selected + 1).min(last),
        KeyCode::Enter | KeyCode::Char(' ') => {
            if let Some(role) = roles.get(view.selected)
                && role.name != ROLE_EVERYONE
                && let Some(user) = app
                    .mirror
                    .state
                    .as_ref()
                    .and_then(|s| s.session(view.session))
            {
                // Everyone holds `everyone`; any other role is toggled.
                let (session, role) = (view.session, role.name.clone());
                calls.push(if user.roles.contains(&role) {
                    Command::RevokeRole { session, role }
                } else {
                    Command::GrantRole { session, role }
                });
            }
        }
        _ => {}
    }
    app.modal = Some(Modal::Roles(view));
    calls
}

/// Keys of the "why can't I …?" overlay: the key of the access overlay
/// opens the rules of the room the refusal is about; any other closes it.
pub(super) fn why_key(app: &App, key: KeyEvent) -> Option<Modal> {
    let room = app
        .refusal
        .as_ref()
        .and_then(|r| r.needs)
        .map(|(_, room)| room);
    match (key.code, room) {
        (super::keys::ACL_KEY, Some(room)) => Some(Modal::Acl(AclView::new(room))),
        _ => None,
    }
}
