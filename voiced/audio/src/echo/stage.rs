//! The echo stage of the capture chain: the chosen canceller fed with
//! what the engine plays, and a guard that passes the microphone through
//! untouched while nothing has been played for long enough to echo.
//!
//! The guard exists because AEC3 (through sonora) costs clean speech
//! something even when there is no echo to remove: its forced high-pass
//! filter and residual suppressor took a near end talking over a silent
//! far end from PESQ 3.67 to 3.39 in the harness (docs/aec-study.md on
//! the `aec-explore` branch). With the guard that case is at the ceiling
//! again, for 0.1–0.7 dB of echo return loss enhancement. It does not
//! help true double talk: while the far end plays, the canceller's output
//! is used.

use std::collections::VecDeque;

use super::{BLOCK, EchoCanceller};
use crate::capture::peak_dbfs;

/// A played block whose peak is below this (dBFS) cannot echo audibly.
const FAR_SILENCE_DBFS: f32 = -60.0;
/// The canceller's own latency in samples (8.92 ms, the best-matching
/// lag between its input and output in `examples/echo`): the bypassed
/// microphone is delayed by as much, so switching does not jump in time.
pub const LATENCY: usize = 428;
/// The guard waits at least this many blocks (300 ms) of silence played
/// before bypassing…
const HOLD_BLOCKS: u32 = 30;
/// …and at least the estimated echo delay plus this many (250 ms, a
/// room's reverberation tail).
const TAIL_BLOCKS: u32 = 25;

/// The canceller with its far-silence guard, in 10 ms blocks.
pub struct EchoStage {
    canceller: EchoCanceller,
    /// Capture blocks since a played block was loud enough to echo.
    quiet_blocks: u32,
    /// The microphone, delayed by [`LATENCY`].
    delayed: VecDeque<f32>,
    /// The last block was passed through.
    bypassing: bool,
    /// A canceller failure was logged (once per stage).
    failed: bool,
}

impl std::fmt::Debug for EchoStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoStage")
            .field("quiet_blocks", &self.quiet_blocks)
            .field("bypassing", &self.bypassing)
            .finish_non_exhaustive()
    }
}

impl Default for EchoStage {
    fn default() -> Self {
        Self::new()
    }
}

impl EchoStage {
    /// A stage that has heard nothing played yet (so it passes the
    /// microphone through until something is).
    pub fn new() -> Self {
        Self {
            canceller: EchoCanceller::new(),
            quiet_blocks: u32::MAX,
            delayed: std::iter::repeat_n(0.0, LATENCY).collect(),
            bypassing: true,
            failed: false,
        }
    }

    /// One block of what goes to the speakers, as it goes.
    pub fn render(&mut self, far: &[f32; BLOCK]) {
        if peak_dbfs(far) >= FAR_SILENCE_DBFS {
            self.quiet_blocks = 0;
        }
        if let Err(e) = self.canceller.render(far) {
            self.log_failure(&e);
        }
    }

    /// One block of the microphone, echo removed in place.
    pub fn capture(&mut self, frame: &mut [f32; BLOCK]) {
        self.quiet_blocks = self.quiet_blocks.saturating_add(1);
        let near = *frame;
        if let Err(e) = self.canceller.capture(&near, frame) {
            self.log_failure(&e);
            *frame = near;
        }
        self.delayed.extend(near);
        let hold = HOLD_BLOCKS.max(self.delay_blocks() + TAIL_BLOCKS);
        let was = self.bypassing;
        let now = self.quiet_blocks >= hold;
        self.bypassing = now;
        for (i, (o, d)) in frame
            .iter_mut()
            .zip(self.delayed.drain(..BLOCK))
            .enumerate()
        {
            // The bypass's weight, ramped across the block on a switch.
            let t = (i as f32 + 0.5) / BLOCK as f32;
            let w = match (was, now) {
                (true, true) => 1.0,
                (false, true) => t,
                (true, false) => 1.0 - t,
                (false, false) => 0.0,
            };
            *o = w * d + (1.0 - w) * *o;
        }
    }

    /// The microphone is passed through (nothing played lately).
    pub fn bypassing(&self) -> bool {
        self.bypassing
    }

    /// The playback-to-capture delay the canceller has found, if any.
    pub fn estimated_delay_ms(&self) -> Option<i32> {
        self.canceller.estimated_delay_ms()
    }

    fn delay_blocks(&self) -> u32 {
        self.estimated_delay_ms()
            .map_or(0, |ms| u32::try_from(ms.max(0)).unwrap_or(0).div_ceil(10))
    }

    fn log_failure(&mut self, e: &super::EchoError) {
        if !self.failed {
            self.failed = true;
            tracing::warn!(error = %e, "echo canceller failed; the microphone goes out as captured");
        }
    }
}
