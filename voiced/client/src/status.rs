//! How a front end reads voiced's status reply: the proto's `Unspecified`
//! and unknown values (a newer daemon) map to what a user should see.

use voice_proto::pb::control::{ConnectionState, NetworkChange, StatusReply, VoiceMode};

/// The connection state to the server; unspecified or unknown reads as
/// disconnected.
pub fn connection_state(status: &StatusReply) -> ConnectionState {
    match ConnectionState::try_from(status.state) {
        Ok(ConnectionState::Unspecified) | Err(_) => ConnectionState::Disconnected,
        Ok(state) => state,
    }
}

/// The voice mode voiced reported; unspecified or unknown reads as voice
/// activity (voiced's default).
pub fn voice_mode(status: &StatusReply) -> VoiceMode {
    match VoiceMode::try_from(status.voice_mode) {
        Ok(VoiceMode::Unspecified) | Err(_) => VoiceMode::VoiceActivity,
        Ok(mode) => mode,
    }
}

/// A change of the network under the connection, in words: what moved and
/// whether the call kept its connection (QUIC migration) or voiced
/// connected again.
pub fn network_change(change: &NetworkChange) -> String {
    if change.migrated {
        format!(
            "the network changed ({} → {}); the connection moved with it (QUIC migration, \
             the server answered on the new path after {} ms)",
            change.from, change.to, change.took_ms
        )
    } else {
        format!(
            "the network changed ({} → {}); the connection was lost and voiced connected again \
             after {} ms",
            change.from, change.to, change.took_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_and_unknown_values_read_as_the_defaults() {
        let mut s = StatusReply::default();
        assert_eq!(connection_state(&s), ConnectionState::Disconnected);
        assert_eq!(voice_mode(&s), VoiceMode::VoiceActivity);
        s.state = 999;
        s.voice_mode = 999;
        assert_eq!(connection_state(&s), ConnectionState::Disconnected);
        assert_eq!(voice_mode(&s), VoiceMode::VoiceActivity);
        s.state = ConnectionState::Connected as i32;
        s.voice_mode = VoiceMode::PushToTalk as i32;
        assert_eq!(connection_state(&s), ConnectionState::Connected);
        assert_eq!(voice_mode(&s), VoiceMode::PushToTalk);
    }
}
