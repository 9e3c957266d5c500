//! The engine: a worker thread that runs the capture and playback chains
//! between the backend's rings and the caller. The devices wake it when
//! they moved samples, commands wake it when they arrive, and a short
//! timer keeps it going when neither happens. Voice reaches it through a
//! bounded queue ([`VoiceQueue`]), settings through a channel.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{self, Sender, TryRecvError};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use crate::backend::{
    Backend, BackendConfig, DeviceCommand, DeviceIo, OutputMeter, StreamResampler,
};
use crate::capture::{CaptureChain, CaptureMode, GateSettings};
use crate::codec::OpusSettings;
use crate::media::{Player, PlayerFrame, Recorder};
use crate::playback::{JitterSettings, Mixer, OutputQueue};
use crate::voice_queue::{QueuedVoice, VoiceQueue, VoiceQueueStats};
use crate::wake::Wake;
use crate::{AudioError, AudioEvent, FRAME_10MS, IncomingPacket, OutgoingPacket, SAMPLE_RATE};

/// The longest the worker sleeps when nothing wakes it.
const TICK: Duration = Duration::from_millis(2);
/// A loss figure is reported this often.
const LOSS_EVERY: Duration = Duration::from_secs(1);

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
    /// Echo cancellation on the microphone, with what the engine plays as
    /// the reference (off by default; voiced turns it on for real devices).
    pub echo_cancellation: bool,
    /// Automatic gain control on the microphone (off by default).
    pub auto_gain: bool,
    /// Audio kept queued towards the output device beyond what the device
    /// has played since its last pull: the margin for the worker's wake-up
    /// delay. It grows after repeated underruns and comes back to this
    /// value while the output runs clean ([`OutputQueue`]).
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
            echo_cancellation: false,
            auto_gain: false,
            playback_queue: Duration::from_millis(5),
        }
    }
}

/// Settings and device changes: few, and never dropped (voice goes
/// through the bounded [`VoiceQueue`] instead).
enum Command {
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
    EchoCancellation(bool),
    AutoGain(bool),
    Device(DeviceCommand),
    Play(u64, Box<Player>),
    StopPlaying,
    Record(u64, Box<Recorder>),
    /// Hands the recorder back to be finished off the real-time thread.
    StopRecording(Sender<Recorder>),
    /// Holds the worker until `release` is signalled or dropped (tests).
    #[cfg(test)]
    Stall {
        stalled: Sender<()>,
        release: mpsc::Receiver<()>,
    },
}

