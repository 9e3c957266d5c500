//! The real audio engine behind the seam: `voice-audio` on a cpal, file or
//! null backend.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::mpsc;
use voice_audio::backend::BackendConfig;
use voice_audio::capture::{CaptureMode, GateSettings};
use voice_audio::codec::OpusSettings;
use voice_audio::media::{Player, Recorder};
use voice_audio::{AudioError, EngineConfig, IncomingPacket};
use voice_proto::pb::control::{AudioConfig, Device, DevicesReply, VoiceMode};
use voice_proto::voice::ServerVoice;

use super::{AudioEngine, AudioOutput};
use crate::error::Error;

/// Packets and events waiting for the daemon. A full queue drops: voice
/// that cannot be sent at once is stale anyway.
pub(crate) const OUTPUT_QUEUE: usize = 512;

/// The running `voice-audio` engine.
pub struct DeviceAudio {
    backend: &'static str,
    /// The file backend's files (its only "devices").
    files: (Option<PathBuf>, Option<PathBuf>),
    engine: Mutex<Option<voice_audio::Engine>>,
    output: Mutex<Option<mpsc::Receiver<AudioOutput>>>,
    /// Chosen input and output device names (`None`: the default).
    chosen: Mutex<(Option<String>, Option<String>)>,
}

impl std::fmt::Debug for DeviceAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAudio")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data behind the lock: a panic elsewhere leaves it usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn capture_mode(mode: VoiceMode) -> CaptureMode {
    match mode {
        VoiceMode::PushToTalk => CaptureMode::PushToTalk,
        VoiceMode::Continuous => CaptureMode::Continuous,
        VoiceMode::VoiceActivity | VoiceMode::Unspecified => CaptureMode::VoiceActivity,
    }
}

impl DeviceAudio {
    /// Starts the engine with `config`.
    pub fn start(config: EngineConfig) -> Result<Self, AudioError> {
        let (tx, rx) = mpsc::channel(OUTPUT_QUEUE);
        let mut audio = Self::start_into(config, tx)?;
        audio.output = Mutex::new(Some(rx));
        Ok(audio)
    }

    /// Starts the engine with `config`, handing what it produces to `tx`
    /// (its own `take_output` then answers nothing).
    pub fn start_into(
        config: EngineConfig,
        tx: mpsc::Sender<AudioOutput>,
    ) -> Result<Self, AudioError> {
        let (backend, files, chosen) = match &config.backend {
            BackendConfig::Cpal { input, output } => {
                ("cpal", (None, None), (input.clone(), output.clone()))
            }
            BackendConfig::File { input, output } => {
                ("file", (input.clone(), output.clone()), (None, None))
            }
            BackendConfig::Null => ("null", (None, None), (None, None)),
        };
        let events = tx.clone();
        let engine = voice_audio::Engine::start(
            config,
            move |p| {
                let _ = tx.try_send(AudioOutput::Packet(p));
            },
            move |e| {
                let _ = events.try_send(AudioOutput::Event(e));
            },
        )?;
        Ok(Self {
            backend,
            files,
            engine: Mutex::new(Some(engine)),
            output: Mutex::new(None),
            chosen: Mutex::new(chosen),
        })
    }

    /// Runs `f` on the engine unless it stopped; a refusal is logged (the
    /// engine only refuses when it has stopped or a setting is out of range,
    /// which the caller checked).
    fn with(&self, what: &str, f: impl FnOnce(&voice_audio::Engine) -> Result<(), AudioError>) {
        if let Some(e) = lock(&self.engine).as_ref()
            && let Err(err) = f(e)
        {
            tracing::warn!(error = %err, "audio: {what} not applied");
        }
    }

    fn fixed_devices(&self) -> Error {
        Error::Invalid(format!(
            "the {} audio backend has fixed devices; restart voiced with `--audio-backend cpal` to choose sound devices",
            self.backend
        ))
    }
}

fn devices_of(names: &[String], default: Option<&String>, chosen: Option<&String>) -> Vec<Device> {
    names
        .iter()
        .map(|n| Device {
            name: n.clone(),
            is_default: default == Some(n),
            selected: chosen.map_or(default == Some(n), |c| c == n),
        })
        .collect()
}

impl AudioEngine for DeviceAudio {
    fn backend(&self) -> &str {
        self.backend
    }

