//! The engine: a worker thread that runs the capture and playback chains
//! on 10 ms ticks between the backend's rings and the caller.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use voice_proto::voice::ServerVoice;

use crate::backend::{Backend, BackendConfig, DeviceCommand, DeviceIo, StreamResampler};
use crate::capture::{CaptureChain, CaptureMode, GateSettings};
use crate::codec::OpusSettings;
use crate::playback::{JitterSettings, Mixer};
use crate::{AudioError, AudioEvent, FRAME_10MS, OutgoingPacket, SAMPLE_RATE};

/// The worker's period.
const TICK: Duration = Duration::from_millis(5);
/// A loss figure is reported this often.
const LOSS_EVERY: u32 = 200;

/// Everything the engine is started with.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The sound system.
    pub backend: BackendConfig,
    /// Opus settings.
    pub opus: OpusSettings,
    /// Voice gate.
    pub gate: GateSettings,
    /// Jitter buffers.
    pub jitter: JitterSettings,
    /// Capture mode.
    pub mode: CaptureMode,
    /// Noise suppression on the microphone.
    pub noise_suppression: bool,
    /// Audio kept queued towards the output device: at least one device
    /// period (cpal asks for 20 ms) and the worker's 5 ms tick; the file
    /// backend, paced every 5 ms, works with 10 ms.
    pub playback_queue: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            backend: BackendConfig::default(),
            opus: OpusSettings::default(),
            gate: GateSettings::default(),
            jitter: JitterSettings::default(),
            mode: CaptureMode::default(),
            noise_suppression: true,
            playback_queue: Duration::from_millis(20),
        }
    }
}

enum Command {
    Voice {
        speaker: u32,
        flags: u8,
        seq: u32,
        opus: Vec<u8>,
        at: Instant,
    },
    Mode(CaptureMode),
    PushToTalk(bool),
    Mute(bool),
    Deafen(bool),
    Volume(u32, f32),
    LocalMute(u32, bool),
    RemoveSpeaker(u32),
    ReportedLoss(f32),
    Opus(OpusSettings),
    Gate(GateSettings),
    NoiseSuppression(bool),
    Device(DeviceCommand),
}

/// A running audio engine. Dropping it stops the worker and the devices.
pub struct AudioEngine {
    commands: Sender<Command>,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for AudioEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioEngine").finish_non_exhaustive()
    }
}

impl AudioEngine {
    /// Starts the backend and the worker. `on_packet` receives every packet
    /// to send, `on_event` every event; both run on the worker thread and
    /// must not block (hand over through a channel).
    pub fn start<P, E>(config: EngineConfig, on_packet: P, on_event: E) -> Result<Self, AudioError>
    where
        P: FnMut(OutgoingPacket) + Send + 'static,
        E: FnMut(AudioEvent) + Send + 'static,
    {
        let mut chain = CaptureChain::new(config.opus, config.gate)?;
        chain.set_mode(config.mode);
        chain.set_noise_suppression(config.noise_suppression);
        let backend = Backend::start(&config.backend)?;
        let (tx, rx) = mpsc::channel();
        let worker = Worker {
            chain,
            mixer: Mixer::new(config.jitter),
            backend,
            on_packet: Box::new(on_packet),
            on_event: Box::new(on_event),
            capture: None,
            playback: None,
            consumed: None,
            last_queued: 0,
            queue: config.playback_queue,
            mic: Vec::new(),
            spk: Vec::new(),
            packets: Vec::new(),
            events: Vec::new(),
        };
        let worker = std::thread::Builder::new()
            .name("audio-worker".into())
            .spawn(move || worker.run(rx))
            .map_err(|e| AudioError::Device(format!("cannot start the audio worker: {e}")))?;
        Ok(Self {
            commands: tx,
            worker: Some(worker),
        })
    }

    fn send(&self, c: Command) -> Result<(), AudioError> {
        self.commands.send(c).map_err(|_| AudioError::Stopped)
    }

    /// Hands over a voice datagram from the server (copied; timestamped now).
    pub fn receive(&self, voice: &ServerVoice<'_>) -> Result<(), AudioError> {
        self.send(Command::Voice {
            speaker: voice.speaker,
            flags: voice.flags,
            seq: voice.seq,
            opus: voice.opus.to_vec(),
            at: Instant::now(),
        })
    }

    /// Sets the capture mode.
    pub fn set_mode(&self, mode: CaptureMode) -> Result<(), AudioError> {
        self.send(Command::Mode(mode))
    }

    /// Push-to-talk pressed or released.
    pub fn push_to_talk(&self, pressed: bool) -> Result<(), AudioError> {
        self.send(Command::PushToTalk(pressed))
    }

