//! A stuck device: a data callback that stops firing without an error
//! (a suspended PulseAudio source or sink, a wedged driver). Each callback
//! stamps a [`Heartbeat`]; the device thread's poll asks a [`StallWatch`]
//! what the silence means and follows a bounded ladder: reopen the same
//! device once, then the default device, then wait for it to deliver again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::events::StallAction;

/// A running stream silent this long is stuck. With the 100 ms poll a stall
/// is reported within 0.6 s of the last callback.
pub(crate) const STALL_AFTER: Duration = Duration::from_millis(500);
/// A freshly opened stream is not judged before this: ALSA's pulse plugin
/// calls back once, fills its buffer, and may then be silent for most of
/// a second before PulseAudio starts to consume (measured here: 0.6–0.7 s);
/// and a capture stream on a PulseAudio null sink's monitor (a virtual
/// microphone) first delivers when the sink next renders, which it does in
/// blocks of up to 2 s (seen: 2.0–2.1 s after opening). At 2 s such a
/// stream was judged stuck just before it delivered, and every reopen
/// started the same wait again. A stream that has not delivered by then is
/// stuck.
pub(crate) const START_GRACE: Duration = Duration::from_millis(3000);
/// A stream that has delivered without a stall for this long is healthy:
/// the ladder starts again at its first step.
pub(crate) const HEALTHY_AFTER: Duration = Duration::from_secs(5);

/// When a stream's data callback last ran, written from the callback with
/// one atomic store (no lock, no allocation).
#[derive(Debug)]
pub(crate) struct Heartbeat {
    opened: Instant,
    /// Milliseconds since `opened` of the last callback, plus one; 0: none yet.
    last: AtomicU64,
}

impl Heartbeat {
    pub(crate) fn new() -> Self {
        Self {
            opened: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    /// Called from the data callback.
    pub(crate) fn beat(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last.store(ms + 1, Ordering::Relaxed);
    }

    /// What the stream has done by `now`.
    pub(crate) fn pulse(&self, now: Instant) -> Pulse {
        let open_for = now.saturating_duration_since(self.opened);
        match self.last.load(Ordering::Relaxed) {
            0 => Pulse {
                open_for,
                silent_for: open_for,
                started: false,
            },
            last => Pulse {
                open_for,
                silent_for: open_for.saturating_sub(Duration::from_millis(last - 1)),
                started: true,
            },
        }
    }
}

/// A stream's activity at one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pulse {
    /// Since the stream opened.
    pub open_for: Duration,
    /// Since its last callback (or since it opened, if none yet).
    pub silent_for: Duration,
    /// Whether the callback has run at all.
    pub started: bool,
}

/// What the device thread should do about one side at a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing.
    Fine,
    /// The stream is stuck: report it and do `action`.
    Stalled {
        /// How long the callback had been silent.
        silent: Duration,
        /// What to do about it.
        action: StallAction,
    },
    /// A stream left waiting delivers again.
    Resumed,
}

/// One side's stall ladder across reopens. Pure: it sees [`Pulse`]s and
/// says what to do, so the ladder is tested without devices.
#[derive(Debug, Default)]
pub(crate) struct StallWatch {
    /// Stalls since the side last ran healthily.
    stalls: u32,
    /// The retries are used up: the stream is kept and watched.
    waiting: bool,
    /// The current stream's age when it last started delivering.
    delivering_since: Option<Duration>,
}

impl StallWatch {
    /// Forgets the history (a device chosen by the user).
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    /// A new stream opened: its age starts again.
    pub(crate) fn opened(&mut self) {
        self.delivering_since = None;
    }

