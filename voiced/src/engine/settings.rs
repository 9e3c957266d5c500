//! Voice settings kept by the engine and handed to the audio engine.

use std::collections::HashMap;

use voice_proto::pb::control::{AudioConfig, VoiceMode};

use crate::config::Config;
use crate::identity::Identity;

/// The user's own voice settings and per-user playback settings.
#[derive(Clone, Debug)]
pub struct VoiceSettings {
    /// Muted by the user.
    pub mute: bool,
    /// Deafened (implies muted while on).
    pub deaf: bool,
    /// Push-to-talk key held.
    pub ptt_pressed: bool,
    /// Transmission mode.
    pub mode: VoiceMode,
    /// Codec and device settings.
    pub audio: AudioConfig,
    /// Per public key (hex): linear gain.
    pub volumes: HashMap<String, f32>,
    /// Per public key (hex): muted locally.
    pub local_mutes: HashMap<String, bool>,
}

impl Default for VoiceSettings {
    fn default() -> Self {
        Self {
            mute: false,
            deaf: false,
            ptt_pressed: false,
            mode: VoiceMode::VoiceActivity,
            audio: AudioConfig {
                voice_mode: VoiceMode::VoiceActivity as i32,
                bitrate: 32_000,
                frame_ms: 20,
                vad_threshold: 0.5,
                noise_suppression: true,
                input_device: String::new(),
                output_device: String::new(),
                // The engine turns both on with real devices (`Engine::new`).
                echo_cancellation: false,
                auto_gain: false,
            },
            volumes: HashMap::new(),
            local_mutes: HashMap::new(),
        }
    }
}

impl VoiceSettings {
    /// The self-mute flag shown to others: muted, or deafened.
    pub fn muted(&self) -> bool {
        self.mute || self.deaf
    }
}

/// The display name used when none is given.
pub fn default_name(config: &Config, identity: &Identity) -> String {
    if !config.display_name.trim().is_empty() {
        return config.display_name.trim().to_owned();
    }
    match std::env::var("USER") {
        Ok(u) if !u.trim().is_empty() && u.len() <= 64 => u,
        _ => format!("user-{}", &identity.public_hex()[..8]),
    }
}