    /// Self-mute.
    pub fn set_muted(&self, muted: bool) -> Result<(), AudioError> {
        self.send(Command::Mute(muted))
    }

    /// Deafen (stops playback).
    pub fn set_deafened(&self, deafened: bool) -> Result<(), AudioError> {
        self.send(Command::Deafen(deafened))
    }

    /// Per-user volume (linear gain, 0–4).
    pub fn set_volume(&self, speaker: u32, gain: f32) -> Result<(), AudioError> {
        self.send(Command::Volume(speaker, gain))
    }

    /// Local mute of one user.
    pub fn set_local_mute(&self, speaker: u32, muted: bool) -> Result<(), AudioError> {
        self.send(Command::LocalMute(speaker, muted))
    }

    /// Forgets a speaker who left.
    pub fn remove_speaker(&self, speaker: u32) -> Result<(), AudioError> {
        self.send(Command::RemoveSpeaker(speaker))
    }

    /// The loss this user's listeners report (percent); drives in-band FEC.
    pub fn set_reported_loss(&self, percent: f32) -> Result<(), AudioError> {
        self.send(Command::ReportedLoss(percent))
    }

    /// Changes the Opus settings.
    pub fn set_opus(&self, settings: OpusSettings) -> Result<(), AudioError> {
        settings.validate()?;
        self.send(Command::Opus(settings))
    }

    /// Changes the gate.
    pub fn set_gate(&self, settings: GateSettings) -> Result<(), AudioError> {
        self.send(Command::Gate(settings))
    }

    /// Noise suppression on the microphone on or off (voice detection
    /// keeps running either way).
    pub fn set_noise_suppression(&self, on: bool) -> Result<(), AudioError> {
        self.send(Command::NoiseSuppression(on))
    }

    /// Selects an input device live (`None`: the default; cpal backend).
    pub fn select_input(&self, name: Option<String>) -> Result<(), AudioError> {
        self.send(Command::Device(DeviceCommand::SelectInput(name)))
    }

    /// Selects an output device live (`None`: the default; cpal backend).
    pub fn select_output(&self, name: Option<String>) -> Result<(), AudioError> {
        self.send(Command::Device(DeviceCommand::SelectOutput(name)))
    }

