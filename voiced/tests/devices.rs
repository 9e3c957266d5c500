//! Two people on two `voiced` processes hear each other through the server
//! on real (virtual) sound devices: cpal through ALSA's pulse plugin to
//! PulseAudio null sinks (`scripts/pulse-up`). Speech played into A's
//! microphone (`mic` → source `micsrc`) with `paplay` is captured by A (voice
//! activity mode), relayed by a real voice-server, played by B into the sink
//! `spk`, recorded from `spk.monitor` with `parec`, and scored with PESQ-WB.
//! Each daemon picks its devices through `PULSE_SOURCE`/`PULSE_SINK` in its
//! own environment. Without PulseAudio this test fails with a message.

#[path = "../audio/tests/common/mod.rs"]
mod audio_common;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Client, TestServer, VoicedChild, WAIT, connect};
use voice_audio::SAMPLE_RATE;
use voice_proto::pb::control::{self as c, event};

const TEXT: &str =
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// PulseAudio's socket, as `pactl info` names it.
fn pulse_server() -> String {
    let out = Command::new("pactl")
        .arg("info")
        .env("LC_ALL", "C")
        .output()
        .expect("pactl (pulseaudio-utils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Server String: "))
        .map(|s| format!("unix:{}", s.trim()))
        .expect("pactl info names the server")
}

