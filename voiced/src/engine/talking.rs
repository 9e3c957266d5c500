//! Who is talking, from the voice datagrams alone (so it is reported even
//! without audio). A burst starts with a packet and ends with the packet
//! flagged end-of-burst, or, when that one is lost, after
//! [`SILENCE_ENDS_BURST`] without a packet from the speaker. A straggler of
//! a burst that has ended (reordered or duplicated behind its end) does not
//! start it again.
//!
//! Both ends matter on a lossy link: with the end-of-burst packet the only
//! way to stop, a lost one (10 % of bursts at 10 % loss), or a packet that
//! arrived after it, left the speaker shown talking until their next burst
//! ended, and for good after their last (`voiced/tests/soak.rs`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A burst whose end-of-burst packet was lost ends after this long without
/// a packet from its speaker: the deepest a jitter buffer plays behind
/// (`JitterSettings::max_delay`), so the speaker's sound has stopped by
/// then too. A burst sends a packet every 10 to 60 ms.
pub(super) const SILENCE_ENDS_BURST: Duration = Duration::from_millis(400);

/// Speakers tracked as talking at once (the mixer's decoders, 64): a new
/// speaker beyond it gets no `Talking` event.
const MAX_TALKING: usize = voice_audio::playback::MAX_SPEAKERS;

/// Speakers remembered between their bursts (for their stragglers); past
/// it, those not talking are forgotten.
const MAX_REMEMBERED: usize = 4 * MAX_TALKING;

#[derive(Debug)]
struct Speaker {
    talking: bool,
    /// The newest sequence number heard from the speaker.
    newest: u32,
    last_heard: Instant,
}

/// The talk bursts of the speakers heard on one connection.
#[derive(Debug, Default)]
pub(super) struct TalkBursts {
    speakers: HashMap<u32, Speaker>,
}