    /// Stops the worker and the devices (the file backend finishes OUT.wav).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Closing the channel ends the worker's loop.
        let (dead, _) = mpsc::channel();
        self.commands = dead;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Drop for AudioEngine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

type PacketSink = Box<dyn FnMut(OutgoingPacket) + Send>;
type EventSink = Box<dyn FnMut(AudioEvent) + Send>;

struct Worker {
    chain: CaptureChain,
    mixer: Mixer,
    backend: Backend,
    on_packet: PacketSink,
    on_event: EventSink,
    capture: Option<(rtrb::Consumer<f32>, StreamResampler)>,
    playback: Option<(rtrb::Producer<f32>, StreamResampler, u32)>,
    /// Samples the output consumed since it opened, until it counts as running.
    consumed: Option<(Option<Instant>, usize)>,
    last_queued: usize,
    queue: Duration,
    mic: Vec<f32>,
    spk: Vec<f32>,
    packets: Vec<OutgoingPacket>,
    events: Vec<AudioEvent>,
}

impl Worker {
    fn run(mut self, commands: mpsc::Receiver<Command>) {
        crate::priority::raise_current_thread("audio-worker");
        let mut deadline = Instant::now() + TICK;
        let mut ticks = 0u32;
        loop {
            match commands.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(c) => {
                    self.command(c);
                    if Instant::now() < deadline {
                        continue;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = Instant::now();
            deadline += TICK;
            if deadline < now {
                deadline = now + TICK;
            }
            self.tick(now);
            ticks += 1;
            if ticks.is_multiple_of(LOSS_EVERY) {
                let (percent, speakers) = self.mixer.take_loss();
                (self.on_event)(AudioEvent::ReceiveLoss { percent, speakers });
            }
        }
        self.backend.stop();
    }

    fn command(&mut self, c: Command) {
        let result = match c {
            Command::Voice {
                speaker,
                flags,
                seq,
                opus,
                at,
            } => {
                let v = ServerVoice {
                    flags,
                    speaker,
                    seq,
                    opus: &opus,
                };
                self.mixer.receive(&v, at);
                Ok(())
            }
            Command::Mode(m) => {
                self.chain.set_mode(m);
                Ok(())
            }
            Command::PushToTalk(p) => {
                self.chain.set_push_to_talk(p);
                Ok(())
            }
            Command::Mute(m) => {
                self.chain.set_muted(m);
                Ok(())
            }
            Command::Deafen(d) => {
                self.mixer.set_deafened(d, &mut self.events);
                Ok(())
            }
            Command::Volume(s, g) => {
                self.mixer.set_volume(s, g);
                Ok(())
            }
            Command::LocalMute(s, m) => {
                self.mixer.set_local_mute(s, m);
                Ok(())
            }
            Command::RemoveSpeaker(s) => {
                self.mixer.remove(s);
                Ok(())
            }
            Command::ReportedLoss(l) => self.chain.encoder_mut().set_reported_loss(l),
            Command::Opus(s) => self.chain.encoder_mut().set_settings(s),
            Command::Gate(g) => {
                self.chain.set_gate(g);
                Ok(())
            }
            Command::NoiseSuppression(on) => {
                self.chain.set_noise_suppression(on);
                Ok(())
            }
            Command::Device(d) => {
                let _ = self.backend.commands.send(d);
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "audio setting refused");
        }
        self.flush();
    }

    fn install(&mut self, io: DeviceIo) {
        if let Some((c, rate)) = io.capture {
            match StreamResampler::new(rate, SAMPLE_RATE) {
                Ok(r) => self.capture = Some((c, r)),
                Err(e) => tracing::warn!(error = %e, "input device unusable"),
            }
            self.mic.clear();
        }
        if let Some((p, rate)) = io.playback {
            match StreamResampler::new(SAMPLE_RATE, rate) {
                Ok(r) => {
                    self.playback = Some((p, r, rate));
                    self.consumed = Some((None, 0));
                    self.last_queued = 0;
                }
                Err(e) => tracing::warn!(error = %e, "output device unusable"),
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        while let Ok(io) = self.backend.io.try_recv() {
            self.install(io);
        }
        while let Ok(e) = self.backend.events.try_recv() {
            self.events.push(e);
        }
        // Capture: everything the device delivered, in 10 ms frames.
        if let Some((ring, resampler)) = self.capture.as_mut() {
            let n = ring.slots();
            if let Ok(chunk) = ring.read_chunk(n) {
                let (a, b) = chunk.as_slices();
                resampler.process(a, &mut self.mic);
                resampler.process(b, &mut self.mic);
                chunk.commit_all();
            }
        }
        let mut frame = [0.0f32; FRAME_10MS];
        let mut used = 0;
        while self.mic.len() - used >= FRAME_10MS {
            frame.copy_from_slice(&self.mic[used..used + FRAME_10MS]);
            used += FRAME_10MS;
            if let Err(e) = self
                .chain
                .push_frame(&frame, &mut self.packets, &mut self.events)
            {
                tracing::warn!(error = %e, "capture frame dropped");
            }
        }
        self.mic.drain(..used);
        // Playback: keep the device's queue topped up to the target.
        if let Some((ring, resampler, rate)) = self.playback.as_mut() {
            let want = (self.queue.as_secs_f64() * f64::from(*rate)) as usize;
            let capacity = ring.buffer().capacity();
            let mut queued = capacity - ring.slots();
            // Running: a full second in which the device pulled at least
            // 80 % of real time (a starting device may pull once and stall).
            if let Some((since, consumed)) = self.consumed.as_mut() {
                let pulled = self.last_queued.saturating_sub(queued);
                match since {
                    None if pulled > 0 => *since = Some(now),
                    Some(t) if now.duration_since(*t) >= Duration::from_secs(1) => {
                        let secs = now.duration_since(*t).as_secs_f64();
                        if *consumed as f64 >= 0.8 * secs * f64::from(*rate) {
                            self.consumed = None;
                            self.events.push(AudioEvent::OutputRunning);
                        } else {
                            *since = Some(now);
                            *consumed = 0;
                        }
                    }
                    _ => {}
                }
                if let Some((Some(_), consumed)) = self.consumed.as_mut() {
                    *consumed += pulled;
                }
            }
            // Bounded: a resampler may need a few frames before it yields.
            for _ in 0..64 {
                if queued >= want {
                    break;
                }
                self.mixer.render(&mut frame, now, &mut self.events);
                self.spk.clear();
                resampler.process(&frame, &mut self.spk);
                let n = self.spk.len().min(ring.slots());
                if let Ok(chunk) = ring.write_chunk_uninit(n) {
                    queued += chunk.fill_from_iter(self.spk.iter().copied());
                }
            }
            self.last_queued = queued;
        }
        self.flush();
    }

    fn flush(&mut self) {
        for p in self.packets.drain(..) {
            (self.on_packet)(p);
        }
        for e in self.events.drain(..) {
            (self.on_event)(e);
        }
    }
}
