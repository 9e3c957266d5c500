//! One remote speaker: jitter buffer, decoder, volume and local mute.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{JitterBuffer, JitterSettings, Playout};
use crate::codec::VoiceDecoder;
use crate::{AudioError, AudioEvent, FRAME_10MS, Speaker};

/// The longest Opus frame (120 ms at 48 kHz).
const MAX_FRAME: usize = 5760;

/// A remote speaker's playback state.
#[derive(Debug)]
pub struct SpeakerStream {
    id: u32,
    jitter: JitterBuffer,
    decoder: VoiceDecoder,
    frame_samples: usize,
    pcm: VecDeque<f32>,
    scratch: Vec<f32>,
    talking: bool,
    ending: bool,
    last_packet: Option<Instant>,
    frames_played: u64,
    frames_lost: u64,
}

impl SpeakerStream {
    /// A silent stream for speaker `id`.
    pub fn new(id: u32, settings: JitterSettings) -> Result<Self, AudioError> {
        Ok(Self {
            id,
            jitter: JitterBuffer::new(settings, Duration::from_millis(20)),
            decoder: VoiceDecoder::new()?,
            frame_samples: 960,
            pcm: VecDeque::with_capacity(MAX_FRAME * 2),
            scratch: vec![0.0; MAX_FRAME],
            talking: false,
            ending: false,
            last_packet: None,
            frames_played: 0,
            frames_lost: 0,
        })
    }

    /// The jitter buffer (target delay, late packets).
    pub fn jitter(&self) -> &JitterBuffer {
        &self.jitter
    }

    /// Whether the speaker is talking.
    pub fn is_talking(&self) -> bool {
        self.talking
    }

    /// When the last packet arrived.
    pub fn last_packet(&self) -> Option<Instant> {
        self.last_packet
    }

    /// Frames played and frames lost (recovered or concealed) since the last
    /// call; resets the counters.
    pub fn take_loss(&mut self) -> (u64, u64) {
        let r = (self.frames_played, self.frames_lost);
        self.frames_played = 0;
        self.frames_lost = 0;
        r
    }

    /// Takes a packet that arrived at `now`.
    pub fn receive(&mut self, seq: u32, end_of_burst: bool, opus: &[u8], now: Instant) {
        self.last_packet = Some(now);
        if !opus.is_empty()
            && let Ok(n) = self.decoder.packet_samples(opus)
            && n != self.frame_samples
            && (120..=MAX_FRAME).contains(&n)
        {
            self.frame_samples = n;
            self.jitter
                .set_frame(Duration::from_micros(n as u64 * 1_000_000 / 48_000));
        }
        self.jitter.insert(seq, end_of_burst, opus, now);
    }

    fn decode(&mut self, playout: Playout) -> Result<(), AudioError> {
        let n = self.frame_samples;
        let got = match playout {
            Playout::Packet { opus, .. } if opus.is_empty() => 0,
            Playout::Packet { opus, .. } => self.decoder.decode(&opus, &mut self.scratch)?,
            Playout::Recover { next } => self.decoder.recover(&next, n, &mut self.scratch)?,
            Playout::Conceal => self.decoder.conceal(n, &mut self.scratch)?,
            Playout::Idle | Playout::TimedOut => 0,
        };
        self.pcm.extend(&self.scratch[..got]);
        Ok(())
    }

    /// Renders the next 10 ms into `out` (overwritten). Returns whether it
    /// holds sound; appends talking events.
    pub fn render(
        &mut self,
        out: &mut [f32; FRAME_10MS],
        now: Instant,
        events: &mut Vec<AudioEvent>,
    ) -> bool {
        while self.pcm.len() < FRAME_10MS && !self.ending {
            let playout = self.jitter.pop(now);
            match &playout {
                Playout::Idle => break,
                Playout::Packet { end_of_burst, .. } => {
                    if !self.talking {
                        self.talking = true;
                        // A fresh burst: no concealment tail from the last one.
                        let _ = self.decoder.reset();
                        events.push(AudioEvent::Talking {
                            speaker: Speaker::Remote(self.id),
                            talking: true,
                        });
                    }
                    self.frames_played += 1;
                    self.ending = *end_of_burst;
                }
                Playout::Recover { .. } | Playout::Conceal => {
                    self.frames_played += 1;
                    self.frames_lost += 1;
                }
                Playout::TimedOut => self.ending = true,
            }
            if let Err(e) = self.decode(playout) {
                tracing::debug!(speaker = self.id, error = %e, "undecodable voice packet");
            }
        }
        if self.pcm.is_empty() {
            out.fill(0.0);
            if self.ending || (self.talking && !self.jitter.is_playing()) {
                self.ending = false;
                if self.talking {
                    self.talking = false;
                    events.push(AudioEvent::Talking {
                        speaker: Speaker::Remote(self.id),
                        talking: false,
                    });
                }
            }
            return false;
        }
        let n = self.pcm.len().min(FRAME_10MS);
        for (o, s) in out.iter_mut().zip(self.pcm.drain(..n)) {
            *o = s;
        }
        out[n..].fill(0.0);
        true
    }
}
