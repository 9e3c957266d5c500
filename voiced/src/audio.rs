//! The seam to the audio engine (issue 5). voiced stores the voice settings
//! and applies what the protocol needs (self-mute/deaf flags in the shared
//! state); the engine behind [`AudioEngine`] captures, encodes, plays and
//! lists devices. Until it exists, [`NullAudio`] carries nothing.

use voice_proto::pb::control::{DevicesReply, VoiceMode};

use crate::error::Error;

/// What voiced asks of an audio engine.
pub trait AudioEngine: Send + Sync + std::fmt::Debug {
    /// The backend name (`cpal`, `file`, `null`).
    fn backend(&self) -> &str;
    /// Input and output devices.
    fn devices(&self) -> Result<DevicesReply, Error>;
    /// Selects a device (`None` = the default).
    fn select_device(&self, input: bool, name: Option<&str>) -> Result<(), Error>;
    /// Transmission settings changed: mode, push-to-talk pressed, muted.
    fn set_transmit(&self, mode: VoiceMode, ptt_pressed: bool, muted: bool);
    /// Playback settings changed: deafened.
    fn set_deaf(&self, deaf: bool);
    /// Per-user playback gain (linear) and local mute.
    fn set_user_gain(&self, session: u32, gain: f32, muted: bool);
    /// A voice packet from `speaker` arrived (Opus, undecoded). The engine
    /// sends its own packets with [`crate::Engine::send_voice`].
    fn play(&self, _speaker: u32, _seq: u32, _opus: &[u8], _end_of_burst: bool) {}
}

/// No audio: settings are accepted, devices are not available.
#[derive(Debug, Default)]
pub struct NullAudio;

impl AudioEngine for NullAudio {
    fn backend(&self) -> &str {
        "null"
    }

    fn devices(&self) -> Result<DevicesReply, Error> {
        Err(Error::Unavailable(
            "audio devices are not available: this voiced has no audio engine yet (backend null)"
                .into(),
        ))
    }

    fn select_device(&self, _input: bool, _name: Option<&str>) -> Result<(), Error> {
        self.devices().map(|_| ())
    }

    fn set_transmit(&self, _mode: VoiceMode, _ptt_pressed: bool, _muted: bool) {}

    fn set_deaf(&self, _deaf: bool) {}

    fn set_user_gain(&self, _session: u32, _gain: f32, _muted: bool) {}
}
