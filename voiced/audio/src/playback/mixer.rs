//! Mixes every speaker into one 48 kHz mono stream.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::{JitterSettings, Limiter, SpeakerStream};
use crate::{AudioEvent, FRAME_10MS, IncomingPacket, Speaker};

/// A speaker silent this long is forgotten.
const IDLE_FORGET: Duration = Duration::from_secs(30);

/// Speakers mixed at once: 64, each with its Opus decoder (about 26 KB),
/// its jitter buffer (at most `max_delay` plus catch-up of packets) and
/// 2 × 5760 samples of PCM, so a few MB and 64 decodes per frame at most,
/// whatever number of speaker ids a server sends. A packet from a new
/// speaker when all are taken replaces the longest-silent one that is not
/// talking, or is dropped.
pub const MAX_SPEAKERS: usize = 64;

/// All remote speakers of the room, mixed.
#[derive(Debug, Default)]
pub struct Mixer {
    jitter: JitterSettings,
    speakers: HashMap<u32, SpeakerStream>,
    volumes: HashMap<u32, f32>,
    muted: HashSet<u32>,
    deafened: bool,
    limiter: Limiter,
}

impl Mixer {
    /// An empty mixer.
    pub fn new(jitter: JitterSettings) -> Self {
        Self {
            jitter,
            ..Self::default()
        }
    }

    /// Takes a packet that arrived at `now`. Dropped while deafened.
    pub fn receive(&mut self, voice: IncomingPacket<'_>, now: Instant) {
        if self.deafened {
            return;
        }
        if !self.speakers.contains_key(&voice.speaker) && !self.make_room() {
            tracing::debug!(speaker = voice.speaker, "too many speakers; packet dropped");
            return;
        }
        let stream = match self.speakers.entry(voice.speaker) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                match SpeakerStream::new(voice.speaker, self.jitter) {
                    Ok(s) => e.insert(s),
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot create a decoder");
                        return;
                    }
                }
            }
        };
        stream.receive(voice.seq, voice.end_of_burst, voice.opus, now);
    }

    /// Makes room for one more speaker under [`MAX_SPEAKERS`] by forgetting
    /// the longest-silent one that is not talking; false if all are talking.
    fn make_room(&mut self) -> bool {
        if self.speakers.len() < MAX_SPEAKERS {
            return true;
        }
        let quietest = self
            .speakers
            .iter()
            .filter(|(_, s)| !s.is_talking())
            .min_by_key(|(_, s)| s.last_packet())
            .map(|(id, _)| *id);
        match quietest {
            Some(id) => {
                self.speakers.remove(&id);
                true
            }
            None => false,
        }
    }

    /// How many speakers have a decoder now (at most [`MAX_SPEAKERS`]).
    pub fn speaker_count(&self) -> usize {
        self.speakers.len()
    }

    /// Per-user volume (linear gain, 0–4; 1 is unchanged).
    pub fn set_volume(&mut self, speaker: u32, gain: f32) {
        self.volumes.insert(speaker, gain.clamp(0.0, 4.0));
    }

    /// Local mute of one user (only this listener stops hearing them).
    pub fn set_local_mute(&mut self, speaker: u32, muted: bool) {
        if muted {
            self.muted.insert(speaker);
        } else {
            self.muted.remove(&speaker);
        }
    }

    /// Deafen: playback stops and incoming voice is dropped.
    pub fn set_deafened(&mut self, deafened: bool, events: &mut Vec<AudioEvent>) {
        self.deafened = deafened;
        if deafened {
            for (id, s) in self.speakers.drain() {
                if s.is_talking() {
                    events.push(AudioEvent::Talking {
                        speaker: Speaker::Remote(id),
                        talking: false,
                    });
                }
            }
        }
    }

    /// Whether deafened.
    pub fn is_deafened(&self) -> bool {
        self.deafened
    }

    /// Forgets a speaker (they left).
    pub fn remove(&mut self, speaker: u32) {
        self.speakers.remove(&speaker);
    }

    /// The stream of one speaker, if any.
    pub fn speaker(&self, speaker: u32) -> Option<&SpeakerStream> {
        self.speakers.get(&speaker)
    }

    /// Loss seen since the last call, in percent of frames played: across
    /// speakers, and per speaker who played anything (what this listener
    /// reports so each sender adapts its FEC).
    pub fn take_loss(&mut self) -> (f32, Vec<(u32, f32)>) {
        let (mut played, mut lost) = (0u64, 0u64);
        let mut each = Vec::new();
        for (id, s) in self.speakers.iter_mut() {
            let (p, l) = s.take_loss();
            played += p;
            lost += l;
            if p > 0 {
                each.push((*id, l as f32 * 100.0 / p as f32));
            }
        }
        let all = if played == 0 {
            0.0
        } else {
            lost as f32 * 100.0 / played as f32
        };
        (all, each)
    }

    /// Renders the next 10 ms of the mix into `out`.
    pub fn render(
        &mut self,
        out: &mut [f32; FRAME_10MS],
        now: Instant,
        events: &mut Vec<AudioEvent>,
    ) {
        out.fill(0.0);
        if self.deafened {
            return;
        }
        let mut frame = [0.0f32; FRAME_10MS];
        for (id, s) in self.speakers.iter_mut() {
            if !s.render(&mut frame, now, events) || self.muted.contains(id) {
                continue;
            }
            let gain = self.volumes.get(id).copied().unwrap_or(1.0);
            for (o, x) in out.iter_mut().zip(frame.iter()) {
                *o += x * gain;
            }
        }
        self.limiter.process(out);
        self.speakers.retain(|_, s| {
            s.is_talking()
                || s.last_packet()
                    .is_none_or(|t| now.saturating_duration_since(t) < IDLE_FORGET)
        });
    }
}
