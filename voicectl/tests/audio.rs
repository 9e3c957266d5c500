//! `voicectl audio` and `voicectl audio set` through the real binary against
//! a real voiced on a real socket: what they print, that a change reaches
//! voiced (asked over gRPC, not through voicectl) and leaves the rest alone,
//! and the errors of a missing flag and of a bad value.
#![allow(clippy::unwrap_used)] // test code: a failure is a test failure

use assert_cmd::Command;
use serde_json::{Value, json};
use voice_proto::pb::control::{AudioConfig, Empty};
use voice_testkit::TestDaemon;

/// A voiced without audio devices (null backend: echo cancellation and
/// automatic gain start off, settings are accepted).
struct Fixture {
    daemon: TestDaemon,
    rt: tokio::runtime::Runtime,
}

impl Fixture {
    fn start() -> Self {
        let rt = voice_testkit::runtime();
        let daemon = rt.block_on(TestDaemon::start());
        Self { daemon, rt }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("voicectl").unwrap();
        c.arg("--socket").arg(&self.daemon.socket);
        c.env_remove("VOICED_SOCKET");
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

    /// Runs a command that must fail with `code`; its standard error.
    fn failed(&self, code: i32, args: &[&str]) -> String {
        let out = self.cmd().args(args).assert().code(code);
        String::from_utf8_lossy(&out.get_output().stderr).into_owned()
    }

    /// What voiced itself holds, asked over gRPC.
    fn voiced(&self) -> AudioConfig {
        self.rt.block_on(async {
            let mut client = self.daemon.client().await;
            client.audio_settings(Empty {}).await.unwrap().into_inner()
        })
    }
}

#[test]
fn audio_shows_every_setting_in_text_and_json() {
    let f = Fixture::start();
    assert_eq!(
        f.text(&["audio"]),
        "voice mode: vad\nbitrate: 32000 b/s\nframe: 20 ms\nvad threshold: 0.5\n\
         noise suppression: on\necho cancellation: off\nauto gain: off\n\
         input device: default\noutput device: default\n"
    );
    assert_eq!(f.text(&["audio", "show"]), f.text(&["audio"]));
    assert_eq!(
        f.json(&["audio"]),
        json!({
            "voice_mode": "vad",
            "bitrate": 32000,
            "frame_ms": 20,
            "vad_threshold": 0.5,
            "noise_suppression": true,
            "echo_cancellation": false,
            "auto_gain": false,
            "input_device": "",
            "output_device": "",
        })
    );
}

#[test]
fn audio_set_changes_only_what_is_given() {
    let f = Fixture::start();
    let before = f.voiced();
    assert!(!before.echo_cancellation && !before.auto_gain);

    let text = f.text(&["audio", "set", "--echo-cancellation", "on"]);
    assert!(text.contains("echo cancellation: on\n"), "{text}");
    assert!(text.contains("auto gain: off\n"), "{text}");
    assert_eq!(
        f.voiced(),
        AudioConfig {
            echo_cancellation: true,
            ..before.clone()
        }
    );

    // A headset user turns it off again.
    let j = f.json(&["audio", "set", "--echo-cancellation", "off"]);
    assert_eq!(j["echo_cancellation"], false);
    assert!(!f.voiced().echo_cancellation);

    let j = f.json(&["audio", "set", "--auto-gain", "on"]);
    assert_eq!(j["auto_gain"], true);
    assert_eq!(j["echo_cancellation"], false);
    assert!(f.voiced().auto_gain);

    // Several at once, and a toggle of what is on now.
    let j = f.json(&[
        "audio",
        "set",
        "--noise-suppression",
        "off",
        "--auto-gain",
        "toggle",
        "--bitrate",
        "48000",
        "--frame-ms",
        "40",
        "--vad-threshold",
        "0.3",
    ]);
    assert_eq!(j["noise_suppression"], false);
    assert_eq!(j["auto_gain"], false);
    assert_eq!(j["bitrate"], 48000);
    assert_eq!(j["frame_ms"], 40);
    assert_eq!(j["vad_threshold"], 0.3);
    assert_eq!(
        f.voiced(),
        AudioConfig {
            noise_suppression: false,
            bitrate: 48_000,
            frame_ms: 40,
            vad_threshold: 0.3,
            ..before
        }
    );
    assert_eq!(f.json(&["audio"]), j);
}

#[test]
fn audio_set_without_a_flag_names_the_flags() {
    let f = Fixture::start();
    let err = f.failed(2, &["audio", "set"]);
    for flag in [
        "--echo-cancellation",
        "--auto-gain",
        "--noise-suppression",
        "--bitrate",
        "--frame-ms",
        "--vad-threshold",
    ] {
        assert!(err.contains(flag), "{flag} in {err}");
    }
}

#[test]
fn bad_values_get_voiceds_or_clap_s_error_and_change_nothing() {
    let f = Fixture::start();
    let before = f.voiced();
    // Out of range: voiced says what it takes.
    let err = f.failed(1, &["audio", "set", "--bitrate", "1000"]);
    assert!(err.contains("bitrate must be 6000..=128000 b/s"), "{err}");
    let err = f.failed(1, &["audio", "set", "--frame-ms", "30"]);
    assert!(err.contains("frame must be 10, 20, 40 or 60 ms"), "{err}");
    let err = f.failed(1, &["audio", "set", "--vad-threshold", "1.5"]);
    assert!(err.contains("vad threshold must be 0.0..=1.0"), "{err}");
    // Not a value at all: clap says which.
    let err = f.failed(2, &["audio", "set", "--bitrate", "fast"]);
    assert!(err.contains("invalid value 'fast' for '--bitrate"), "{err}");
    let err = f.failed(2, &["audio", "set", "--echo-cancellation", "maybe"]);
    assert!(err.contains("possible values: on, off, toggle"), "{err}");
    // With --json, voiced's refusal is a JSON error too.
    let out = f
        .cmd()
        .args(["--json", "audio", "set", "--bitrate", "1000"])
        .assert()
        .code(1);
    let j: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(j["error"], "bitrate must be 6000..=128000 b/s");
    assert_eq!(f.voiced(), before);
}
