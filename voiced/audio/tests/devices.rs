//! Real devices: cpal through ALSA's PulseAudio plugin to PulseAudio null
//! sinks (`scripts/pulse-up`). Speech played into a sink with `paplay` is
//! captured by the engine; speech the engine plays is recorded with `parec`.
//! Without PulseAudio these tests fail with a message: they never pass silently.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use voice_audio::backend::{BackendConfig, list_devices};
use voice_audio::capture::CaptureMode;
use voice_audio::codec::{OpusSettings, VoiceDecoder, VoiceEncoder};
use voice_audio::{
    AudioEvent, Direction, Engine, EngineConfig, IncomingPacket, SAMPLE_RATE, StallAction,
};

/// About 6 s of speech: short, so a stall of the loaded machine is unlikely
/// to fall inside it.
const SHORT: &str =
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts PulseAudio and routes this process's default ALSA devices.
fn pulse(source: &str, sink: &str) {
    let status = Command::new(repo_root().join("scripts/pulse-up")).status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "PulseAudio is not available: run scripts/pulse-up (scripts/test installs pulseaudio, \
         pulseaudio-utils and libasound2-plugins)"
    );
    // Each test runs in its own process (nextest) and sets these before any
    // thread starts.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("PULSE_SOURCE", source);
        std::env::set_var("PULSE_SINK", sink);
    }
}

/// Waits until both devices are open (events before the first packet).
fn wait_for_devices(events: &mpsc::Receiver<AudioEvent>) -> Vec<AudioEvent> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let mut open = 0;
    while open < 2 {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(e) => {
                match &e {
                    AudioEvent::DeviceInUse { .. } => open += 1,
                    AudioEvent::DeviceLost { reason, .. } => panic!("device failed: {reason}"),
                    _ => {}
                }
                seen.push(e);
            }
            Err(_) => panic!("devices did not open within 30 s"),
        }
    }
    seen
}

fn engine_config() -> EngineConfig {
    EngineConfig {
        backend: BackendConfig::Cpal {
            input: None,
            output: None,
        },
        mode: CaptureMode::VoiceActivity,
        ..EngineConfig::default()
    }
}

/// An engine on the default devices that sends nothing anywhere, and its
/// events.
fn start_engine() -> (Engine, mpsc::Receiver<AudioEvent>) {
    let (etx, erx) = mpsc::channel();
    let engine = Engine::start(
        engine_config(),
        |_| {},
        move |e| {
            let _ = etx.send(e);
        },
    )
    .expect("engine");
    (engine, erx)
}

#[test]
fn devices_are_listed() {
    pulse("micsrc2", "spk");
    let list = list_devices().expect("devices");
    println!("{list:#?}");
    assert!(!list.inputs.is_empty() && !list.outputs.is_empty());
    assert!(list.default_input.is_some() && list.default_output.is_some());
}

#[test]
fn captures_speech_played_into_the_microphone() {
    pulse("micsrc2", "spk");
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = common::speech_48k(dir.path(), SHORT).expect("speech");
    let wav = dir.path().join("say.wav");
    common::write_wav(&wav, &speech, SAMPLE_RATE).expect("wav");

    let (ptx, prx) = mpsc::channel();
    let (etx, erx) = mpsc::channel();
    let engine = Engine::start(
        engine_config(),
        move |p| {
            let _ = ptx.send(p);
        },
        move |e| {
            let _ = etx.send(e);
        },
    )
    .expect("engine");
    wait_for_devices(&erx);
    let status = Command::new("paplay")
        .args(["--device=mic2"])
        .arg(&wav)
        .status()
        .expect("paplay (pulseaudio-utils)");
    assert!(status.success(), "paplay failed");
    std::thread::sleep(Duration::from_secs(1));
    engine.stop();

    let packets: Vec<_> = prx.try_iter().collect();
    let mut dec = VoiceDecoder::new().expect("decoder");
    let mut out = Vec::new();
    let mut buf = vec![0.0f32; 5760];
    for p in &packets {
        if !p.opus.is_empty() {
            let n = dec.decode(&p.opus, &mut buf).expect("decode");
            out.extend_from_slice(&buf[..n]);
        }
    }
    let seconds = out.len() as f64 / f64::from(SAMPLE_RATE);
    let pesq = common::pesq_wb(dir.path(), &speech, &out).expect("pesq");
    println!(
        "captured {} packets, {seconds:.1} s of {:.1} s; PESQ-WB {pesq:.2}",
        packets.len(),
        speech.len() as f64 / f64::from(SAMPLE_RATE)
    );
    assert!(
        seconds > 0.6 * speech.len() as f64 / f64::from(SAMPLE_RATE),
        "too little speech captured: {seconds:.1} s"
    );
    assert!(packets.iter().any(|p| p.end_of_burst));
    assert!(
        pesq > 2.0,
        "captured speech is unintelligible: PESQ {pesq:.2}"
    );
}

