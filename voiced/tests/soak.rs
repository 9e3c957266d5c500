//! Fault 5 of issue 20, the soak: a call over a rough link for minutes.
//!
//! The real `voice-server` binary and two `voiced` processes on the file
//! backend (so each has memory of its own to read from `/proc`); A's link,
//! both directions, through the seeded impairment proxy: about 10 % loss in
//! bursts, with jitter, reordering and duplication (the audio tests'
//! `rough_link` at twice its loss, without the blackout). A says short
//! sentences with pauses between them (espeak-ng, made at test time) in
//! voice-activity mode, so its talk bursts start and stop every few
//! seconds; B listens.
//!
//! Every 10 s the resident memory (VmRSS) of the server and both daemons is
//! printed. At the end: its growth from the first sample to the last, the
//! bursts A sent and those B saw start and stop (B's `Talking` events for
//! A, what a front end shows as speaking), and the stuck ones: B still
//! showing A talking [`MARGIN`] after a sentence ended (the schedule of the
//! generated file is the truth).
//!
//! It found the listener's talking indicator stuck: a burst ended only
//! with its end-of-burst packet, so a lost one, or a packet of the burst
//! arriving after it, left A shown talking until its next burst ended (7
//! of 29 sentences in 120 s; fixed in `voiced/src/engine/talking.rs`).
//!
//! `VOICE_SOAK_SECS` sets the length of A's file, so of the call (default
//! 30; `scripts/soak N` runs N, the campaign 600).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../audio/tests/common/mod.rs"]
mod audio_common;
mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use support::{Client, VoicedChild, WAIT};
use tokio::sync::oneshot;
use voice_audio::SAMPLE_RATE;
use voice_netsim::{GilbertElliott, Impairment, UdpProxy};
use voice_proto::pb::control::{self as c, event};

/// What A says, one sentence per talk burst, in turn.
const SENTENCES: [&str; 6] = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet.",
    "It is easy to tell the depth of a well.",
    "A rare dish.",
    "Rice is often served in round bowls.",
    "Fine punch.",
];

/// The pauses after them, in turn: each longer than [`MARGIN`] plus the
/// gate's hangover, so at [`MARGIN`] after a sentence A is silent.
const PAUSES_MS: [u64; 4] = [1600, 2500, 3400, 2000];

/// Silence at the start of A's file: the file plays from A's start, and
/// the call should be up before the first sentence.
const LEAD: Duration = Duration::from_secs(4);

/// Silence at the end: the last burst ends and reaches B before the file
/// does.
const TAIL: Duration = Duration::from_secs(3);

/// How long after a sentence's end B may still show A talking: A's gate
/// holds on for 300 ms after the last voiced frame, and the last packets
/// cross the proxy's 40 ms of jitter.
const MARGIN: Duration = Duration::from_secs(1);

/// Between memory samples.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// After A's file ended, before the last sample and the end state: the
/// last burst's playout and its `Talking` events.
const SETTLE: Duration = Duration::from_secs(2);

/// Growth of a process's resident memory, from the first sample (10 s
/// into the call) to the last, that fails the soak (MiB). Measured on
/// 2026-12-03 in two 600 s runs: +0.1 MiB at most, all of it before 20 s
/// (server +84 KiB, A +28 KiB, B +88 KiB in the second). Keeping 160 bytes
/// per voice packet (13 700 in 600 s; less than a datagram's buffer or a
/// decoded frame) would exceed it, as would 14 KB per talk burst (151).
/// The 30 s version catches only a leak of about 100 KB/s.
const GROWTH_LIMIT_MIB: f64 = 2.0;

/// About 10 % loss in each direction: 5 % at random plus Gilbert–Elliott
/// bursts (2 % of packets enter the bad state, which lasts about four
/// packets and loses three in four: 5.6 %), 40 ms of jitter, 1 %
/// reordered by 30 ms, 1 % duplicated.
fn rough_ten_percent(seed: u64) -> Impairment {
    Impairment {
        seed,
        loss: 0.05,
        burst: Some(GilbertElliott {
            p_enter_bad: 0.02,
            p_leave_bad: 0.25,
            loss_in_bad: 0.75,
        }),
        jitter: Duration::from_millis(40),
        reorder: 0.01,
        reorder_by: Duration::from_millis(30),
        duplicate: 0.01,
        ..Impairment::default()
    }
}

