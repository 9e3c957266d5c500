//! An audio file opened for decoding: its format is recognised, its limits
//! checked and its first audio decoded before it counts as playable.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{MAX_CHANNELS, MAX_FILE_BYTES, MAX_PLAY, MediaError, RATES};

/// What a file is, as its header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The file.
    pub path: PathBuf,
    /// "WAV", "FLAC", "Ogg Vorbis", "Ogg Opus" or "MP3".
    pub format: &'static str,
    /// Its sample rate (Hz).
    pub sample_rate: u32,
    /// Its channels (mixed down to mono).
    pub channels: usize,
    /// Its length in ms, when the header says.
    pub duration_ms: Option<u64>,
}

/// Decodes a file's audio, a packet at a time.
pub(crate) trait Decode: Send {
    /// Appends the next samples (mono, at the file's rate) to `out`;
    /// `false` at the end of the file.
    fn next(&mut self, out: &mut Vec<f32>) -> Result<bool, MediaError>;
}

/// A file ready to decode.
pub struct AudioFile {
    info: FileInfo,
    decoder: Box<dyn Decode>,
    /// What the check at opening decoded, handed out first.
    first: Vec<f32>,
}

impl std::fmt::Debug for AudioFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioFile")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// Packets tried at opening before a file without audio counts as corrupt.
const FIRST_PACKETS: usize = 64;

impl AudioFile {
    /// Opens `path`, recognises its format by its contents, checks its size,
    /// rate, channels and length, and decodes its first audio.
    pub fn open(path: &Path) -> Result<Self, MediaError> {
        let open_err = |source| MediaError::Open {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(open_err)?;
        if !meta.is_file() {
            return Err(MediaError::Unsupported {
                path: path.to_path_buf(),
                why: "not a regular file".into(),
            });
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(MediaError::TooLarge {
                path: path.to_path_buf(),
                size: meta.len(),
                limit: MAX_FILE_BYTES,
            });
        }
        if meta.len() == 0 {
            return Err(MediaError::Corrupt {
                path: path.to_path_buf(),
                why: "the file is empty".into(),
            });
        }
        let mut head = [0u8; 36];
        let n = read_up_to(path, &mut head).map_err(open_err)?;
        let (info, decoder): (FileInfo, Box<dyn Decode>) = if is_ogg_opus(&head[..n]) {
            let (info, d) = super::ogg_opus::open(path)?;
            (info, Box::new(d))
        } else {
            let (info, d) = super::symphonia_file::open(path)?;
            (info, Box::new(d))
        };
        check(&info)?;
        let mut file = Self {
            info,
            decoder,
            first: Vec::new(),
        };
        let mut first = Vec::new();
        for _ in 0..FIRST_PACKETS {
            if !file.decoder.next(&mut first)? || !first.is_empty() {
                break;
            }
        }
        if first.is_empty() {
            return Err(MediaError::Corrupt {
                path: path.to_path_buf(),
                why: "no audio could be decoded from its start".into(),
            });
        }
        file.first = first;
        Ok(file)
    }

    /// What the file is.
    pub fn info(&self) -> &FileInfo {
        &self.info
    }

    /// Appends the next samples (mono, at [`FileInfo::sample_rate`]) to
    /// `out`; `false` at the end of the file.
    pub fn next(&mut self, out: &mut Vec<f32>) -> Result<bool, MediaError> {
        if !self.first.is_empty() {
            out.append(&mut self.first);
            return Ok(true);
        }
        self.decoder.next(out)
    }
}

fn read_up_to(path: &Path, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut f = std::fs::File::open(path)?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// An Ogg stream whose first packet is an Opus header (RFC 7845).
fn is_ogg_opus(head: &[u8]) -> bool {
    head.len() >= 36 && &head[..4] == b"OggS" && &head[28..36] == b"OpusHead"
}

fn check(info: &FileInfo) -> Result<(), MediaError> {
    if !RATES.contains(&info.sample_rate) {
        return Err(MediaError::Unsupported {
            path: info.path.clone(),
            why: format!(
                "a sample rate of {} Hz (supported: {}..={} Hz)",
                info.sample_rate,
                RATES.start(),
                RATES.end()
            ),
        });
    }
    if info.channels == 0 || info.channels > MAX_CHANNELS {
        return Err(MediaError::Unsupported {
            path: info.path.clone(),
            why: format!("{} channels (supported: 1..={MAX_CHANNELS})", info.channels),
        });
    }
    if let Some(ms) = info.duration_ms
        && ms > MAX_PLAY.as_millis() as u64
    {
        return Err(MediaError::TooLong {
            path: info.path.clone(),
            seconds: ms / 1000,
            limit: MAX_PLAY.as_secs(),
        });
    }
    Ok(())
}

/// Mixes interleaved frames of `channels` down to mono, appending to `out`.
pub(crate) fn downmix(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels <= 1 {
        out.extend(interleaved.iter().map(|s| sanitize(*s)));
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|f| sanitize(f.iter().sum::<f32>() * scale)),
    );
}

/// A decoder's sample, kept finite and in range whatever the file holds.
fn sanitize(s: f32) -> f32 {
    if s.is_finite() {
        s.clamp(-1.0, 1.0)
    } else {
        0.0
    }
}
