//! What this daemon plays into the room and records (issue 23's audio
//! bots), as `voicectl status` shows it.

use voice_audio::SAMPLE_RATE;
use voice_audio::media::{RecordMeter, RecordSummary};
use voice_proto::pb::control::{Playing, Recording};

/// The file playing and the recording in progress, with the ids their
/// engine events carry (an event of a file since replaced is ignored).
#[derive(Debug, Default)]
pub(crate) struct MediaState {
    next_id: u64,
    pub(crate) playing: Option<(u64, Playing)>,
    pub(crate) recording: Option<(u64, Recording, RecordMeter)>,
}

impl MediaState {
    /// A fresh id for a file or a recording.
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The file playing.
    pub(crate) fn playing(&self) -> Option<Playing> {
        self.playing.as_ref().map(|(_, p)| p.clone())
    }

    /// The recording, with its figures so far.
    pub(crate) fn recording(&self) -> Option<Recording> {
        self.recording
            .as_ref()
            .map(|(_, r, meter)| with_summary(r.clone(), &meter.progress()))
    }
}

/// A recording's message with a summary's figures.
pub(crate) fn with_summary(mut r: Recording, s: &RecordSummary) -> Recording {
    r.duration_ms = s.samples * 1000 / u64::from(SAMPLE_RATE);
    r.bytes = s.bytes;
    r
}
