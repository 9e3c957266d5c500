//! The capture chain: frames in, packets and events out. Each frame goes
//! through echo cancellation (with what is played as its reference), gain
//! control, noise suppression and voice detection, the gate, then Opus.

use super::{AutoGain, Denoiser, Gate, GateSettings, GateStep, peak_dbfs};
use crate::codec::{OpusSettings, VoiceEncoder};
use crate::echo::EchoStage;
use crate::{AudioError, AudioEvent, FRAME_10MS, OutgoingPacket, Speaker};

/// When the microphone is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaptureMode {
    /// While the gate detects voice (default).
    #[default]
    VoiceActivity,
    /// While push-to-talk is held.
    PushToTalk,
    /// Always.
    Continuous,
}

/// Input level events are reported every this many 10 ms frames.
const LEVEL_EVERY: u32 = 5;

/// Turns 10 ms microphone frames into Opus packets.
#[derive(Debug)]
pub struct CaptureChain {
    /// Echo cancellation, when on (made fresh each time it is turned on).
    echo: Option<EchoStage>,
    /// Gain control, when on.
    agc: Option<AutoGain>,
    denoiser: Denoiser,
    noise_suppression: bool,
    gate: Gate,
    encoder: VoiceEncoder,
    mode: CaptureMode,
    ptt: bool,
    muted: bool,
    talking: bool,
    seq: u32,
    acc: Vec<f32>,
    level_frames: u32,
    level_peak: f32,
    level_vad: f32,
    /// A file was mixed into the last frame (it keeps the burst open).
    file_playing: bool,
    /// The voice probability of the last microphone frame.
    last_vad: f32,
}

impl CaptureChain {
    /// A chain in voice-activity mode, not muted.
    pub fn new(opus: OpusSettings, gate: GateSettings) -> Result<Self, AudioError> {
        let encoder = VoiceEncoder::new(opus)?;
        Ok(Self {
            echo: None,
            agc: None,
            denoiser: Denoiser::new(),
            noise_suppression: true,
            gate: Gate::new(gate),
            acc: Vec::with_capacity(encoder.frame_samples() + FRAME_10MS),
            encoder,
            mode: CaptureMode::default(),
            ptt: false,
            muted: false,
            talking: false,
            seq: 0,
            level_frames: 0,
            level_peak: 0.0,
            level_vad: 0.0,
            file_playing: false,
            last_vad: 0.0,
        })
    }

    /// The encoder (settings, adaptive FEC).
    pub fn encoder_mut(&mut self) -> &mut VoiceEncoder {
        &mut self.encoder
    }

    /// Changes the gate's tuning.
    pub fn set_gate(&mut self, settings: GateSettings) {
        self.gate.set_settings(settings);
    }

    /// Echo cancellation on or off (off by default: the engine turns it on).
    pub fn set_echo_cancellation(&mut self, on: bool) {
        if on != self.echo.is_some() {
            self.echo = on.then(EchoStage::new);
        }
    }

    /// Automatic gain control on or off (off by default).
    pub fn set_auto_gain(&mut self, on: bool) {
        if on != self.agc.is_some() {
            self.agc = on.then(AutoGain::new);
        }
    }

    /// The echo stage, when echo cancellation is on.
    pub fn echo(&self) -> Option<&EchoStage> {
        self.echo.as_ref()
    }

    /// One 10 ms block of what the engine plays, as it goes to the device:
    /// the echo canceller's reference.
    pub fn played(&mut self, far: &[f32; FRAME_10MS]) {
        if let Some(echo) = self.echo.as_mut() {
            echo.render(far);
        }
    }

    /// Turns noise suppression on or off (voice probability is always computed).
    pub fn set_noise_suppression(&mut self, on: bool) {
        self.noise_suppression = on;
    }

    /// The capture mode.
    pub fn mode(&self) -> CaptureMode {
        self.mode
    }

    /// Changes the capture mode (a burst in progress continues under the new rule).
    pub fn set_mode(&mut self, mode: CaptureMode) {
        self.mode = mode;
        self.gate.reset();
    }

    /// Push-to-talk pressed (`true`) or released.
    pub fn set_push_to_talk(&mut self, pressed: bool) {
        self.ptt = pressed;
    }

    /// Self-mute: nothing is sent while muted (a burst in progress is ended).
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Whether a burst is in progress.
    pub fn is_talking(&self) -> bool {
        self.talking
    }

    /// Processes one 10 ms frame of 48 kHz mono (±1.0), appending packets
    /// to send and events to report.
    pub fn push_frame(
        &mut self,
        input: &[f32; FRAME_10MS],
        packets: &mut Vec<OutgoingPacket>,
        events: &mut Vec<AudioEvent>,
    ) -> Result<(), AudioError> {
        self.push_mixed(Some(input), None, packets, events)
    }

