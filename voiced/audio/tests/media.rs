//! Audio files in and out (issue 23): decoding with limits and precise
//! errors, the player's frames, recordings in WAV and Ogg Opus read back,
//! and a file played through a real engine on the null backend.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use voice_audio::backend::BackendConfig;
use voice_audio::media::{
    AudioFile, MediaError, PlayOptions, Player, PlayerFrame, RecordOptions, Recorder,
};
use voice_audio::{AudioEvent, Engine, EngineConfig, FRAME_10MS, SAMPLE_RATE};

fn sine(rate: u32, seconds: f32, hz: f32) -> Vec<f32> {
    let n = (rate as f32 * seconds) as usize;
    (0..n)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin())
        .collect()
}

fn write_wav(path: &Path, rate: u32, channels: u16, mono: &[f32]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("wav");
    for s in mono {
        for _ in 0..channels {
            w.write_sample((s * 32767.0) as i16).expect("sample");
        }
    }
    w.finalize().expect("finalize");
}

fn decode_all(path: &Path) -> Vec<f32> {
    let mut f = AudioFile::open(path).expect("open");
    let mut out = Vec::new();
    while f.next(&mut out).expect("decode") {}
    out
}

/// Correlation of `a` and `b` over their common length.
fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..n {
        let (x, y) = (f64::from(a[i]), f64::from(b[i]));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa.sqrt() * bb.sqrt()).max(1e-12)
}

#[test]
fn a_stereo_44k_wav_plays_as_48k_mono_to_its_end() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tone.wav");
    write_wav(&path, 44_100, 2, &sine(44_100, 1.0, 440.0));
    let file = AudioFile::open(&path).expect("open");
    let info = file.info().clone();
    assert_eq!(info.format, "WAV");
    assert_eq!((info.sample_rate, info.channels), (44_100, 2));
    assert_eq!(info.duration_ms, Some(1000));
    let started = Instant::now();
    let mut player = Player::start(file, PlayOptions::default()).expect("player");
    let mut frame = [0.0; FRAME_10MS];
    let (mut audio, mut energy) = (0usize, 0.0f64);
    loop {
        match player.frame(&mut frame) {
            PlayerFrame::Audio => {
                audio += 1;
                energy += frame.iter().map(|s| f64::from(s * s)).sum::<f64>();
            }
            PlayerFrame::Waiting => std::thread::sleep(Duration::from_millis(1)),
            PlayerFrame::Ended => break,
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never ended");
    }
    let (audio_s, cpu_s) = player.decode_load();
    println!(
        "decoded {audio_s:.2} s of 44.1 kHz stereo WAV to 48 kHz mono in {:.1} ms of CPU ({:.2} % of real time)",
        cpu_s * 1000.0,
        cpu_s / audio_s * 100.0
    );
    assert!((100..=103).contains(&audio), "{audio} frames for 1 s");
    let rms = (energy / (audio * FRAME_10MS) as f64).sqrt();
    assert!((0.3..0.4).contains(&rms), "rms {rms}");
    assert!(player.error().is_none());
}

#[test]
fn a_recording_in_ogg_opus_reads_back_as_what_was_recorded() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("mix.ogg");
    let source = sine(SAMPLE_RATE, 1.0, 330.0);
    let mut rec = Recorder::create(&path, RecordOptions::default()).expect("recorder");
    for f in source.chunks_exact(FRAME_10MS) {
        rec.push(f.try_into().expect("frame"));
        std::thread::sleep(Duration::from_micros(200));
    }
    let summary = rec.finish().expect("finish");
    assert_eq!(summary.samples, 48_000);
    assert_eq!(summary.dropped, 0);
    assert_eq!(summary.bytes, std::fs::metadata(&path).expect("meta").len());
    let file = AudioFile::open(&path).expect("open");
    assert_eq!(file.info().format, "Ogg Opus");
    let back = decode_all(&path);
    assert_eq!(back.len(), 48_000, "the granule position ends it exactly");
    let r = correlation(&source[2000..46_000], &back[2000..46_000]);
    println!(
        "Ogg Opus round trip: correlation {r:.4}, {} bytes",
        summary.bytes
    );
    assert!(r > 0.95, "correlation {r}");
}

