//! The voice gate: threshold, hangover and pre-roll on 10 ms frames.

use std::collections::VecDeque;

use crate::FRAME_10MS;

/// Gate tuning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateSettings {
    /// Voice probability at or above which a frame counts as speech.
    pub threshold: f32,
    /// Frames the gate stays open after the last speech frame (~300 ms).
    pub hangover_frames: u32,
    /// Frames before the first speech frame that are sent too (~100 ms),
    /// so word onsets are not clipped.
    pub preroll_frames: usize,
}

impl Default for GateSettings {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            hangover_frames: 30,
            preroll_frames: 10,
        }
    }
}

/// What the gate did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateStep {
    /// Closed: nothing to send.
    Closed,
    /// Opened on this frame: send the pre-roll and this frame.
    Opened,
    /// Open: send this frame.
    Open,
    /// Closed after this frame: send it as the last of the burst.
    Closing,
}

/// Decides which frames are sent; keeps the pre-roll while closed.
#[derive(Debug)]
pub struct Gate {
    settings: GateSettings,
    open: bool,
    hang: u32,
    preroll: VecDeque<[f32; FRAME_10MS]>,
}

impl Gate {
    /// A closed gate.
    pub fn new(settings: GateSettings) -> Self {
        Self {
            settings,
            open: false,
            hang: 0,
            preroll: VecDeque::with_capacity(settings.preroll_frames + 1),
        }
    }

    /// The settings.
    pub fn settings(&self) -> GateSettings {
        self.settings
    }

    /// Changes the settings (takes effect on the next frame).
    pub fn set_settings(&mut self, settings: GateSettings) {
        self.settings = settings;
        while self.preroll.len() > settings.preroll_frames {
            self.preroll.pop_front();
        }
    }

    /// Whether the gate is open.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Feeds one frame with its voice probability. On [`GateStep::Opened`],
    /// take the pre-roll with [`Gate::drain_preroll`] before the frame.
    pub fn push(&mut self, frame: &[f32; FRAME_10MS], voice_probability: f32) -> GateStep {
        let speech = voice_probability >= self.settings.threshold;
        if !self.open {
            if speech {
                self.open = true;
                self.hang = self.settings.hangover_frames;
                return GateStep::Opened;
            }
            if self.settings.preroll_frames > 0 {
                if self.preroll.len() == self.settings.preroll_frames {
                    self.preroll.pop_front();
                }
                self.preroll.push_back(*frame);
            }
            return GateStep::Closed;
        }
        if speech {
            self.hang = self.settings.hangover_frames;
            return GateStep::Open;
        }
        if self.hang == 0 {
            self.open = false;
            return GateStep::Closing;
        }
        self.hang -= 1;
        GateStep::Open
    }

    /// The frames held before the gate opened, oldest first.
    pub fn drain_preroll(&mut self) -> impl Iterator<Item = [f32; FRAME_10MS]> + '_ {
        self.preroll.drain(..)
    }

    /// Closes the gate and forgets the pre-roll.
    pub fn reset(&mut self) {
        self.open = false;
        self.hang = 0;
        self.preroll.clear();
    }
}
