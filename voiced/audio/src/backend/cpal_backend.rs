//! The cpal backend. Streams live on a dedicated thread (a cpal stream is
//! not `Send`); callbacks only convert and move samples through `rtrb`
//! rings — no lock, allocation, logging or I/O there.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample, StreamConfig};

use super::stall::{Heartbeat, StallWatch, Verdict};
use super::{Backend, DeviceCommand, DeviceIo, OutputMeter};
use crate::wake::Wake;
use crate::{AudioError, AudioEvent, Direction, SAMPLE_RATE, StallAction};

/// Devices the sound system offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceList {
    /// Input device names.
    pub inputs: Vec<String>,
    /// Output device names.
    pub outputs: Vec<String>,
    /// The default input's name.
    pub default_input: Option<String>,
    /// The default output's name.
    pub default_output: Option<String>,
}

/// A device's stable name: its host id (e.g. `default`, `pulse`, `hw:0,0`),
/// or its description when it has none.
fn device_name(d: &cpal::Device) -> String {
    d.id()
        .map(|id| id.id().to_string())
        .unwrap_or_else(|_| d.to_string())
}

/// Asks for 20 ms device periods: a device's default buffer can be seconds
/// long (ALSA's pulse plugin), which would delay playback by as much.
fn with_small_buffer(c: cpal::SupportedStreamConfig) -> StreamConfig {
    let mut config = c.config();
    let want = config.sample_rate / 50;
    if let cpal::SupportedBufferSize::Range { min, max } = c.buffer_size()
        && (*min..=*max).contains(&want)
    {
        config.buffer_size = cpal::BufferSize::Fixed(want);
    }
    config
}

/// Lists the input and output devices.
pub fn list_devices() -> Result<DeviceList, AudioError> {
    let host = cpal::default_host();
    let dev_err = |e: cpal::Error| AudioError::Device(e.to_string());
    Ok(DeviceList {
        inputs: host
            .input_devices()
            .map_err(dev_err)?
            .map(|d| device_name(&d))
            .collect(),
        outputs: host
            .output_devices()
            .map_err(dev_err)?
            .map(|d| device_name(&d))
            .collect(),
        default_input: host.default_input_device().map(|d| device_name(&d)),
        default_output: host.default_output_device().map(|d| device_name(&d)),
    })
}

fn find_device(
    host: &cpal::Host,
    direction: Direction,
    name: Option<&str>,
) -> Result<cpal::Device, AudioError> {
    let missing = || AudioError::Device(format!("no {direction:?} device named {name:?}"));
    let Some(name) = name else {
        return match direction {
            Direction::Input => host.default_input_device(),
            Direction::Output => host.default_output_device(),
        }
        .ok_or_else(missing);
    };
    let mut devices = match direction {
        Direction::Input => host.input_devices(),
        Direction::Output => host.output_devices(),
    }
    .map_err(|e| AudioError::Device(e.to_string()))?;
    devices.find(|d| device_name(d) == name).ok_or_else(missing)
}

/// A config at 48 kHz mono if the device has one, else its default.
fn pick_config(
    device: &cpal::Device,
    direction: Direction,
) -> Result<(StreamConfig, SampleFormat), AudioError> {
    let dev_err = |e: cpal::Error| AudioError::Device(e.to_string());
    let ranges: Vec<_> = match direction {
        Direction::Input => device.supported_input_configs().map_err(dev_err)?.collect(),
        Direction::Output => device
            .supported_output_configs()
            .map_err(dev_err)?
            .collect(),
    };
    let usable = |f: SampleFormat| matches!(f, SampleFormat::F32 | SampleFormat::I16);
    for want in [SampleFormat::F32, SampleFormat::I16] {
        if let Some(r) = ranges.iter().find(|r| {
            r.channels() == 1 && r.sample_format() == want && r.contains_rate(SAMPLE_RATE)
        }) {
            let c = r.with_sample_rate(SAMPLE_RATE);
            return Ok((with_small_buffer(c), c.sample_format()));
        }
    }
    let default = match direction {
        Direction::Input => device.default_input_config(),
        Direction::Output => device.default_output_config(),
    }
    .map_err(dev_err)?;
    if usable(default.sample_format()) {
        return Ok((with_small_buffer(default), default.sample_format()));
    }
    ranges
        .iter()
        .find(|r| usable(r.sample_format()))
        .map(|r| {
            let c = if r.contains_rate(SAMPLE_RATE) {
                r.with_sample_rate(SAMPLE_RATE)
            } else {
                r.with_max_sample_rate()
            };
            (with_small_buffer(c), c.sample_format())
        })
        .ok_or_else(|| AudioError::Device("no f32 or i16 format".into()))
}