    /// Processes one 10 ms frame of the microphone (`None`: there is none)
    /// with one of a played file (`file`, and whether it replaces the
    /// microphone). The file joins after the microphone's processing (echo
    /// cancellation, gain control and noise suppression are for a
    /// microphone, not for music) and is sent whatever the gate or
    /// push-to-talk say: a bot's audio is never cut. Self-mute still
    /// silences it.
    pub fn push_mixed(
        &mut self,
        mic: Option<&[f32; FRAME_10MS]>,
        file: Option<(&[f32; FRAME_10MS], bool)>,
        packets: &mut Vec<OutgoingPacket>,
        events: &mut Vec<AudioEvent>,
    ) -> Result<(), AudioError> {
        let mut frame = match mic {
            Some(m) => self.process_mic(m, events),
            None => [0.0; FRAME_10MS],
        };
        let vad = self.last_vad;
        if let Some((f, replace)) = file {
            if replace || mic.is_none() {
                frame = *f;
            } else {
                for (o, x) in frame.iter_mut().zip(f.iter()) {
                    *o = (*o + x).clamp(-1.0, 1.0);
                }
            }
        }
        if self.file_playing && file.is_none() {
            // The file ended: the gate decides again from a fresh start.
            self.gate.reset();
            self.end_burst(packets, events)?;
        }
        self.file_playing = file.is_some();
        if self.muted {
            self.gate.reset();
            return self.end_burst(packets, events);
        }
        if file.is_some() {
            return self.send(&frame, packets, events);
        }
        self.gate_and_send(&frame, vad, packets, events)
    }

    /// Echo cancellation, gain control, noise suppression and the level
    /// meter on one microphone frame.
    fn process_mic(
        &mut self,
        input: &[f32; FRAME_10MS],
        events: &mut Vec<AudioEvent>,
    ) -> [f32; FRAME_10MS] {
        let mut frame = *input;
        self.level_peak = self.level_peak.max(peak_dbfs(&frame));
        if let Some(echo) = self.echo.as_mut() {
            echo.capture(&mut frame);
        }
        if let Some(agc) = self.agc.as_mut() {
            // The far end playing: the gain is held (see `AutoGain`).
            let far_playing = self.echo.as_ref().is_some_and(|e| !e.bypassing());
            agc.process(&mut frame, far_playing);
        }
        let vad = if self.noise_suppression {
            self.denoiser.process(&mut frame)
        } else {
            let mut scratch = frame;
            self.denoiser.process(&mut scratch)
        };
        self.level_vad = self.level_vad.max(vad);
        self.level_frames += 1;
        if self.level_frames >= LEVEL_EVERY {
            events.push(AudioEvent::InputLevel {
                dbfs: self.level_peak,
                voice_probability: self.level_vad,
            });
            self.level_frames = 0;
            self.level_peak = -100.0;
            self.level_vad = 0.0;
        }
        self.last_vad = vad;
        frame
    }

    fn gate_and_send(
        &mut self,
        frame: &[f32; FRAME_10MS],
        vad: f32,
        packets: &mut Vec<OutgoingPacket>,
        events: &mut Vec<AudioEvent>,
    ) -> Result<(), AudioError> {
        let frame = *frame;
        match self.mode {
            CaptureMode::Continuous => self.send(&frame, packets, events),
            CaptureMode::PushToTalk if self.ptt => self.send(&frame, packets, events),
            CaptureMode::PushToTalk => self.end_burst(packets, events),
            CaptureMode::VoiceActivity => match self.gate.push(&frame, vad) {
                GateStep::Closed => Ok(()),
                GateStep::Opened => {
                    let preroll: Vec<_> = self.gate.drain_preroll().collect();
                    for f in &preroll {
                        self.send(f, packets, events)?;
                    }
                    self.send(&frame, packets, events)
                }
                GateStep::Open => self.send(&frame, packets, events),
                GateStep::Closing => {
                    self.send(&frame, packets, events)?;
                    self.end_burst(packets, events)
                }
            },
        }
    }

    fn send(
        &mut self,
        frame: &[f32; FRAME_10MS],
        packets: &mut Vec<OutgoingPacket>,
        events: &mut Vec<AudioEvent>,
    ) -> Result<(), AudioError> {
        if !self.talking {
            self.talking = true;
            self.acc.clear();
            events.push(AudioEvent::Talking {
                speaker: Speaker::Local,
                talking: true,
            });
        }
        self.acc.extend_from_slice(frame);
        let n = self.encoder.frame_samples();
        while self.acc.len() >= n {
            let opus = self.encoder.encode(&self.acc[..n])?.to_vec();
            self.acc.drain(..n);
            packets.push(self.packet(false, opus));
        }
        Ok(())
    }

    fn end_burst(
        &mut self,
        packets: &mut Vec<OutgoingPacket>,
        events: &mut Vec<AudioEvent>,
    ) -> Result<(), AudioError> {
        if !self.talking {
            return Ok(());
        }
        self.talking = false;
        let opus = if self.acc.is_empty() {
            Vec::new()
        } else {
            self.acc.resize(self.encoder.frame_samples(), 0.0);
            let opus = self.encoder.encode(&self.acc)?.to_vec();
            self.acc.clear();
            opus
        };
        packets.push(self.packet(true, opus));
        events.push(AudioEvent::Talking {
            speaker: Speaker::Local,
            talking: false,
        });
        Ok(())
    }

    fn packet(&mut self, end_of_burst: bool, opus: Vec<u8>) -> OutgoingPacket {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        OutgoingPacket {
            seq,
            end_of_burst,
            opus,
        }
    }
}
