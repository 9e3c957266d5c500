//! Audio bots end to end (issue 23): a headless daemon (the engine that
//! `voiced --audio-backend null` runs) plays a file through a real
//! voice-server to a daemon on the file backend, which records what it
//! hears. What B heard and recorded is scored with PESQ-WB against the
//! file (espeak-ng speech, made at test time); B's recording mark is seen
//! by A within a second, survives B's reconnection and goes when the
//! recording stops; bad files are refused with what is wrong with them.

#[path = "../audio/tests/common/mod.rs"]
mod audio_common;
mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Audio, TestDaemon, TestServer, WAIT};
use voice_audio::SAMPLE_RATE;
use voice_proto::pb::control::{self as c, event, media_event};
use voiced::audio::HeadlessAudio;

/// About five seconds of speech.
const TEXT: &str =
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.";

/// The same floor as the clean call of `audio.rs` (3.9 there, through the
/// microphone's chain); a file skips the noise suppressor.
/// Measured 3.87 heard and recorded (2026-12-04).
const PESQ_FLOOR: f64 = 3.7;

async fn connect(client: &mut support::Client, server: &TestServer, name: &str) -> u32 {
    let s = client
        .connect(server.connect_request(name))
        .await
        .expect("connects")
        .into_inner();
    assert_eq!(s.state, c::ConnectionState::Connected as i32, "{s:?}");
    s.session_id
}

