//! The per-packet decision: dropped, or delivered after some delays.

use std::time::Duration;

/// Two-state burst loss: in the good state packets pass (subject to the
/// random loss), in the bad state they are lost with `loss_in_bad`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// Probability per packet of going from good to bad.
    pub p_enter_bad: f64,
    /// Probability per packet of going from bad to good.
    pub p_leave_bad: f64,
    /// Loss probability while bad.
    pub loss_in_bad: f64,
}

/// What to do to the packets of one direction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Impairment {
    /// Seed of the random pattern: the same seed gives the same pattern.
    pub seed: u64,
    /// Independent random loss probability (0–1).
    pub loss: f64,
    /// Burst loss on top of `loss`.
    pub burst: Option<GilbertElliott>,
    /// Constant one-way delay.
    pub delay: Duration,
    /// Extra delay, uniform in `0..=jitter` per packet.
    pub jitter: Duration,
    /// Probability that a packet is held back by `reorder_by` (so later ones overtake it).
    pub reorder: f64,
    /// Extra delay of a reordered packet.
    pub reorder_by: Duration,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
    /// Blackouts: every `.0` the link drops everything for `.1`.
    pub blackout: Option<(Duration, Duration)>,
}

impl Impairment {
    /// No impairment.
    pub fn clean(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// Independent random loss only (probability 0–1).
    pub fn random_loss(seed: u64, loss: f64) -> Self {
        Self {
            seed,
            loss,
            ..Self::default()
        }
    }
}

/// Decides, packet by packet, from a seeded generator.
#[derive(Debug)]
pub struct Impairer {
    cfg: Impairment,
    rng: fastrand::Rng,
    bad: bool,
    sent: u64,
    dropped: u64,
}

impl Impairer {
    /// A decider for `cfg`.
    pub fn new(cfg: Impairment) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(cfg.seed),
            cfg,
            bad: false,
            sent: 0,
            dropped: 0,
        }
    }

    /// Packets seen and packets dropped.
    pub fn counts(&self) -> (u64, u64) {
        (self.sent, self.dropped)
    }

    /// For a packet sent at `elapsed` since the start, the delays after
    /// which its copies are delivered: empty when it is lost.
    pub fn decide(&mut self, elapsed: Duration) -> Vec<Duration> {
        self.sent += 1;
        // Draw every number every time, so one setting does not shift the
        // pattern of another.
        let r_loss = self.rng.f64();
        let r_state = self.rng.f64();
        let r_bad = self.rng.f64();
        let r_jit = self.rng.f64();
        let r_reorder = self.rng.f64();
        let r_dup = self.rng.f64();
        let r_jit2 = self.rng.f64();
        let mut lost = r_loss < self.cfg.loss;
        if let Some(ge) = self.cfg.burst {
            self.bad = if self.bad {
                r_state >= ge.p_leave_bad
            } else {
                r_state < ge.p_enter_bad
            };
            lost |= self.bad && r_bad < ge.loss_in_bad;
        }
        if let Some((every, len)) = self.cfg.blackout
            && !every.is_zero()
        {
            let phase = elapsed.as_nanos() % every.as_nanos();
            lost |= phase >= every.as_nanos().saturating_sub(len.as_nanos());
        }
        if lost {
            self.dropped += 1;
            return Vec::new();
        }
        let mut delay = self.cfg.delay + self.cfg.jitter.mul_f64(r_jit);
        if r_reorder < self.cfg.reorder {
            delay += self.cfg.reorder_by;
        }
        let mut out = vec![delay];
        if r_dup < self.cfg.duplicate {
            out.push(self.cfg.delay + self.cfg.jitter.mul_f64(r_jit2));
        }
        out
    }
}
