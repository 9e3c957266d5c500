//! The headless bot's audio (`--audio-backend null`): no devices and no
//! engine until a file is played or a recording starts; then the real
//! engine runs on the null backend (no microphone, playback paced in real
//! time and discarded), with the settings given so far.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::mpsc;
use voice_audio::EngineConfig;
use voice_audio::backend::BackendConfig;
use voice_audio::media::{Player, Recorder};
use voice_proto::pb::control::{AudioConfig, DevicesReply, VoiceMode};
use voice_proto::voice::ServerVoice;

use super::device::OUTPUT_QUEUE;
use super::{AudioEngine, AudioOutput, DeviceAudio, NullAudio};
use crate::error::Error;

/// Settings kept until the engine starts.
#[derive(Debug, Default)]
struct Settings {
    transmit: Option<(VoiceMode, bool, bool)>,
    deaf: bool,
    gains: HashMap<u32, (f32, bool)>,
    codec: Option<AudioConfig>,
}

/// No audio until needed, then the engine on the null backend.
#[derive(Debug)]
pub struct HeadlessAudio {
    null: NullAudio,
    engine: Mutex<Option<DeviceAudio>>,
    settings: Mutex<Settings>,
    tx: mpsc::Sender<AudioOutput>,
    rx: Mutex<Option<mpsc::Receiver<AudioOutput>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Default for HeadlessAudio {
    fn default() -> Self {
        Self::new()
    }
}

impl HeadlessAudio {
    /// A headless bot's audio, not started.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel(OUTPUT_QUEUE);
        Self {
            null: NullAudio::off(),
            engine: Mutex::new(None),
            settings: Mutex::new(Settings::default()),
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }

    /// Whether the engine runs (a file played or a recording started).
    pub fn started(&self) -> bool {
        lock(&self.engine).is_some()
    }

    /// Runs `f` on the engine, starting it first with the settings so far.
    fn engine<T>(&self, f: impl FnOnce(&DeviceAudio) -> Result<T, Error>) -> Result<T, Error> {
        let mut engine = lock(&self.engine);
        if engine.is_none() {
            let config = EngineConfig {
                backend: BackendConfig::Null,
                // Nothing to suppress without a microphone.
                noise_suppression: false,
                ..EngineConfig::default()
            };
            let audio = DeviceAudio::start_into(config, self.tx.clone())
                .map_err(|e| Error::Failed(format!("the audio engine could not start: {e}")))?;
            let s = lock(&self.settings);
            if let Some(c) = &s.codec {
                audio.set_codec(c)?;
            }
            if let Some((mode, ptt, muted)) = s.transmit {
                audio.set_transmit(mode, ptt, muted);
            }
            audio.set_deaf(s.deaf);
            for (session, (gain, muted)) in &s.gains {
                audio.set_user_gain(*session, *gain, *muted);
            }
            tracing::info!("headless audio engine started (null backend)");
            *engine = Some(audio);
        }
        match engine.as_ref() {
            Some(e) => f(e),
            None => Err(Error::Failed("the audio engine could not start".into())),
        }
    }

    fn running(&self, f: impl FnOnce(&DeviceAudio)) {
        if let Some(e) = lock(&self.engine).as_ref() {
            f(e);
        }
    }
}

impl AudioEngine for HeadlessAudio {
    fn backend(&self) -> &str {
        "null"
    }

    fn devices(&self) -> Result<DevicesReply, Error> {
        self.null.devices()
    }

    fn select_device(&self, input: bool, name: Option<&str>) -> Result<(), Error> {
        self.null.select_device(input, name)
    }

    fn set_transmit(&self, mode: VoiceMode, ptt_pressed: bool, muted: bool) {
        lock(&self.settings).transmit = Some((mode, ptt_pressed, muted));
        self.running(|e| e.set_transmit(mode, ptt_pressed, muted));
    }

    fn set_deaf(&self, deaf: bool) {
        lock(&self.settings).deaf = deaf;
        self.running(|e| e.set_deaf(deaf));
    }

    fn set_user_gain(&self, session: u32, gain: f32, muted: bool) {
        lock(&self.settings).gains.insert(session, (gain, muted));
        self.running(|e| e.set_user_gain(session, gain, muted));
    }

    fn set_codec(&self, config: &AudioConfig) -> Result<(), Error> {
        if let Some(e) = lock(&self.engine).as_ref() {
            e.set_codec(config)?;
        }
        lock(&self.settings).codec = Some(config.clone());
        Ok(())
    }

    fn set_reported_loss(&self, percent: f32) {
        self.running(|e| e.set_reported_loss(percent));
    }

    fn play(&self, voice: &ServerVoice<'_>) {
        self.running(|e| e.play(voice));
    }

    fn take_output(&self) -> Option<mpsc::Receiver<AudioOutput>> {
        lock(&self.rx).take()
    }

    fn stop(&self) {
        if let Some(e) = lock(&self.engine).take() {
            e.stop();
        }
    }

    fn play_file(&self, id: u64, player: Player) -> Result<(), Error> {
        self.engine(|e| e.play_file(id, player))
    }

    fn stop_playing(&self) {
        self.running(|e| e.stop_playing());
    }

    fn record(&self, id: u64, recorder: Recorder) -> Result<(), Error> {
        self.engine(|e| e.record(id, recorder))
    }

    fn stop_recording(&self) -> Option<Recorder> {
        lock(&self.engine).as_ref()?.stop_recording()
    }
}
