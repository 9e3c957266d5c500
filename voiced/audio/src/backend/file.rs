//! The file backend: a WAV file as the microphone and a WAV file as the
//! speaker, both paced by the wall clock (and the `null` backend: neither).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Backend, DeviceIo, OutputMeter};
use crate::wake::Wake;
use crate::{AudioError, AudioEvent, SAMPLE_RATE};

/// The device thread's period.
const TICK: Duration = Duration::from_millis(5);

/// Reads a WAV file as mono `f32` and its rate.
pub(crate) fn read_wav(path: &Path) -> Result<(Vec<f32>, u32), AudioError> {
    let wav_err = |source| AudioError::Wav {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = hound::WavReader::open(path).map_err(wav_err)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(wav_err)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(wav_err)?
        }
    };
    let mono = interleaved
        .chunks(channels)
        .map(|f| f.iter().sum::<f32>() / channels as f32)
        .collect();
    Ok((mono, spec.sample_rate))
}

pub(crate) fn start(
    input: Option<PathBuf>,
    output: Option<PathBuf>,
    wake: Wake,
) -> Result<Backend, AudioError> {
    let source = match &input {
        Some(p) => Some(read_wav(p)?),
        None => None,
    };
    let writer = match &output {
        Some(p) => Some(
            hound::WavWriter::create(
                p,
                hound::WavSpec {
                    channels: 1,
                    sample_rate: SAMPLE_RATE,
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                },
            )
            .map_err(|source| AudioError::Wav {
                path: p.clone(),
                source,
            })?,
        ),
        None => None,
    };
    let (io_tx, io_rx) = mpsc::channel();
    let (ev_tx, ev_rx) = mpsc::channel();
    let (cmd_tx, _cmd_rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));

    let mut capture = None;
    let mut mic = None;
    if let Some((samples, rate)) = source {
        let (p, c) = rtrb::RingBuffer::new(rate as usize);
        capture = Some((c, rate));
        mic = Some((samples, rate, p));
    }
    let (out_p, mut out_c) = rtrb::RingBuffer::new(SAMPLE_RATE as usize);
    let meter = Arc::new(OutputMeter::default());
    let _ = io_tx.send(DeviceIo {
        capture,
        playback: Some((out_p, SAMPLE_RATE, meter.clone())),
    });

    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("audio-file".into())
        .spawn(move || {
            crate::priority::raise_current_thread("audio-file");
            let mut writer = writer;
            let mut mic = mic;
            let start = Instant::now();
            let mut fed = 0usize;
            let mut written = 0u64;
            let mut finished = false;
            while !stop2.load(Ordering::Relaxed) {
                let elapsed = start.elapsed();
                if let Some((samples, rate, prod)) = mic.as_mut() {
                    let due = (elapsed.as_secs_f64() * f64::from(*rate)) as usize;
                    while fed < due {
                        // After the file: silence, so a gate can close.
                        let s = samples.get(fed).copied().unwrap_or(0.0);
                        if prod.push(s).is_err() {
                            break;
                        }
                        fed += 1;
                    }
                    if !finished && fed >= samples.len() {
                        finished = true;
                        let _ = ev_tx.send(AudioEvent::InputFinished);
                    }
                }
                let due = (elapsed.as_secs_f64() * f64::from(SAMPLE_RATE)) as u64;
                let wanted = due.saturating_sub(written) as usize;
                meter.pulled(wanted, out_c.slots());
                while written < due {
                    let s = out_c.pop().unwrap_or(0.0);
                    if let Some(w) = writer.as_mut() {
                        let v = (s.clamp(-1.0, 1.0) * 32767.0) as i16;
                        if let Err(e) = w.write_sample(v) {
                            tracing::warn!(error = %e, "cannot write the output file");
                            writer = None;
                        }
                    }
                    written += 1;
                }
                wake.wake();
                std::thread::sleep(TICK);
            }
            if let Some(w) = writer
                && let Err(e) = w.finalize()
            {
                tracing::warn!(error = %e, "cannot finish the output file");
            }
        })
        .map_err(|e| AudioError::Device(format!("cannot start the file thread: {e}")))?;
    Ok(Backend {
        io: io_rx,
        events: ev_rx,
        commands: cmd_tx,
        stop,
        thread: Some(thread),
    })
}