/// A's microphone: sentences and pauses for `length`, and when each
/// sentence is heard in it (from its first to its last loud sample).
fn conversation(dir: &Path, length: Duration) -> (Vec<f32>, Vec<(Duration, Duration)>) {
    let rate = f64::from(SAMPLE_RATE);
    let samples = |d: Duration| (d.as_secs_f64() * rate) as usize;
    let sentences: Vec<Vec<f32>> = SENTENCES
        .iter()
        .map(|text| {
            let s = audio_common::speech_48k(dir, text).expect("speech");
            // espeak's own leading and trailing silence out: the schedule
            // is of the speech.
            let loud = |x: &f32| x.abs() > 0.01;
            let first = s.iter().position(loud).expect("espeak-ng spoke");
            let last = s.iter().rposition(loud).expect("espeak-ng spoke");
            s[first..=last].to_vec()
        })
        .collect();
    let end = samples(length.saturating_sub(TAIL));
    let mut signal = vec![0.0; samples(LEAD)];
    let mut spoken = Vec::new();
    for i in 0.. {
        let sentence = &sentences[i % sentences.len()];
        if signal.len() + sentence.len() > end {
            break;
        }
        let from = Duration::from_secs_f64(signal.len() as f64 / rate);
        signal.extend_from_slice(sentence);
        spoken.push((from, Duration::from_secs_f64(signal.len() as f64 / rate)));
        let pause = Duration::from_millis(PAUSES_MS[i % PAUSES_MS.len()]);
        signal.resize(signal.len() + samples(pause), 0.0);
    }
    signal.resize(samples(length).max(signal.len()), 0.0);
    (signal, spoken)
}

/// The `voice-server` binary. A voiced test cannot name another package's
/// binary (`CARGO_BIN_EXE_*` names its own), so: `VOICE_SERVER_BIN`; else
/// the one cargo built beside `voiced` (a workspace test run builds it)
/// when it is newer than the sources it is built from; else built now
/// (with `-p voice-server` alone the dependencies' features differ from
/// the workspace's, so the first such build takes minutes: only when
/// needed).
fn server_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("VOICE_SERVER_BIN") {
        return bin.into();
    }
    let voiced = Path::new(env!("CARGO_BIN_EXE_voiced"));
    let beside = voiced.with_file_name("voice-server");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let sources = ["server", "proto", "net", "Cargo.lock", "Cargo.toml"];
    let built = beside.metadata().and_then(|m| m.modified()).ok();
    if built.is_some_and(|b| sources.iter().all(|s| newest(&root.join(s)) <= b)) {
        return beside;
    }
    // The profile and target dir of this build, read off voiced's path
    // (`target/debug/voiced` is the `dev` profile).
    let profile_dir = voiced.parent().unwrap();
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    eprintln!(
        "building voice-server ({profile}): {} is missing or older than its sources",
        beside.display()
    );
    let ok = Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "build",
            "-p",
            "voice-server",
            "--bin",
            "voice-server",
            "--profile",
            profile,
        ])
        .arg("--target-dir")
        .arg(profile_dir.parent().unwrap())
        .status()
        .expect("cargo runs")
        .success();
    assert!(ok, "cargo build -p voice-server");
    beside
}

/// The newest modification time of a file or of the files under a
/// directory (its tests and benchmarks aside: not part of the binary).
fn newest(path: &Path) -> SystemTime {
    let Ok(meta) = path.metadata() else {
        return SystemTime::UNIX_EPOCH;
    };
    if !meta.is_dir() {
        return meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    }
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| !matches!(e.file_name().to_str(), Some("tests" | "benches" | "target")))
        .map(|e| newest(&e.path()))
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The server process; killed on drop.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    password: String,
}