    fn devices(&self) -> Result<DevicesReply, Error> {
        match self.backend {
            "cpal" => {
                let list = voice_audio::backend::list_devices()
                    .map_err(|e| Error::Failed(format!("cannot list sound devices: {e}")))?;
                let chosen = lock(&self.chosen).clone();
                Ok(DevicesReply {
                    backend: "cpal".into(),
                    inputs: devices_of(
                        &list.inputs,
                        list.default_input.as_ref(),
                        chosen.0.as_ref(),
                    ),
                    outputs: devices_of(
                        &list.outputs,
                        list.default_output.as_ref(),
                        chosen.1.as_ref(),
                    ),
                })
            }
            _ => {
                let file = |p: &Option<PathBuf>| {
                    p.iter()
                        .map(|p| Device {
                            name: p.display().to_string(),
                            is_default: true,
                            selected: true,
                        })
                        .collect()
                };
                Ok(DevicesReply {
                    backend: self.backend.into(),
                    inputs: file(&self.files.0),
                    outputs: file(&self.files.1),
                })
            }
        }
    }

    fn select_device(&self, input: bool, name: Option<&str>) -> Result<(), Error> {
        if self.backend != "cpal" {
            return Err(self.fixed_devices());
        }
        if let Some(name) = name {
            let list = voice_audio::backend::list_devices()
                .map_err(|e| Error::Failed(format!("cannot list sound devices: {e}")))?;
            let names = if input { &list.inputs } else { &list.outputs };
            if !names.iter().any(|n| n == name) {
                return Err(Error::NotFound(format!(
                    "no {} device named {name:?}; `voicectl devices` lists them: {}",
                    if input { "input" } else { "output" },
                    names.join(", ")
                )));
            }
        }
        let name = name.map(str::to_owned);
        {
            let mut chosen = lock(&self.chosen);
            if input {
                chosen.0 = name.clone();
            } else {
                chosen.1 = name.clone();
            }
        }
        self.with("device selection", |e| {
            if input {
                e.select_input(name)
            } else {
                e.select_output(name)
            }
        });
        Ok(())
    }

    fn set_transmit(&self, mode: VoiceMode, ptt_pressed: bool, muted: bool) {
        self.with("transmit settings", |e| {
            e.set_mode(capture_mode(mode))?;
            e.push_to_talk(ptt_pressed)?;
            e.set_muted(muted)
        });
    }

    fn set_deaf(&self, deaf: bool) {
        self.with("deafen", |e| e.set_deafened(deaf));
    }

    fn set_user_gain(&self, session: u32, gain: f32, muted: bool) {
        self.with("user volume", |e| {
            e.set_volume(session, gain)?;
            e.set_local_mute(session, muted)
        });
    }

    fn set_codec(&self, c: &AudioConfig) -> Result<(), Error> {
        let opus = OpusSettings {
            frame_ms: c.frame_ms,
            bitrate: c.bitrate,
            ..OpusSettings::default()
        };
        opus.validate().map_err(|e| Error::Invalid(e.to_string()))?;
        let gate = GateSettings {
            threshold: c.vad_threshold,
            ..GateSettings::default()
        };
        self.with("codec settings", |e| {
            e.set_opus(opus)?;
            e.set_gate(gate)?;
            e.set_noise_suppression(c.noise_suppression)?;
            e.set_echo_cancellation(c.echo_cancellation)?;
            e.set_auto_gain(c.auto_gain)
        });
        Ok(())
    }

    fn set_reported_loss(&self, percent: f32) {
        self.with("reported loss", |e| e.set_reported_loss(percent));
    }

    fn play(&self, voice: &ServerVoice<'_>) {
        // The engine takes no wire types: the datagram's fields, translated.
        let packet = IncomingPacket {
            speaker: voice.speaker,
            seq: voice.seq,
            end_of_burst: voice.end_of_burst(),
            opus: voice.opus,
        };
        self.with("voice packet", |e| e.receive(packet));
    }

    fn take_output(&self) -> Option<mpsc::Receiver<AudioOutput>> {
        lock(&self.output).take()
    }

    fn stop(&self) {
        let engine = lock(&self.engine).take();
        if let Some(e) = engine {
            e.stop();
        }
    }

    fn play_file(&self, id: u64, player: Player) -> Result<(), Error> {
        match lock(&self.engine).as_ref() {
            Some(e) => e.play(id, player).map_err(|e| Error::Failed(e.to_string())),
            None => Err(Error::Failed("the audio engine has stopped".into())),
        }
    }

    fn stop_playing(&self) {
        self.with("stop playing", |e| e.stop_playing());
    }

    fn record(&self, id: u64, recorder: Recorder) -> Result<(), Error> {
        match lock(&self.engine).as_ref() {
            Some(e) => e
                .record(id, recorder)
                .map_err(|e| Error::Failed(e.to_string())),
            None => Err(Error::Failed("the audio engine has stopped".into())),
        }
    }

    fn stop_recording(&self) -> Option<Recorder> {
        let engine = lock(&self.engine);
        match engine.as_ref()?.stop_recording() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "audio: recording not handed back");
                None
            }
        }
    }
}
