//! Server trust (DESIGN §6): a certificate that chains to the system roots
//! (or an extra CA file) is trusted; otherwise its fingerprint must be pinned
//! in `known_servers`, which happens only after the user accepts it.

pub mod known_servers;
pub mod verifier;

pub use known_servers::{KnownServer, KnownServers, normalize_fingerprint};
pub use verifier::{Accept, TrustDecision, TrustVerifier};

pub use voice_net::fingerprint;

pub use voiced_client::names::format_time_ms;

/// Current Unix time in ms.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