impl ServerProcess {
    /// Starts the binary with its data in `data` and waits for its banner
    /// (printed once it serves).
    fn start(data: &Path) -> Self {
        let password = "soak-secret".to_owned();
        let mut child = Command::new(server_binary())
            .args([
                "--listen",
                "127.0.0.1:0",
                "--password",
                &password,
                "--data-dir",
            ])
            .arg(data)
            .env_remove("JOURNAL_STREAM")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("voice-server starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("the banner").unwrap();
            if let Some(a) = line.strip_prefix("listening: ") {
                break a.trim().parse().unwrap();
            }
        };
        // Keep reading what it prints so a full pipe never blocks it.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Self {
            child,
            addr,
            password,
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `voiced` on the file backend, `input` its microphone (none: silent),
/// nothing written for its speaker (the playback path runs all the same).
fn voiced(input: Option<&Path>, dir: &Path) -> VoicedChild {
    let mut command = Command::new(env!("CARGO_BIN_EXE_voiced"));
    command
        .args(["--audio-backend", "file"])
        .env("RUST_LOG", "warn");
    if let Some(input) = input {
        command.arg("--audio-in").arg(input);
    }
    VoicedChild::start(command, dir)
}

/// Connects the daemon to `server` at `via` (its address or the proxy's);
/// its session id.
async fn connect(client: &mut Client, server: &ServerProcess, via: String, name: &str) -> u32 {
    let status = client
        .connect(c::ConnectRequest {
            server: via,
            password: server.password.clone(),
            display_name: name.into(),
            accept_new: true,
            ..c::ConnectRequest::default()
        })
        .await
        .expect("connects")
        .into_inner();
    assert_eq!(status.state(), c::ConnectionState::Connected, "{status:?}");
    status.session_id
}

/// What a daemon reported, with when the test received it.
type Record = Vec<(Instant, event::Kind)>;

/// Records a daemon's talking, connection and device events until its
/// stream ends; `finished` is told when its input file played to its end.
async fn record(
    client: &mut Client,
    finished: Option<oneshot::Sender<Instant>>,
) -> tokio::task::JoinHandle<Record> {
    let mut events = client
        .watch(c::WatchRequest { levels: false })
        .await
        .expect("watch")
        .into_inner();
    tokio::spawn(async move {
        let mut finished = finished;
        let mut record = Vec::new();
        while let Ok(Some(e)) = events.message().await {
            let now = Instant::now();
            match e.kind {
                Some(event::Kind::Device(d)) if d.message.contains("to its end") => {
                    if let Some(f) = finished.take() {
                        let _ = f.send(now);
                    }
                }
                Some(k @ (event::Kind::Talking(_) | event::Kind::Connection(_))) => {
                    record.push((now, k));
                }
                _ => {}
            }
        }
        record
    })
}

/// The `Talking` changes of `session` in a record.
fn talking(record: &Record, session: u32) -> Vec<(Instant, bool)> {
    record
        .iter()
        .filter_map(|(at, k)| match k {
            event::Kind::Talking(t) if t.session == session => Some((*at, t.talking)),
            _ => None,
        })
        .collect()
}

/// Whether the changes show talking at `at`.
fn talking_at(changes: &[(Instant, bool)], at: Instant) -> bool {
    changes
        .iter()
        .take_while(|(t, _)| *t <= at)
        .last()
        .is_some_and(|(_, on)| *on)
}

/// Connection changes after the first: each one a reconnection or a loss.
fn reconnections(record: &Record) -> Vec<String> {
    record
        .iter()
        .filter_map(|(_, k)| match k {
            event::Kind::Connection(s) => Some(s),
            _ => None,
        })
        .skip_while(|s| s.state() != c::ConnectionState::Connected)
        .filter(|s| s.state() != c::ConnectionState::Connected)
        .map(|s| format!("{:?} {}", s.state(), s.last_error))
        .collect()
}

/// VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process runs");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_call_on_a_lossy_link_keeps_its_memory_and_no_talk_burst_sticks() {
    let length = Duration::from_secs(
        std::env::var("VOICE_SOAK_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(30),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (signal, spoken) = conversation(dir.path(), length);
    let input = dir.path().join("in.wav");
    audio_common::write_wav(&input, &signal, SAMPLE_RATE).expect("wav");
    let file_length = Duration::from_secs_f64(signal.len() as f64 / f64::from(SAMPLE_RATE));
    drop(signal);

    let server = ServerProcess::start(&dir.path().join("server"));
    let proxy = UdpProxy::start(
        "127.0.0.1:0".parse().unwrap(),
        server.addr,
        rough_ten_percent(71),
        rough_ten_percent(72),
    )
    .expect("proxy");

    let b = voiced(None, &dir.path().join("b"));
    let mut bc = b.client().await;
    let b_id = connect(&mut bc, &server, server.addr.to_string(), "listener").await;
    let b_record = record(&mut bc, None).await;

    let a = voiced(Some(&input), &dir.path().join("a"));
    let mut ac = a.client().await;
    let (finished_tx, finished) = oneshot::channel();
    let a_record = record(&mut ac, Some(finished_tx)).await;
    ac.set_voice_mode(c::VoiceModeRequest {
        mode: c::VoiceMode::VoiceActivity as i32,
    })
    .await
    .expect("voice activity");
    let a_id = connect(&mut ac, &server, proxy.local_addr().to_string(), "speaker").await;
    let connected = Instant::now();

    // Memory every SAMPLE_EVERY until A's file ends, and once more after.
    let processes = [("server", server.child.id()), ("A", a.id()), ("B", b.id())];
    let mut samples: Vec<(Duration, [u64; 3])> = Vec::new();
    let sample = |samples: &mut Vec<(Duration, [u64; 3])>| {
        let at = connected.elapsed();
        let rss = processes.map(|(_, pid)| rss_kib(pid));
        println!(
            "soak {:>4} s: RSS server {:6.1} MiB, A {:6.1} MiB, B {:6.1} MiB",
            at.as_secs(),
            mib(rss[0]),
            mib(rss[1]),
            mib(rss[2])
        );
        samples.push((at, rss));
    };
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + SAMPLE_EVERY, SAMPLE_EVERY);
    let mut finished = std::pin::pin!(finished);
    // A liveness bound, not a measurement.
    let deadline = tokio::time::sleep(file_length + WAIT);
    let mut deadline = std::pin::pin!(deadline);
    let finished_at = loop {
        tokio::select! {
            _ = tick.tick() => sample(&mut samples),
            at = &mut finished => break at.expect("A's events"),
            () = &mut deadline => panic!("A's input file never played to its end"),
        }
    };
    tokio::time::sleep(SETTLE).await;
    sample(&mut samples);
    let a_status = ac.status(c::Empty {}).await.expect("status").into_inner();
    let b_status = bc.status(c::Empty {}).await.expect("status").into_inner();
    let ended = Instant::now();
    let stats = proxy.stats();
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let loss = |inn: u64, out: u64| 100.0 * inn.saturating_sub(out) as f64 / inn.max(1) as f64;
    let (up, down) = (load(&stats.up_in), load(&stats.down_in));
    let (up_loss, down_loss) = (
        loss(load(&stats.up_in), load(&stats.up_out)),
        loss(load(&stats.down_in), load(&stats.down_out)),
    );
    drop((ac, bc));
    drop((a, b));
    let a_record = tokio::time::timeout(WAIT, a_record)
        .await
        .expect("A stops")
        .unwrap();
    let b_record = tokio::time::timeout(WAIT, b_record)
        .await
        .expect("B stops")
        .unwrap();

    // The sentences on the test's clock: the file started its length
    // before it reported its end (within the file backend's 5 ms tick).
    let file_start = finished_at - file_length;
    let sentences: Vec<(Instant, Instant)> = spoken
        .iter()
        .map(|(from, to)| (file_start + *from, file_start + *to))
        .filter(|(from, _)| *from >= connected)
        .collect();
    let said = talking(&a_record, a_id);
    let seen = talking(&b_record, a_id);
    let (mut heard, mut stuck, mut late_a) = (0, Vec::new(), Duration::ZERO);
    let mut b_lags = Vec::new();
    for (i, (from, to)) in sentences.iter().enumerate() {
        let check = *to + MARGIN;
        // The file's start is known within a few milliseconds (its end
        // event's delivery): B's start may come that much before.
        let early = *from - Duration::from_millis(200);
        let within = |changes: &[(Instant, bool)], on: bool| {
            changes
                .iter()
                .filter(|(t, o)| *o == on && *t >= early && *t <= check)
                .map(|(t, _)| *t)
                .collect::<Vec<_>>()
        };
        if !within(&seen, true).is_empty() {
            heard += 1;
        }
        if talking_at(&seen, check) {
            stuck.push(i);
        } else if let Some(off) = within(&seen, false).last() {
            b_lags.push(off.saturating_duration_since(*to));
        }
        if let Some(off) = within(&said, false).last() {
            late_a = late_a.max(off.saturating_duration_since(*to));
        }
    }
    b_lags.sort();
    let starts =
        |changes: &[(Instant, bool)], on: bool| changes.iter().filter(|(_, o)| *o == on).count();
    // A's talking time: its bursts send a packet every 20 ms.
    let talked: Duration = said
        .windows(2)
        .filter(|w| w[0].1 && !w[1].1)
        .map(|w| w[1].0 - w[0].0)
        .sum();
    let a_reconnected = reconnections(&a_record);
    let b_reconnected = reconnections(&b_record);
    let b_talking_at_end = talking_at(&seen, ended);

    let first = samples.first().expect("a sample").1;
    let last = samples.last().expect("a sample").1;
    println!(
        "soak: {} s call ({} s file, held by A as {:.1} MiB of samples), {} memory samples; \
         A's link carried {up} datagrams up and {down} down and lost {up_loss:.1} % up, \
         {down_loss:.1} % down (net of duplicates)",
        connected.elapsed().as_secs(),
        file_length.as_secs(),
        file_length.as_secs_f64() * f64::from(SAMPLE_RATE) * 4.0 / (1024.0 * 1024.0),
        samples.len()
    );
    for (i, (name, _)) in processes.iter().enumerate() {
        let max = samples.iter().map(|(_, r)| r[i]).max().unwrap_or(0);
        println!(
            "soak RSS {name}: first {:.1} MiB, last {:.1} MiB, growth {:+} KiB, peak growth {:+} KiB",
            mib(first[i]),
            mib(last[i]),
            last[i] as i64 - first[i] as i64,
            max as i64 - first[i] as i64,
        );
    }
    println!(
        "soak talk bursts: {} sentences said while connected; A sent {} bursts (ended {}), \
         {} s of talk (about {} voice packets); \
         B saw A start {} and stop {} times; {} sentences heard at B; stuck at B {} s after \
         the sentence: {} {stuck:?}; A talking at B at the end: {b_talking_at_end}",
        sentences.len(),
        starts(&said, true),
        starts(&said, false),
        talked.as_secs(),
        talked.as_millis() / 20,
        starts(&seen, true),
        starts(&seen, false),
        heard,
        MARGIN.as_secs_f32(),
        stuck.len(),
    );
    println!(
        "soak talk ends: A stopped sending at most {} ms after a sentence's end; B showed it \
         {} ms after (median), {} ms (max); reconnections: A {a_reconnected:?}, B {b_reconnected:?}",
        ms(late_a),
        b_lags.get(b_lags.len() / 2).map_or(0, |d| ms(*d)),
        b_lags.last().map_or(0, |d| ms(*d)),
    );

    assert!(
        !sentences.is_empty(),
        "no sentence was said while connected"
    );
    assert!(
        a_reconnected.is_empty() && b_reconnected.is_empty(),
        "no reconnection: A {a_reconnected:?}, B {b_reconnected:?}"
    );
    assert_eq!(
        (
            a_status.state(),
            a_status.session_id,
            b_status.state(),
            b_status.session_id
        ),
        (
            c::ConnectionState::Connected,
            a_id,
            c::ConnectionState::Connected,
            b_id
        ),
        "both still on their first sessions"
    );
    assert!(
        stuck.is_empty(),
        "B showed A talking {} s after these sentences ended: {stuck:?} of {}",
        MARGIN.as_secs_f32(),
        sentences.len()
    );
    assert!(!b_talking_at_end, "B shows A talking after the call");
    // Every sentence is a hundred packets or more: at 10 % loss in bursts
    // B hears each one, short of a stall of this machine.
    assert!(
        heard * 10 >= sentences.len() * 9,
        "B heard {heard} of {} sentences",
        sentences.len()
    );
    for (i, (name, _)) in processes.iter().enumerate() {
        let growth = mib(last[i]) - mib(first[i]);
        assert!(
            growth < GROWTH_LIMIT_MIB,
            "{name}'s resident memory grew by {growth:.1} MiB (limit {GROWTH_LIMIT_MIB} MiB)"
        );
    }
}
