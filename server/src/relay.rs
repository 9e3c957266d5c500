//! The file relay's book-keeping: who relays to whom, the byte budgets
//! (in total and per session) and the counters the admin API shows.
//!
//! A relayed connection joins two sessions of one swarm. Each is counted
//! against both sessions' stream allowance while it lives ([`Ticket`]), and
//! each byte it carries is charged to the total budget and to both ends'
//! budgets; whoever carries it waits until every budget has the bytes, so
//! the relay never runs past a limit for longer than one chunk.
//!
//! Budgets are token buckets that may go into debt: a chunk is always
//! charged at once and the carrier sleeps off the debt. That keeps chunks
//! whole (no partial writes) and the rate exact over any second.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use voice_proto::pb::admin::RelayStatsReply;
use voice_proto::state::SessionId;

use crate::config::Config;
use crate::tracker::SwarmKey;

/// A byte budget: `rate` bytes per second, up to a quarter second (at least
/// 64 KiB) saved up.
#[derive(Debug, Clone)]
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: u64, now: Instant) -> Self {
        let rate = rate as f64;
        let capacity = (rate / 4.0).max(64.0 * 1024.0);
        Self {
            rate,
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    /// Charges `bytes`; how long to wait before carrying them (zero
    /// without a limit).
    fn charge(&mut self, bytes: usize, now: Instant) -> Duration {
        if self.rate <= 0.0 {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.tokens -= bytes as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// One session's share of the relay.
#[derive(Debug)]
struct SessionShare {
    streams: u32,
    bucket: Bucket,
}

/// A relay in progress.
#[derive(Debug)]
struct Active {
    swarm: SwarmKey,
    ends: (SessionId, SessionId),
    cancel: CancellationToken,
}

#[derive(Debug)]
struct Book {
    total: Bucket,
    sessions: HashMap<SessionId, SessionShare>,
    /// (swarm, lower session, higher session) of every live relay: one
    /// relay per pair and swarm, whichever end dialed.
    pairs: HashSet<(SwarmKey, SessionId, SessionId)>,
    active: HashMap<u64, Active>,
    next: u64,
}

/// The relay's state, shared by every relayed stream.
#[derive(Debug)]
pub struct Relays {
    enabled: bool,
    rate: u64,
    session_rate: u64,
    max_streams: u32,
    book: Mutex<Book>,
    opened: AtomicU64,
    refused: AtomicU64,
    bytes: AtomicU64,
}

/// A relay's place in the book: released (streams and pair) when dropped.
#[derive(Debug)]
pub struct Ticket {
    relays: Arc<Relays>,
    id: u64,
    /// Cancelled when the relay must end (an end left the swarm or room).
    pub cancel: CancellationToken,
    /// The dialing session.
    pub from: SessionId,
    /// The dialed session.
    pub to: SessionId,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.relays.release(self.id);
    }
}

fn pair(swarm: SwarmKey, a: SessionId, b: SessionId) -> (SwarmKey, SessionId, SessionId) {
    (swarm, a.min(b), a.max(b))
}

impl Relays {
    /// The relay under `config`'s switch and limits.
    pub fn new(config: &Config) -> Self {
        let now = Instant::now();
        Self {
            enabled: config.file_relay,
            rate: config.relay_bytes_per_second,
            session_rate: config.relay_session_bytes_per_second,
            max_streams: config.max_relay_streams_per_session,
            book: Mutex::new(Book {
                total: Bucket::new(config.relay_bytes_per_second, now),
                sessions: HashMap::new(),
                pairs: HashSet::new(),
                active: HashMap::new(),
                next: 1,
            }),
            opened: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        // The book holds counts only; a panic elsewhere leaves them usable.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether relaying is on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Takes a place for a relay from `from` to `to` in `swarm`, or says
    /// which limit stands in the way.
    pub fn reserve(
        self: &Arc<Self>,
        swarm: SwarmKey,
        from: SessionId,
        to: SessionId,
    ) -> Result<Ticket, String> {
        let mut book = self.book();
        if book.pairs.contains(&pair(swarm, from, to)) {
            return Err(format!(
                "a relayed connection between you and session {to} for this file is already open"
            ));
        }
        for (who, end) in [("you hold", from), ("the peer holds", to)] {
            let streams = book.sessions.get(&end).map_or(0, |s| s.streams);
            if streams >= self.max_streams {
                return Err(format!(
                    "{who} {streams} relayed connections, the most this server allows \
                     (max_relay_streams_per_session); try again when one ends"
                ));
            }
        }
        let now = Instant::now();
        for end in [from, to] {
            book.sessions
                .entry(end)
                .or_insert_with(|| SessionShare {
                    streams: 0,
                    bucket: Bucket::new(self.session_rate, now),
                })
                .streams += 1;
        }
        book.pairs.insert(pair(swarm, from, to));
        let id = book.next;
        book.next += 1;
        let cancel = CancellationToken::new();
        book.active.insert(
            id,
            Active {
                swarm,
                ends: (from, to),
                cancel: cancel.clone(),
            },
        );
        drop(book);
        Ok(Ticket {
            relays: self.clone(),
            id,
            cancel,
            from,
            to,
        })
    }

    fn release(&self, id: u64) {
        let mut book = self.book();
        let Some(active) = book.active.remove(&id) else {
            return;
        };
        let (a, b) = active.ends;
        book.pairs.remove(&pair(active.swarm, a, b));
        for end in [a, b] {
            if let Some(share) = book.sessions.get_mut(&end) {
                share.streams = share.streams.saturating_sub(1);
                if share.streams == 0 {
                    book.sessions.remove(&end);
                }
            }
        }
    }

    /// Charges `bytes` carried between `a` and `b`; how long the carrier
    /// waits before sending them.
    pub fn charge(&self, a: SessionId, b: SessionId, bytes: usize) -> Duration {
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        let now = Instant::now();
        let mut book = self.book();
        let mut wait = book.total.charge(bytes, now);
        for end in [a, b] {
            if let Some(share) = book.sessions.get_mut(&end) {
                wait = wait.max(share.bucket.charge(bytes, now));
            }
        }
        wait
    }

    /// Counts a relay both ends accepted.
    pub fn count_opened(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refused relay request.
    pub fn count_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends every relay for which `allowed(swarm, from, to)` no longer holds.
    pub fn end_unless(&self, allowed: impl Fn(&SwarmKey, SessionId, SessionId) -> bool) {
        let book = self.book();
        for active in book.active.values() {
            let (a, b) = active.ends;
            if !allowed(&active.swarm, a, b) {
                active.cancel.cancel();
            }
        }
    }

    /// Whether any relay is open.
    pub fn any_open(&self) -> bool {
        !self.book().active.is_empty()
    }

    /// The counters and limits, for the admin API.
    pub fn stats(&self) -> RelayStatsReply {
        RelayStatsReply {
            enabled: self.enabled,
            active: u32::try_from(self.book().active.len()).unwrap_or(u32::MAX),
            opened: self.opened.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            bytes_per_second: self.rate,
            session_bytes_per_second: self.session_rate,
            max_streams_per_session: self.max_streams,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rate: u64, session_rate: u64, streams: u32) -> Config {
        Config {
            relay_bytes_per_second: rate,
            relay_session_bytes_per_second: session_rate,
            max_relay_streams_per_session: streams,
            ..Config::default()
        }
    }

    const SWARM: SwarmKey = (1, [7; 20]);

    #[test]
    fn a_pair_gets_one_relay_per_swarm_whoever_dials() {
        let relays = Arc::new(Relays::new(&config(0, 0, 4)));
        let first = relays.reserve(SWARM, 1, 2).unwrap();
        let again = relays.reserve(SWARM, 2, 1).unwrap_err();
        assert!(again.contains("already open"), "{again}");
        // Another swarm of the same pair is another relay.
        let other = relays.reserve((1, [8; 20]), 2, 1).unwrap();
        drop(first);
        relays.reserve(SWARM, 2, 1).unwrap();
        drop(other);
    }

    #[test]
    fn streams_per_session_count_both_ends_and_come_back() {
        let relays = Arc::new(Relays::new(&config(0, 0, 2)));
        let a = relays.reserve(SWARM, 1, 2).unwrap();
        let b = relays.reserve((1, [2; 20]), 3, 1).unwrap();
        // Session 1 is an end of two relays: neither as dialer nor as target.
        let as_dialer = relays.reserve((1, [3; 20]), 1, 4).unwrap_err();
        assert!(as_dialer.contains("you hold 2"), "{as_dialer}");
        let as_target = relays.reserve((1, [3; 20]), 4, 1).unwrap_err();
        assert!(as_target.contains("the peer holds 2"), "{as_target}");
        drop(a);
        relays.reserve((1, [3; 20]), 4, 1).unwrap();
        drop(b);
        assert_eq!(relays.stats().active, 0);
    }

    #[test]
    fn the_total_budget_paces_every_relay_together() {
        let relays = Arc::new(Relays::new(&config(1 << 20, 0, 4)));
        let _a = relays.reserve(SWARM, 1, 2).unwrap();
        let _b = relays.reserve(SWARM, 3, 4).unwrap();
        // A quarter second is saved up; two more MiB cost two seconds.
        let mut wait = Duration::ZERO;
        for i in 0..(2 * 64 + 16) {
            let (x, y) = if i % 2 == 0 { (1, 2) } else { (3, 4) };
            wait = relays.charge(x, y, 16 << 10);
        }
        assert!(
            wait > Duration::from_millis(1800) && wait < Duration::from_millis(2100),
            "{wait:?}"
        );
        assert_eq!(relays.stats().bytes, (2 * 64 + 16) * (16 << 10));
    }

    #[test]
    fn a_session_budget_holds_back_only_its_relays() {
        let relays = Arc::new(Relays::new(&config(0, 1 << 20, 4)));
        let _a = relays.reserve(SWARM, 1, 2).unwrap();
        let _b = relays.reserve(SWARM, 3, 4).unwrap();
        let mut slow = Duration::ZERO;
        for _ in 0..(64 + 16) {
            slow = relays.charge(1, 2, 16 << 10);
        }
        assert!(slow > Duration::from_millis(900), "{slow:?}");
        assert_eq!(relays.charge(3, 4, 16 << 10), Duration::ZERO);
    }

    #[test]
    fn relays_whose_ends_left_are_cancelled() {
        let relays = Arc::new(Relays::new(&config(0, 0, 4)));
        let a = relays.reserve(SWARM, 1, 2).unwrap();
        let b = relays.reserve(SWARM, 3, 4).unwrap();
        relays.end_unless(|_, from, to| from != 3 && to != 3);
        assert!(!a.cancel.is_cancelled());
        assert!(b.cancel.is_cancelled());
    }
}
