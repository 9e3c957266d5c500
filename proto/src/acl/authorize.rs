//! Which permission each change needs, and from whom.

use super::{Permissions, Subject, evaluate, evaluate_child};
use crate::pb::wire::change::Kind;
use crate::pb::wire::{AclRule, Permission, Session};
use crate::state::{Actor, ROOT, Rejection, RoomId, SessionId, State, StateError};

/// Checks that `actor` may make this change. The server may do anything;
/// a session needs the permissions listed in `docs/protocol.md` ("Who may
/// do what"), and three rules hold whatever the ACLs say:
///
/// - nobody grants what they do not hold: the `allow` bits of an ACL a
///   session writes (a new room's, an edited one, or those of a subtree it
///   moves) must be permissions it holds there itself;
/// - moving another session needs `move_users` in the room it leaves and in
///   the room it goes to;
/// - an administrator (`manage_roles` at the root) cannot be moved, muted,
///   deafened or renamed by a session that is not one.
pub fn authorize(state: &State, actor: Actor, kind: &Kind) -> Result<(), Rejection> {
    let Actor::Session(me) = actor else {
        return Ok(());
    };
    let session = state
        .session(me)
        .ok_or(Rejection::Invalid(StateError::UnknownSession(me)))?;
    let subject = Subject::from(session);
    let need = |permission: Permission, room: RoomId| need(state, session, permission, room);
    let protected = |target: SessionId| protected(state, session, target);
    let grants = |held: Permissions, rules: &[AclRule], room: RoomId| {
        grants_only_held(state, subject, held, rules, room)
    };
    let refuse = |reason: &str| -> Result<(), Rejection> {
        Err(Rejection::Denied {
            permission: None,
            room: ROOT,
            reason: reason.to_owned(),
        })
    };
    let room_of = |id: u32| -> Result<RoomId, Rejection> {
        state
            .session(id)
            .map(|s| s.room)
            .ok_or(Rejection::Invalid(StateError::UnknownSession(id)))
    };
    match kind {
        Kind::AddRoom(room) => {
            need(Permission::MakeRoom, room.parent)?;
            let held = evaluate_child(state, subject, room.parent);
            grants(held, &room.acl, room.parent)
        }
        Kind::EditRoom(edit) => need(Permission::EditRoom, edit.id),
        Kind::MoveRoom(mv) => {
            need(Permission::EditRoom, mv.id)?;
            need(Permission::MakeRoom, mv.parent)?;
            // The moved rooms' ACLs keep granting under the new parent: they
            // may grant only what the mover holds there.
            let held = evaluate_child(state, subject, mv.parent);
            for id in state.subtree(mv.id) {
                if let Some(room) = state.room(id) {
                    grants(held, &room.acl, mv.parent)?;
                }
            }
            Ok(())
        }
        Kind::RemoveRoom(rm) => need(Permission::EditRoom, rm.id),
        Kind::SetRoomAcl(acl) => {
            need(Permission::EditRoom, acl.room)?;
            grants(evaluate(state, subject, acl.room), &acl.rules, acl.room)
        }
        Kind::AddSession(_) | Kind::RemoveSession(_) => {
            refuse("only the server adds or removes sessions")
        }
        Kind::MoveSession(mv) if mv.session == me => need(Permission::Enter, mv.room),
        Kind::MoveSession(mv) => {
            let from = room_of(mv.session)?;
            need(Permission::MoveUsers, from)?;
            need(Permission::MoveUsers, mv.room)?;
            protected(mv.session)
        }
        Kind::SetSessionFlags(flags) => {
            if flags.session != me && (flags.self_mute.is_some() || flags.self_deaf.is_some()) {
                return refuse("self-mute and self-deafen belong to their user");
            }
            if flags.session != me && flags.recording.is_some() {
                return refuse("the recording mark belongs to the user who records");
            }
            if flags.server_mute.is_some() || flags.server_deaf.is_some() {
                need(Permission::MuteDeafen, room_of(flags.session)?)?;
                if flags.session != me {
                    protected(flags.session)?;
                }
            }
            Ok(())
        }
        Kind::RenameSession(rename) if rename.session == me => Ok(()),
        Kind::RenameSession(rename) => {
            need(Permission::Register, ROOT)?;
            protected(rename.session)
        }
        Kind::SetSessionRoles(_) | Kind::AddRole(_) | Kind::RemoveRole(_) => {
            need(Permission::ManageRoles, ROOT)
        }
        Kind::AddFile(file) => {
            if file.owner_key != session.public_key {
                return refuse("a shared file must be owned by its sharer's key");
            }
            need(Permission::ShareFiles, file.room)
        }
        Kind::RemoveFile(rm) => {
            let file = state
                .files()
                .get(&rm.id)
                .ok_or(Rejection::Invalid(StateError::UnknownFile(rm.id)))?;
            if file.owner_key == session.public_key {
                Ok(())
            } else {
                need(Permission::EditRoom, file.room)
            }
        }
    }
}

