//! The seam to the audio engine (DESIGN §8). voiced keeps the voice
//! settings and applies what the protocol needs (self-mute/deaf flags in
//! the shared state); the engine behind the [`AudioEngine`] trait captures,
//! encodes, plays and lists devices. [`DeviceAudio`] runs the real engine
//! (`voice_audio::Engine`, on cpal, file or null backends) and translates
//! voice datagrams into its protocol-free packets; [`NullAudio`] carries
//! nothing, for a daemon started without audio.

mod device;
mod headless;

pub use device::DeviceAudio;
pub use headless::HeadlessAudio;
use voice_audio::media::{Player, Recorder};
use voice_audio::{AudioEvent, OutgoingPacket};
use voice_proto::pb::control::{AudioConfig, DevicesReply, VoiceMode};
use voice_proto::voice::ServerVoice;

use crate::error::Error;

/// What the audio engine hands to the daemon: packets to send and events.
#[derive(Debug)]
pub enum AudioOutput {
    /// An Opus packet for the server.
    Packet(OutgoingPacket),
    /// Meters, talking, devices, reception loss.
    Event(AudioEvent),
}

/// What voiced asks of an audio engine. Every method returns at once: the
/// engine works on its own threads.
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
    /// Codec and capture settings changed (bitrate, frame, threshold,
    /// noise suppression); they were checked by the caller.
    fn set_codec(&self, _config: &AudioConfig) -> Result<(), Error> {
        Ok(())
    }
    /// The loss this user's listeners report, in percent (adaptive FEC).
    fn set_reported_loss(&self, _percent: f32) {}
    /// A voice datagram from the server arrived (Opus, undecoded).
    fn play(&self, _voice: &ServerVoice<'_>) {}
    /// The receiving end of what the engine produces, taken once by the
    /// daemon, which sends the packets and forwards the events.
    fn take_output(&self) -> Option<tokio::sync::mpsc::Receiver<AudioOutput>> {
        None
    }
    /// Stops the devices (the file backend finishes its output file).
    fn stop(&self) {}
    /// Plays a file as this user's voice, instead of what played; its end
    /// comes as `AudioEvent::PlayEnded` with `id`.
    fn play_file(&self, _id: u64, _player: Player) -> Result<(), Error> {
        Err(Error::Unavailable(
            "this voiced runs without an audio engine; start it with `--audio-backend null` (a headless bot), `file` or `cpal` to play files".into(),
        ))
    }
    /// Stops the file playing, if any.
    fn stop_playing(&self) {}
    /// Records what this daemon hears; a recording that stops by itself
    /// comes as `AudioEvent::RecordEnded` with `id`.
    fn record(&self, _id: u64, _recorder: Recorder) -> Result<(), Error> {
        Err(Error::Unavailable(
            "this voiced runs without an audio engine; start it with `--audio-backend null` (a headless bot), `file` or `cpal` to record".into(),
        ))
    }
    /// Stops the recording and hands it back to be finished.
    fn stop_recording(&self) -> Option<Recorder> {
        None
    }
}

/// No audio: settings are accepted, there are no devices.
#[derive(Debug)]
pub struct NullAudio {
    why: String,
}

impl NullAudio {
    /// No audio because the user asked for none.
    pub fn off() -> Self {
        Self::because(
            "this voiced runs without audio (--audio-backend null); restart it with `--audio-backend cpal` to use sound devices",
        )
    }

    /// No audio for a reason the user should read (shown when a device is
    /// chosen).
    pub fn because(why: impl Into<String>) -> Self {
        Self { why: why.into() }
    }
}

impl Default for NullAudio {
    fn default() -> Self {
        Self::off()
    }
}

impl AudioEngine for NullAudio {
    fn backend(&self) -> &str {
        "null"
    }

    fn devices(&self) -> Result<DevicesReply, Error> {
        Ok(DevicesReply {
            backend: "null".into(),
            inputs: Vec::new(),
            outputs: Vec::new(),
        })
    }

    fn select_device(&self, _input: bool, _name: Option<&str>) -> Result<(), Error> {
        Err(Error::Unavailable(self.why.clone()))
    }

    fn set_transmit(&self, _mode: VoiceMode, _ptt_pressed: bool, _muted: bool) {}

    fn set_deaf(&self, _deaf: bool) {}

    fn set_user_gain(&self, _session: u32, _gain: f32, _muted: bool) {}
}