/// A running audio engine. Dropping it stops the worker and the devices.
pub struct Engine {
    commands: Sender<Command>,
    voice: Arc<VoiceQueue>,
    worker: Option<JoinHandle<()>>,
    thread: Thread,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
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
        chain.set_echo_cancellation(config.echo_cancellation);
        chain.set_auto_gain(config.auto_gain);
        let wake = Wake::default();
        let backend = Backend::start(&config.backend, wake.clone())?;
        let (tx, rx) = mpsc::channel();
        let voice = Arc::new(VoiceQueue::default());
        let worker = Worker {
            voice: voice.clone(),
            voice_batch: VecDeque::new(),
            chain,
            mixer: Mixer::new(config.jitter),
            backend,
            on_packet: Box::new(on_packet),
            on_event: Box::new(on_event),
            capture: None,
            output: None,
            queue: config.playback_queue,
            mic: Vec::new(),
            spk: Vec::new(),
            packets: Vec::new(),
            events: Vec::new(),
            playing: None,
            recording: None,
        };
        let worker = std::thread::Builder::new()
            .name("audio-worker".into())
            .spawn(move || worker.run(rx))
            .map_err(|e| AudioError::Device(format!("cannot start the audio worker: {e}")))?;
        let thread = worker.thread().clone();
        wake.set(thread.clone());
        Ok(Self {
            commands: tx,
            voice,
            worker: Some(worker),
            thread,
        })
    }

    fn send(&self, c: Command) -> Result<(), AudioError> {
        self.commands.send(c).map_err(|_| AudioError::Stopped)?;
        self.thread.unpark();
        Ok(())
    }

    /// Hands over a packet from a remote speaker (copied; timestamped now).
    /// It waits for the worker in a bounded queue: when the worker falls
    /// behind by [`VOICE_QUEUE`](crate::VOICE_QUEUE) packets, the oldest
    /// are dropped and counted ([`Engine::voice_queue`]).
    pub fn receive(&self, packet: IncomingPacket<'_>) -> Result<(), AudioError> {
        if self.worker.as_ref().is_none_or(JoinHandle::is_finished) {
            return Err(AudioError::Stopped);
        }
        self.voice.push(QueuedVoice {
            speaker: packet.speaker,
            seq: packet.seq,
            end_of_burst: packet.end_of_burst,
            opus: packet.opus.to_vec(),
            at: Instant::now(),
        });
        self.thread.unpark();
        Ok(())
    }

    /// Packets waiting for the worker, and how many were dropped so far
    /// because it fell behind.
    pub fn voice_queue(&self) -> VoiceQueueStats {
        self.voice.stats()
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

    /// Echo cancellation on the microphone on or off.
    pub fn set_echo_cancellation(&self, on: bool) -> Result<(), AudioError> {
        self.send(Command::EchoCancellation(on))
    }

    /// Automatic gain control on the microphone on or off.
    pub fn set_auto_gain(&self, on: bool) -> Result<(), AudioError> {
        self.send(Command::AutoGain(on))
    }

    /// Selects an input device live (`None`: the default; cpal backend).
    pub fn select_input(&self, name: Option<String>) -> Result<(), AudioError> {
        self.send(Command::Device(DeviceCommand::SelectInput(name)))
    }

    /// Selects an output device live (`None`: the default; cpal backend).
    pub fn select_output(&self, name: Option<String>) -> Result<(), AudioError> {
        self.send(Command::Device(DeviceCommand::SelectOutput(name)))
    }

    /// Plays a file as this user's voice (replacing what played), until
    /// its end ([`AudioEvent::PlayEnded`] with `id`) or
    /// [`Engine::stop_playing`].
    pub fn play(&self, id: u64, player: Player) -> Result<(), AudioError> {
        self.send(Command::Play(id, Box::new(player)))
    }

    /// Stops the file playing, if any.
    pub fn stop_playing(&self) -> Result<(), AudioError> {
        self.send(Command::StopPlaying)
    }

    /// Records what the engine plays (the mix, before the device) into
    /// `recorder`, replacing a recording in progress (which is finished).
    /// One that stops by itself reports [`AudioEvent::RecordEnded`].
    pub fn record(&self, id: u64, recorder: Recorder) -> Result<(), AudioError> {
        self.send(Command::Record(id, Box::new(recorder)))
    }

    /// Stops the recording and hands it back (finish it with
    /// [`Recorder::finish`]); `None` if there was none.
    pub fn stop_recording(&self) -> Result<Option<Recorder>, AudioError> {
        let (tx, rx) = mpsc::channel();
        self.send(Command::StopRecording(tx))?;
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(r) => Ok(Some(r)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Ok(None),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(AudioError::Stopped),
        }
    }

    /// Stops the worker and the devices (the file backend finishes OUT.wav).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Closing the channel ends the worker's loop.
        let (dead, _) = mpsc::channel();
        self.commands = dead;
        self.thread.unpark();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

type PacketSink = Box<dyn FnMut(OutgoingPacket) + Send>;
type EventSink = Box<dyn FnMut(AudioEvent) + Send>;

struct Worker {
    voice: Arc<VoiceQueue>,
    /// The packets taken from `voice`, kept to reuse the allocation.
    voice_batch: VecDeque<QueuedVoice>,
    chain: CaptureChain,
    mixer: Mixer,
    backend: Backend,
    on_packet: PacketSink,
    on_event: EventSink,
    capture: Option<(rtrb::Consumer<f32>, StreamResampler)>,
    output: Option<Output>,
    /// The configured output margin (`EngineConfig::playback_queue`).
    queue: Duration,
    mic: Vec<f32>,
    spk: Vec<f32>,
    packets: Vec<OutgoingPacket>,
    events: Vec<AudioEvent>,
    /// The file being played as this user's voice.
    playing: Option<Playing>,
    /// The recording of what is played, and its id.
    recording: Option<(u64, Box<Recorder>)>,
}

/// A file being played and its clock (used when there is no microphone
/// to pace it).
struct Playing {
    id: u64,
    player: Box<Player>,
    started: Instant,
    frames: u64,
}

/// The output device as the worker sees it.
struct Output {
    ring: rtrb::Producer<f32>,
    resampler: StreamResampler,
    rate: u32,
    meter: Arc<OutputMeter>,
    queue: OutputQueue,
    /// Samples the device consumed since it opened, until it counts as running.
    consumed: Option<(Option<Instant>, usize)>,
    /// Samples in the ring after the last top-up.
    last_queued: usize,
    /// When the worker last saw the device pull (at first: when it opened,
    /// as a device plays from then).
    last_pull: Instant,
}

impl Worker {
    fn run(mut self, commands: mpsc::Receiver<Command>) {
        crate::priority::raise_current_thread("audio-worker");
        let mut next_loss = Instant::now() + LOSS_EVERY;
        loop {
            self.take_voice();
            loop {
                match commands.try_recv() {
                    Ok(c) => self.command(c),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.backend.stop();
                        return;
                    }
                }
            }
            let now = Instant::now();
            self.tick(now);
            if now >= next_loss {
                next_loss = now + LOSS_EVERY;
                let (percent, speakers) = self.mixer.take_loss();
                (self.on_event)(AudioEvent::ReceiveLoss { percent, speakers });
            }
            // Woken early by a device or a command (a wake that came while
            // working makes this return at once, so none is missed).
            std::thread::park_timeout(TICK);
        }
    }

    /// Hands the waiting voice to the mixer (before the commands that came
    /// with it: a packet is never held back behind a setting).
    fn take_voice(&mut self) {
        let dropped = self.voice.take(&mut self.voice_batch);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "the audio worker fell behind; the oldest voice packets were dropped"
            );
        }
        for v in self.voice_batch.drain(..) {
            self.mixer.receive(v.packet(), v.at);
        }
    }

    fn command(&mut self, c: Command) {
        let result = match c {
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
            Command::EchoCancellation(on) => {
                self.chain.set_echo_cancellation(on);
                Ok(())
            }
            Command::AutoGain(on) => {
                self.chain.set_auto_gain(on);
                Ok(())
            }
            Command::Device(d) => {
                let _ = self.backend.commands.send(d);
                Ok(())
            }
            Command::Play(id, player) => {
                self.playing = Some(Playing {
                    id,
                    player,
                    started: Instant::now(),
                    frames: 0,
                });
                Ok(())
            }
            Command::StopPlaying => {
                self.playing = None;
                Ok(())
            }
            Command::Record(id, recorder) => {
                if let Some((_, old)) = self.recording.replace((id, recorder)) {
                    // Finished on its own thread, off this one.
                    std::thread::spawn(move || drop(old));
                }
                Ok(())
            }
            Command::StopRecording(reply) => {
                if let Some((_, r)) = self.recording.take() {
                    let _ = reply.send(*r);
                }
                Ok(())
            }
            #[cfg(test)]
            Command::Stall { stalled, release } => {
                let _ = stalled.send(());
                let _ = release.recv();
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
        if let Some((ring, rate, meter)) = io.playback {
            match StreamResampler::new(SAMPLE_RATE, rate) {
                Ok(resampler) => {
                    // What the device pulled before the worker knew it is
                    // not an underrun.
                    meter.take();
                    self.spk.clear();
                    let now = Instant::now();
                    self.output = Some(Output {
                        ring,
                        resampler,
                        rate,
                        meter,
                        queue: OutputQueue::new(rate, self.queue, now),
                        consumed: Some((None, 0)),
                        last_queued: 0,
                        last_pull: now,
                    });
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
        let mut file = [0.0f32; FRAME_10MS];
        let mut used = 0;
        while self.mic.len() - used >= FRAME_10MS {
            frame.copy_from_slice(&self.mic[used..used + FRAME_10MS]);
            used += FRAME_10MS;
            let replace = self.file_frame(&mut file);
            if let Err(e) = self.chain.push_mixed(
                Some(&frame),
                replace.map(|r| (&file, r)),
                &mut self.packets,
                &mut self.events,
            ) {
                tracing::warn!(error = %e, "capture frame dropped");
            }
        }
        self.mic.drain(..used);
        if self.capture.is_none() {
            self.play_without_mic(now, &mut file);
        }
        // Playback: keep the device's queue topped up to the target.
        if let Some(out) = self.output.as_mut() {
            let (largest_pull, short) = out.meter.take();
            out.queue.observe(now, largest_pull, short);
            if largest_pull > 0 {
                out.last_pull = now;
            }
            let want = out.queue.want();
            let rate = out.rate;
            let ring = &mut out.ring;
            let capacity = ring.buffer().capacity();
            let level = capacity - ring.slots();
            // Between its pulls the device goes on playing what it took: count
            // that as consumed, so the queue stays `want` ahead of what is
            // heard and a pull that comes late still finds its samples.
            let since_pull = ((now.duration_since(out.last_pull).as_secs_f64() * f64::from(rate))
                as usize)
                .min(out.queue.stall_bound());
            let mut queued = level.saturating_sub(since_pull);
            // Running: a full second in which the device pulled at least
            // 80 % of real time (a starting device may pull once and stall).
            if let Some((since, consumed)) = out.consumed.as_mut() {
                let pulled = out.last_queued.saturating_sub(level);
                match since {
                    None if pulled > 0 => *since = Some(now),
                    Some(t) if now.duration_since(*t) >= Duration::from_secs(1) => {
                        let secs = now.duration_since(*t).as_secs_f64();
                        if *consumed as f64 >= 0.8 * secs * f64::from(rate) {
                            out.consumed = None;
                            self.events.push(AudioEvent::OutputRunning);
                        } else {
                            *since = Some(now);
                            *consumed = 0;
                        }
                    }
                    _ => {}
                }
                if let Some((Some(_), consumed)) = out.consumed.as_mut() {
                    *consumed += pulled;
                }
            }
            // Exactly up to the target: what is rendered beyond it waits in
            // `spk` (a whole frame queued would add up to 10 ms of delay).
            // Bounded: a resampler may need a few frames before it yields.
            for _ in 0..64 {
                if queued >= want {
                    break;
                }
                if self.spk.is_empty() {
                    self.mixer.render(&mut frame, now, &mut self.events);
                    if let Some((_, r)) = self.recording.as_mut() {
                        r.push(&frame);
                    }
                    // What goes to the device is the echo canceller's reference.
                    self.chain.played(&frame);
                    out.resampler.process(&frame, &mut self.spk);
                    continue;
                }
                let n = self.spk.len().min(want - queued).min(ring.slots());
                if n == 0 {
                    break;
                }
                if let Ok(chunk) = ring.write_chunk_uninit(n) {
                    queued += chunk.fill_from_iter(self.spk.drain(..n));
                }
            }
            out.last_queued = capacity - ring.slots();
        }
        if let Some(error) = self.recording.as_ref().and_then(|(_, r)| r.ended())
            && let Some((id, r)) = self.recording.take()
        {
            let summary = r.progress();
            // Its writer has ended: dropping it only joins a finished thread.
            drop(r);
            self.events
                .push(AudioEvent::RecordEnded { id, summary, error });
        }
        self.flush();
    }

    /// The next 10 ms of the file playing into `out`, and whether it
    /// replaces the microphone; `None` when nothing plays (a file that has
    /// just ended is reported and forgotten).
    fn file_frame(&mut self, out: &mut [f32; FRAME_10MS]) -> Option<bool> {
        let p = self.playing.as_mut()?;
        p.frames += 1;
        match p.player.frame(out) {
            PlayerFrame::Audio | PlayerFrame::Waiting => Some(p.player.options().replace),
            PlayerFrame::Ended => {
                let error = p.player.error();
                let id = p.id;
                self.playing = None;
                self.events.push(AudioEvent::PlayEnded { id, error });
                None
            }
        }
    }

    /// Without a microphone to pace it, the file is sent on the wall clock.
    fn play_without_mic(&mut self, now: Instant, file: &mut [f32; FRAME_10MS]) {
        let Some(p) = self.playing.as_mut() else {
            return;
        };
        let due = now.saturating_duration_since(p.started).as_millis() as u64 / 10 + 1;
        // A worker held up for long skips ahead instead of sending a burst.
        if due > p.frames + 50 {
            p.frames = due - 1;
        }
        for _ in 0..due.saturating_sub(p.frames).min(20) {
            let replace = self.file_frame(file);
            if let Err(e) = self.chain.push_mixed(
                None,
                replace.map(|r| (&*file, r)),
                &mut self.packets,
                &mut self.events,
            ) {
                tracing::warn!(error = %e, "file frame dropped");
            }
            if replace.is_none() {
                break;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VOICE_QUEUE;

    fn null_engine() -> Engine {
        let config = EngineConfig {
            backend: BackendConfig::Null,
            ..EngineConfig::default()
        };
        Engine::start(config, |_| {}, |_| {}).expect("engine")
    }

    /// Holds the worker until the returned sender is dropped.
    fn stall(engine: &Engine) -> Sender<()> {
        let (stalled_tx, stalled) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        engine
            .send(Command::Stall {
                stalled: stalled_tx,
                release: release_rx,
            })
            .expect("stall");
        stalled
            .recv_timeout(Duration::from_secs(10))
            .expect("the worker stalls");
        release
    }

    #[test]
    fn voice_for_a_stalled_worker_stays_bounded_and_drops_the_oldest() {
        let engine = null_engine();
        let release = stall(&engine);
        let opus = [0u8; 100];
        let sent = VOICE_QUEUE + 1000;
        for seq in 0..sent {
            engine
                .receive(IncomingPacket {
                    speaker: 1 + (seq % 4) as u32,
                    seq: seq as u32,
                    end_of_burst: false,
                    opus: &opus,
                })
                .expect("receive");
        }
        assert_eq!(
            engine.voice_queue(),
            VoiceQueueStats {
                queued: VOICE_QUEUE,
                dropped: 1000,
            }
        );

        // Released, the worker takes what is left and the count stays.
        drop(release);
        let deadline = Instant::now() + Duration::from_secs(10);
        while engine.voice_queue().queued > 0 {
            assert!(Instant::now() < deadline, "the worker never drained");
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(engine.voice_queue().dropped, 1000);
        engine.stop();
    }

    #[test]
    fn a_running_worker_drops_nothing() {
        let engine = null_engine();
        let opus = [0u8; 100];
        for seq in 0..(2 * VOICE_QUEUE) as u32 {
            engine
                .receive(IncomingPacket {
                    speaker: 1,
                    seq,
                    end_of_burst: false,
                    opus: &opus,
                })
                .expect("receive");
            // Ten times the real rate of five speakers: the worker keeps up.
            if seq % 64 == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        assert_eq!(engine.voice_queue().dropped, 0);
    }
}