/// Checks that session `me` may kick (or, with `ban`, ban) session `target`:
/// kick and ban are server-wide, so they need their permission at the root,
/// and an administrator can only be removed by another.
pub fn authorize_kick(
    state: &State,
    me: SessionId,
    target: SessionId,
    ban: bool,
) -> Result<(), Rejection> {
    let session = state
        .session(me)
        .ok_or(Rejection::Invalid(StateError::UnknownSession(me)))?;
    if state.session(target).is_none() {
        return Err(Rejection::Invalid(StateError::UnknownSession(target)));
    }
    let permission = if ban {
        Permission::Ban
    } else {
        Permission::Kick
    };
    need(state, session, permission, ROOT)?;
    protected(state, session, target)
}

/// `Ok` when `session` holds `permission` in `room`; otherwise the refusal
/// that names both.
fn need(
    state: &State,
    session: &Session,
    permission: Permission,
    room: RoomId,
) -> Result<(), Rejection> {
    let subject = Subject::from(session);
    if evaluate(state, subject, room).contains(permission) {
        return Ok(());
    }
    Err(Rejection::Denied {
        permission: Some(permission),
        room,
        reason: super::lacking(state, subject, permission, room),
    })
}

/// Whether a session administers the server: `manage_roles` at the root
/// (the `admin` role, or an ACL that grants it there).
pub fn is_administrator(state: &State, session: &Session) -> bool {
    evaluate(state, Subject::from(session), ROOT).contains(Permission::ManageRoles)
}

/// `Ok` unless `target` is an administrator and `session` is not.
fn protected(state: &State, session: &Session, target: SessionId) -> Result<(), Rejection> {
    let Some(target) = state.session(target) else {
        return Err(Rejection::Invalid(StateError::UnknownSession(target)));
    };
    if target.id == session.id
        || !is_administrator(state, target)
        || is_administrator(state, session)
    {
        return Ok(());
    }
    Err(Rejection::Denied {
        permission: Some(Permission::ManageRoles),
        room: ROOT,
        reason: format!(
            "{} administers this server (manage_roles at the root); only another administrator can move, mute, rename, kick or ban them",
            target.name
        ),
    })
}

/// `Ok` when every `allow` bit of `rules` is in `held`; otherwise a refusal
/// naming what the rules would grant beyond it.
fn grants_only_held(
    state: &State,
    subject: Subject<'_>,
    held: Permissions,
    rules: &[AclRule],
    room: RoomId,
) -> Result<(), Rejection> {
    let granted = rules.iter().fold(Permissions::NONE, |all, rule| {
        all | Permissions::from_bits(rule.allow)
    });
    let beyond = granted & !held;
    let Some(first) = beyond.iter().next() else {
        return Ok(());
    };
    let place = state.path(room).unwrap_or_else(|| format!("room {room}"));
    Err(Rejection::Denied {
        permission: Some(first),
        room,
        reason: format!(
            "the ACL would grant {beyond}, which you do not hold in {place}; you can only grant permissions you hold yourself ({}: {})",
            Permissions::name(first),
            super::why(state, subject, first, room)
        ),
    })
}