/// Whether `a` comes after `b` (sequence numbers wrap).
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl TalkBursts {
    /// A packet from `speaker` arrived at `now`: `Some(talking)` when the
    /// speaker started or stopped talking with it.
    pub(super) fn packet(
        &mut self,
        speaker: u32,
        seq: u32,
        end_of_burst: bool,
        now: Instant,
    ) -> Option<bool> {
        // Counted only when a burst could start (its first packet, or a
        // straggler): not on every packet.
        let room = || self.speakers.values().filter(|s| s.talking).count() < MAX_TALKING;
        let may_start =
            !end_of_burst && !self.speakers.get(&speaker).is_some_and(|s| s.talking) && room();
        let Some(s) = self.speakers.get_mut(&speaker) else {
            if self.speakers.len() >= MAX_REMEMBERED {
                self.speakers.retain(|_, s| s.talking);
            }
            self.speakers.insert(
                speaker,
                Speaker {
                    talking: may_start,
                    newest: seq,
                    last_heard: now,
                },
            );
            return may_start.then_some(true);
        };
        let newer = after(seq, s.newest);
        if newer {
            s.newest = seq;
        }
        if s.talking {
            s.last_heard = now;
            // The end-of-burst packet is the burst's last: whatever of the
            // burst arrives after it is older, so the burst stays ended.
            if end_of_burst && newer {
                s.talking = false;
                return Some(false);
            }
            return None;
        }
        if newer && may_start {
            s.talking = true;
            s.last_heard = now;
            return Some(true);
        }
        None
    }

    /// Ends the bursts silent for [`SILENCE_ENDS_BURST`] at `now`; returns
    /// their speakers.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<u32> {
        let mut ended = Vec::new();
        for (id, s) in &mut self.speakers {
            if s.talking && now.saturating_duration_since(s.last_heard) >= SILENCE_ENDS_BURST {
                s.talking = false;
                ended.push(*id);
            }
        }
        ended
    }

    /// The connection is gone: every burst ends; returns the speakers that
    /// were talking (their `Talking` off events) and forgets everyone.
    pub(super) fn end_all(&mut self) -> Vec<u32> {
        let talking = self
            .speakers
            .iter()
            .filter(|(_, s)| s.talking)
            .map(|(id, _)| *id)
            .collect();
        self.speakers.clear();
        talking
    }

    /// When the next burst ends unless its speaker is heard again.
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.speakers
            .values()
            .filter(|s| s.talking)
            .map(|s| s.last_heard + SILENCE_ENDS_BURST)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A burst of `n` packets from `seq` every 20 ms from `at`, its last
    /// flagged (if `end`); the changes it made.
    fn burst(
        b: &mut TalkBursts,
        speaker: u32,
        seq: u32,
        n: u32,
        end: bool,
        at: Instant,
    ) -> Vec<bool> {
        (0..n)
            .filter_map(|i| {
                let last = end && i + 1 == n;
                b.packet(speaker, seq.wrapping_add(i), last, at + MS * 20 * i)
            })
            .collect()
    }

    #[test]
    fn a_burst_starts_with_its_first_packet_and_ends_with_its_flagged_last() {
        let mut b = TalkBursts::default();
        let t = Instant::now();
        assert_eq!(burst(&mut b, 7, 0, 50, true, t), [true, false]);
        assert_eq!(b.next_expiry(), None);
        assert_eq!(burst(&mut b, 7, 50, 50, true, t + MS * 3000), [true, false]);
    }

    #[test]
    fn a_burst_whose_end_is_lost_ends_after_the_silence() {
        let mut b = TalkBursts::default();
        let t = Instant::now();
        assert_eq!(burst(&mut b, 7, 0, 50, false, t), [true]);
        let last = t + MS * 20 * 49;
        assert_eq!(b.next_expiry(), Some(last + SILENCE_ENDS_BURST));
        assert!(b.expire(last + SILENCE_ENDS_BURST - MS).is_empty());
        assert_eq!(b.expire(last + SILENCE_ENDS_BURST), [7]);
        assert_eq!(b.next_expiry(), None);
        // The next burst starts again.
        assert_eq!(burst(&mut b, 7, 51, 10, true, t + MS * 3000), [true, false]);
    }

    #[test]
    fn a_straggler_after_the_end_does_not_start_the_burst_again() {
        let mut b = TalkBursts::default();
        let t = Instant::now();
        assert_eq!(b.packet(7, 0, false, t), Some(true));
        // The end overtakes the last packet, which then arrives, twice.
        assert_eq!(b.packet(7, 2, true, t + MS * 20), Some(false));
        assert_eq!(b.packet(7, 1, false, t + MS * 30), None);
        assert_eq!(b.packet(7, 1, false, t + MS * 40), None);
        assert_eq!(b.packet(7, 2, true, t + MS * 50), None, "a duplicated end");
        assert_eq!(b.next_expiry(), None);
    }

    #[test]
    fn a_straggler_after_a_silent_end_does_not_start_it_again() {
        let mut b = TalkBursts::default();
        let t = Instant::now();
        burst(&mut b, 7, 0, 10, false, t);
        assert_eq!(b.expire(t + MS * 1000), [7]);
        assert_eq!(b.packet(7, 5, false, t + MS * 1100), None);
        assert_eq!(b.packet(7, 10, false, t + MS * 1200), Some(true));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut b = TalkBursts::default();
        let t = Instant::now();
        assert_eq!(burst(&mut b, 7, u32::MAX - 2, 6, true, t), [true, false]);
        assert_eq!(b.packet(7, u32::MAX, false, t + MS * 200), None);
        assert_eq!(b.packet(7, 4, false, t + MS * 300), Some(true));
    }

    #[test]
    fn speakers_are_bounded() {
        let mut b = TalkBursts::default();
        let t = Instant::now();
        for id in 0..MAX_TALKING as u32 {
            assert_eq!(b.packet(id, 0, false, t), Some(true));
        }
        assert_eq!(
            b.packet(1000, 0, false, t),
            None,
            "beyond the talking budget"
        );
        assert_eq!(b.packet(0, 1, true, t), Some(false));
        assert_eq!(b.packet(1000, 1, false, t), Some(true), "room again");
        for id in 2000..2000 + MAX_REMEMBERED as u32 {
            b.packet(id, 0, true, t);
        }
        assert!(b.speakers.len() <= MAX_REMEMBERED, "{}", b.speakers.len());
    }

    #[test]
    fn a_lost_connection_ends_every_burst() {
        let mut b = TalkBursts::default();
        let t0 = Instant::now();
        assert_eq!(b.packet(1, 10, false, t0), Some(true));
        assert_eq!(b.packet(2, 10, false, t0), Some(true));
        assert_eq!(b.packet(3, 10, true, t0), None);
        let mut ended = b.end_all();
        ended.sort_unstable();
        assert_eq!(ended, vec![1, 2]);
        assert_eq!(b.next_expiry(), None);
        assert!(b.end_all().is_empty());
    }
}
