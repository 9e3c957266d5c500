//! The file relay on loopback, measured with real parts: a voice-server in
//! this process and `voiced` daemons as child processes whose
//! `config.toml` says `bt_relay = "always"`, so every peer connection goes
//! through the server's relay.
//!
//! 1. Throughput: one file downloaded through the relay with no relay
//!    limit; MiB/s, and the server's CPU time per relayed MiB (this
//!    process's, read from /proc: the server and the bench's gRPC client).
//! 2. Voice beside it: a call between two other users (in-process daemons
//!    on the file backend, espeak-ng speech) scored with PESQ-WB, once
//!    alone and once while a relayed transfer runs at the relay's cap.
//!
//! ```text
//! cargo build --release -p voiced --bin voiced --example relay_bench
//! target/release/examples/relay_bench 200     # MiB for the throughput run
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../audio/tests/common/mod.rs"]
mod audio_common;

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Daemon, cpu_seconds, start_daemon, transfer};

use voice_audio::SAMPLE_RATE;
use voice_proto::pb::control::{self as c, TransferState, event};
use voice_testkit::{Audio, Client, TestDaemon, TestServer, connect};

/// About nine seconds of speech.
const TEXT: &str = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. \
It is easy to tell the depth of a well. These days a chicken leg is a rare dish.";
/// Silence before the speech, so the call is up before the first word.
const LEAD: Duration = Duration::from_millis(2500);
/// The relay's cap during the call: the server's default per session.
const CAP: u64 = 2 << 20;

fn random_file(dir: &Path, mib: usize) -> PathBuf {
    let path = dir.join(format!("relayed-{mib}MiB.bin"));
    let mut data = vec![0u8; mib << 20];
    getrandom::getrandom(&mut data).unwrap();
    std::fs::write(&path, &data).unwrap();
    path
}

/// Shares `path` from `from` and starts its download on `to`; returns the
/// download's transfer id.
async fn start_transfer(from: &mut Client, to: &mut Client, path: &Path, into: &Path) -> u32 {
    let shared = from
        .share(c::ShareRequest {
            path: path.to_string_lossy().into_owned(),
            room: String::new(),
        })
        .await
        .expect("share")
        .into_inner();
    to.download(c::DownloadRequest {
        file: shared.id.to_string(),
        to: into.to_string_lossy().into_owned(),
    })
    .await
    .expect("download")
    .into_inner()
    .id
}

