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
    /// The output device consumes audio steadily (half a second played
    /// since it opened): from now on playback is timely.
    OutputRunning,
}
