//! What can go wrong with an audio file.

use std::path::PathBuf;

/// An audio file that cannot be played or written, with what to do.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file is not there (or not readable).
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`](super::MAX_FILE_BYTES).
    #[error("{path} is {size} bytes; files up to {limit} bytes can be played")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Not a format voiced can decode.
    #[error("{path}: {why}; voiced plays WAV, FLAC, Ogg Vorbis, Ogg Opus and MP3 files")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        why: String,
    },
    /// A supported format, but the data is damaged.
    #[error("{path} is corrupt: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Longer than [`MAX_PLAY`](super::MAX_PLAY).
    #[error("{path} lasts {seconds} s; files up to {limit} s can be played")]
    TooLong {
        /// The file.
        path: PathBuf,
        /// Its length.
        seconds: u64,
        /// The limit.
        limit: u64,
    },
    /// A recording would replace an existing file.
    #[error("{path} exists; choose another name or allow overwriting it")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// A recording's name ends in neither `.wav` nor `.ogg`/`.opus`.
    #[error("{path}: record to a .wav (16-bit 48 kHz mono) or .ogg/.opus (Ogg Opus) file")]
    UnknownRecordFormat {
        /// The file.
        path: PathBuf,
    },
    /// Writing a recording failed.
    #[error("cannot write {path}: {why}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
    /// The engine or a thread could not start.
    #[error("{0}")]
    Engine(String),
}
