//! Limits that keep the shared state and every message bounded.

/// Bounds enforced by [`State::apply`](crate::State::apply) and by decoders.
///
/// The defaults are the documented server defaults (see `docs/protocol.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest room, session or role name, in characters.
    pub max_name_len: usize,
    /// Longest room description, in characters.
    pub max_description_len: usize,
    /// Deepest room (the root has depth 0).
    pub max_depth: usize,
    /// Most rooms, the root included.
    pub max_rooms: usize,
    /// Most connected sessions.
    pub max_sessions: usize,
    /// Most roles, the built-in ones included.
    pub max_roles: usize,
    /// Most ACL rules in one room.
    pub max_acl_rules: usize,
    /// Most roles one session holds.
    pub max_session_roles: usize,
    /// Most shared files.
    pub max_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_name_len: 64,
            max_description_len: 1024,
            max_depth: 16,
            max_rooms: 10_000,
            max_sessions: 10_000,
            max_roles: 256,
            max_acl_rules: 64,
            max_session_roles: 32,
            max_files: 10_000,
        }
    }
}
