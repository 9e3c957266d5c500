//! The connections' next deadlines in one min-heap (the server's QUIC loop
//! and the bench's quinn-proto relay).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use quinn_proto::ConnectionHandle;

/// Deadlines by connection, earliest first. A connection whose deadline
/// moves gets a new entry; the old one stays until it is popped and found
/// stale (its connection no longer has that deadline), or until
/// [`Timers::compact`] drops it.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
}

impl Timers {
    /// Adds `at` as `ch`'s deadline.
    pub fn schedule(&mut self, at: Instant, ch: ConnectionHandle) {
        self.heap.push(Reverse((at, ch.0)));
    }

    /// The earliest entry, possibly stale (waking for it is harmless).
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes and returns an entry due at `now`, stale or not.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, ConnectionHandle)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self
                .heap
                .pop()
                .map(|Reverse((at, ch))| (at, ConnectionHandle(ch))),
            _ => None,
        }
    }

    /// Drops stale entries once they outnumber `live` (the connections)
    /// twice over, so the heap stays proportional to the connections
    /// however often deadlines move.
    pub fn compact(&mut self, live: usize, is_current: impl Fn(Instant, ConnectionHandle) -> bool) {
        if self.heap.len() > 2 * live + 1024 {
            self.heap
                .retain(|Reverse((at, ch))| is_current(*at, ConnectionHandle(*ch)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earliest_first_and_only_when_due() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.schedule(t0 + Duration::from_millis(20), ConnectionHandle(1));
        timers.schedule(t0 + Duration::from_millis(10), ConnectionHandle(2));
        assert_eq!(timers.next(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(timers.pop_due(t0), None);
        let due = timers.pop_due(t0 + Duration::from_millis(15));
        assert_eq!(
            due,
            Some((t0 + Duration::from_millis(10), ConnectionHandle(2)))
        );
        assert_eq!(timers.pop_due(t0 + Duration::from_millis(15)), None);
    }

    #[test]
    fn compaction_keeps_current_deadlines_only() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        for i in 0..3000u64 {
            timers.schedule(t0 + Duration::from_millis(i), ConnectionHandle(7));
        }
        let current = t0 + Duration::from_millis(2999);
        timers.compact(1, |at, ch| at == current && ch == ConnectionHandle(7));
        assert_eq!(timers.next(), Some(current));
        assert_eq!(timers.heap.len(), 1);
    }
}
