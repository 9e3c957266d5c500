//! Prints the audio engine's figures: PESQ-WB of speech through Opus and
//! a seeded lossy link (system, codec limit, and `opusenc`/`opusdec`),
//! mouth-to-ear latency of the file backend pipeline, and CPU cost.
//!
//! `cargo run --release -p voice-audio --example measure`

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use voice_audio::backend::BackendConfig;
use voice_audio::capture::{CaptureChain, CaptureMode, GateSettings};
use voice_audio::codec::{OpusSettings, VoiceEncoder, libopus_version};
use voice_audio::playback::{JitterSettings, Mixer};
use voice_audio::{AudioEvent, Engine, EngineConfig, FRAME_10MS, IncomingPacket, SAMPLE_RATE};
use voice_netsim::Impairment;

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let speech = common::speech_48k(dir.path(), common::SPEECH)?;
    println!(
        "libopus {}; speech {:.1} s (espeak-ng); 32 kb/s VOIP 20 ms",
        libopus_version(),
        speech.len() as f64 / 48_000.0
    );
    quality(dir.path(), &speech)?;
    for frame_ms in [20, 10] {
        latency(dir.path(), &speech, frame_ms)?;
    }
    cpu(&speech)?;
    Ok(())
}

fn quality(dir: &std::path::Path, speech: &[f32]) -> anyhow::Result<()> {
    println!("\n== PESQ-WB (seed 42, random loss)");
    println!("loss  jitter  system  codec-limit  opusenc/opusdec");
    let opus = OpusSettings::default();
    for (loss, jitter) in [(0.0, 0), (0.05, 0), (0.10, 0), (0.10, 40)] {
        let imp = Impairment {
            jitter: Duration::from_millis(jitter),
            ..Impairment::random_loss(42, loss)
        };
        let reported = (loss * 100.0) as f32;
        let leg = common::codec_loop(speech, opus, reported, imp.clone())?;
        let limit = common::codec_limit(speech, opus, reported, imp)?;
        let system = common::pesq_wb(dir, speech, &leg.output)?;
        let limit = common::pesq_wb(dir, speech, &limit)?;
        let reference = opus_tools(dir, speech, loss)?;
        println!(
            "{:>3.0} %  {jitter:>3} ms  {system:>6.2}  {limit:>11.2}  {reference:>15.2}",
            loss * 100.0
        );
    }
    Ok(())
}

/// The same speech through `opusenc` (32 kb/s, 20 ms, in-band FEC with
/// matching expected loss) and `opusdec --packet-loss` (its own random pattern).
fn opus_tools(dir: &std::path::Path, speech: &[f32], loss: f64) -> anyhow::Result<f64> {
    let wav = dir.join("ref_in.wav");
    let ogg = dir.join("ref.opus");
    let out = dir.join("ref_out.wav");
    common::write_wav(&wav, speech, SAMPLE_RATE)?;
    let pct = ((loss * 100.0) as u32).to_string();
    let mut enc = Command::new("opusenc");
    enc.args([
        "--quiet",
        "--bitrate",
        "32",
        "--framesize",
        "20",
        "--speech",
    ]);
    if loss > 0.0 {
        enc.args(["--expect-loss", &pct]);
    }
    anyhow::ensure!(
        enc.arg(&wav).arg(&ogg).status()?.success(),
        "opusenc failed"
    );
    let mut dec = Command::new("opusdec");
    dec.args(["--quiet", "--rate", "48000", "--force-wav"]);
    if loss > 0.0 {
        dec.args(["--packet-loss", &pct]);
    }
    anyhow::ensure!(
        dec.arg(&ogg).arg(&out).status()?.success(),
        "opusdec failed"
    );
    let (decoded, _) = common::read_wav(&out)?;
    common::pesq_wb(dir, speech, &decoded)
}

