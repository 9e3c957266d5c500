//! Which permission each change needs, and from whom.

use super::{Subject, evaluate};
use crate::pb::wire::Permission;
use crate::pb::wire::change::Kind;
use crate::state::{Actor, ROOT, Rejection, RoomId, State, StateError};

/// Checks that `actor` may make this change. The server may do anything;
/// a session needs the permissions listed in `docs/protocol.md`.
pub fn authorize(state: &State, actor: Actor, kind: &Kind) -> Result<(), Rejection> {
    let Actor::Session(me) = actor else {
        return Ok(());
    };
    let session = state
        .session(me)
        .ok_or(Rejection::Invalid(StateError::UnknownSession(me)))?;
    let subject = Subject::from(session);
    let need = |permission: Permission, room: RoomId| -> Result<(), Rejection> {
        if evaluate(state, subject, room).contains(permission) {
            return Ok(());
        }
        let name = super::Permissions::name(permission);
        let place = state.path(room).unwrap_or_else(|| format!("room {room}"));
        Err(Rejection::Denied {
            permission: Some(permission),
            room,
            reason: format!("you lack the {name} permission in {place}"),
        })
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
        Kind::AddRoom(room) => need(Permission::MakeRoom, room.parent),
        Kind::EditRoom(edit) => need(Permission::EditRoom, edit.id),
        Kind::MoveRoom(mv) => {
            need(Permission::EditRoom, mv.id)?;
            need(Permission::MakeRoom, mv.parent)
        }
        Kind::RemoveRoom(rm) => need(Permission::EditRoom, rm.id),
        Kind::SetRoomAcl(acl) => need(Permission::EditRoom, acl.room),
        Kind::AddSession(_) | Kind::RemoveSession(_) => {
            refuse("only the server adds or removes sessions")
        }
        Kind::MoveSession(mv) if mv.session == me => need(Permission::Enter, mv.room),
        Kind::MoveSession(mv) => {
            room_of(mv.session)?;
            need(Permission::MoveUsers, mv.room)
        }
        Kind::SetSessionFlags(flags) => {
            if flags.session != me && (flags.self_mute.is_some() || flags.self_deaf.is_some()) {
                return refuse("self-mute and self-deafen belong to their user");
            }
            if flags.server_mute.is_some() || flags.server_deaf.is_some() {
                need(Permission::MuteDeafen, room_of(flags.session)?)?;
            }
            Ok(())
        }
        Kind::RenameSession(rename) if rename.session == me => Ok(()),
        Kind::RenameSession(_) => need(Permission::Register, ROOT),
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
