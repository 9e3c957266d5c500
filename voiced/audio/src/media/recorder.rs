//! A recording of what the engine plays: the worker hands 10 ms frames to a
//! lock-free ring, a writer thread turns them into a WAV or Ogg Opus file
//! and finishes it when stopped, at its budget, or when the engine stops.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::MediaError;
use super::ogg_writer::OggOpusWriter;
use crate::{FRAME_10MS, SAMPLE_RATE};

/// A second of audio waits for the writer at most.
const RING: usize = SAMPLE_RATE as usize;
/// The writer's period.
const NAP: Duration = Duration::from_millis(20);

/// The file formats a recording can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFormat {
    /// 16-bit 48 kHz mono WAV.
    Wav,
    /// Ogg Opus, mono, 64 kb/s.
    OggOpus,
}

impl RecordFormat {
    /// The format a file's name asks for: `.wav`, `.ogg` or `.opus`.
    pub fn from_path(path: &Path) -> Result<Self, MediaError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("wav") => Ok(Self::Wav),
            Some("ogg" | "opus") => Ok(Self::OggOpus),
            _ => Err(MediaError::UnknownRecordFormat {
                path: path.to_path_buf(),
            }),
        }
    }

    /// "wav" or "ogg-opus".
    pub fn name(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::OggOpus => "ogg-opus",
        }
    }
}

/// How a recording is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordOptions {
    /// Replace an existing file.
    pub overwrite: bool,
    /// The most it records; it stops by itself there.
    pub limit: Duration,
}

impl Default for RecordOptions {
    fn default() -> Self {
        Self {
            overwrite: false,
            limit: super::DEFAULT_RECORD_LIMIT,
        }
    }
}

/// A finished (or running) recording, in figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSummary {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: RecordFormat,
    /// Samples recorded (48 kHz).
    pub samples: u64,
    /// Bytes in the file.
    pub bytes: u64,
    /// Samples lost because the writer fell behind.
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    samples: AtomicU64,
    bytes: AtomicU64,
    dropped: AtomicU64,
    /// The writer stopped by itself: why.
    ended: Mutex<Option<String>>,
    ended_flag: AtomicBool,
}

/// A recording in progress. Dropping it finishes the file.
pub struct Recorder {
    ring: rtrb::Producer<f32>,
    shared: Arc<Shared>,
    path: PathBuf,
    format: RecordFormat,
    thread: Option<JoinHandle<Result<(), MediaError>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// Reads a recording's figures while it runs ([`Recorder::meter`]).
#[derive(Debug, Clone)]
pub struct RecordMeter {
    shared: Arc<Shared>,
    path: PathBuf,
    format: RecordFormat,
}

impl RecordMeter {
    /// The figures so far.
    pub fn progress(&self) -> RecordSummary {
        RecordSummary {
            path: self.path.clone(),
            format: self.format,
            samples: self.shared.samples.load(Ordering::Relaxed),
            bytes: self.shared.bytes.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
        }
    }
}

enum Sink {
    Wav(hound::WavWriter<BufWriter<File>>),
    Ogg(OggOpusWriter<CountingWriter<BufWriter<File>>>),
}

/// Counts the bytes written through it.
struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Recorder {
    /// Creates the file (refusing an existing one unless `overwrite`) and
    /// starts the writer.
    pub fn create(path: &Path, options: RecordOptions) -> Result<Self, MediaError> {
        let format = RecordFormat::from_path(path)?;
        let mut open = OpenOptions::new();
        open.write(true);
        if options.overwrite {
            open.create(true).truncate(true);
        } else {
            open.create_new(true);
        }
        let file = open.open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => MediaError::Exists {
                path: path.to_path_buf(),
            },
            _ => MediaError::Write {
                path: path.to_path_buf(),
                why: e.to_string(),
            },
        })?;
        let write_err = |why: String| MediaError::Write {
            path: path.to_path_buf(),
            why,
        };
        let out = BufWriter::new(file);
        let sink = match format {
            RecordFormat::Wav => Sink::Wav(
                hound::WavWriter::new(
                    out,
                    hound::WavSpec {
                        channels: 1,
                        sample_rate: SAMPLE_RATE,
                        bits_per_sample: 16,
                        sample_format: hound::SampleFormat::Int,
                    },
                )
                .map_err(|e| write_err(e.to_string()))?,
            ),
            RecordFormat::OggOpus => Sink::Ogg(
                OggOpusWriter::new(CountingWriter {
                    inner: out,
                    bytes: 0,
                })
                .map_err(|e| write_err(e.to_string()))?,
            ),
        };
        let (ring, consumer) = rtrb::RingBuffer::new(RING);
        let shared = Arc::new(Shared::default());
        let limit =
            (options.limit.as_millis() as u64).saturating_mul(u64::from(SAMPLE_RATE)) / 1000;
        let thread = {
            let shared = shared.clone();
            let path = path.to_path_buf();
            std::thread::Builder::new()
                .name("audio-recorder".into())
                .spawn(move || write(sink, consumer, &shared, &path, limit))
                .map_err(|e| MediaError::Engine(format!("cannot start the recorder: {e}")))?
        };
        Ok(Self {
            ring,
            shared,
            path: path.to_path_buf(),
            format,
            thread: Some(thread),
        })
    }

    /// Hands one 10 ms frame to the writer (real-time safe; a frame that
    /// finds the ring full is counted as dropped).
    pub fn push(&mut self, frame: &[f32; FRAME_10MS]) {
        if self.shared.ended_flag.load(Ordering::Relaxed) {
            return;
        }
        match self.ring.write_chunk_uninit(FRAME_10MS) {
            Ok(chunk) => {
                chunk.fill_from_iter(frame.iter().copied());
            }
            Err(_) => {
                self.shared
                    .dropped
                    .fetch_add(FRAME_10MS as u64, Ordering::Relaxed);
            }
        }
    }

    /// Why the writer stopped by itself (its budget, a write error), once
    /// it did.
    pub fn ended(&self) -> Option<String> {
        if !self.shared.ended_flag.load(Ordering::Acquire) {
            return None;
        }
        self.shared
            .ended
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The figures so far.
    pub fn progress(&self) -> RecordSummary {
        self.meter().progress()
    }

    /// A handle that reads the figures from elsewhere while the engine
    /// holds the recorder.
    pub fn meter(&self) -> RecordMeter {
        RecordMeter {
            shared: self.shared.clone(),
            path: self.path.clone(),
            format: self.format,
        }
    }

    /// Writes what is waiting, finishes the file and answers its figures.
    pub fn finish(mut self) -> Result<RecordSummary, MediaError> {
        self.stop()?;
        Ok(self.progress())
    }

    fn stop(&mut self) -> Result<(), MediaError> {
        self.shared.stop.store(true, Ordering::Release);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(MediaError::Write {
                path: self.path.clone(),
                why: "the recorder thread panicked".into(),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "recording not finished cleanly");
        }
    }
}