/// One engine on the file backend hears itself: its packets come straight
/// back as a remote speaker, so IN.wav and OUT.wav share one clock and the
/// lag between them is the pipeline's mouth-to-ear latency (capture pacing,
/// framing, Opus look-ahead, jitter buffer, playback queue; no network).
fn latency(dir: &std::path::Path, speech: &[f32], frame_ms: u32) -> anyhow::Result<()> {
    let input = dir.join("lat_in.wav");
    let output = dir.join("lat_out.wav");
    let mut signal = vec![0.0; SAMPLE_RATE as usize / 2];
    signal.extend_from_slice(speech);
    common::write_wav(&input, &signal, SAMPLE_RATE)?;
    let (ptx, prx) = mpsc::channel();
    let (etx, erx) = mpsc::channel();
    let config = EngineConfig {
        backend: BackendConfig::File {
            input: Some(input.clone()),
            output: Some(output.clone()),
        },
        mode: CaptureMode::Continuous,
        noise_suppression: false,
        opus: OpusSettings {
            frame_ms,
            ..OpusSettings::default()
        },
        ..EngineConfig::default()
    };
    let engine = Engine::start(
        config,
        move |p| {
            let _ = ptx.send(p);
        },
        move |e| {
            let _ = etx.send(e);
        },
    )?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        while let Ok(p) = prx.try_recv() {
            engine.receive(IncomingPacket {
                speaker: 1,
                seq: p.seq,
                end_of_burst: p.end_of_burst,
                opus: &p.opus,
            })?;
        }
        if erx.try_iter().any(|e| e == AudioEvent::InputFinished) || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(500));
    engine.stop();
    let (out, _) = common::read_wav(&output)?;
    // Lag per 500 ms window of speech by cross-correlation (search 0–200 ms).
    let win = 24_000;
    let max_lag = 9_600;
    let mut lags = Vec::new();
    let mut at = SAMPLE_RATE as usize / 2;
    while at + win + max_lag < signal.len().min(out.len()) {
        let x = &signal[at..at + win];
        if x.iter().map(|v| v * v).sum::<f32>() > 1.0 {
            let mut best = (f32::MIN, 0);
            for lag in 0..max_lag {
                let c: f32 = x.iter().zip(&out[at + lag..]).map(|(a, b)| a * b).sum();
                if c > best.0 {
                    best = (c, lag);
                }
            }
            lags.push(best.1 as f64 / 48.0);
        }
        at += win;
    }
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| lags.get(((lags.len() as f64 - 1.0) * p) as usize).copied();
    println!(
        "\n== Latency, file backend, {frame_ms} ms frames, mouth to ear without network: \
         p50 {:.1} ms, p95 {:.1} ms over {} windows",
        pct(0.5).unwrap_or(f64::NAN),
        pct(0.95).unwrap_or(f64::NAN),
        lags.len()
    );
    Ok(())
}

fn cpu(speech: &[f32]) -> anyhow::Result<()> {
    let frames: Vec<[f32; FRAME_10MS]> = speech
        .chunks_exact(FRAME_10MS)
        .map(|c| c.try_into().unwrap_or([0.0; FRAME_10MS]))
        .collect();
    let audio = frames.len() as f64 * 0.01;
    let mut chain = CaptureChain::new(OpusSettings::default(), GateSettings::default())?;
    chain.set_mode(CaptureMode::Continuous);
    let (mut packets, mut events) = (Vec::new(), Vec::new());
    let t = Instant::now();
    for f in &frames {
        chain.push_frame(f, &mut packets, &mut events)?;
    }
    let capture = t.elapsed().as_secs_f64();
    println!(
        "\n== CPU (one core): capture (suppression + detection + encode) {:.2} % of a core",
        capture / audio * 100.0
    );
    let mut enc = VoiceEncoder::new(OpusSettings::default())?;
    let opus: Vec<Vec<u8>> = speech
        .chunks_exact(960)
        .map(|c| enc.encode(c).map(|p| p.to_vec()))
        .collect::<Result<_, _>>()?;
    for speakers in [1u32, 4] {
        let mut mixer = Mixer::new(JitterSettings::default());
        let t0 = Instant::now();
        let mut out = [0.0f32; FRAME_10MS];
        let mut ev = Vec::new();
        let start = Instant::now();
        for (i, p) in opus.iter().enumerate() {
            let at = t0 + Duration::from_millis(20 * i as u64);
            for s in 0..speakers {
                mixer.receive(
                    IncomingPacket {
                        speaker: s,
                        seq: i as u32,
                        end_of_burst: false,
                        opus: p,
                    },
                    at,
                );
            }
            mixer.render(&mut out, at + Duration::from_millis(30), &mut ev);
            mixer.render(&mut out, at + Duration::from_millis(40), &mut ev);
        }
        let took = start.elapsed().as_secs_f64();
        println!(
            "   playback, {speakers} speaker(s) decoded and mixed: {:.2} % of a core",
            took / (opus.len() as f64 * 0.02) * 100.0
        );
    }
    Ok(())
}
