//! Errors at the audio engine's boundary.

/// Something the audio engine could not do.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// libopus refused a setting or a packet.
    #[error("opus: {0}")]
    Opus(&'static str),
    /// A setting outside the supported range.
    #[error("invalid audio setting: {0}")]
    InvalidSetting(String),
    /// The sound system failed (no device, unsupported format, stream error).
    #[error("audio device: {0}")]
    Device(String),
    /// A WAV file could not be read or written.
    #[error("wav file {path}: {source}")]
    Wav {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        source: hound::Error,
    },
    /// The engine's worker thread is gone.
    #[error("the audio engine has stopped")]
    Stopped,
}

impl From<opusic_c::ErrorCode> for AudioError {
    fn from(e: opusic_c::ErrorCode) -> Self {
        AudioError::Opus(e.message())
    }
}
