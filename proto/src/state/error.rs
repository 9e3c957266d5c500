//! Why a change was refused.

use super::{FileId, RoomId, SessionId};

/// A change that would make the state invalid. The state is unchanged when
/// one of these is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The change message has no content.
    #[error("the change is empty")]
    EmptyChange,
    /// No room has this id.
    #[error("no room with id {0}")]
    UnknownRoom(RoomId),
    /// No session has this id.
    #[error("no session with id {0}")]
    UnknownSession(SessionId),
    /// No role has this name.
    #[error("no role named {0:?}")]
    UnknownRole(String),
    /// No shared file has this id.
    #[error("no shared file with id {0}")]
    UnknownFile(FileId),
    /// An id that must be new is taken (or is 0 where the server must assign one).
    #[error("{0} id {1} is already taken or invalid")]
    DuplicateId(&'static str, u32),
    /// A sibling room already has this name.
    #[error("room {parent} already has a sub-room named {name:?}")]
    DuplicateName {
        /// The parent room.
        parent: RoomId,
        /// The name in conflict.
        name: String,
    },
    /// A role with this name exists.
    #[error("a role named {0:?} exists")]
    DuplicateRole(String),
    /// Moving a room below itself.
    #[error("room {room} cannot move into its own subtree (room {parent})")]
    Cycle {
        /// The room being moved.
        room: RoomId,
        /// The requested parent.
        parent: RoomId,
    },
    /// A room would be nested too deep.
    #[error("rooms may nest {max} levels deep; this would make {depth}")]
    TooDeep {
        /// The resulting depth.
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// The root cannot be moved, removed or re-parented.
    #[error("the root room cannot be moved or removed")]
    RootImmutable,
    /// A room still holds something.
    #[error("room {room} still has {what}; empty it first")]
    RoomNotEmpty {
        /// The room.
        room: RoomId,
        /// What it still holds.
        what: &'static str,
    },
    /// A name or text is not acceptable.
    #[error("invalid {what}: {reason}")]
    InvalidText {
        /// Which text.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A built-in role cannot be removed or granted explicitly.
    #[error("the built-in role {0:?} cannot be changed that way")]
    BuiltinRole(String),
    /// A role is still granted or used by an ACL rule.
    #[error("role {0:?} is still granted or used in an ACL")]
    RoleInUse(String),
    /// A public key is not 32 bytes.
    #[error("a public key has 32 bytes, not {0}")]
    InvalidKey(usize),
    /// An info hash is neither 20 nor 32 bytes.
    #[error("an info hash has 20 or 32 bytes, not {0}")]
    InvalidInfoHash(usize),
    /// An ACL rule names no subject.
    #[error("an ACL rule needs a role or a user key")]
    RuleWithoutSubject,
    /// A collection is full.
    #[error("too many {what} (limit {max})")]
    LimitReached {
        /// Which collection.
        what: &'static str,
        /// The limit.
        max: usize,
    },
}
