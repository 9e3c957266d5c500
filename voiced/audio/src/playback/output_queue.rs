//! How much audio the worker keeps queued towards the output device.
//!
//! The worker counts what the device plays between its pulls as consumed
//! (up to [`OutputQueue::stall_bound`]), so what it keeps queued beyond
//! that is only a margin for its own wake-up delay: a device that pulls a
//! period at a time, or pulls late, still finds its samples. The device's
//! period is measured as the 90th percentile of its pulls in the last
//! window (a rare late pull of a busy machine does not set it). The margin
//! starts at the configured value, grows after underruns that repeat
//! within 10 s (a pull that found too little queued, i.e. a gap in the
//! sound; a lone stall of the machine does not make every later word
//! wait) and returns slowly towards the configured value while the output
//! runs clean. A device's period is unknown until it pulls; its first
//! pulls set it until the first window ends.

use std::time::{Duration, Instant};

/// Pulls are measured over windows this long.
const WINDOW: Duration = Duration::from_secs(2);
/// The margin grows this much after an underrun that follows another
/// within `REPEAT` ...
const GROW: Duration = Duration::from_millis(2);
/// See `GROW`.
const REPEAT: Duration = Duration::from_secs(10);
/// ... at most this often (one stall is often seen in two pulls).
const GROW_EVERY: Duration = Duration::from_millis(200);
/// The largest margin.
const MAX_MARGIN: Duration = Duration::from_millis(40);
/// After this long without an underrun the margin shrinks by `SHRINK`.
const CALM: Duration = Duration::from_secs(5);
/// See `CALM`.
const SHRINK: Duration = Duration::from_millis(1);

/// The output queue's target, in device samples.
#[derive(Debug, Clone)]
pub struct OutputQueue {
    rate: u32,
    floor: Duration,
    margin: Duration,
    /// The period in samples (until the first window ends: the largest pull).
    period: usize,
    pulls: Vec<usize>,
    window_start: Instant,
    measured: bool,
    last_grow: Option<Instant>,
    last_underrun: Option<Instant>,
    last_change: Instant,
    underruns: u64,
}

impl OutputQueue {
    /// A queue for a device at `rate` Hz that keeps `margin` beyond what the
    /// device has played since its last pull.
    pub fn new(rate: u32, margin: Duration, now: Instant) -> Self {
        Self {
            rate,
            floor: margin.min(MAX_MARGIN),
            margin: margin.min(MAX_MARGIN),
            period: 0,
            pulls: Vec::with_capacity(1024),
            window_start: now,
            measured: false,
            last_grow: None,
            last_underrun: None,
            last_change: now,
            underruns: 0,
        }
    }

    /// Takes what the device did since the last call: the largest single
    /// pull (samples) and how many samples it found missing.
    pub fn observe(&mut self, now: Instant, largest_pull: usize, short: u64) {
        if largest_pull > 0 {
            if self.pulls.len() < self.pulls.capacity() {
                self.pulls.push(largest_pull);
            }
            if !self.measured {
                self.period = self.period.max(largest_pull);
            }
        }
        if now.duration_since(self.window_start) >= WINDOW && !self.pulls.is_empty() {
            self.pulls.sort_unstable();
            self.period = self.pulls[(self.pulls.len() - 1) * 9 / 10];
            self.pulls.clear();
            self.measured = true;
            self.window_start = now;
        }
        if short > 0 {
            self.underruns += 1;
            // One stall of the machine is a gap the margin could not have
            // covered without being that long all the time; stalls that
            // repeat are what the margin grows for.
            let repeated = self.last_underrun.is_some_and(|t| {
                let since = now.duration_since(t);
                since >= GROW_EVERY && since <= REPEAT
            });
            if repeated
                && self
                    .last_grow
                    .is_none_or(|t| now.duration_since(t) >= GROW_EVERY)
            {
                self.margin = (self.margin + GROW).min(MAX_MARGIN);
                self.last_grow = Some(now);
                tracing::debug!(margin = ?self.margin, short, "output underruns: queue grows");
            }
            if self
                .last_underrun
                .is_none_or(|t| now.duration_since(t) >= GROW_EVERY)
            {
                self.last_underrun = Some(now);
            }
            self.last_change = now;
        } else if self.margin > self.floor && now.duration_since(self.last_change) >= CALM {
            self.margin = self.margin.saturating_sub(SHRINK).max(self.floor);
            self.last_change = now;
        }
    }

    /// The device's period as measured.
    pub fn period(&self) -> Duration {
        Duration::from_secs_f64(self.period as f64 / f64::from(self.rate.max(1)))
    }

    /// The margin kept beyond one period.
    pub fn margin(&self) -> Duration {
        self.margin
    }

    /// Underruns seen (observations that found samples missing).
    pub fn underruns(&self) -> u64 {
        self.underruns
    }

    /// Samples to keep queued beyond what the device has played since its
    /// last pull: the margin.
    pub fn want(&self) -> usize {
        samples(self.margin, self.rate)
    }

    /// The most the device is assumed to have played since its last pull
    /// (two periods and 10 ms): a device later than that has stalled, and
    /// the queue does not grow for it.
    pub fn stall_bound(&self) -> usize {
        self.period * 2 + samples(Duration::from_millis(10), self.rate)
    }
}

fn samples(d: Duration, rate: u32) -> usize {
    (d.as_secs_f64() * f64::from(rate)) as usize
}
