//! Helpers shared by the tests and the measurement example: speech made
//! at run time with espeak-ng, PESQ through python3, and a simulated
//! encode → impair → jitter buffer → decode loop.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use voice_audio::backend::StreamResampler;
use voice_audio::codec::{OpusSettings, VoiceDecoder, VoiceEncoder};
use voice_audio::playback::{JitterSettings, SpeakerStream};
use voice_audio::{FRAME_10MS, SAMPLE_RATE};
use voice_netsim::{Impairer, Impairment};

/// The sentences spoken in tests (about 15 s).
pub const SPEECH: &str = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. \
It is easy to tell the depth of a well. These days a chicken leg is a rare dish. \
Rice is often served in round bowls. The juice of lemons makes fine punch. \
The box was thrown beside the parked truck. The hogs were fed chopped corn and garbage.";

/// Reads a WAV file as mono f32 and its rate.
pub fn read_wav(path: &Path) -> anyhow::Result<(Vec<f32>, u32)> {
    let mut r = hound::WavReader::open(path)?;
    let spec = r.spec();
    let ch = usize::from(spec.channels);
    let v: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()?
        }
    };
    Ok((
        v.chunks(ch)
            .map(|f| f.iter().sum::<f32>() / ch as f32)
            .collect(),
        spec.sample_rate,
    ))
}

/// Writes mono f32 as a 16-bit WAV.
pub fn write_wav(path: &Path, samples: &[f32], rate: u32) -> anyhow::Result<()> {
    let mut w = hound::WavWriter::create(
        path,
        hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
    )?;
    for s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)?;
    }
    w.finalize()?;
    Ok(())
}

/// Converts between rates.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    let mut r = StreamResampler::new(from, to).expect("resampler");
    let mut out = Vec::new();
    r.process(samples, &mut out);
    // Flush the resampler's pending block.
    r.process(&vec![0.0; from as usize / 10], &mut out);
    out
}

