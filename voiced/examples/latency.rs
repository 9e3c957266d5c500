//! Mouth-to-ear latency through the whole system on loopback: daemon A's
//! file backend plays speech as its microphone, a real voice-server (in
//! this process, real QUIC) relays it, daemon B's file backend writes what
//! it plays on a wall-clock timeline. The two timelines are tied together
//! by the instants the engines started; the lag is the cross-correlation
//! peak per 500 ms window of speech. Prints p50 and p95 per frame size.
//!
//! `cargo run --release -p voiced --example latency`

#[path = "../audio/tests/common/mod.rs"]
mod audio_common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Audio, TestDaemon};
use voice_audio::backend::BackendConfig;
use voice_audio::capture::CaptureMode;
use voice_audio::codec::OpusSettings;
use voice_audio::{EngineConfig, SAMPLE_RATE};
use voice_proto::pb::control::{self as c, event};
use voiced::audio::DeviceAudio;

/// Silence before the speech, so the call is up before the first word.
const LEAD: f64 = 2.5;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let speech = audio_common::speech_48k(dir.path(), audio_common::SPEECH)?;
    println!(
        "speech {:.1} s (espeak-ng), continuous mode, 32 kb/s, no suppression; server on loopback",
        speech.len() as f64 / f64::from(SAMPLE_RATE)
    );
    for frame_ms in [20, 10] {
        run(dir.path(), &speech, frame_ms).await?;
    }
    Ok(())
}

fn file_audio(
    input: Option<&Path>,
    output: Option<&Path>,
    frame_ms: u32,
) -> anyhow::Result<(DeviceAudio, Instant)> {
    let audio = DeviceAudio::start(EngineConfig {
        backend: BackendConfig::File {
            input: input.map(Path::to_owned),
            output: output.map(Path::to_owned),
        },
        mode: CaptureMode::Continuous,
        noise_suppression: false,
        opus: OpusSettings {
            frame_ms,
            ..OpusSettings::default()
        },
        ..EngineConfig::default()
    })?;
    // The file backend's clock starts as the engine's last step.
    Ok((audio, Instant::now()))
}

async fn run(dir: &Path, speech: &[f32], frame_ms: u32) -> anyhow::Result<()> {
    let mut signal = vec![0.0; (LEAD * f64::from(SAMPLE_RATE)) as usize];
    signal.extend_from_slice(speech);
    let input = dir.join("lat_in.wav");
    let output = dir.join("lat_out.wav");
    audio_common::write_wav(&input, &signal, SAMPLE_RATE)?;

    let server = support::TestServer::start().await;
    let (b_audio, b_start) = file_audio(None, Some(&output), frame_ms)?;
    let b = TestDaemon::start_with_audio(Audio::Engine(Arc::new(b_audio))).await;
    let mut bc = b.client().await;
    support::connect(&mut bc, &server, "listener").await;
    let (a_audio, a_start) = file_audio(Some(&input), None, frame_ms)?;
    let a = TestDaemon::start_with_audio(Audio::Engine(Arc::new(a_audio))).await;
    let mut ac = a.client().await;
    let mut events = ac
        .watch(c::WatchRequest { levels: false })
        .await?
        .into_inner();
    ac.set_voice_mode(c::VoiceModeRequest {
        mode: c::VoiceMode::Continuous as i32,
    })
    .await?;
    support::connect(&mut ac, &server, "speaker").await;
    tokio::time::timeout(Duration::from_secs(120), async {
        while let Ok(Some(e)) = events.message().await {
            if let Some(event::Kind::Device(d)) = e.kind
                && d.message.contains("to its end")
            {
                return;
            }
        }
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    b.stop().await;
    drop(a);

    let (out, _) = audio_common::read_wav(&output)?;
    // Output sample j is at b_start + j; input sample i at a_start + i.
    let offset = a_start.duration_since(b_start).as_secs_f64() * f64::from(SAMPLE_RATE);
    let base = offset as usize;
    let win = SAMPLE_RATE as usize / 2;
    let max_lag = SAMPLE_RATE as usize / 5;
    let mut lags = Vec::new();
    let mut at = (LEAD * f64::from(SAMPLE_RATE)) as usize;
    while at + win < signal.len() && base + at + win + max_lag < out.len() {
        let x = &signal[at..at + win];
        if x.iter().map(|v| v * v).sum::<f32>() > 1.0 {
            let mut best = (f32::MIN, 0);
            for lag in 0..max_lag {
                let o = &out[base + at + lag..];
                let c: f32 = x.iter().zip(o).map(|(a, b)| a * b).sum();
                if c > best.0 {
                    best = (c, lag);
                }
            }
            // Lag in ms, corrected for the fraction of a sample in `offset`.
            lags.push((best.1 as f64 + base as f64 - offset) / 48.0);
        }
        at += win;
    }
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| lags.get(((lags.len() as f64 - 1.0) * p) as usize).copied();
    println!(
        "{frame_ms} ms frames: mouth to ear through the server p50 {:.1} ms, p95 {:.1} ms over {} windows",
        pct(0.5).unwrap_or(f64::NAN),
        pct(0.95).unwrap_or(f64::NAN),
        lags.len()
    );
    Ok(())
}