async fn wait_complete(client: &mut Client, id: u32) -> c::Transfer {
    loop {
        let t = transfer(client, id).await;
        match TransferState::try_from(t.state) {
            Ok(TransferState::Complete) => return t,
            Ok(TransferState::Failed) => panic!("the transfer failed: {}", t.error),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// A voiced process relaying every peer connection.
async fn relayed_daemon(server: &TestServer, name: &str) -> Daemon {
    start_daemon(server, name, Some("bt_relay = \"always\"\n")).await
}

async fn throughput(mib: usize) {
    let server = TestServer::start_with(|c| {
        c.relay_bytes_per_second = 0;
        c.relay_session_bytes_per_second = 0;
    })
    .await;
    let mut a = relayed_daemon(&server, "alice").await;
    let mut b = relayed_daemon(&server, "bob").await;
    let dir = tempfile::tempdir().unwrap();
    let path = random_file(dir.path(), mib);
    let me = std::process::id();
    let (a_pid, b_pid) = (a.child.id(), b.child.id());
    let cpu0 = (cpu_seconds(me), cpu_seconds(a_pid), cpu_seconds(b_pid));
    let bytes0 = server.hub.relays.stats().bytes;
    let start = Instant::now();
    let id = start_transfer(&mut a.client, &mut b.client, &path, dir.path()).await;
    let done = wait_complete(&mut b.client, id).await;
    let took = start.elapsed().as_secs_f64();
    let stats = server.hub.relays.stats();
    let relayed = (stats.bytes - bytes0) as f64 / f64::from(1 << 20);
    let server_cpu = cpu_seconds(me) - cpu0.0;
    println!(
        "throughput: {mib} MiB through the relay in {took:.2} s (from share to complete, \
         hashing included) = {:.1} MiB/s; relayed {relayed:.1} MiB ({} relay(s) opened; \
         route {:?}, {:.1} MiB relayed seen by the downloader)",
        mib as f64 / took,
        stats.opened,
        done.route,
        done.relayed_bytes as f64 / f64::from(1 << 20),
    );
    println!(
        "cpu: server {server_cpu:.2} s = {:.1} ms per relayed MiB; sharer {:.2} s, downloader {:.2} s",
        1000.0 * server_cpu / relayed.max(1.0),
        cpu_seconds(a_pid) - cpu0.1,
        cpu_seconds(b_pid) - cpu0.2,
    );
}

/// One call between two in-process daemons on the file backend, while
/// (when `with_transfer`) a relayed download runs between two other users at
/// the relay's cap. PESQ-WB of what the listener heard, and the relay's
/// rate during the call.
async fn call(with_transfer: bool) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let speech = audio_common::speech_48k(dir.path(), TEXT).expect("speech (espeak-ng)");
    let mut signal = vec![0.0; (LEAD.as_secs_f64() * f64::from(SAMPLE_RATE)) as usize];
    signal.extend_from_slice(&speech);
    let input = dir.path().join("in.wav");
    let output = dir.path().join("out.wav");
    audio_common::write_wav(&input, &signal, SAMPLE_RATE).unwrap();

    let server = TestServer::start_with(|c| {
        c.relay_bytes_per_second = CAP;
        c.relay_session_bytes_per_second = CAP;
    })
    .await;
    // The transfer first, so it runs at the cap through the whole call.
    let mut movers = None;
    if with_transfer {
        let mut a = relayed_daemon(&server, "sharer").await;
        let mut b = relayed_daemon(&server, "fetcher").await;
        // More than the call lasts at the cap.
        let mib = (CAP as usize >> 20) * 30;
        let path = random_file(dir.path(), mib);
        let id = start_transfer(&mut a.client, &mut b.client, &path, dir.path()).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.hub.relays.stats().bytes < 4 << 20 {
            assert!(
                Instant::now() < deadline,
                "the relayed transfer did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        movers = Some((a, b, id));
    }
    let bytes0 = server.hub.relays.stats().bytes;
    let t0 = Instant::now();

    let listener = TestDaemon::start_with_audio(Audio::Files {
        input: None,
        output: Some(output.clone()),
    })
    .await;
    let mut lc = listener.client().await;
    connect(&mut lc, &server, "listener").await;
    let speaker = TestDaemon::start_with_audio(Audio::Files {
        input: Some(input.clone()),
        output: None,
    })
    .await;
    let mut sc = speaker.client().await;
    let mut events = sc
        .watch(c::WatchRequest { levels: false })
        .await
        .unwrap()
        .into_inner();
    sc.set_voice_mode(c::VoiceModeRequest {
        mode: c::VoiceMode::Continuous as i32,
    })
    .await
    .unwrap();
    connect(&mut sc, &server, "speaker").await;
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(e) = events.message().await.unwrap() {
            if let Some(event::Kind::Device(d)) = e.kind
                && d.message.contains("to its end")
            {
                return;
            }
        }
    })
    .await
    .expect("the speech file ends");
    tokio::time::sleep(Duration::from_millis(800)).await;
    listener.stop().await;
    let rate = (server.hub.relays.stats().bytes - bytes0) as f64
        / t0.elapsed().as_secs_f64()
        / f64::from(1 << 20);
    drop(speaker);
    if let Some((_, mut b, id)) = movers {
        // Still running: the relay was busy for the whole call.
        let t = transfer(&mut b.client, id).await;
        assert_ne!(
            TransferState::try_from(t.state),
            Ok(TransferState::Complete),
            "the transfer ended before the call did; make it longer"
        );
    }
    let (out, _) = audio_common::read_wav(&output).unwrap();
    let margin = SAMPLE_RATE as usize / 4;
    let (reference, degraded) = audio_common::align(&speech, &out, margin);
    let pesq = audio_common::pesq_wb(dir.path(), &reference, &degraded).expect("pesq");
    (pesq, rate)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    throughput(mib).await;
    let (alone, _) = call(false).await;
    println!("call alone: PESQ-WB {alone:.2}");
    let (busy, rate) = call(true).await;
    println!(
        "call beside a relayed transfer at the cap ({} MiB/s per session, {rate:.2} MiB/s \
         relayed during the call): PESQ-WB {busy:.2} ({:+.2})",
        CAP >> 20,
        busy - alone
    );
}