#[test]
fn plays_received_speech_into_the_speaker() {
    pulse("micsrc2", "spk");
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = common::speech_48k(dir.path(), SHORT).expect("speech");
    let rec = dir.path().join("rec.wav");
    let mut parec = Command::new("parec")
        .args([
            "--device=spk.monitor",
            "--rate=48000",
            "--channels=1",
            "--format=s16le",
            "--file-format=wav",
        ])
        .arg(&rec)
        .stdout(Stdio::null())
        .spawn()
        .expect("parec (pulseaudio-utils)");
    // Wait until parec records (its file grows past the header).
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&rec).map(|m| m.len()).unwrap_or(0) < 48_000 {
        assert!(Instant::now() < deadline, "parec did not start recording");
        std::thread::sleep(Duration::from_millis(50));
    }

    let (engine, erx) = start_engine();
    let mut events = wait_for_devices(&erx);
    // A starting output may take a moment to pull steadily (ALSA's pulse
    // plugin): audio sent before would be skipped as too late.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match erx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(AudioEvent::OutputRunning) => break,
            Ok(e) => events.push(e),
            Err(_) => panic!("the output device did not start playing within 30 s"),
        }
    }
    let mut enc = VoiceEncoder::new(OpusSettings::default()).expect("encoder");
    let n = enc.frame_samples();
    let chunks: Vec<_> = speech.chunks(n).collect();
    let start = Instant::now();
    for (i, c) in chunks.iter().enumerate() {
        let mut pcm = c.to_vec();
        pcm.resize(n, 0.0);
        let opus = enc.encode(&pcm).expect("encode").to_vec();
        // Real-time pacing, as from the network.
        let due = start + Duration::from_millis(20) * i as u32;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        engine
            .receive(IncomingPacket {
                speaker: 7,
                seq: i as u32,
                end_of_burst: i + 1 == chunks.len(),
                opus: &opus,
            })
            .expect("receive");
    }
    std::thread::sleep(Duration::from_secs(1));
    engine.stop();
    // parec is our child: stop it by its id and let it finish the file.
    let _ = Command::new("kill")
        .args(["-INT", &parec.id().to_string()])
        .status();
    let _ = parec.wait();

    events.extend(erx.try_iter());
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AudioEvent::Talking { talking: true, .. }))
    );
    let (recorded, rate) = common::read_wav(&rec).expect("recording");
    assert_eq!(rate, SAMPLE_RATE);
    let start = recorded.iter().position(|x| x.abs() > 0.01).unwrap_or(0);
    let pesq = common::pesq_wb(dir.path(), &speech, &recorded[start.saturating_sub(4800)..])
        .expect("pesq");
    println!(
        "recorded {:.1} s; speech from {:.2} s; PESQ-WB {pesq:.2}",
        recorded.len() as f64 / 48_000.0,
        start as f64 / 48_000.0
    );
    assert!(
        pesq > 2.0,
        "played speech is unintelligible: PESQ {pesq:.2}"
    );
}

