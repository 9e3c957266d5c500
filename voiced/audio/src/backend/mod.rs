//! Device backends: `cpal` (default), `file` (WAV in and out in real time),
//! `null`. Each moves samples through lock-free rings ([`DeviceIo`]); the
//! engine's worker does all processing.

mod cpal_backend;
mod file;
mod resample;
mod stall;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};

pub use cpal_backend::{DeviceList, list_devices};
pub use resample::StreamResampler;

use crate::wake::Wake;
use crate::{AudioError, AudioEvent};

/// Which sound system the engine uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    /// Real devices through cpal; `None` is the system default.
    Cpal {
        /// Input device name.
        input: Option<String>,
        /// Output device name.
        output: Option<String>,
    },
    /// A WAV file as the microphone (played in real time, silence after its
    /// end) and a WAV file as the speaker (written on a wall-clock timeline,
    /// silence between bursts). Either may be absent.
    File {
        /// The microphone file.
        input: Option<PathBuf>,
        /// The speaker file (48 kHz mono 16-bit).
        output: Option<PathBuf>,
    },
    /// No microphone; playback is paced in real time and discarded.
    Null,
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig::Cpal {
            input: None,
            output: None,
        }
    }
}

/// The ring ends of the current devices, handed to the worker whenever
/// a device (re)opens. Samples are mono at the given rate.
pub struct DeviceIo {
    /// Microphone samples and their rate.
    pub capture: Option<(rtrb::Consumer<f32>, u32)>,
    /// Speaker samples, their rate, and what the device reports of its pulls.
    pub playback: Option<(rtrb::Producer<f32>, u32, std::sync::Arc<OutputMeter>)>,
}

/// What an output device reports to the worker about its pulls, written
/// from the device's callback (atomics only).
#[derive(Debug, Default)]
pub struct OutputMeter {
    largest_pull: AtomicUsize,
    short: AtomicU64,
}

impl OutputMeter {
    /// The device wanted `wanted` samples and found `got` queued.
    pub fn pulled(&self, wanted: usize, got: usize) {
        self.largest_pull.fetch_max(wanted, Ordering::Relaxed);
        if got < wanted {
            self.short
                .fetch_add((wanted - got) as u64, Ordering::Relaxed);
        }
    }

    /// The largest pull and the samples found missing since the last call.
    pub fn take(&self) -> (usize, u64) {
        (
            self.largest_pull.swap(0, Ordering::Relaxed),
            self.short.swap(0, Ordering::Relaxed),
        )
    }
}

impl std::fmt::Debug for DeviceIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIo")
            .field("capture_rate", &self.capture.as_ref().map(|c| c.1))
            .field("playback_rate", &self.playback.as_ref().map(|p| p.1))
            .finish()
    }
}

/// What the worker may ask of a running backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceCommand {
    /// Use this input device (`None`: the default).
    SelectInput(Option<String>),
    /// Use this output device (`None`: the default).
    SelectOutput(Option<String>),
}

/// A running backend: its thread sends [`DeviceIo`] and events, takes commands.
pub(crate) struct Backend {
    pub io: Receiver<DeviceIo>,
    pub events: Receiver<AudioEvent>,
    pub commands: Sender<DeviceCommand>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Backend {
    /// Starts the devices; they call `wake` whenever they moved samples.
    pub(crate) fn start(config: &BackendConfig, wake: Wake) -> Result<Self, AudioError> {
        match config {
            BackendConfig::Cpal { input, output } => {
                cpal_backend::start(input.clone(), output.clone(), wake)
            }
            BackendConfig::File { input, output } => {
                file::start(input.clone(), output.clone(), wake)
            }
            BackendConfig::Null => file::start(None, None, wake),
        }
    }

    pub(crate) fn stop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}