/// A `voiced` process on the cpal backend with its own XDG dirs and
/// PulseAudio source and sink.
fn voiced(dir: &Path, source: &str, sink: &str) -> VoicedChild {
    let mut command = Command::new(env!("CARGO_BIN_EXE_voiced"));
    command
        // Its own XDG_RUNTIME_DIR hides PulseAudio's socket: name it.
        .env("PULSE_SERVER", pulse_server())
        .env("PULSE_SOURCE", source)
        .env("PULSE_SINK", sink)
        .env("RUST_LOG", "info")
        .args(["--audio-backend", "cpal"]);
    VoicedChild::start(command, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_hear_each_other_on_real_devices() {
    let up = Command::new(repo_root().join("scripts/pulse-up")).status();
    assert!(
        up.is_ok_and(|s| s.success()),
        "PulseAudio is not available: run scripts/pulse-up (scripts/test installs pulseaudio, \
         pulseaudio-utils and libasound2-plugins)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = audio_common::speech_48k(dir.path(), TEXT).expect("speech");
    let wav = dir.path().join("say.wav");
    audio_common::write_wav(&wav, &speech, SAMPLE_RATE).expect("wav");

    let server = TestServer::start().await;
    let a = voiced(&dir.path().join("a"), "micsrc", "spk");
    let b = voiced(&dir.path().join("b"), "micsrc2", "spk");
    let (mut ac, mut bc) = (a.client().await, b.client().await);
    let mut b_events = bc
        .watch(c::WatchRequest { levels: false })
        .await
        .expect("watch")
        .into_inner();
    // The devices are listed through the control API.
    let devices = ac.devices(c::Empty {}).await.expect("devices").into_inner();
    assert_eq!(devices.backend, "cpal");
    assert!(
        !devices.inputs.is_empty() && !devices.outputs.is_empty(),
        "{devices:?}"
    );
    assert!(devices.inputs.iter().any(|d| d.selected), "{devices:?}");

    let a_id = connect(&mut ac, &server, "alice").await.session_id;
    connect(&mut bc, &server, "bob").await;
    let b_watch = tokio::spawn(async move {
        let mut talking = Vec::new();
        while let Ok(Some(e)) = b_events.message().await {
            if let Some(event::Kind::Talking(t)) = e.kind {
                talking.push(t);
            }
        }
        talking
    });

    // A's microphone hears the speech; B's speaker is recorded.
    let recorded = record_while_playing(dir.path(), "spk", "mic", &wav, "rec.wav").await;
    drop(b);
    let heard = tokio::time::timeout(WAIT, b_watch)
        .await
        .expect("B's watch ends with B")
        .expect("watch task");
    drop(a);
    assert!(
        heard.iter().any(|t| t.session == a_id && t.talking),
        "B never saw A talking: {heard:?}"
    );

    let start = recorded.iter().position(|x| x.abs() > 0.01);
    let Some(start) = start else {
        panic!("B played nothing into the speaker");
    };
    let from = start.saturating_sub(SAMPLE_RATE as usize / 10);
    let end = (from + speech.len() + SAMPLE_RATE as usize / 5).min(recorded.len());
    let pesq = audio_common::pesq_wb(dir.path(), &speech, &recorded[from..end]).expect("pesq");
    println!(
        "A's microphone to B's speaker through the server: recorded {:.1} s, speech from {:.2} s, PESQ-WB {pesq:.2}",
        recorded.len() as f64 / f64::from(SAMPLE_RATE),
        start as f64 / f64::from(SAMPLE_RATE)
    );
    assert!(
        pesq > 2.0,
        "the speech B played is unintelligible: PESQ {pesq:.2}"
    );
}

/// Runs `pactl ARGS` and returns its standard output.
fn pactl(args: &[&str]) -> String {
    let out = Command::new("pactl")
        .args(args)
        .output()
        .expect("pactl (pulseaudio-utils)");
    assert!(
        out.status.success(),
        "pactl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A microphone (a null sink's monitor behind a remap source) and a speaker
/// of this test's own, so that suspending them touches no other test.
/// Removed on drop.
struct OwnDevices {
    source: String,
    sink: String,
    /// The null sink behind `source`: what is played into it is heard.
    mic: String,
    modules: Vec<String>,
}

impl OwnDevices {
    fn new(tag: &str) -> Self {
        let id = std::process::id();
        let (sink, mic, source) = (
            format!("{tag}spk{id}"),
            format!("{tag}mic{id}"),
            format!("{tag}src{id}"),
        );
        let mut modules = Vec::new();
        for name in [&sink, &mic] {
            modules.push(pactl(&[
                "load-module",
                "module-null-sink",
                &format!("sink_name={name}"),
            ]));
        }
        modules.push(pactl(&[
            "load-module",
            "module-remap-source",
            &format!("source_name={source}"),
            &format!("master={mic}.monitor"),
        ]));
        Self {
            source,
            sink,
            mic,
            modules,
        }
    }

    /// An acoustic echo path: what is played into the speaker reaches the
    /// microphone `latency_ms` later at `volume_percent` (PulseAudio's
    /// volume is cubic: 60 % is about −13 dB; tests measure the level
    /// rather than assume it).
    fn echo_path(&mut self, latency_ms: u32, volume_percent: u32) {
        let module = pactl(&[
            "load-module",
            "module-loopback",
            &format!("source={}.monitor", self.sink),
            &format!("sink={}", self.mic),
            &format!("latency_msec={latency_ms}"),
        ]);
        // The loopback's own stream into the microphone, found by its module.
        let list = pactl(&["list", "sink-inputs"]);
        let mut input = None;
        let mut current = None;
        for line in list.lines().map(str::trim) {
            if let Some(n) = line.strip_prefix("Sink Input #") {
                current = Some(n.to_owned());
            } else if line == format!("Owner Module: {module}") {
                input = current.clone();
            }
        }
        let input = input.expect("the loopback's sink input");
        pactl(&[
            "set-sink-input-volume",
            &input,
            &format!("{volume_percent}%"),
        ]);
        self.modules.push(module);
    }
}

impl Drop for OwnDevices {
    fn drop(&mut self) {
        let _ = Command::new("pactl")
            .args(["suspend-source", &self.source, "0"])
            .status();
        for m in self.modules.iter().rev() {
            let _ = Command::new("pactl").args(["unload-module", m]).status();
        }
    }
}

/// The next `Watch` event `want` accepts; panics after [`WAIT`].
async fn next_event(
    events: &mut tonic::Streaming<c::Event>,
    what: &str,
    want: &mut dyn FnMut(&event::Kind) -> bool,
) -> event::Kind {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.message().await.expect("watch") {
                Some(c::Event { kind: Some(k) }) if want(&k) => return k,
                Some(_) => {}
                None => panic!("watch ended before {what}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"))
}

/// Waits until the microphone's stall ladder starts afresh. The engine
/// starts it again after 5 s of delivery without a stall, and a stream that
/// opens (or resumes) either delivers by the end of its 3 s start-up grace
/// or is reported stuck; so 8.5 s without a device event, with the input
/// healthy in `Status`, mean its next stall is the first step. A fixed
/// sleep was not enough: on a loaded machine a device is now and then
/// silent for 0.5-0.6 s while PulseAudio is busy (a stall, and a step).
async fn ladder_fresh(events: &mut tonic::Streaming<c::Event>, client: &mut Client) {
    const QUIET: Duration = Duration::from_millis(8500);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let quiet = tokio::time::timeout(QUIET, async {
            loop {
                match events.message().await.expect("watch") {
                    Some(c::Event {
                        kind: Some(event::Kind::Device(d)),
                    }) => return d,
                    Some(_) => {}
                    None => panic!("watch ended while waiting for quiet devices"),
                }
            }
        })
        .await;
        match quiet {
            Ok(d) => eprintln!("before the suspend: {}", d.message),
            Err(_) => {
                let status = client
                    .status(c::Empty {})
                    .await
                    .expect("status")
                    .into_inner();
                let input = status.input_device.expect("the input device in status");
                if input.health == c::DeviceHealth::DeviceOk as i32 {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "the devices did not settle within 60 s"
        );
    }
}

/// A stuck microphone under a real daemon, for real: PulseAudio suspends
/// the daemon's source (`pactl suspend-source`), so ALSA's pulse plugin
/// stops calling back without an error. A `Watch` subscriber hears that
/// the device stopped delivering and what voiced did, `Status` shows it,
/// and capture goes on once the source resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_microphone_is_reported_to_watchers_and_in_status() {
    let up = Command::new(repo_root().join("scripts/pulse-up")).status();
    assert!(
        up.is_ok_and(|s| s.success()),
        "PulseAudio is not available: run scripts/pulse-up (scripts/test installs pulseaudio, \
         pulseaudio-utils and libasound2-plugins)"
    );
    let own = OwnDevices::new("vdstuck");
    let dir = tempfile::tempdir().expect("tempdir");
    let daemon = voiced(dir.path(), &own.source, &own.sink);
    let mut client = daemon.client().await;
    let mut events = client
        .watch(c::WatchRequest { levels: true })
        .await
        .expect("watch")
        .into_inner();
    let level = |k: &event::Kind| matches!(k, event::Kind::Level(_));
    next_event(&mut events, "input level at the start", &mut { level }).await;
    ladder_fresh(&mut events, &mut client).await;
    let before = client
        .status(c::Empty {})
        .await
        .expect("status")
        .into_inner();
    let input = before.input_device.expect("the input device in status");
    assert_eq!(input.health, c::DeviceHealth::DeviceOk as i32, "{input:?}");
    eprintln!("status before: {input:?}");

    let stuck_at = Instant::now();
    let stuck_at_ms = voiced::trust::now_ms();
    pactl(&["suspend-source", &own.source, "1"]);
    // The microphone's report: the speaker has a ladder of its own, and
    // PulseAudio, busy suspending the source on a loaded machine, now and
    // then starves it for as long as a stall.
    let stalled = |k: &event::Kind| {
        matches!(k, event::Kind::Device(d) if d.problem.as_ref().is_some_and(|p| {
            p.kind == c::device_problem::Kind::Stalled as i32
                && p.direction == c::select_device_request::Direction::Input as i32
                && p.at_ms >= stuck_at_ms
        }))
    };
    let k = next_event(&mut events, "a stuck-device event", &mut { stalled }).await;
    let detected = stuck_at.elapsed();
    let event::Kind::Device(device) = k else {
        unreachable!()
    };
    let problem = device.problem.clone().expect("problem");
    eprintln!(
        "stuck microphone under voiced: a watcher heard it {} ms after the suspend: {:?}",
        detected.as_millis(),
        device.message
    );
    assert!(
        device
            .message
            .contains("stopped delivering audio without an error")
            && device.message.contains("reopening it"),
        "{device:?}"
    );
    assert_eq!(
        problem.direction,
        c::select_device_request::Direction::Input as i32
    );
    assert_eq!(problem.action, c::device_problem::Action::Reopened as i32);
    assert!(problem.silent_ms >= 500, "{problem:?}");

    let status = client
        .status(c::Empty {})
        .await
        .expect("status")
        .into_inner();
    let input = status.input_device.expect("the input device in status");
    assert_eq!(
        input.last_problem.as_ref(),
        Some(&problem),
        "status shows the stall: {input:?}"
    );

    // The source comes back and capture goes on through the reopened stream
    // (its first callback can take 2 s: the null sink behind the source
    // renders in blocks that long), or, on a machine too loaded for that,
    // the next step of the ladder.
    pactl(&["suspend-source", &own.source, "0"]);
    next_event(&mut events, "input level after the stall", &mut { level }).await;
    let status = client
        .status(c::Empty {})
        .await
        .expect("status")
        .into_inner();
    let input = status.input_device.expect("the input device in status");
    eprintln!("status after: {input:?}");
    assert_eq!(input.health, c::DeviceHealth::DeviceOk as i32, "{input:?}");
    let last = input.last_problem.as_ref().expect("the last problem");
    assert_eq!(
        last.kind,
        c::device_problem::Kind::Stalled as i32,
        "{input:?}"
    );
    assert!(last.at_ms >= problem.at_ms, "{input:?}");
    drop(daemon);
}

/// Energy of `x` relative to `reference`, in dB (−100 for silence).
fn relative_db(x: &[f32], reference: &[f32]) -> f64 {
    let e = |v: &[f32]| v.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>();
    let ratio = e(x) / e(reference).max(1e-20);
    if ratio <= 1e-10 {
        -100.0
    } else {
        10.0 * ratio.log10()
    }
}

/// Records `sink.monitor` while `wav` is played into `mic`, and 1.5 s after.
async fn record_while_playing(
    dir: &Path,
    sink: &str,
    mic: &str,
    wav: &Path,
    name: &str,
) -> Vec<f32> {
    let rec = dir.join(name);
    let mut parec = Command::new("parec")
        .arg(format!("--device={sink}.monitor"))
        .args([
            "--rate=48000",
            "--channels=1",
            "--format=s16le",
            "--file-format=wav",
        ])
        .arg(&rec)
        .stdout(Stdio::null())
        .spawn()
        .expect("parec (pulseaudio-utils)");
    let deadline = Instant::now() + WAIT;
    while std::fs::metadata(&rec).map(|m| m.len()).unwrap_or(0) < 48_000 {
        assert!(Instant::now() < deadline, "parec did not start recording");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mic, wav) = (mic.to_owned(), wav.to_owned());
    let played = tokio::task::spawn_blocking(move || {
        Command::new("paplay")
            .arg(format!("--device={mic}"))
            .arg(&wav)
            .status()
    })
    .await
    .expect("paplay task")
    .expect("paplay (pulseaudio-utils)");
    assert!(played.success(), "paplay failed");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = Command::new("kill")
        .args(["-INT", &parec.id().to_string()])
        .status();
    let _ = parec.wait();
    audio_common::read_wav(&rec).expect("recording").0
}

/// Laptop speakers without a headset, for real: B's speaker reaches B's
/// microphone through PulseAudio's `module-loopback` (60 ms, attenuated),
/// so what A says comes back to A through B unless B's echo canceller
/// removes it. Both daemons on the cpal backend, through a real server;
/// what A hears of its own voice is measured with B's canceller off and on
/// (B's automatic gain control on, as by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_far_side_hears_its_own_voice_back_only_without_echo_cancellation() {
    let up = Command::new(repo_root().join("scripts/pulse-up")).status();
    assert!(
        up.is_ok_and(|s| s.success()),
        "PulseAudio is not available: run scripts/pulse-up (scripts/test installs pulseaudio, \
         pulseaudio-utils and libasound2-plugins)"
    );
    let a_dev = OwnDevices::new("vdecha");
    let mut b_dev = OwnDevices::new("vdechb");
    b_dev.echo_path(60, 60);
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = audio_common::speech_48k(dir.path(), TEXT).expect("speech");
    let wav = dir.path().join("say.wav");
    audio_common::write_wav(&wav, &speech, SAMPLE_RATE).expect("wav");

    let server = TestServer::start().await;
    let a = voiced(&dir.path().join("a"), &a_dev.source, &a_dev.sink);
    let b = voiced(&dir.path().join("b"), &b_dev.source, &b_dev.sink);
    let (mut ac, mut bc) = (a.client().await, b.client().await);
    let defaults = bc
        .audio_settings(c::Empty {})
        .await
        .expect("audio settings")
        .into_inner();
    assert!(
        defaults.echo_cancellation && defaults.auto_gain,
        "on by default with real devices: {defaults:?}"
    );
    connect(&mut ac, &server, "alice").await;
    connect(&mut bc, &server, "bob").await;
    // What B's microphone hears of B's speaker (B muted: nothing comes back).
    bc.set_mute(c::Toggle { on: true }).await.expect("mute");
    let path = record_while_playing(dir.path(), &b_dev.mic, &a_dev.mic, &wav, "path.wav").await;
    bc.set_mute(c::Toggle { on: false }).await.expect("unmute");
    let path_db = relative_db(&path, &speech);

    // Each setting: the first sentence after it is set (a fresh canceller
    // converging), then the same sentence again (converged).
    let mut heard = Vec::new();
    for on in [false, true] {
        bc.set_audio_settings(c::AudioConfig {
            echo_cancellation: on,
            ..defaults.clone()
        })
        .await
        .expect("set audio settings");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut levels = [0.0; 2];
        for (i, level) in levels.iter_mut().enumerate() {
            let name = format!("back-{on}-{i}.wav");
            let back = record_while_playing(dir.path(), &a_dev.sink, &a_dev.mic, &wav, &name).await;
            *level = relative_db(&back, &speech);
        }
        heard.push(levels);
    }
    let ([off_first, off], [on_first, on]) = (heard[0], heard[1]);
    println!(
        "echo path (B's speaker into B's microphone): {path_db:.1} dB; A hears its own voice back, \
         in dB below what it said (first sentence / second): B's echo cancellation off \
         {:.1} / {:.1}, on {:.1} / {:.1}",
        -off_first, -off, -on_first, -on
    );
    drop((a, b));
    assert!(
        path_db > -30.0,
        "the echo path carries too little to test with: {path_db:.1} dB"
    );
    assert!(
        off > path_db - 15.0,
        "without cancellation A should hear its voice back (the test's echo path is broken?): \
         {off:.1} dB, path {path_db:.1} dB"
    );
    assert!(
        on < off - 20.0,
        "B's echo canceller removed only {:.1} dB of what A heard back ({off:.1} → {on:.1} dB)",
        off - on
    );
}
