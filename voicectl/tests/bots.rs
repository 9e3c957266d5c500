//! `voicectl play`, `stop` and `record` (issue 23) through the real binary
//! against a real headless voiced (the engine of `--audio-backend null`)
//! on a real socket: what they print in text and JSON, what `status`
//! shows meanwhile, relative paths, and the precise refusals (exit code 1)
//! of a missing, unsupported or corrupt file and of an existing recording.
#![allow(clippy::unwrap_used)] // test code: a failure is a test failure

use std::path::Path;
use std::sync::Arc;

use assert_cmd::Command;
use serde_json::Value;
use voice_testkit::voiced::audio::HeadlessAudio;
use voice_testkit::{Audio, TestDaemon};

struct Fixture {
    daemon: TestDaemon,
    dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

impl Fixture {
    fn start() -> Self {
        let rt = voice_testkit::runtime();
        let daemon = rt.block_on(TestDaemon::start_with_audio(Audio::Engine(Arc::new(
            HeadlessAudio::new(),
        ))));
        Self {
            daemon,
            dir: tempfile::tempdir().unwrap(),
            _rt: rt,
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("voicectl").unwrap();
        c.arg("--socket").arg(&self.daemon.socket);
        c.env_remove("VOICED_SOCKET");
        c.current_dir(self.dir.path());
        c
    }

    fn text(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd().arg("--json").args(args).assert().success();
        serde_json::from_slice(&out.get_output().stdout).unwrap()
    }

    fn failed(&self, code: i32, args: &[&str]) -> String {
        let out = self.cmd().args(args).assert().code(code);
        String::from_utf8_lossy(&out.get_output().stderr).into_owned()
    }
}

/// A 48 kHz mono tone of `seconds`.
fn tone(path: &Path, seconds: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(48_000.0 * seconds) as usize {
        let s = (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 48_000.0).sin();
        w.write_sample((s * 10_000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn play_shows_what_plays_until_stop() {
    let f = Fixture::start();
    tone(&f.dir.path().join("tone.wav"), 30.0);
    // A relative path is the caller's.
    let j = f.json(&["play", "tone.wav", "--loop", "--volume", "50"]);
    let p = &j["playing"];
    assert_eq!(p["format"], "WAV");
    assert_eq!(p["loop"], true);
    assert_eq!(p["volume"], 50);
    assert_eq!(p["duration_ms"], 30_000);
    let path = f.dir.path().join("tone.wav").display().to_string();
    assert_eq!(p["path"], path.as_str());
    let status = f.json(&["status"]);
    assert_eq!(status["playing"]["path"], path.as_str());
    let text = f.text(&["status"]);
    assert!(
        text.contains(&format!(
            "playing: {path} (WAV, 0:30, volume 50 %, looping)"
        )),
        "{text}"
    );
    assert_eq!(f.text(&["stop"]), format!("stopped {path}\n"));
    assert_eq!(f.json(&["status"])["playing"], Value::Null);
    assert_eq!(f.text(&["stop"]), "nothing was playing\n");
    // Out of range: a usage error.
    f.failed(2, &["play", "tone.wav", "--volume", "300"]);
}

#[test]
fn bad_files_are_refused_with_what_is_wrong() {
    let f = Fixture::start();
    let err = f.failed(1, &["play", "missing.wav"]);
    println!("missing: {err}");
    assert!(
        err.contains("missing.wav") && err.contains("No such file"),
        "{err}"
    );

    std::fs::write(
        f.dir.path().join("notes.mp3"),
        "not audio at all ".repeat(300),
    )
    .unwrap();
    let err = f.failed(1, &["play", "notes.mp3"]);
    println!("text: {err}");
    assert!(err.contains("notes.mp3"), "{err}");
    assert!(
        err.contains("voiced plays WAV, FLAC, Ogg Vorbis, Ogg Opus and MP3")
            || err.contains("corrupt"),
        "{err}"
    );

    tone(&f.dir.path().join("good.wav"), 0.5);
    let bytes = std::fs::read(f.dir.path().join("good.wav")).unwrap();
    std::fs::write(f.dir.path().join("cut.wav"), &bytes[..40]).unwrap();
    let err = f.failed(1, &["play", "cut.wav"]);
    println!("cut: {err}");
    assert!(err.contains("cut.wav"), "{err}");

    std::fs::write(f.dir.path().join("empty.flac"), b"").unwrap();
    let err = f.failed(1, &["--json", "play", "empty.flac"]);
    assert!(err.is_empty() || err.contains("empty"), "{err}");
    assert_eq!(f.json(&["status"])["playing"], Value::Null);
}

#[test]
fn record_writes_a_file_and_refuses_to_overwrite_one() {
    let f = Fixture::start();
    let text = f.text(&["record", "mix.wav"]);
    let path = f.dir.path().join("mix.wav").display().to_string();
    assert!(
        text.starts_with(&format!("recording to {path} (wav, ")),
        "{text}"
    );
    let status = f.json(&["status"]);
    assert_eq!(status["recording"]["path"], path.as_str());
    assert_eq!(status["recording"]["format"], "wav");
    // One recording at a time.
    let err = f.failed(1, &["record", "other.wav"]);
    assert!(err.contains("already recording"), "{err}");
    std::thread::sleep(std::time::Duration::from_millis(600));
    let j = f.json(&["record", "--stop"]);
    let ms = j["stopped"]["duration_ms"].as_u64().unwrap();
    assert!(ms >= 300, "{j}");
    let bytes = j["stopped"]["bytes"].as_u64().unwrap();
    assert_eq!(
        bytes,
        std::fs::metadata(f.dir.path().join("mix.wav"))
            .unwrap()
            .len()
    );
    let wav = hound::WavReader::open(f.dir.path().join("mix.wav")).unwrap();
    assert_eq!((wav.spec().sample_rate, wav.spec().channels), (48_000, 1));
    assert_eq!(f.json(&["status"])["recording"], Value::Null);

    let err = f.failed(1, &["record", "mix.wav"]);
    assert!(err.contains("mix.wav exists"), "{err}");
    f.text(&["record", "mix.wav", "--overwrite"]);
    assert!(f.text(&["record", "--stop"]).starts_with("recorded "));
    assert_eq!(
        f.text(&["record", "--stop"]),
        "nothing was being recorded\n"
    );
    let err = f.failed(1, &["record", "mix.mp3"]);
    assert!(err.contains(".wav") && err.contains("Ogg Opus"), "{err}");
}
