//! Voice packets on their way from the caller to the worker, bounded in
//! time: a worker that stalls (a slow device call, a descheduled thread)
//! costs at most [`VOICE_QUEUE`] packets of memory, and when it resumes it
//! finds the newest voice, not the oldest.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::IncomingPacket;

/// Packets waiting for the worker at most: one second of 20 ms packets
/// from ten speakers, or of 10 ms packets from five. The worker drains the
/// queue every few milliseconds, so only a stall fills it, and after a
/// second of stall the oldest packets would reach the jitter buffers past
/// their playout time (400 ms at most) anyway. Packets are datagrams
/// (about 1.2 kB at most), so the queue holds well under 1 MB.
pub const VOICE_QUEUE: usize = 512;

/// A packet copied for the worker, with its arrival time.
#[derive(Debug)]
pub(crate) struct QueuedVoice {
    pub(crate) speaker: u32,
    pub(crate) seq: u32,
    pub(crate) end_of_burst: bool,
    pub(crate) opus: Vec<u8>,
    pub(crate) at: Instant,
}

impl QueuedVoice {
    pub(crate) fn packet(&self) -> IncomingPacket<'_> {
        IncomingPacket {
            speaker: self.speaker,
            seq: self.seq,
            end_of_burst: self.end_of_burst,
            opus: &self.opus,
        }
    }
}

/// How the voice queue into the worker fares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VoiceQueueStats {
    /// Packets waiting for the worker now (at most [`VOICE_QUEUE`]).
    pub queued: usize,
    /// Packets dropped since the engine started because the queue was
    /// full (the oldest go first).
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Waiting {
    packets: VecDeque<QueuedVoice>,
    /// Dropped since the worker last took the queue.
    dropped: u64,
}

/// The queue shared by the caller (push) and the worker (take). The lock
/// is held for one push or one swap of the whole queue.
#[derive(Debug, Default)]
pub(crate) struct VoiceQueue {
    waiting: Mutex<Waiting>,
    dropped: AtomicU64,
}

impl VoiceQueue {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // Plain data behind the lock: a panic elsewhere leaves it usable.
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a packet; when the queue is full the oldest is dropped (the
    /// first drop of a stall is logged once).
    pub(crate) fn push(&self, voice: QueuedVoice) {
        let mut w = self.lock();
        if w.packets.len() >= VOICE_QUEUE {
            w.packets.pop_front();
            if w.dropped == 0 {
                tracing::warn!(
                    limit = VOICE_QUEUE,
                    "the audio worker is not taking voice; dropping the oldest packets"
                );
            }
            w.dropped += 1;
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        w.packets.push_back(voice);
    }

    /// Moves every waiting packet, oldest first, to the end of `into`
    /// (an empty `into` is swapped in, so its allocation is reused).
    /// Returns how many were dropped since the last take.
    pub(crate) fn take(&self, into: &mut VecDeque<QueuedVoice>) -> u64 {
        let mut w = self.lock();
        if into.is_empty() {
            std::mem::swap(into, &mut w.packets);
        } else {
            into.extend(w.packets.drain(..));
        }
        std::mem::take(&mut w.dropped)
    }

    pub(crate) fn stats(&self) -> VoiceQueueStats {
        VoiceQueueStats {
            queued: self.lock().packets.len(),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice(seq: u32) -> QueuedVoice {
        QueuedVoice {
            speaker: 1,
            seq,
            end_of_burst: false,
            opus: vec![0; 80],
            at: Instant::now(),
        }
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_them() {
        let q = VoiceQueue::default();
        let n = VOICE_QUEUE as u32 + 100;
        for seq in 0..n {
            q.push(voice(seq));
        }
        let stats = q.stats();
        assert_eq!(stats.queued, VOICE_QUEUE);
        assert_eq!(stats.dropped, 100);
        let mut taken = VecDeque::new();
        assert_eq!(q.take(&mut taken), 100);
        let seqs: Vec<u32> = taken.iter().map(|v| v.seq).collect();
        assert_eq!(
            seqs,
            (100..n).collect::<Vec<_>>(),
            "the newest are kept, in order"
        );
        // Taking resets the episode, not the total.
        assert_eq!(q.take(&mut taken), 0);
        assert_eq!(
            q.stats(),
            VoiceQueueStats {
                queued: 0,
                dropped: 100
            }
        );
    }
}
