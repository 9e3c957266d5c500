//! Audio files in and out of the engine (issue 23's audio bots): a file
//! decoded ahead on its own thread and sent as this user's voice
//! ([`Player`]), and what the engine plays recorded to a file on its own
//! thread ([`Recorder`]). Files are untrusted: sizes, lengths, rates and
//! channels are bounded and every failure is a [`MediaError`] that names
//! the file and what is wrong with it.

mod error;
mod file;
mod ogg_opus;
mod ogg_writer;
mod player;
mod recorder;
mod symphonia_file;

use std::time::Duration;

pub use error::MediaError;
pub use file::{AudioFile, FileInfo};
pub use player::{PlayOptions, Player, PlayerFrame};
pub use recorder::{RecordFormat, RecordMeter, RecordOptions, RecordSummary, Recorder};

/// The largest file `Player` opens (bytes).
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// The longest a file may play in one pass (a longer one stops there with
/// an error; its header is checked first when it says).
pub const MAX_PLAY: Duration = Duration::from_secs(12 * 3600);
/// The most channels a file may have (they are mixed down to mono).
pub const MAX_CHANNELS: usize = 8;
/// The sample rates a file may have, in Hz.
pub const RATES: std::ops::RangeInclusive<u32> = 8_000..=192_000;
/// A recording's default budget (it stops by itself there).
pub const DEFAULT_RECORD_LIMIT: Duration = Duration::from_secs(4 * 3600);