#[test]
fn a_missing_device_falls_back_to_the_default_and_says_so() {
    pulse("micsrc2", "spk");
    let (engine, erx) = start_engine();
    wait_for_devices(&erx);
    engine
        .select_input(Some("no-such-microphone".into()))
        .expect("select");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lost = false;
    loop {
        match erx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(AudioEvent::DeviceLost {
                direction: Direction::Input,
                name,
                ..
            }) if name == "no-such-microphone" => lost = true,
            Ok(AudioEvent::DeviceInUse {
                direction: Direction::Input,
                name,
                fallback,
            }) => {
                assert!(lost, "fell back before reporting the loss");
                assert!(fallback);
                assert_ne!(name, "no-such-microphone");
                break;
            }
            Ok(_) => {}
            Err(_) => panic!("no fallback within 30 s"),
        }
    }
    // The named device can be chosen live too.
    engine.select_output(Some("pulse".into())).expect("select");
    loop {
        match erx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(AudioEvent::DeviceInUse {
                direction: Direction::Output,
                name,
                fallback,
            }) => {
                assert_eq!(name, "pulse");
                assert!(!fallback);
                break;
            }
            Ok(_) => {}
            Err(_) => panic!("output not switched within 30 s"),
        }
    }
    engine.stop();
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

/// Waits for an event `want` accepts; panics after `within`.
fn wait_for(
    events: &mpsc::Receiver<AudioEvent>,
    within: Duration,
    what: &str,
    mut want: impl FnMut(&AudioEvent) -> bool,
) -> AudioEvent {
    let deadline = Instant::now() + within;
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(e) if want(&e) => return e,
            Ok(_) => {}
            Err(_) => panic!("{what}: nothing within {within:?}"),
        }
    }
}

/// A microphone of its own for one test (a null sink's monitor behind a
/// remap source), made PulseAudio's default source; removed on drop.
struct OwnMicrophone {
    source: String,
    modules: Vec<String>,
    previous_default: String,
}

impl OwnMicrophone {
    fn new() -> Self {
        let id = std::process::id();
        let (sink, source) = (format!("gone{id}"), format!("gonesrc{id}"));
        let sink_module = pactl(&[
            "load-module",
            "module-null-sink",
            &format!("sink_name={sink}"),
        ]);
        let source_module = pactl(&[
            "load-module",
            "module-remap-source",
            &format!("source_name={source}"),
            &format!("master={sink}.monitor"),
        ]);
        let previous_default = pactl(&["get-default-source"]);
        pactl(&["set-default-source", &source]);
        Self {
            source,
            modules: vec![source_module, sink_module],
            previous_default,
        }
    }
}

impl Drop for OwnMicrophone {
    fn drop(&mut self) {
        for m in &self.modules {
            let _ = Command::new("pactl").args(["unload-module", m]).status();
        }
        if self.previous_default != self.source {
            let _ = Command::new("pactl")
                .args(["set-default-source", &self.previous_default])
                .status();
        }
    }
}

#[test]
fn capture_goes_on_when_the_microphone_is_unplugged() {
    pulse("micsrc2", "spk");
    // The engine's default input must be PulseAudio's default source.
    #[allow(unsafe_code)]
    // SAFETY: nextest runs each test in its own process; no thread runs yet.
    unsafe {
        std::env::remove_var("PULSE_SOURCE");
    }
    let mic = OwnMicrophone::new();
    let (engine, erx) = start_engine();
    wait_for_devices(&erx);
    let flowing = |e: &AudioEvent| matches!(e, AudioEvent::InputLevel { .. });
    let secs = Duration::from_secs;
    wait_for(&erx, secs(10), "capture at the start", flowing);

    // Unplugged: the source leaves PulseAudio, which moves the stream to
    // its new default source; the engine keeps capturing from it without
    // reopening anything, and reports no error.
    drop(mic);
    std::thread::sleep(secs(1));
    let mut after = Vec::new();
    while let Ok(e) = erx.try_recv() {
        after.push(e);
    }
    assert!(
        !after
            .iter()
            .any(|e| matches!(e, AudioEvent::DeviceLost { .. })),
        "{after:?}"
    );
    wait_for(&erx, secs(10), "capture after the unplug", flowing);
    engine.stop();
}

/// A microphone and a speaker of this test's own (null sinks, the
/// microphone behind a remap source), chosen for this process with
/// `PULSE_SOURCE`/`PULSE_SINK`, so that suspending them touches no other
/// test. Removed on drop.
struct OwnDevices {
    source: String,
    sink: String,
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
        pulse(&source, &sink);
        Self {
            source,
            sink,
            modules,
        }
    }
}

impl Drop for OwnDevices {
    fn drop(&mut self) {
        for m in self.modules.iter().rev() {
            let _ = Command::new("pactl").args(["unload-module", m]).status();
        }
    }
}

