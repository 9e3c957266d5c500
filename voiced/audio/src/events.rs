//! Events the engine reports to the daemon (meters, talking, devices).

/// Who is talking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Speaker {
    /// This user (the capture chain).
    Local,
    /// A remote speaker by session id.
    Remote(u32),
}

/// Capture or playback side of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Microphone.
    Input,
    /// Speakers or headphones.
    Output,
}

/// What the engine did about a stuck device ([`AudioEvent::DeviceStalled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallAction {
    /// Reopened the same device.
    Reopened,
    /// Moved to the default device.
    MovedToDefault,
    /// The retries are used up: the stream is kept open and watched; it is
    /// used again as soon as it delivers ([`AudioEvent::DeviceResumed`]), or
    /// when the user chooses a device.
    Waiting,
}

/// Something the front ends may show.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioEvent {
    /// Microphone level and voice probability, about every 50 ms.
    InputLevel {
        /// Peak level of the raw input in dBFS (−100 for digital silence).
        dbfs: f32,
        /// The noise suppressor's voice probability, 0–1.
        voice_probability: f32,
    },
    /// A speaker started or stopped talking.
    Talking {
        /// Who.
        speaker: Speaker,
        /// Started (`true`) or stopped.
        talking: bool,
    },
    /// A device disappeared or failed.
    DeviceLost {
        /// Which side.
        direction: Direction,
        /// Its name.
        name: String,
        /// Why, as the sound system said.
        reason: String,
    },
    /// A device stopped delivering without an error: its data callback has
    /// not run for `silent_ms` (a stuck device). The engine did `action`.
    DeviceStalled {
        /// Which side.
        direction: Direction,
        /// Its name.
        name: String,
        /// How long its callback had been silent when this was noticed.
        silent_ms: u64,
        /// What the engine did about it.
        action: StallAction,
    },
    /// A device the engine was waiting for ([`StallAction::Waiting`])
    /// delivers again.
    DeviceResumed {
        /// Which side.
        direction: Direction,
        /// Its name.
        name: String,
    },
    /// The engine now uses this device (after a selection or a fallback).
    DeviceInUse {
        /// Which side.
        direction: Direction,
        /// Its name.
        name: String,
        /// Chosen because the previous one was lost.
        fallback: bool,
    },
    /// The file backend's input file has been played to its end.
    InputFinished,
    /// Voice frames lost (recovered or concealed) in percent of frames
    /// played over the last second: what this listener reports to senders.
    ReceiveLoss {
        /// Loss in percent, across speakers.
        percent: f32,
        /// Per speaker who played in that second: session id and percent.
        speakers: Vec<(u32, f32)>,
    },
    /// A file played with [`Engine::play`](crate::Engine::play) ended by
    /// itself: at its end (`error` unset) or because it failed.
    PlayEnded {
        /// The id it was started with.
        id: u64,
        /// Why it stopped early.
        error: Option<String>,
    },
    /// A recording stopped by itself (its budget, a write error); its file
    /// is finished.
    RecordEnded {
        /// The id it was started with.
        id: u64,
        /// Its figures.
        summary: crate::media::RecordSummary,
        /// Why it stopped.
        error: String,
    },
    /// The output device consumes audio steadily (half a second played
    /// since it opened): from now on playback is timely.
    OutputRunning,
}