fn write(
    mut sink: Sink,
    mut ring: rtrb::Consumer<f32>,
    shared: &Shared,
    path: &Path,
    limit: u64,
) -> Result<(), MediaError> {
    let err = |e: String| MediaError::Write {
        path: path.to_path_buf(),
        why: e,
    };
    let mut block = Vec::with_capacity(RING);
    let mut written = 0u64;
    let mut failure = None;
    loop {
        let stopping = shared.stop.load(Ordering::Acquire);
        block.clear();
        let n = ring.slots();
        if let Ok(chunk) = ring.read_chunk(n) {
            let (a, b) = chunk.as_slices();
            block.extend_from_slice(a);
            block.extend_from_slice(b);
            chunk.commit_all();
        }
        let room = limit.saturating_sub(written) as usize;
        let full = block.len() >= room;
        block.truncate(room);
        let result = match &mut sink {
            Sink::Wav(w) => block
                .iter()
                .try_for_each(|s| w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16))
                .map_err(|e| e.to_string()),
            Sink::Ogg(w) => w.write(&block).map_err(|e| e.to_string()),
        };
        written += block.len() as u64;
        shared.samples.store(written, Ordering::Relaxed);
        let bytes = match &mut sink {
            Sink::Wav(_) => 44 + written * 2,
            Sink::Ogg(w) => w.output().bytes,
        };
        shared.bytes.store(bytes, Ordering::Relaxed);
        if let Err(e) = result {
            failure = Some(format!("cannot write {}: {e}", path.display()));
            break;
        }
        if full {
            failure = Some(format!(
                "the recording reached its limit of {} min",
                limit / u64::from(SAMPLE_RATE) / 60
            ));
            break;
        }
        if stopping {
            break;
        }
        std::thread::sleep(NAP);
    }
    let finished = match sink {
        Sink::Wav(w) => w.finalize().map_err(|e| err(e.to_string())),
        Sink::Ogg(w) => w
            .finish()
            .and_then(|mut c| {
                c.flush()?;
                Ok(c.bytes)
            })
            .map(|b| shared.bytes.store(b, Ordering::Relaxed))
            .map_err(|e| err(e.to_string())),
    };
    if let Ok(meta) = std::fs::metadata(path) {
        shared.bytes.store(meta.len(), Ordering::Relaxed);
    }
    if let Some(why) = failure {
        *shared.ended.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        shared.ended_flag.store(true, Ordering::Release);
    }
    finished
}