/// Synthesises `text` with espeak-ng into `dir/speech.wav` (its own rate)
/// and returns it at 48 kHz, normalised to a −3 dBFS peak.
pub fn speech_48k(dir: &Path, text: &str) -> anyhow::Result<Vec<f32>> {
    let wav = dir.join("speech.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .map_err(|e| anyhow::anyhow!("espeak-ng is needed (scripts/test installs it): {e}"))?;
    anyhow::ensure!(status.success(), "espeak-ng failed");
    let (s, rate) = read_wav(&wav)?;
    let mut s = resample(&s, rate, SAMPLE_RATE);
    let peak = s.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(1e-6);
    for x in &mut s {
        *x *= 0.7 / peak;
    }
    Ok(s)
}

/// Wideband PESQ (MOS-LQO) of `degraded` against `reference`, both 48 kHz,
/// through PyPI `pesq` in python3.
pub fn pesq_wb(dir: &Path, reference: &[f32], degraded: &[f32]) -> anyhow::Result<f64> {
    let r = dir.join("pesq_ref.wav");
    let d = dir.join("pesq_deg.wav");
    write_wav(&r, &resample(reference, SAMPLE_RATE, 16_000), 16_000)?;
    write_wav(&d, &resample(degraded, SAMPLE_RATE, 16_000), 16_000)?;
    let script = r#"
import sys, wave, numpy as np
from pesq import pesq
def rd(p):
    w = wave.open(p)
    return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
a = rd(sys.argv[1]); b = rd(sys.argv[2]); n = min(len(a), len(b))
print(pesq(16000, a[:n], b[:n], 'wb'))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&r)
        .arg(&d)
        .output()
        .map_err(|e| anyhow::anyhow!("python3 is needed for PESQ: {e}"))?;
    anyhow::ensure!(
        out.status.success(),
        "PESQ failed (pip install pesq): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

/// Result of a simulated call leg.
pub struct LoopResult {
    /// Decoded audio at 48 kHz, on the playback timeline.
    pub output: Vec<f32>,
    /// Packets sent and dropped by the impairment.
    pub sent: u64,
    /// Packets dropped.
    pub dropped: u64,
    /// Frames recovered or concealed by the receiver.
    pub lost_frames: u64,
}

/// Encodes `speech` in 20 ms packets (FEC for `reported_loss` percent),
/// sends them through `impairment` on a simulated clock, and plays them
/// out through a real jitter buffer and decoder in 10 ms ticks.
pub fn codec_loop(
    speech: &[f32],
    opus: OpusSettings,
    reported_loss: f32,
    impairment: Impairment,
) -> anyhow::Result<LoopResult> {
    let mut enc = VoiceEncoder::new(opus)?;
    enc.set_reported_loss(reported_loss)?;
    let n = enc.frame_samples();
    let frame = Duration::from_millis(u64::from(opus.frame_ms));
    let mut imp = Impairer::new(impairment);
    let mut arrivals: Vec<(Duration, u32, bool, Vec<u8>)> = Vec::new();
    let frames: Vec<&[f32]> = speech.chunks(n).collect();
    for (i, chunk) in frames.iter().enumerate() {
        let mut pcm = chunk.to_vec();
        pcm.resize(n, 0.0);
        let sent_at = frame * (i as u32 + 1);
        let opus = enc.encode(&pcm)?.to_vec();
        let eob = i + 1 == frames.len();
        for d in imp.decide(sent_at) {
            arrivals.push((sent_at + d, i as u32, eob, opus.clone()));
        }
    }
    arrivals.sort_by_key(|a| a.0);
    let t0 = Instant::now();
    let mut speaker = SpeakerStream::new(1, JitterSettings::default())?;
    let mut out = Vec::new();
    let mut events = Vec::new();
    let mut next = 0;
    let end = frame * (frames.len() as u32 + 50);
    let mut t = Duration::ZERO;
    let mut buf = [0.0f32; FRAME_10MS];
    let mut lost = 0;
    while t < end {
        while next < arrivals.len() && arrivals[next].0 <= t {
            let (at, seq, eob, ref opus) = arrivals[next];
            speaker.receive(seq, eob, opus, t0 + at);
            next += 1;
        }
        speaker.render(&mut buf, t0 + t, &mut events);
        lost += speaker.take_loss().1;
        out.extend_from_slice(&buf);
        t += Duration::from_millis(10);
    }
    let (sent, dropped) = imp.counts();
    Ok(LoopResult {
        output: out,
        sent,
        dropped,
        lost_frames: lost,
    })
}

/// The codec's own limit: the same packets and loss pattern decoded
/// directly — FEC where the next packet exists, PLC otherwise, no jitter
/// buffer.
pub fn codec_limit(
    speech: &[f32],
    opus: OpusSettings,
    reported_loss: f32,
    impairment: Impairment,
) -> anyhow::Result<Vec<f32>> {
    let mut enc = VoiceEncoder::new(opus)?;
    enc.set_reported_loss(reported_loss)?;
    let n = enc.frame_samples();
    let mut imp = Impairer::new(impairment);
    let mut packets = Vec::new();
    for (i, chunk) in speech.chunks(n).enumerate() {
        let mut pcm = chunk.to_vec();
        pcm.resize(n, 0.0);
        let p = enc.encode(&pcm)?.to_vec();
        let arrived = !imp.decide(Duration::from_millis(20) * i as u32).is_empty();
        packets.push(arrived.then_some(p));
    }
    let mut dec = VoiceDecoder::new()?;
    let mut out = Vec::new();
    let mut buf = vec![0.0f32; 5760];
    for i in 0..packets.len() {
        let got = match (&packets[i], packets.get(i + 1)) {
            (Some(p), _) => dec.decode(p, &mut buf)?,
            (None, Some(Some(next))) => dec.recover(next, n, &mut buf)?,
            (None, _) => dec.conceal(n, &mut buf)?,
        };
        out.extend_from_slice(&buf[..got]);
    }
    Ok(out)
}

/// The part of `out` that lines up with `speech` (found by correlating
/// 1 ms energy envelopes), with `margin` of context on each side; and the
/// reference with the same margins of silence.
pub fn align(speech: &[f32], out: &[f32], margin: usize) -> (Vec<f32>, Vec<f32>) {
    const BLOCK: usize = 48;
    let env = |x: &[f32]| -> Vec<f32> {
        let e: Vec<f32> = x
            .chunks(BLOCK)
            .map(|b| b.iter().map(|s| s.abs()).sum::<f32>() / BLOCK as f32)
            .collect();
        let mean = e.iter().sum::<f32>() / e.len().max(1) as f32;
        e.into_iter().map(|v| v - mean).collect()
    };
    let (r, mut o) = (env(speech), env(out));
    if o.len() < r.len() {
        o.resize(r.len(), 0.0);
    }
    let lag = (0..=o.len() - r.len())
        .map(|lag| {
            let score: f32 = r.iter().zip(&o[lag..]).map(|(a, b)| a * b).sum();
            (lag, score)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0, |(lag, _)| lag);
    let start = (lag * BLOCK).saturating_sub(margin);
    let mut degraded: Vec<f32> = out[start.min(out.len())..].to_vec();
    degraded.resize(speech.len() + 2 * margin, 0.0);
    let mut reference = vec![0.0; margin];
    reference.extend_from_slice(speech);
    reference.resize(speech.len() + 2 * margin, 0.0);
    (reference, degraded)
}
