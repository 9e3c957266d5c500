//! QUIC application close codes of voice/1. The close reason carries a
//! human-readable message saying what to do.

/// A normal close (client left, or the server let it go).
pub const NORMAL: u32 = 0;
/// The peer broke the protocol (malformed frame, wrong stream order).
pub const PROTOCOL_ERROR: u32 = 1;
/// Wrong password, bad signature or invalid key.
pub const AUTH_FAILED: u32 = 2;
/// The handshake was not finished in time.
pub const AUTH_TIMEOUT: u32 = 3;
/// Too many failed logins from this address; try again later.
pub const THROTTLED: u32 = 4;
/// The key is banned.
pub const BANNED: u32 = 5;
/// Kicked by a moderator.
pub const KICKED: u32 = 6;
/// The server has no room for another session.
pub const SERVER_FULL: u32 = 7;
/// The client exceeded a rate limit.
pub const RATE_LIMITED: u32 = 8;
/// The server is shutting down.
pub const SHUTDOWN: u32 = 9;
/// The client speaks another protocol version.
pub const VERSION_MISMATCH: u32 = 10;
/// The same key logged in again elsewhere.
pub const REPLACED: u32 = 11;
/// Registration is closed and the key is not registered.
pub const NOT_REGISTERED: u32 = 12;
/// The client did not read what the server sent, and more waited for it
/// than the server's per-session budget (`max_queue_bytes`).
pub const SLOW_READER: u32 = 13;

/// A short name for a close code, for logs and user messages.
pub fn name(code: u32) -> &'static str {
    match code {
        NORMAL => "normal",
        PROTOCOL_ERROR => "protocol error",
        AUTH_FAILED => "authentication failed",
        AUTH_TIMEOUT => "authentication timeout",
        THROTTLED => "throttled",
        BANNED => "banned",
        KICKED => "kicked",
        SERVER_FULL => "server full",
        RATE_LIMITED => "rate limited",
        SHUTDOWN => "server shutting down",
        VERSION_MISMATCH => "protocol version mismatch",
        REPLACED => "logged in elsewhere",
        NOT_REGISTERED => "not registered",
        SLOW_READER => "too slow to read the server's messages",
        _ => "unknown",
    }
}

/// Whether a client should reconnect by itself after this close.
pub fn should_reconnect(code: u32) -> bool {
    matches!(code, SHUTDOWN | RATE_LIMITED | PROTOCOL_ERROR | SLOW_READER)
}
