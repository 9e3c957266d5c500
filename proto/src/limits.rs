//! Limits that keep the shared state and every message bounded, and how
//! they travel in `Welcome` ([`ServerLimits`]).

use crate::pb::wire::ServerLimits;

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

/// What a server announces beyond its state limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageLimits {
    /// Longest chat message, in bytes.
    pub max_message_len: usize,
    /// Largest Opus payload of one voice datagram, in bytes.
    pub max_voice_payload: usize,
    /// Largest frame a client may send once authenticated, in bytes.
    pub max_frame_len: usize,
    /// Largest file that may be shared, in bytes.
    pub max_file_size: u64,
    /// Largest torrent info dictionary the tracker accepts, in bytes.
    pub max_torrent_info_bytes: usize,
}

/// A `usize` limit as a wire `u32` (saturating: a limit never wraps).
fn wire(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Limits {
    /// The limits a server announces in `Welcome`.
    pub fn to_server_limits(&self, messages: MessageLimits) -> ServerLimits {
        ServerLimits {
            max_name_len: wire(self.max_name_len),
            max_description_len: wire(self.max_description_len),
            max_message_len: wire(messages.max_message_len),
            max_depth: wire(self.max_depth),
            max_voice_payload: wire(messages.max_voice_payload),
            max_frame_len: wire(messages.max_frame_len),
            max_file_size: messages.max_file_size,
            max_torrent_info_bytes: wire(messages.max_torrent_info_bytes),
        }
    }

    /// The state limits a client mirrors a server's state with: the
    /// defaults, raised to whatever the server announced (never lowered, so
    /// a state the server accepted always validates here; 0 means "not
    /// announced").
    pub fn from_server_limits(server: Option<&ServerLimits>) -> Self {
        let mut limits = Self::default();
        if let Some(s) = server {
            let raise = |mine: &mut usize, theirs: u32| {
                if theirs > 0 {
                    *mine = (*mine).max(theirs as usize);
                }
            };
            raise(&mut limits.max_name_len, s.max_name_len);
            raise(&mut limits.max_description_len, s.max_description_len);
            raise(&mut limits.max_depth, s.max_depth);
        }
        limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_limits_round_trip_the_state_limits() {
        let server = Limits {
            max_name_len: 200,
            max_depth: 40,
            ..Limits::default()
        };
        let wire = server.to_server_limits(MessageLimits {
            max_message_len: 5000,
            max_voice_payload: 1275,
            max_frame_len: 65536,
            max_file_size: 1 << 30,
            max_torrent_info_bytes: 1 << 20,
        });
        assert_eq!(wire.max_name_len, 200);
        assert_eq!(wire.max_message_len, 5000);
        assert_eq!(wire.max_voice_payload, 1275);
        assert_eq!(wire.max_frame_len, 65536);
        let client = Limits::from_server_limits(Some(&wire));
        assert_eq!(client.max_name_len, 200);
        assert_eq!(client.max_depth, 40);
        assert_eq!(client.max_description_len, server.max_description_len);
    }

    #[test]
    fn announced_limits_never_lower_the_defaults() {
        assert_eq!(Limits::from_server_limits(None), Limits::default());
        let small = ServerLimits {
            max_name_len: 3,
            max_depth: 0,
            ..Default::default()
        };
        assert_eq!(Limits::from_server_limits(Some(&small)), Limits::default());
    }
}