/// The engine's device events, in order, until `until` accepts one (which
/// is included); panics after `within`.
fn device_events_until(
    events: &mpsc::Receiver<AudioEvent>,
    within: Duration,
    mut until: impl FnMut(&AudioEvent) -> bool,
) -> Vec<AudioEvent> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(e) => {
                let done = until(&e);
                if is_device_event(&e) {
                    seen.push(e);
                }
                if done {
                    return seen;
                }
            }
            Err(_) => panic!("nothing within {within:?}; so far: {seen:?}"),
        }
    }
}

/// Waits until `direction`'s stall ladder starts afresh, and returns the
/// device events seen meanwhile. The engine starts a side's ladder again
/// after 5 s of delivery without a stall, and a stream that opens (or
/// resumes) either delivers by the end of its 3 s start-up grace or is
/// reported stuck; so 8.5 s without a device event on that side, unless the
/// last one said the engine is waiting for the device, mean its next stall
/// is the first step. A fixed sleep was not enough: on a loaded machine a
/// side is now and then silent for 0.5-0.6 s while PulseAudio is busy (a
/// stall, and a step, seen with the speaker while the source was suspended).
fn ladder_fresh(
    events: &mpsc::Receiver<AudioEvent>,
    direction: Direction,
    within: Duration,
) -> Vec<AudioEvent> {
    const QUIET: Duration = Duration::from_millis(8500);
    let deadline = Instant::now() + within;
    let mut quiet_until = Instant::now() + QUIET;
    let mut waiting = false;
    let mut seen = Vec::new();
    loop {
        let now = Instant::now();
        if now >= quiet_until && !waiting {
            return seen;
        }
        assert!(
            now < deadline,
            "{direction:?}: no {QUIET:?} without a device event within {within:?}: {seen:?}"
        );
        let until = if waiting {
            deadline
        } else {
            quiet_until.min(deadline)
        };
        let Ok(e) = events.recv_timeout(until.saturating_duration_since(now)) else {
            continue;
        };
        if side_of(&e) == Some(direction) {
            waiting = matches!(
                e,
                AudioEvent::DeviceStalled {
                    action: StallAction::Waiting,
                    ..
                }
            );
            quiet_until = Instant::now() + QUIET;
            seen.push(e);
        }
    }
}

/// The side a device event is about.
fn side_of(e: &AudioEvent) -> Option<Direction> {
    match e {
        AudioEvent::DeviceInUse { direction, .. }
        | AudioEvent::DeviceLost { direction, .. }
        | AudioEvent::DeviceStalled { direction, .. }
        | AudioEvent::DeviceResumed { direction, .. } => Some(*direction),
        _ => None,
    }
}

fn is_device_event(e: &AudioEvent) -> bool {
    side_of(e).is_some()
}

fn on_input(e: &AudioEvent) -> bool {
    side_of(e) == Some(Direction::Input)
}