    /// Judges one poll of the open stream; `on_default` says whether the
    /// stream is already on the default device.
    pub(crate) fn judge(&mut self, p: Pulse, on_default: bool) -> Verdict {
        let delivering = p.started && p.silent_for < STALL_AFTER;
        if !delivering {
            self.delivering_since = None;
        } else if self.delivering_since.is_none() {
            self.delivering_since = Some(p.open_for);
        }
        if self.waiting {
            if delivering {
                self.waiting = false;
                return Verdict::Resumed;
            }
            return Verdict::Fine;
        }
        if self
            .delivering_since
            .is_some_and(|t| p.open_for.saturating_sub(t) >= HEALTHY_AFTER)
        {
            self.stalls = 0;
        }
        if p.open_for < START_GRACE || p.silent_for < STALL_AFTER {
            return Verdict::Fine;
        }
        self.stalls += 1;
        let action = match self.stalls {
            1 => StallAction::Reopened,
            2 if !on_default => StallAction::MovedToDefault,
            // Already on the default: reopening it is the one more try.
            2 => StallAction::Reopened,
            _ => StallAction::Waiting,
        };
        self.waiting = action == StallAction::Waiting;
        Verdict::Stalled {
            silent: p.silent_for,
            action,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn running(open: u64, silent: u64) -> Pulse {
        Pulse {
            open_for: ms(open),
            silent_for: ms(silent),
            started: true,
        }
    }

    fn never_started(open: u64) -> Pulse {
        Pulse {
            open_for: ms(open),
            silent_for: ms(open),
            started: false,
        }
    }

    fn action(v: Verdict) -> Option<StallAction> {
        match v {
            Verdict::Stalled { action, .. } => Some(action),
            _ => None,
        }
    }

    #[test]
    fn a_steady_stream_is_fine_and_a_silent_one_is_stuck() {
        let mut w = StallWatch::default();
        assert_eq!(w.judge(running(10_000, 20), false), Verdict::Fine);
        assert_eq!(w.judge(running(10_000, 499), false), Verdict::Fine);
        assert_eq!(
            w.judge(running(10_000, 500), false),
            Verdict::Stalled {
                silent: ms(500),
                action: StallAction::Reopened
            }
        );
    }

    #[test]
    fn a_starting_stream_has_its_grace() {
        let mut w = StallWatch::default();
        assert_eq!(w.judge(never_started(1500), false), Verdict::Fine);
        // One callback, then a pause while the sound server starts.
        assert_eq!(w.judge(running(1900, 1000), false), Verdict::Fine);
        // A null sink's monitor delivers when the sink renders its block.
        assert_eq!(w.judge(never_started(2100), false), Verdict::Fine);
        assert_eq!(
            action(w.judge(never_started(3000), false)),
            Some(StallAction::Reopened)
        );
    }

    #[test]
    fn the_ladder_is_same_device_then_default_then_waiting() {
        let mut w = StallWatch::default();
        assert_eq!(
            action(w.judge(running(9000, 600), false)),
            Some(StallAction::Reopened)
        );
        assert_eq!(
            action(w.judge(never_started(3000), false)),
            Some(StallAction::MovedToDefault)
        );
        assert_eq!(
            action(w.judge(never_started(3000), true)),
            Some(StallAction::Waiting)
        );
        assert!(w.waiting);
        // Waiting never asks for anything more while the stream is silent.
        for open in 300..400 {
            assert_eq!(w.judge(never_started(open * 10), true), Verdict::Fine);
        }
        assert_eq!(w.judge(running(30_000, 10), true), Verdict::Resumed);
        assert!(!w.waiting);
        // A relapse soon after goes straight back to waiting.
        assert_eq!(w.judge(running(31_000, 10), true), Verdict::Fine);
        assert_eq!(
            action(w.judge(running(32_000, 700), true)),
            Some(StallAction::Waiting)
        );
    }

    #[test]
    fn on_the_default_device_the_second_try_reopens_it() {
        let mut w = StallWatch::default();
        let _ = w.judge(running(9000, 600), true);
        assert_eq!(
            action(w.judge(never_started(3000), true)),
            Some(StallAction::Reopened)
        );
        assert_eq!(
            action(w.judge(never_started(3000), true)),
            Some(StallAction::Waiting)
        );
    }

    #[test]
    fn a_healthy_run_starts_the_ladder_again() {
        let mut w = StallWatch::default();
        let _ = w.judge(running(9000, 600), false);
        w.opened();
        // The reopened stream delivers for long enough.
        assert_eq!(w.judge(running(100, 20), false), Verdict::Fine);
        assert_eq!(w.judge(running(5100, 20), false), Verdict::Fine);
        assert_eq!(
            action(w.judge(running(8000, 600), false)),
            Some(StallAction::Reopened)
        );
    }

    #[test]
    fn the_heartbeat_measures_silence_from_the_last_callback() {
        let h = Heartbeat::new();
        let start = Instant::now();
        assert!(!h.pulse(start).started);
        h.beat();
        let p = h.pulse(Instant::now() + ms(300));
        assert!(p.started);
        assert!(p.silent_for >= ms(299) && p.silent_for <= p.open_for);
    }
}
