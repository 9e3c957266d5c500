//! The words every front end shows for the daemon's states and modes, and
//! how it writes a time: one spelling for the CLI, the TUI and the GUI.

use voice_proto::pb::control::device_problem::{Action, Kind};
use voice_proto::pb::control::{ConnectionState, DeviceHealth, VoiceMode};

/// The human name of a connection state (`connected`, `reconnecting`…);
/// `unknown` for a value this build does not know (a newer daemon).
pub fn state_name(state: i32) -> &'static str {
    match ConnectionState::try_from(state) {
        Ok(ConnectionState::Disconnected) => "disconnected",
        Ok(ConnectionState::Connecting) => "connecting",
        Ok(ConnectionState::Connected) => "connected",
        Ok(ConnectionState::Reconnecting) => "reconnecting",
        _ => "unknown",
    }
}

/// The short name of a voice mode as `voicectl mode` takes it: `vad`,
/// `ptt` or `continuous` (unspecified and unknown read as `vad`, voiced's
/// default).
pub fn voice_mode_name(mode: i32) -> &'static str {
    match VoiceMode::try_from(mode) {
        Ok(VoiceMode::PushToTalk) => "ptt",
        Ok(VoiceMode::Continuous) => "continuous",
        _ => "vad",
    }
}

/// The name of an audio device's health: `ok`, `stalled`, `missing`, or
/// `unknown` (nothing known yet, or a value this build does not know).
pub fn device_health_name(health: i32) -> &'static str {
    match DeviceHealth::try_from(health) {
        Ok(DeviceHealth::DeviceOk) => "ok",
        Ok(DeviceHealth::DeviceStalled) => "stalled",
        Ok(DeviceHealth::DeviceMissing) => "missing",
        _ => "unknown",
    }
}

/// The name of a device problem's kind: `stalled` (stopped delivering
/// without an error) or `lost`.
pub fn device_problem_name(kind: i32) -> &'static str {
    match Kind::try_from(kind) {
        Ok(Kind::Stalled) => "stalled",
        Ok(Kind::Lost) => "lost",
        _ => "unknown",
    }
}

/// What voiced did about a device problem: `reopened`,
/// `moved_to_default` or `waiting`.
pub fn device_action_name(action: i32) -> &'static str {
    match Action::try_from(action) {
        Ok(Action::Reopened) => "reopened",
        Ok(Action::MovedToDefault) => "moved_to_default",
        Ok(Action::Waiting) => "waiting",
        _ => "unknown",
    }
}

/// A Unix time in ms as a UTC date and time: `2026-11-20 14:03 UTC`.
pub fn format_time_ms(ms: u64) -> String {
    let rem = (ms / 1000) % 86_400;
    format!(
        "{} {:02}:{:02} UTC",
        date(ms),
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// A Unix time in ms as a UTC date: `2026-11-20`.
pub fn date(ms: u64) -> String {
    voice_proto::time::utc_date(ms)
}

/// A Unix time in ms as the UTC time of day: `14:03`.
pub fn clock(ms: u64) -> String {
    let minutes = ms / 60_000;
    format!("{:02}:{:02}", (minutes / 60) % 24, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_format() {
        assert_eq!(format_time_ms(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time_ms(1_795_000_000_000), "2026-11-18 11:06 UTC");
        assert_eq!(date(1_795_000_000_000), "2026-11-18");
        assert_eq!(clock(1_795_000_000_000), "11:06");
        // Leap day, and the far future does not panic.
        assert_eq!(date(951_782_400_000), "2000-02-29");
        let _ = format_time_ms(u64::MAX);
    }

    #[test]
    fn names_of_states_and_modes() {
        assert_eq!(state_name(ConnectionState::Connected as i32), "connected");
        assert_eq!(state_name(99), "unknown");
        assert_eq!(voice_mode_name(VoiceMode::PushToTalk as i32), "ptt");
        assert_eq!(voice_mode_name(VoiceMode::Continuous as i32), "continuous");
        assert_eq!(voice_mode_name(0), "vad");
    }
}