fn build_input<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut ring: rtrb::Producer<f32>,
    lost: Arc<AtomicBool>,
    beat: Arc<Heartbeat>,
    wake: Wake,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = usize::from(config.channels.max(1));
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _| {
            beat.beat();
            for frame in data.chunks(channels) {
                let sum: f32 = frame.iter().map(|&s| f32::from_sample(s)).sum();
                // A full ring means the worker stalled: drop, never block.
                let _ = ring.push(sum / channels as f32);
            }
            wake.wake();
        },
        move |e| {
            if is_loss(&e) {
                lost.store(true, Ordering::Relaxed);
            }
        },
        None,
    )
}

fn build_output<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut ring: rtrb::Consumer<f32>,
    lost: Arc<AtomicBool>,
    beat: Arc<Heartbeat>,
    meter: Arc<OutputMeter>,
    wake: Wake,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    let channels = usize::from(config.channels.max(1));
    device.build_output_stream::<T, _, _>(
        config,
        move |data: &mut [T], _| {
            beat.beat();
            meter.pulled(data.len() / channels, ring.slots());
            for frame in data.chunks_mut(channels) {
                let s = T::from_sample(ring.pop().unwrap_or(0.0));
                frame.fill(s);
            }
            wake.wake();
        },
        move |e| {
            if is_loss(&e) {
                lost.store(true, Ordering::Relaxed);
            }
        },
        None,
    )
}

fn is_loss(e: &cpal::Error) -> bool {
    use cpal::ErrorKind as K;
    matches!(
        e.kind(),
        K::DeviceNotAvailable | K::StreamInvalidated | K::HostUnavailable
    )
}

/// An open stream and what it needs to be reopened.
struct Open {
    _stream: cpal::Stream,
    name: String,
    lost: Arc<AtomicBool>,
    /// When its data callback last ran: a stuck device stops it.
    beat: Arc<Heartbeat>,
}

fn open(
    host: &cpal::Host,
    direction: Direction,
    name: Option<&str>,
    io: &Sender<DeviceIo>,
    wake: &Wake,
) -> Result<Open, AudioError> {
    let device = find_device(host, direction, name)?;
    let (config, format) = pick_config(&device, direction)?;
    let rate = config.sample_rate;
    let lost = Arc::new(AtomicBool::new(false));
    let beat = Arc::new(Heartbeat::new());
    // Half a second of slack between the device and the worker.
    let (p, c) = rtrb::RingBuffer::new((rate as usize / 2).max(4800));
    let dev_err = |e: cpal::Error| AudioError::Device(format!("{device}: {e}"));
    let (stream, devio) = match direction {
        Direction::Input => {
            let (l, b, w) = (lost.clone(), beat.clone(), wake.clone());
            let stream = if format == SampleFormat::I16 {
                build_input::<i16>(&device, config, p, l, b, w)
            } else {
                build_input::<f32>(&device, config, p, l, b, w)
            };
            let devio = DeviceIo {
                capture: Some((c, rate)),
                playback: None,
            };
            (stream, devio)
        }
        Direction::Output => {
            let meter = Arc::new(OutputMeter::default());
            let (l, b, m, w) = (lost.clone(), beat.clone(), meter.clone(), wake.clone());
            let stream = if format == SampleFormat::I16 {
                build_output::<i16>(&device, config, c, l, b, m, w)
            } else {
                build_output::<f32>(&device, config, c, l, b, m, w)
            };
            let devio = DeviceIo {
                capture: None,
                playback: Some((p, rate, meter)),
            };
            (stream, devio)
        }
    };
    let stream = stream.map_err(dev_err)?;
    stream.play().map_err(dev_err)?;
    let _ = io.send(devio);
    tracing::info!(?direction, device = %device, rate, channels = config.channels, "audio device open");
    Ok(Open {
        _stream: stream,
        name: device_name(&device),
        lost,
        beat,
    })
}

/// One side's device: the chosen name, the open stream and its stall ladder.
struct Side {
    direction: Direction,
    wanted: Option<String>,
    open: Option<Open>,
    watch: StallWatch,
    wake: Wake,
}

impl Side {
    /// (Re)opens the wanted device, falling back to the default.
    fn reopen(
        &mut self,
        host: &cpal::Host,
        io: &Sender<DeviceIo>,
        events: &Sender<AudioEvent>,
        fallback: bool,
    ) {
        self.open = None;
        self.watch.opened();
        let first = open(host, self.direction, self.wanted.as_deref(), io, &self.wake);
        let (result, fell_back) = match first {
            Err(e) if self.wanted.is_some() => {
                let _ = events.send(AudioEvent::DeviceLost {
                    direction: self.direction,
                    name: self.wanted.clone().unwrap_or_default(),
                    reason: e.to_string(),
                });
                (open(host, self.direction, None, io, &self.wake), true)
            }
            other => (other, fallback),
        };
        match result {
            Ok(o) => {
                let _ = events.send(AudioEvent::DeviceInUse {
                    direction: self.direction,
                    name: o.name.clone(),
                    fallback: fell_back,
                });
                self.open = Some(o);
            }
            Err(e) => {
                tracing::warn!(direction = ?self.direction, error = %e, "no audio device");
                let _ = events.send(AudioEvent::DeviceLost {
                    direction: self.direction,
                    name: "default".into(),
                    reason: e.to_string(),
                });
            }
        }
    }