/// Waits until `client`'s mirror shows `session`'s recording mark as
/// `on`; answers how long that took.
async fn wait_recording(
    client: &mut support::Client,
    name: &str,
    on: bool,
    started: Instant,
) -> Duration {
    tokio::time::timeout(WAIT, async {
        loop {
            let st = client.state(c::Empty {}).await.expect("state").into_inner();
            let snap = st.state.unwrap_or_default();
            if snap
                .sessions
                .iter()
                .any(|s| s.name == name && s.recording == on)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the recording mark changes in time");
    started.elapsed()
}

/// Waits for the end of what `events` plays.
async fn wait_play_ended(events: &mut tonic::Streaming<c::Event>) -> c::MediaEvent {
    tokio::time::timeout(WAIT * 2, async {
        while let Some(e) = events.message().await.expect("events") {
            if let Some(event::Kind::Media(m)) = e.kind
                && m.kind == media_event::Kind::PlayEnded as i32
            {
                return m;
            }
        }
        panic!("watch ended");
    })
    .await
    .expect("the file plays to its end")
}

/// The lag of `b` against `a` (within ±`window` samples around `guess`)
/// with the highest correlation, and that correlation.
fn best_correlation(a: &[f32], b: &[f32], guess: isize, window: isize) -> (isize, f64) {
    let mut best = (0, -1.0);
    for lag in guess - window..=guess + window {
        let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
        for (i, x) in a.iter().enumerate().step_by(2) {
            let j = i as isize + lag;
            if j < 0 || j as usize >= b.len() {
                continue;
            }
            let y = f64::from(b[j as usize]);
            let x = f64::from(*x);
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        let r = ab / (aa.sqrt() * bb.sqrt()).max(1e-12);
        if r > best.1 {
            best = (lag, r);
        }
    }
    best
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_bot_plays_speech_to_a_listener_who_records_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = audio_common::speech_48k(dir.path(), TEXT).expect("speech");
    let file = dir.path().join("speech.wav");
    audio_common::write_wav(&file, &speech, SAMPLE_RATE).expect("wav");
    let heard = dir.path().join("heard.wav");
    let recorded = dir.path().join("recorded.wav");

    let server = TestServer::start().await;
    let b = TestDaemon::start_with_audio(Audio::Files {
        input: None,
        output: Some(heard.clone()),
    })
    .await;
    let mut bc = b.client().await;
    connect(&mut bc, &server, "listener").await;
    let a = TestDaemon::start_with_audio(Audio::Engine(Arc::new(HeadlessAudio::new()))).await;
    let mut ac = a.client().await;
    connect(&mut ac, &server, "bot").await;
    let mut a_events = ac
        .watch(c::WatchRequest { levels: false })
        .await
        .expect("watch")
        .into_inner();

    // B records: A sees the mark within a second.
    let asked = Instant::now();
    let rec = bc
        .record(c::RecordRequest {
            path: recorded.display().to_string(),
            overwrite: false,
        })
        .await
        .expect("record")
        .into_inner();
    assert_eq!(rec.format, "wav");
    let seen = wait_recording(&mut ac, "listener", true, asked).await;
    println!("B's recording mark seen by A after {} ms", seen.as_millis());
    assert!(seen < Duration::from_secs(1), "{seen:?}");
    let status = bc.status(c::Empty {}).await.expect("status").into_inner();
    assert_eq!(
        status.recording.as_ref().map(|r| r.path.as_str()),
        Some(rec.path.as_str())
    );

    // A plays the file; its status says what plays until the end.
    let playing = ac
        .play(c::PlayRequest {
            path: file.display().to_string(),
            repeat: false,
            volume: None,
            replace: false,
        })
        .await
        .expect("play")
        .into_inner();
    assert_eq!((playing.format.as_str(), playing.volume), ("WAV", 100));
    let status = ac.status(c::Empty {}).await.expect("status").into_inner();
    assert_eq!(
        status.playing.as_ref().map(|p| p.format.as_str()),
        Some("WAV")
    );
    let ended = wait_play_ended(&mut a_events).await;
    assert_eq!(ended.error, "");
    let status = ac.status(c::Empty {}).await.expect("status").into_inner();
    assert!(status.playing.is_none(), "{status:?}");

    // B's jitter buffer plays out; B stops recording; the mark goes.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let asked = Instant::now();
    let stopped = bc
        .stop_recording(c::Empty {})
        .await
        .expect("stop")
        .into_inner()
        .stopped
        .expect("a recording");
    let gone = wait_recording(&mut ac, "listener", false, asked).await;
    println!(
        "recorded {} ms, {} bytes; the mark went after {} ms",
        stopped.duration_ms,
        stopped.bytes,
        gone.as_millis()
    );
    assert!(stopped.duration_ms > 5000, "{stopped:?}");
    assert_eq!(
        stopped.bytes,
        std::fs::metadata(&recorded).expect("recording").len()
    );
    b.stop().await;

    let margin = SAMPLE_RATE as usize / 4;
    let (out, _) = audio_common::read_wav(&heard).expect("heard");
    let (rec, rate) = audio_common::read_wav(&recorded).expect("recorded");
    assert_eq!(rate, SAMPLE_RATE);
    let score = |x: &[f32]| {
        let (reference, degraded) = audio_common::align(&speech, x, margin);
        audio_common::pesq_wb(dir.path(), &reference, &degraded).expect("pesq")
    };
    let (heard_pesq, recorded_pesq) = (score(&out), score(&rec));
    // The recording is what B played: the same samples, shifted by when
    // the recording started.
    let (_, rec_part) = audio_common::align(&speech, &rec, 0);
    let (_, out_part) = audio_common::align(&speech, &out, 0);
    let (lag, r) = best_correlation(&rec_part[..rec_part.len() / 2], &out_part, 0, 96);
    println!(
        "headless bot → server → B: PESQ-WB {heard_pesq:.2} heard, {recorded_pesq:.2} recorded; \
         recording vs B's output: correlation {r:.4} at lag {lag}"
    );
    assert!(heard_pesq >= PESQ_FLOOR, "PESQ-WB {heard_pesq:.2} heard");
    assert!(
        recorded_pesq >= PESQ_FLOOR,
        "PESQ-WB {recorded_pesq:.2} recorded"
    );
    assert!(r > 0.99, "the recording differs from what B played: {r:.4}");
    drop(a);
}

/// Encodes the 16-bit mono WAV `from` to MP3 at `to` with LAME (PyPI's
/// `lameenc`, installed by scripts/test); false if it could not.
fn lame(from: &Path, to: &Path) -> bool {
    let script = "import sys, wave, lameenc\n\
        w = wave.open(sys.argv[1], 'rb')\n\
        e = lameenc.Encoder()\n\
        e.set_bit_rate(128); e.set_in_sample_rate(w.getframerate())\n\
        e.set_channels(w.getnchannels()); e.set_quality(2)\n\
        data = e.encode(w.readframes(w.getnframes())) + e.flush()\n\
        open(sys.argv[2], 'wb').write(data)\n";
    match Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(from)
        .arg(to)
        .output()
    {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            println!(
                "lameenc failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            false
        }
        Err(e) => {
            println!("python3 is not installed ({e})");
            false
        }
    }
}

/// Makes `to` from `from` with a tool (sox, opusenc); false if it failed.
fn convert(tool: &str, args: &[&Path]) -> bool {
    let mut c = Command::new(tool);
    if tool == "opusenc" {
        c.arg("--quiet");
    }
    match c.args(args).output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            println!(
                "{tool} failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            false
        }
        Err(e) => {
            println!("{tool} is not installed ({e})");
            false
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_plays_and_an_ogg_opus_recording_keeps_its_mark_across_a_reconnection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = audio_common::speech_48k(dir.path(), TEXT).expect("speech");
    let wav = dir.path().join("source.wav");
    audio_common::write_wav(&wav, &speech, SAMPLE_RATE).expect("wav");
    let opus = dir.path().join("source.opus");
    assert!(
        convert("opusenc", &[&wav, &opus]),
        "opusenc (opus-tools) is needed"
    );
    let mut others = Vec::new();
    for (ext, format) in [("flac", "FLAC"), ("ogg", "Ogg Vorbis"), ("mp3", "MP3")] {
        let to = dir.path().join(format!("source.{ext}"));
        // sox in Debian has no MP3 encoder: LAME through PyPI's lameenc.
        if convert("sox", &[&wav, &to]) || (ext == "mp3" && lame(&wav, &to)) {
            others.push((to, format));
        } else {
            panic!(
                "{format}: cannot make a file (sox, and python3's lameenc for MP3: scripts/test installs them)"
            );
        }
    }
    let heard = dir.path().join("heard.wav");
    let recorded = dir.path().join("recorded.ogg");

    let server = TestServer::start().await;
    let b = TestDaemon::start_with_audio(Audio::Files {
        input: None,
        output: Some(heard.clone()),
    })
    .await;
    let mut bc = b.client().await;
    connect(&mut bc, &server, "listener").await;
    let a = TestDaemon::start_with_audio(Audio::Engine(Arc::new(HeadlessAudio::new()))).await;
    let mut ac = a.client().await;
    connect(&mut ac, &server, "bot").await;
    let mut a_events = ac
        .watch(c::WatchRequest { levels: false })
        .await
        .expect("watch")
        .into_inner();

    let asked = Instant::now();
    let rec = bc
        .record(c::RecordRequest {
            path: recorded.display().to_string(),
            overwrite: false,
        })
        .await
        .expect("record")
        .into_inner();
    assert_eq!(rec.format, "ogg-opus");
    wait_recording(&mut ac, "listener", true, asked).await;
    // B reconnects while recording: its new session is marked again.
    bc.disconnect(c::Empty {}).await.expect("disconnect");
    let asked = Instant::now();
    connect(&mut bc, &server, "listener").await;
    let again = wait_recording(&mut ac, "listener", true, asked).await;
    println!(
        "after B's reconnection the mark was back within {} ms",
        again.as_millis()
    );

    // Each format starts and says what it is.
    for (path, format) in &others {
        let p = ac
            .play(c::PlayRequest {
                path: path.display().to_string(),
                repeat: false,
                volume: Some(100),
                replace: true,
            })
            .await
            .expect("play")
            .into_inner();
        println!(
            "{format}: {} Hz, {} channel(s), {} ms",
            p.sample_rate, p.channels, p.duration_ms
        );
        assert_eq!(p.format, *format);
    }
    // The Ogg Opus file plays to its end (replacing the last one).
    let p = ac
        .play(c::PlayRequest {
            path: opus.display().to_string(),
            repeat: false,
            volume: None,
            replace: false,
        })
        .await
        .expect("play")
        .into_inner();
    assert_eq!(p.format, "Ogg Opus");
    let ended = loop {
        let m = wait_play_ended(&mut a_events).await;
        if m.playing.as_ref().is_some_and(|x| x.format == "Ogg Opus") {
            break m;
        }
    };
    assert_eq!(ended.error, "");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let stopped = bc
        .stop_recording(c::Empty {})
        .await
        .expect("stop")
        .into_inner()
        .stopped
        .expect("a recording");
    assert_eq!(
        stopped.bytes,
        std::fs::metadata(&recorded).expect("recording").len()
    );
    b.stop().await;

    // opusdec reads the recording.
    let decoded = dir.path().join("recorded_decoded.wav");
    let out = Command::new("opusdec")
        .args(["--quiet", "--rate", "48000"])
        .arg(&recorded)
        .arg(&decoded)
        .output()
        .expect("opusdec runs");
    assert!(
        out.status.success(),
        "opusdec: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (dec, rate) = audio_common::read_wav(&decoded).expect("decoded");
    assert_eq!(rate, SAMPLE_RATE);
    let (heard_audio, _) = audio_common::read_wav(&heard).expect("heard");
    let margin = SAMPLE_RATE as usize / 4;
    let score = |x: &[f32]| {
        let (reference, degraded) = audio_common::align(&speech, x, margin);
        audio_common::pesq_wb(dir.path(), &reference, &degraded).expect("pesq")
    };
    let (heard_pesq, recorded_pesq) = (score(&heard_audio), score(&dec));
    println!(
        "Ogg Opus file → headless bot → server → B: PESQ-WB {heard_pesq:.2} heard; \
         B's Ogg Opus recording through opusdec {recorded_pesq:.2} ({} ms, {} bytes)",
        stopped.duration_ms, stopped.bytes
    );
    assert!(heard_pesq >= 3.3, "PESQ-WB {heard_pesq:.2} heard");
    // Measured 3.36: a second Opus generation (64 kb/s, music mode) after
    // the voice one.
    assert!(recorded_pesq >= 3.1, "PESQ-WB {recorded_pesq:.2} recorded");
    drop(a);
}
