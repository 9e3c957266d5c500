//! Per-address throttling of failed logins (like Mumble's autoban).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failures per address and refuses addresses with too many.
#[derive(Debug)]
pub struct Throttle {
    failures: usize,
    window: Duration,
    refuse_for: Duration,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<Instant>,
    refused_until: Option<Instant>,
}

/// Most addresses remembered; older quiet ones are forgotten first.
const MAX_ENTRIES: usize = 100_000;

impl Throttle {
    /// `failures` failures within `window` refuse the address for `refuse_for`.
    pub fn new(failures: usize, window: Duration, refuse_for: Duration) -> Self {
        Self {
            failures: failures.max(1),
            window,
            refuse_for,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the address is refused now.
    pub fn is_refused(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let Ok(entries) = self.entries.lock() else {
            return false;
        };
        entries
            .get(&ip)
            .and_then(|e| e.refused_until)
            .is_some_and(|until| until > now)
    }

    /// Records a failed login; returns whether the address is now refused.
    pub fn record_failure(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let Ok(mut entries) = self.entries.lock() else {
            return false;
        };
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| {
                e.refused_until.is_some_and(|u| u > now)
                    || e.failures
                        .back()
                        .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        let entry = entries.entry(ip).or_default();
        while entry
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now);
        if entry.failures.len() >= self.failures {
            entry.failures.clear();
            entry.refused_until = Some(now + self.refuse_for);
            return true;
        }
        false
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
        let now = Instant::now();
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
