//! Throttling of failed logins per address (an IPv4 address or an IPv6
//! /64, see [`AddressKey`]), like Mumble's autoban, in a table of bounded
//! size whose every operation is O(1).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::address::AddressKey;

/// Addresses the throttle remembers: 65,536. An entry is under 100 bytes
/// with the table's overhead, so the table stays under about 8 MiB. When it
/// is full, the address remembered first is forgotten (FIFO), so an
/// attacker must fail this many logins from as many addresses to make the
/// server forget one.
pub const MAX_THROTTLE_ENTRIES: usize = 65_536;

/// Quiet entries dropped from the front of the table per failed login, so
/// it shrinks without ever scanning it.
const FORGET_PER_ATTEMPT: usize = 4;

/// Counts failures per address and refuses addresses with too many.
#[derive(Debug)]
pub struct Throttle {
    failures: u32,
    window: Duration,
    refuse_for: Duration,
    capacity: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<AddressKey, Entry>,
    /// The keys of `entries`, each once, oldest first.
    order: VecDeque<AddressKey>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Failures since `window_start`.
    failures: u32,
    window_start: Instant,
    refused_until: Option<Instant>,
}

impl Entry {
    fn quiet(&self, now: Instant, window: Duration) -> bool {
        self.refused_until.is_none_or(|u| u <= now)
            && now.duration_since(self.window_start) >= window
    }
}

impl Throttle {
    /// `failures` failures within `window` refuse the address for
    /// `refuse_for`; at most [`MAX_THROTTLE_ENTRIES`] addresses are remembered.
    pub fn new(failures: usize, window: Duration, refuse_for: Duration) -> Self {
        Self::with_capacity(failures, window, refuse_for, MAX_THROTTLE_ENTRIES)
    }

    /// As [`Throttle::new`], remembering at most `capacity` addresses.
    pub fn with_capacity(
        failures: usize,
        window: Duration,
        refuse_for: Duration,
        capacity: usize,
    ) -> Self {
        Self {
            failures: u32::try_from(failures).unwrap_or(u32::MAX).max(1),
            window,
            refuse_for,
            capacity: capacity.max(1),
            table: Mutex::default(),
        }
    }

    /// Whether the address is refused now.
    pub fn is_refused(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table
            .entries
            .get(&AddressKey::of(ip))
            .and_then(|e| e.refused_until)
            .is_some_and(|until| until > now)
    }

    /// Records a failed login; returns whether the address is now refused.
    pub fn record_failure(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let key = AddressKey::of(ip);
        let mut guard = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let table = &mut *guard;
        for _ in 0..FORGET_PER_ATTEMPT {
            match table.order.front() {
                Some(k)
                    if *k != key
                        && table
                            .entries
                            .get(k)
                            .is_none_or(|e| e.quiet(now, self.window)) =>
                {
                    table.entries.remove(k);
                    table.order.pop_front();
                }
                _ => break,
            }
        }
        if !table.entries.contains_key(&key) {
            if table.entries.len() >= self.capacity
                && let Some(oldest) = table.order.pop_front()
            {
                table.entries.remove(&oldest);
            }
            table.order.push_back(key);
        }
        let entry = table.entries.entry(key).or_insert(Entry {
            failures: 0,
            window_start: now,
            refused_until: None,
        });
        if now.duration_since(entry.window_start) >= self.window {
            entry.failures = 0;
            entry.window_start = now;
        }
        entry.failures += 1;
        if entry.failures >= self.failures {
            entry.failures = 0;
            entry.refused_until = Some(now + self.refuse_for);
            return true;
        }
        false
    }

    /// Addresses remembered now.
    pub fn len(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }

    /// Whether no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A token bucket: `rate` per second, at most `burst` at once.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst: burst.max(1.0),
            tokens: burst.max(1.0),
            last: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self) -> bool {
        self.take_n(1.0)
    }

    /// Takes `n` tokens (bytes, say) if there are that many.
    pub fn take_n(&mut self, n: f64) -> bool {
        self.take_at(Instant::now(), n)
    }

    /// Like [`TokenBucket::take_n`] at a time the caller read (the relay
    /// reads the clock once per packet for its two buckets).
    pub fn take_at(&mut self, now: Instant, n: f64) -> bool {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const LONG: Duration = Duration::from_secs(3600);

    #[test]
    fn failures_from_one_ipv6_64_add_up() {
        let t = Throttle::new(3, LONG, LONG);
        assert!(!t.record_failure("2001:db8:0:1::1".parse().unwrap()));
        assert!(!t.record_failure("2001:db8:0:1::2".parse().unwrap()));
        assert!(t.record_failure("2001:db8:0:1:abcd::3".parse().unwrap()));
        assert!(t.is_refused("2001:db8:0:1::9".parse().unwrap()));
        assert!(!t.is_refused("2001:db8:0:2::1".parse().unwrap()));
        // IPv4 stays exact, also mapped into IPv6.
        let t = Throttle::new(2, LONG, LONG);
        t.record_failure("::ffff:192.0.2.1".parse().unwrap());
        assert!(t.record_failure("192.0.2.1".parse().unwrap()));
        assert!(!t.is_refused("::ffff:192.0.2.2".parse().unwrap()));
    }

    #[test]
    fn the_table_never_grows_past_its_capacity_and_forgets_the_oldest() {
        let t = Throttle::with_capacity(2, LONG, LONG, 100);
        let first: IpAddr = "192.0.2.1".parse().unwrap();
        t.record_failure(first);
        assert!(t.record_failure(first), "refused");
        for i in 0..10_000u32 {
            t.record_failure(IpAddr::from((0x0a00_0000 + i).to_be_bytes()));
            assert!(t.len() <= 100);
        }
        assert_eq!(t.len(), 100);
        assert!(!t.is_refused(first), "the oldest entry was forgotten");
        let table = t.table.lock().unwrap();
        assert_eq!(table.order.len(), table.entries.len());
    }

    #[test]
    fn quiet_entries_are_forgotten_as_failures_come() {
        let t = Throttle::with_capacity(5, Duration::ZERO, Duration::ZERO, 100);
        for i in 0..50u8 {
            t.record_failure(IpAddr::from([192, 0, 2, i]));
        }
        assert!(t.len() <= 2, "{}", t.len());
    }
}
