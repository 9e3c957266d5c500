//! Proposals: a change offered by a client (or the server) against the hash it
//! expects. The first proposal processed wins; a later one built on the old
//! state is `Stale`.

use super::{RoomId, SessionId, State, StateError};
use crate::acl::authorize;
use crate::hash::StateHash;
use crate::pb::wire::change::Kind;
use crate::pb::wire::{Change, Permission, RoomAcl, SessionRoles, acl_rule::Subject};

/// Who proposes a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The server itself: always authorized.
    Server,
    /// A connected session, checked against the ACLs.
    Session(SessionId),
}

/// One change the server applied, ready to broadcast.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The change as applied (with assigned ids).
    pub change: Change,
    /// Its inverse: the changes that undo it, in order (one for most
    /// changes; see [`State::apply`]).
    pub inverse: Vec<Change>,
    /// The state hash right after it.
    pub hash: StateHash,
}

/// Why a proposal was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The proposer's expected hash is not the current one.
    #[error("the state changed meanwhile (current hash {})", current.short())]
    Stale {
        /// The hash the proposer should catch up to.
        current: StateHash,
    },
    /// The proposer may not do this.
    #[error("{reason}")]
    Denied {
        /// The missing permission, when one permission would allow it.
        permission: Option<Permission>,
        /// Where the permission was evaluated.
        room: RoomId,
        /// What to tell the user.
        reason: String,
    },
    /// The change itself is invalid.
    #[error(transparent)]
    Invalid(#[from] StateError),
}

impl State {
    /// Judges and applies a proposal as the authority does: hash check, then
    /// permission check, then id assignment and validation. A removal of a
    /// room is one step however much it holds (see [`State::apply`]);
    /// removing a role first takes it from sessions and ACLs. The steps
    /// apply atomically.
    pub fn propose(
        &mut self,
        actor: Actor,
        expected: &StateHash,
        change: &Change,
    ) -> Result<Vec<Applied>, Rejection> {
        if *expected != self.hash {
            return Err(Rejection::Stale { current: self.hash });
        }
        let kind = change.kind.as_ref().ok_or(StateError::EmptyChange)?;
        authorize(self, actor, kind)?;
        let kind = self.assign_ids(actor, kind.clone());
        let steps = self.expand(kind);
        let mut applied: Vec<Applied> = Vec::with_capacity(steps.len());
        for step in steps {
            let change = Change { kind: Some(step) };
            match self.apply(&change) {
                Ok(inverse) => applied.push(Applied {
                    change,
                    inverse,
                    hash: self.hash,
                }),
                Err(err) => {
                    for done in applied.iter().rev() {
                        // The inverse of a change just applied always applies.
                        let _ = self.apply_all(&done.inverse);
                    }
                    return Err(err.into());
                }
            }
        }
        Ok(applied)
    }

    /// The id the next created room gets.
    pub fn next_room_id(&self) -> RoomId {
        self.rooms.keys().next_back().map_or(1, |id| id + 1)
    }

    /// The id the next shared file gets.
    pub fn next_file_id(&self) -> u32 {
        self.files.keys().next_back().map_or(1, |id| id + 1)
    }

    fn assign_ids(&self, actor: Actor, mut kind: Kind) -> Kind {
        let by_client = matches!(actor, Actor::Session(_));
        match &mut kind {
            Kind::AddRoom(room) if by_client || room.id == 0 => room.id = self.next_room_id(),
            Kind::AddFile(file) if by_client || file.id == 0 => file.id = self.next_file_id(),
            _ => {}
        }
        kind
    }

    /// The steps that carry out a change whose target still holds things.
    fn expand(&self, kind: Kind) -> Vec<Kind> {
        match kind {
            Kind::RemoveRole(rm) => {
                let mut steps: Vec<Kind> = self
                    .sessions
                    .values()
                    .filter(|s| s.roles.contains(&rm.name))
                    .map(|s| {
                        Kind::SetSessionRoles(SessionRoles {
                            session: s.id,
                            roles: s.roles.iter().filter(|r| **r != rm.name).cloned().collect(),
                        })
                    })
                    .collect();
                for room in self.rooms.values() {
                    let uses = |rule: &crate::pb::wire::AclRule| matches!(&rule.subject, Some(Subject::Role(r)) if *r == rm.name);
                    if room.acl.iter().any(uses) {
                        steps.push(Kind::SetRoomAcl(RoomAcl {
                            room: room.id,
                            inherit_acl: room.inherit_acl,
                            rules: room.acl.iter().filter(|r| !uses(r)).cloned().collect(),
                        }));
                    }
                }
                steps.push(Kind::RemoveRole(rm));
                steps
            }
            other => vec![other],
        }
    }
}
