//! The real `voice-bench` binary against a real server over QUIC on loopback.
//! The server runs in this test's process; the bench is a child process, so
//! the measurement crosses processes as it does against a deployed server.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use voice_server::{Config, Server};

/// The server and the address the bench dials.
struct Running {
    addr: String,
    server: voice_server::Running,
}

async fn start_server(dir: &Path) -> Running {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: Some(dir.to_owned()),
        password: Some("bench-pw".to_owned()),
        ..Config::default()
    };
    let server = Server::bind(config).await.expect("server starts").spawn();
    Running {
        addr: server.banner().listening.to_string(),
        server,
    }
}

impl Running {
    async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(30), self.server.stop())
            .await
            .expect("server stops")
            .expect("server ran cleanly");
    }
}

/// Runs voice-bench with `args` against the server; returns its stdout and JSON.
async fn bench(server: &Running, json: &Path, args: &[&str]) -> (String, Value) {
    let pid = std::process::id().to_string();
    let mut all = vec![
        "--server",
        &server.addr,
        "--password",
        "bench-pw",
        "--server-pid",
        &pid,
        "--no-pin",
        "--json",
        json.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_voice-bench"))
            .args(&all)
            .output(),
    )
    .await
    .expect("voice-bench finishes")
    .expect("voice-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "voice-bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(json).expect("JSON written");
    (stdout, serde_json::from_str(&text).expect("valid JSON"))
}

fn number(v: &Value, key: &str) -> f64 {
    v.get(key)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{key} is a number in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_point_in_one_room() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let json = dir.path().join("point.json");
    let (stdout, v) = bench(
        &server,
        &json,
        &["--clients", "6", "--talkers", "2", "--seconds", "2"],
    )
    .await;
    assert_eq!(v["clients"], 6);
    assert_eq!(v["talkers"], 2);
    assert_eq!(v["rooms"], 1);
    let delivered = number(&v, "delivered_ratio");
    assert!(
        (0.9..=1.0).contains(&delivered),
        "delivered {delivered}\n{stdout}"
    );
    let p50 = number(&v, "p50_ms");
    let p99 = number(&v, "p99_ms");
    assert!(p50 > 0.0 && p99 >= p50, "{v}");
    assert!(number(&v, "server_cpu_us_per_forwarded_packet") >= 0.0);
    assert!(number(&v, "server_rss_bytes") > 0.0);
    // Two talkers, five listeners each: every forward is counted.
    assert!(number(&v, "forwarded_per_s") > 0.0);
    assert!(number(&v, "wire_up_bytes_per_packet") > number(&v, "payload_bytes_per_packet"));
    // The table: a header and one line for the point.
    assert!(stdout.contains("delivered"), "{stdout}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_spread_over_rooms_hear_only_their_room() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let json = dir.path().join("rooms.json");
    let (stdout, v) = bench(
        &server,
        &json,
        &[
            "--clients",
            "6",
            "--talkers",
            "2",
            "--rooms",
            "2",
            "--seconds",
            "2",
        ],
    )
    .await;
    assert_eq!(v["rooms"], 2);
    // Each talker has two listeners in its room (not five): the ratio is
    // measured against that, so anything heard across rooms would exceed 1.
    let delivered = number(&v, "delivered_ratio");
    assert!(
        (0.9..=1.0).contains(&delivered),
        "delivered {delivered}\n{stdout}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_logins_all_get_in() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let json = dir.path().join("storm.json");
    let (stdout, v) = bench(&server, &json, &["--storm", "40"]).await;
    assert_eq!(v["connected"], 40, "{stdout}");
    assert!(stdout.contains("all in after"), "{stdout}");
    assert!(number(&v, "seconds_to_all_connected") > 0.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_moving_between_rooms_hear_whom_they_sit_with() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let json = dir.path().join("churn.json");
    let (stdout, v) = bench(
        &server,
        &json,
        &[
            "--clients",
            "24",
            "--talkers",
            "4",
            "--rooms",
            "3",
            "--churn",
            "10",
            "--seconds",
            "6",
            "--warm-up",
            "2",
            "--sample-every",
            "1",
            "--source-addresses",
            "24",
        ],
    )
    .await;
    assert_eq!(v["clients"], 24, "{stdout}");
    assert_eq!(v["movers"], 20);
    // About 60 moves were asked for; every one the server answered was
    // accepted (moving oneself needs no permission).
    let accepted = number(&v, "moves_accepted");
    assert!(accepted >= 30.0, "moves accepted {accepted}\n{stdout}");
    assert_eq!(v["moves_refused"], serde_json::json!({}), "{stdout}");
    assert_eq!(v["connections_lost"], 0, "{stdout}");
    // Listeners heard the talkers of the rooms they sat in, and only those:
    // anything heard outside a window would not count, anything missing
    // would lower the ratio.
    let expected = number(&v, "expected");
    let delivered = number(&v, "delivered");
    assert!(expected > 1000.0, "{stdout}");
    assert!(
        delivered <= expected && delivered / expected > 0.95,
        "delivered {delivered} of {expected}\n{stdout}"
    );
    assert!(number(&v, "p99_ms") > 0.0);
    let samples = v["samples"].as_array().unwrap();
    assert!(samples.len() >= 5, "{stdout}");
    assert!(number(&samples[0], "server_rss_bytes") > 0.0);
    assert!(stdout.contains("voice delivered"), "{stdout}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_addresses_need_a_server_on_127_0_0_1() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_voice-bench"))
        .args([
            "--server",
            "[::1]:9",
            "--source-addresses",
            "4",
            "--storm",
            "1",
        ])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs a server on 127.0.0.1"), "{stderr}");
}