/// A stuck microphone, for real: PulseAudio suspends the source while the
/// engine captures from it (`pactl suspend-source`), and ALSA's pulse
/// plugin simply stops calling back, with no error (cpal polls without a
/// timeout). The engine, on the named ALSA device `pulse`, notices, reopens
/// it, then moves to the default device (the same PulseAudio source here,
/// still suspended), then stops retrying and waits; when the source
/// resumes, capture goes on.
#[test]
fn a_stuck_microphone_is_noticed_reopened_and_waited_for() {
    let own = OwnDevices::new("stuckin");
    let (etx, erx) = mpsc::channel();
    let config = EngineConfig {
        backend: BackendConfig::Cpal {
            input: Some("pulse".into()),
            output: None,
        },
        ..engine_config()
    };
    let engine = Engine::start(
        config,
        |_| {},
        move |e| {
            let _ = etx.send(e);
        },
    )
    .expect("engine");
    wait_for_devices(&erx);
    let flowing = |e: &AudioEvent| matches!(e, AudioEvent::InputLevel { .. });
    let secs = Duration::from_secs;
    wait_for(&erx, secs(10), "capture at the start", flowing);
    let before = ladder_fresh(&erx, Direction::Input, secs(60));
    eprintln!("before the suspend: {before:?}");

    let stuck_at = Instant::now();
    pactl(&["suspend-source", &own.source, "1"]);
    // The microphone's report: the speaker has a ladder of its own, and
    // PulseAudio, busy suspending the source on a loaded machine, now and
    // then starves it for as long as a stall (seen: 520-600 ms).
    let first = wait_for(&erx, secs(5), "a stall report", |e| {
        matches!(
            e,
            AudioEvent::DeviceStalled {
                direction: Direction::Input,
                ..
            }
        )
    });
    let detected = stuck_at.elapsed();
    let AudioEvent::DeviceStalled {
        direction,
        silent_ms,
        action,
        ..
    } = &first
    else {
        unreachable!()
    };
    eprintln!(
        "stuck microphone: reported {} ms after the suspend (silent for {silent_ms} ms by the engine's count)",
        detected.as_millis()
    );
    assert_eq!(*direction, Direction::Input);
    assert_eq!(*action, StallAction::Reopened, "{first:?}");

    // Still suspended: the reopened device stalls too, and so does the
    // default; then the engine waits instead of retrying.
    let ladder = device_events_until(&erx, secs(20), |e| {
        matches!(
            e,
            AudioEvent::DeviceStalled {
                direction: Direction::Input,
                action: StallAction::Waiting,
                ..
            }
        )
    });
    eprintln!("then: {ladder:?}");
    let ladder: Vec<_> = ladder.into_iter().filter(on_input).collect();
    assert!(
        matches!(
            ladder.as_slice(),
            [
                AudioEvent::DeviceInUse {
                    fallback: false,
                    ..
                },
                AudioEvent::DeviceStalled {
                    action: StallAction::MovedToDefault,
                    ..
                },
                AudioEvent::DeviceInUse { fallback: true, .. },
                AudioEvent::DeviceStalled {
                    action: StallAction::Waiting,
                    ..
                },
            ]
        ),
        "{ladder:?}"
    );
    // Waiting is waiting: no more reopening while the source stays stuck.
    std::thread::sleep(secs(3));
    let idle: Vec<_> = erx.try_iter().filter(on_input).collect();
    assert!(idle.is_empty(), "retried after giving up: {idle:?}");

    pactl(&["suspend-source", &own.source, "0"]);
    wait_for(&erx, secs(10), "the device's return", |e| {
        matches!(
            e,
            AudioEvent::DeviceResumed {
                direction: Direction::Input,
                ..
            }
        )
    });
    wait_for(&erx, secs(10), "capture after the resume", flowing);
    engine.stop();
}

/// A stuck speaker, for real: PulseAudio suspends the sink while the engine
/// plays into it (`pactl suspend-sink`) and the output callback stops
/// without an error. The engine notices and reopens it; the sink comes back
/// and the reopened output plays steadily again.
#[test]
fn a_stuck_speaker_is_noticed_and_reopened() {
    let own = OwnDevices::new("stuckout");
    let (engine, erx) = start_engine();
    wait_for_devices(&erx);
    let secs = Duration::from_secs;
    let running = |e: &AudioEvent| matches!(e, AudioEvent::OutputRunning);
    wait_for(&erx, secs(30), "playback at the start", running);
    let before = ladder_fresh(&erx, Direction::Output, secs(60));
    eprintln!("before the suspend: {before:?}");

    let stuck_at = Instant::now();
    pactl(&["suspend-sink", &own.sink, "1"]);
    // The speaker's report (the microphone has a ladder of its own).
    let first = wait_for(&erx, secs(5), "a stall report", |e| {
        matches!(
            e,
            AudioEvent::DeviceStalled {
                direction: Direction::Output,
                ..
            }
        )
    });
    let detected = stuck_at.elapsed();
    eprintln!(
        "stuck speaker: reported {} ms after the suspend: {first:?}",
        detected.as_millis()
    );
    assert!(
        matches!(
            first,
            AudioEvent::DeviceStalled {
                direction: Direction::Output,
                action: StallAction::Reopened,
                ..
            }
        ),
        "{first:?}"
    );
    pactl(&["suspend-sink", &own.sink, "0"]);
    wait_for(&erx, secs(10), "the reopened speaker", |e| {
        matches!(
            e,
            AudioEvent::DeviceInUse {
                direction: Direction::Output,
                ..
            }
        )
    });
    wait_for(&erx, secs(30), "playback after the reopen", running);
    engine.stop();
}
