//! A file played as this user's voice: decoded and resampled to 48 kHz
//! mono on its own thread, ahead of the engine's worker, which takes
//! 10 ms frames from a lock-free ring.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{AudioFile, MAX_PLAY, MediaError};
use crate::backend::StreamResampler;
use crate::{FRAME_10MS, SAMPLE_RATE};

/// Audio decoded ahead of playback.
const AHEAD: usize = 2 * SAMPLE_RATE as usize;
/// What is decoded before playback starts (or the whole file if shorter).
const PREFILL: usize = SAMPLE_RATE as usize / 4;
/// The decoder's nap while the ring is full.
const NAP: Duration = Duration::from_millis(10);

/// How a file is played.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayOptions {
    /// Start again at the end, until stopped.
    pub repeat: bool,
    /// Linear gain (0–2).
    pub gain: f32,
    /// Send the file alone (the microphone is not mixed in).
    pub replace: bool,
}

impl Default for PlayOptions {
    fn default() -> Self {
        Self {
            repeat: false,
            gain: 1.0,
            replace: false,
        }
    }
}

/// What the decoding thread tells the worker.
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    /// No more samples will come.
    done: AtomicBool,
    error: Mutex<Option<String>>,
    /// Samples decoded (48 kHz) and the time spent decoding them.
    decoded: AtomicU64,
    busy_ns: AtomicU64,
}

/// One frame from the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerFrame {
    /// A frame of the file (the tail of the last one padded with silence).
    Audio,
    /// Nothing decoded yet (the decoder fell behind): silence.
    Waiting,
    /// The file ended (or failed): nothing more will come.
    Ended,
}

/// A file being played. Dropping it stops its decoder.
pub struct Player {
    ring: rtrb::Consumer<f32>,
    shared: Arc<Shared>,
    options: PlayOptions,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Player {
    /// Starts decoding `file` on its own thread and waits until a first
    /// quarter second (or all of a shorter file) is ready.
    pub fn start(file: AudioFile, options: PlayOptions) -> Result<Self, MediaError> {
        let (producer, ring) = rtrb::RingBuffer::new(AHEAD);
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("audio-file-decoder".into())
                .spawn(move || decode(file, options.repeat, producer, &shared))
                .map_err(|e| MediaError::Engine(format!("cannot start the decoder: {e}")))?
        };
        let player = Self {
            ring,
            shared,
            options,
            thread: Some(thread),
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        while player.ring.slots() < PREFILL
            && !player.shared.done.load(Ordering::Acquire)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(player)
    }

    /// How the file is played.
    pub fn options(&self) -> PlayOptions {
        self.options
    }

    /// Takes the next 10 ms of the file, at its gain, into `out` (real-time
    /// safe: no locks, no allocation).
    pub fn frame(&mut self, out: &mut [f32; FRAME_10MS]) -> PlayerFrame {
        let available = self.ring.slots();
        if available == 0 {
            out.fill(0.0);
            return if self.shared.done.load(Ordering::Acquire) && self.ring.slots() == 0 {
                PlayerFrame::Ended
            } else {
                PlayerFrame::Waiting
            };
        }
        let n = available.min(FRAME_10MS);
        if n < FRAME_10MS && !self.shared.done.load(Ordering::Acquire) {
            // Wait for a whole frame while the decoder is still at work.
            out.fill(0.0);
            return PlayerFrame::Waiting;
        }
        let gain = self.options.gain;
        if let Ok(chunk) = self.ring.read_chunk(n) {
            let (a, b) = chunk.as_slices();
            for (o, s) in out.iter_mut().zip(a.iter().chain(b.iter())) {
                *o = s * gain;
            }
            chunk.commit_all();
        }
        out[n..].fill(0.0);
        PlayerFrame::Audio
    }

    /// Why the file stopped before its end, if it failed.
    pub fn error(&self) -> Option<String> {
        self.shared
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Seconds of audio decoded and the seconds of CPU time the decoder
    /// spent on them.
    pub fn decode_load(&self) -> (f64, f64) {
        (
            self.shared.decoded.load(Ordering::Relaxed) as f64 / f64::from(SAMPLE_RATE),
            self.shared.busy_ns.load(Ordering::Relaxed) as f64 / 1e9,
        )
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        // The decoder sees this within a nap and ends; it is not waited for
        // (a player may be dropped on the real-time worker).
        self.shared.stop.store(true, Ordering::Release);
        drop(self.thread.take());
    }
}

/// The decoding thread: file → mono → 48 kHz → ring, `AHEAD` at most.
fn decode(file: AudioFile, repeat: bool, mut ring: rtrb::Producer<f32>, shared: &Shared) {
    let path: PathBuf = file.info().path.clone();
    let result = decode_passes(file, repeat, &mut ring, shared);
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "playing stopped");
        *shared.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
    }
    shared.done.store(true, Ordering::Release);
}

fn decode_passes(
    mut file: AudioFile,
    repeat: bool,
    ring: &mut rtrb::Producer<f32>,
    shared: &Shared,
) -> Result<(), MediaError> {
    let limit = MAX_PLAY.as_secs() * u64::from(SAMPLE_RATE);
    let mut raw = Vec::new();
    let mut resampled = Vec::new();
    loop {
        let info = file.info().clone();
        let mut resampler = StreamResampler::new(info.sample_rate, SAMPLE_RATE)
            .map_err(|e| MediaError::Engine(e.to_string()))?;
        let mut pass: u64 = 0;
        loop {
            if shared.stop.load(Ordering::Acquire) {
                return Ok(());
            }
            let started = Instant::now();
            raw.clear();
            let more = file.next(&mut raw)?;
            if !more {
                // The resampler's tail: a block of silence flushes it.
                raw.resize((info.sample_rate / 100) as usize * 2, 0.0);
            }
            resampler.process(&raw, &mut resampled);
            shared
                .busy_ns
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            shared
                .decoded
                .fetch_add(resampled.len() as u64, Ordering::Relaxed);
            pass += resampled.len() as u64;
            if pass > limit {
                return Err(MediaError::TooLong {
                    path: info.path.clone(),
                    seconds: pass / u64::from(SAMPLE_RATE),
                    limit: MAX_PLAY.as_secs(),
                });
            }
            if !push_all(ring, &mut resampled, shared) {
                return Ok(());
            }
            if !more {
                break;
            }
        }
        if !repeat || pass == 0 {
            return Ok(());
        }
        file = AudioFile::open(&info.path)?;
    }
}

/// Pushes `samples` into the ring as it empties; false when stopped.
fn push_all(ring: &mut rtrb::Producer<f32>, samples: &mut Vec<f32>, shared: &Shared) -> bool {
    let mut at = 0;
    while at < samples.len() {
        if shared.stop.load(Ordering::Acquire) {
            return false;
        }
        let n = ring.slots().min(samples.len() - at);
        if n == 0 {
            std::thread::sleep(NAP);
            continue;
        }
        if let Ok(chunk) = ring.write_chunk_uninit(n) {
            at += chunk.fill_from_iter(samples[at..at + n].iter().copied());
        }
    }
    samples.clear();
    true
}