    /// A device chosen by the user: its stall history is forgotten.
    fn select(
        &mut self,
        name: Option<String>,
        host: &cpal::Host,
        io: &Sender<DeviceIo>,
        events: &Sender<AudioEvent>,
    ) {
        self.wanted = name;
        self.watch.reset();
        self.reopen(host, io, events, false);
    }

    /// Checks the stream's loss flag and its heartbeat; on loss, reports
    /// it and falls back; on a stall, reports it and climbs the ladder.
    fn check(&mut self, host: &cpal::Host, io: &Sender<DeviceIo>, events: &Sender<AudioEvent>) {
        let Some(open) = &self.open else { return };
        if !open.lost.load(Ordering::Relaxed) {
            self.check_stall(host, io, events);
            return;
        }
        let _ = events.send(AudioEvent::DeviceLost {
            direction: self.direction,
            name: open.name.clone(),
            reason: "the device disappeared".into(),
        });
        self.wanted = None;
        self.reopen(host, io, events, true);
    }

    /// A stream whose callback stopped without an error: the same device
    /// once more, then the default, then wait for it (never a loop).
    fn check_stall(
        &mut self,
        host: &cpal::Host,
        io: &Sender<DeviceIo>,
        events: &Sender<AudioEvent>,
    ) {
        let Some(open) = &self.open else { return };
        let pulse = open.beat.pulse(Instant::now());
        let name = open.name.clone();
        let direction = self.direction;
        match self.watch.judge(pulse, self.wanted.is_none()) {
            Verdict::Fine => {}
            Verdict::Resumed => {
                tracing::info!(?direction, device = %name, "audio device delivers again");
                let _ = events.send(AudioEvent::DeviceResumed { direction, name });
            }
            Verdict::Stalled { silent, action } => {
                let silent_ms = u64::try_from(silent.as_millis()).unwrap_or(u64::MAX);
                tracing::warn!(?direction, device = %name, silent_ms, ?action, "audio device stopped delivering");
                let _ = events.send(AudioEvent::DeviceStalled {
                    direction,
                    name,
                    silent_ms,
                    action,
                });
                match action {
                    StallAction::Reopened => self.reopen(host, io, events, false),
                    StallAction::MovedToDefault => {
                        self.wanted = None;
                        self.reopen(host, io, events, true);
                    }
                    StallAction::Waiting => {}
                }
            }
        }
    }
}

/// How often the device thread checks for lost and stuck devices.
const POLL: Duration = Duration::from_millis(100);
/// How often the device thread retries when no device could be opened.
const RETRY_EVERY: u32 = 20;

pub(crate) fn start(
    input: Option<String>,
    output: Option<String>,
    wake: Wake,
) -> Result<Backend, AudioError> {
    let (io_tx, io_rx) = mpsc::channel();
    let (ev_tx, ev_rx) = mpsc::channel();
    let (cmd_tx, cmd_rx) = mpsc::channel::<DeviceCommand>();
    let (ready_tx, ready_rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("audio-devices".into())
        .spawn(move || {
            let host = cpal::default_host();
            let mut sides = [
                Side {
                    direction: Direction::Input,
                    wanted: input,
                    open: None,
                    watch: StallWatch::default(),
                    wake: wake.clone(),
                },
                Side {
                    direction: Direction::Output,
                    wanted: output,
                    open: None,
                    watch: StallWatch::default(),
                    wake,
                },
            ];
            for side in &mut sides {
                side.reopen(&host, &io_tx, &ev_tx, false);
            }
            let _ = ready_tx.send(sides.iter().all(|s| s.open.is_some()));
            let mut polls = 0u32;
            while !stop2.load(Ordering::Relaxed) {
                match cmd_rx.recv_timeout(POLL) {
                    Ok(DeviceCommand::SelectInput(name)) => {
                        sides[0].select(name, &host, &io_tx, &ev_tx);
                    }
                    Ok(DeviceCommand::SelectOutput(name)) => {
                        sides[1].select(name, &host, &io_tx, &ev_tx);
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                polls += 1;
                for side in &mut sides {
                    side.check(&host, &io_tx, &ev_tx);
                    if side.open.is_none() && polls.is_multiple_of(RETRY_EVERY) {
                        side.reopen(&host, &io_tx, &ev_tx, true);
                    }
                }
            }
        })
        .map_err(|e| AudioError::Device(format!("cannot start the device thread: {e}")))?;
    // The daemon keeps running without devices; it learns of them by events.
    let _ = ready_rx.recv_timeout(Duration::from_secs(10));
    Ok(Backend {
        io: io_rx,
        events: ev_rx,
        commands: cmd_tx,
        stop,
        thread: Some(thread),
    })
}
