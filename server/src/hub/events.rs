//! The server's event log for plugins (`Admin.Watch`): every state change,
//! chat message and moderation, numbered, in a backlog bounded in count
//! and bytes. Watchers read it by number, so a slow watcher costs nothing
//! but its place in the log; one that falls behind the backlog is told
//! how many events it missed.

use std::collections::VecDeque;
use std::sync::Arc;

use prost::Message;
use tokio::sync::watch;
use voice_proto::pb::admin::{ServerEvent, server_event::Kind};

/// Events kept for watchers that resume.
pub const BACKLOG_EVENTS: usize = 10_000;
/// Bytes (encoded) kept for watchers that resume: 8 MiB.
pub const BACKLOG_BYTES: usize = 8 << 20;

/// The numbered backlog and a signal of its newest number.
#[derive(Debug)]
pub struct EventLog {
    /// The first number of this run (above every earlier run's).
    base: u64,
    next: u64,
    kept: VecDeque<(Arc<ServerEvent>, usize)>,
    bytes: usize,
    newest: watch::Sender<u64>,
}

impl EventLog {
    /// A log numbering from `base + 1`.
    pub fn new(base: u64) -> Self {
        Self {
            base,
            next: base + 1,
            kept: VecDeque::new(),
            bytes: 0,
            newest: watch::channel(base).0,
        }
    }

    /// Records an event now.
    pub fn push(&mut self, kind: Kind) {
        let event = ServerEvent {
            seq: self.next,
            at_ms: super::now_ms(),
            kind: Some(kind),
        };
        self.next += 1;
        let size = event.encoded_len();
        self.bytes += size;
        self.kept.push_back((Arc::new(event), size));
        while self.kept.len() > BACKLOG_EVENTS || self.bytes > BACKLOG_BYTES {
            let Some((_, size)) = self.kept.pop_front() else {
                break;
            };
            self.bytes -= size;
        }
        self.newest.send_replace(self.next - 1);
    }

    /// The newest event's number (this run's base when none yet).
    pub fn newest(&self) -> u64 {
        self.next - 1
    }

    /// A signal that changes with each new event.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }

    /// Up to `max` events after `after`, and how many events after `after`
    /// are gone (`Some(0)`: an unknown number, from an earlier run).
    pub fn after(&self, after: u64, max: usize) -> (Vec<Arc<ServerEvent>>, Option<u64>) {
        let oldest = self.kept.front().map_or(self.next, |(e, _)| e.seq);
        let missed = if after < self.base && after != 0 {
            Some(0)
        } else if after + 1 < oldest && !(after == 0 && oldest == self.base + 1) {
            Some(oldest - after.max(self.base) - 1)
        } else {
            None
        };
        let skip = self.kept.partition_point(|(e, _)| e.seq <= after);
        let events = self
            .kept
            .iter()
            .skip(skip)
            .take(max)
            .map(|(e, _)| e.clone())
            .collect();
        (events, missed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voice_proto::pb::admin::Missed;

    fn note(i: u64) -> Kind {
        Kind::Missed(Missed {
            count: i,
            why: String::new(),
        })
    }

    #[test]
    fn watchers_resume_after_what_they_saw_and_learn_what_is_gone() {
        let base = 7 << 32;
        let mut log = EventLog::new(base);
        assert_eq!(
            log.after(0, 10),
            (vec![], None),
            "nothing yet, nothing missed"
        );
        for i in 0..BACKLOG_EVENTS as u64 + 5 {
            log.push(note(i));
        }
        assert_eq!(log.newest(), base + BACKLOG_EVENTS as u64 + 5);
        // The first five are gone.
        let (events, missed) = log.after(base, 3);
        assert_eq!(missed, Some(5));
        assert_eq!(events[0].seq, base + 6);
        assert_eq!(events.len(), 3);
        // 0: the whole backlog, with what it no longer holds.
        assert_eq!(log.after(0, 1).1, Some(5));
        // Resuming inside the backlog misses nothing.
        let (events, missed) = log.after(base + 100, 2);
        assert_eq!(missed, None);
        assert_eq!(events[0].seq, base + 101);
        // A number from an earlier run: an unknown number is gone.
        assert_eq!(log.after(base - 3, 1).1, Some(0));
        // Up to date: nothing.
        assert_eq!(log.after(log.newest(), 10), (vec![], None));
    }

    #[test]
    fn the_backlog_is_bounded_in_bytes() {
        let mut log = EventLog::new(0);
        let text = "x".repeat(64 * 1024);
        for _ in 0..200 {
            log.push(Kind::Chat(voice_proto::pb::wire::ChatMessage {
                text: text.clone(),
                ..Default::default()
            }));
        }
        assert!(log.bytes <= BACKLOG_BYTES);
        assert!(
            log.kept.len() < 200 && log.kept.len() >= 100,
            "{}",
            log.kept.len()
        );
    }
}