#[test]
fn a_wav_recording_refuses_to_overwrite_and_stops_at_its_budget() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("mix.wav");
    std::fs::write(&path, b"keep me").expect("write");
    let err = Recorder::create(&path, RecordOptions::default()).expect_err("exists");
    assert!(matches!(err, MediaError::Exists { .. }), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), b"keep me");

    let options = RecordOptions {
        overwrite: true,
        limit: Duration::from_millis(100),
    };
    let mut rec = Recorder::create(&path, options).expect("recorder");
    let frame = [0.25f32; FRAME_10MS];
    let deadline = Instant::now() + Duration::from_secs(5);
    while rec.ended().is_none() {
        rec.push(&frame);
        std::thread::sleep(Duration::from_millis(5));
        assert!(Instant::now() < deadline, "never stopped at its budget");
    }
    assert!(rec.ended().expect("why").contains("limit"));
    let summary = rec.finish().expect("finish");
    assert_eq!(summary.samples, 4800);
    let r = hound::WavReader::open(&path).expect("wav");
    assert_eq!(r.spec().sample_rate, 48_000);
    assert_eq!(r.len(), 4800);
    let err = Recorder::create(&dir.path().join("mix.mp3"), RecordOptions::default())
        .expect_err("format");
    assert!(err.to_string().contains(".wav"), "{err}");
}

#[test]
fn bad_files_are_refused_with_what_is_wrong() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("missing.wav");
    let e = AudioFile::open(&missing).expect_err("missing");
    assert!(matches!(e, MediaError::Open { .. }), "{e}");
    assert!(e.to_string().contains("missing.wav"), "{e}");

    let text = dir.path().join("notes.mp3");
    std::fs::write(&text, "these are not the droids ".repeat(200)).expect("write");
    let e = AudioFile::open(&text).expect_err("text");
    println!("text as mp3: {e}");
    assert!(
        matches!(
            e,
            MediaError::Unsupported { .. } | MediaError::Corrupt { .. }
        ),
        "{e}"
    );

    let empty = dir.path().join("empty.flac");
    std::fs::write(&empty, b"").expect("write");
    let e = AudioFile::open(&empty).expect_err("empty");
    assert!(e.to_string().contains("empty"), "{e}");

    // A WAV header that promises data that is not there.
    let good = dir.path().join("good.wav");
    write_wav(&good, 48_000, 1, &sine(48_000, 0.5, 440.0));
    let bytes = std::fs::read(&good).expect("read");
    let cut = dir.path().join("cut.wav");
    std::fs::write(&cut, &bytes[..40]).expect("write");
    let e = AudioFile::open(&cut).expect_err("cut");
    println!("cut wav: {e}");
    assert!(
        matches!(
            e,
            MediaError::Corrupt { .. } | MediaError::Unsupported { .. }
        ),
        "{e}"
    );

    // An Ogg Opus header with a channel layout that is not supported.
    let mut head = b"OggS".to_vec();
    head.resize(28, 0);
    head.extend_from_slice(b"OpusHead");
    head.resize(64, 0);
    let fake = dir.path().join("fake.opus");
    std::fs::write(&fake, &head).expect("write");
    let e = AudioFile::open(&fake).expect_err("fake");
    assert!(matches!(e, MediaError::Corrupt { .. }), "{e}");
}

#[test]
fn a_file_played_through_the_engine_on_the_null_backend_is_sent_whole_and_ends() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tone.wav");
    write_wav(&path, 48_000, 1, &sine(48_000, 1.0, 440.0));
    let (packets_tx, packets) = mpsc::channel();
    let (events_tx, events) = mpsc::channel();
    // The default voice-activity mode: a file is sent whatever the gate says.
    let engine = Engine::start(
        EngineConfig {
            backend: BackendConfig::Null,
            ..EngineConfig::default()
        },
        move |p| {
            let _ = packets_tx.send(p);
        },
        move |e| {
            let _ = events_tx.send(e);
        },
    )
    .expect("engine");
    let player = Player::start(
        AudioFile::open(&path).expect("open"),
        PlayOptions::default(),
    )
    .expect("player");
    let started = Instant::now();
    engine.play(7, player).expect("play");
    let ended = loop {
        match events
            .recv_timeout(Duration::from_secs(5))
            .expect("an event")
        {
            AudioEvent::PlayEnded { id, error } => break (id, error),
            _ => continue,
        }
    };
    let took = started.elapsed();
    assert_eq!(ended, (7, None));
    std::thread::sleep(Duration::from_millis(50));
    let sent: Vec<_> = packets.try_iter().collect();
    let audio = sent.iter().filter(|p| !p.opus.is_empty()).count();
    println!("1 s file: {audio} packets in {took:?}");
    assert!(
        (50..=52).contains(&audio),
        "{audio} packets of 20 ms for 1 s"
    );
    assert!(sent.last().expect("packets").end_of_burst);
    // Paced by the clock, never faster than real time (a busy machine may
    // make it later, which is not this test's business).
    assert!(
        took >= Duration::from_millis(900),
        "sent faster than real time: {took:?}"
    );
    engine.stop();
}
