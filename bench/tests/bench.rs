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
    let mut all = vec!["--password", "bench-pw"];
    all.extend_from_slice(args);
    bench_at(&server.addr, std::process::id(), json, &all).await
}

/// Runs voice-bench with `args` against the relay at `addr`, whose process
/// is `pid`; returns its stdout and JSON.
async fn bench_at(addr: &str, pid: u32, json: &Path, args: &[&str]) -> (String, Value) {
    let pid = pid.to_string();
    let mut all = vec![
        "--server",
        addr,
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

/// Checks a scenario's JSON: its name, the relay, the block's keys, and
/// voice delivered to everyone in the talkers' rooms and no one else.
fn check_scenario(v: &Value, stdout: &str, scenario: &str, relay: &str) {
    assert_eq!(v["scenario"], scenario, "{stdout}");
    assert_eq!(v["relay"], relay, "{stdout}");
    let delivered = number(v, "delivered");
    assert!(
        (0.9..=1.0).contains(&delivered),
        "delivered {delivered}\n{stdout}"
    );
    assert_eq!(v["delivered"], v["delivered_ratio"]);
    let (p50, p99, p999) = (
        number(v, "p50_ms"),
        number(v, "p99_ms"),
        number(v, "p999_ms"),
    );
    assert!(p50 > 0.0 && p99 >= p50 && p999 >= p99, "{v}");
    assert!(number(v, "us_per_fwd") > 0.0, "{v}");
    assert!(number(v, "server_cpu_pct") > 0.0, "{v}");
    assert!(number(v, "rss_mb") > 1.0, "{v}");
    assert!(v["rss_per_session_kb"].is_number(), "{v}");
    assert!(number(v, "forwarded_per_s") > 0.0, "{v}");
    assert!(
        stdout.contains(&format!("scenario {scenario} against {relay}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("server CPU per forwarded packet"),
        "{stdout}"
    );
}

/// Runs a scenario at 5 % of its size against the in-process server.
async fn scaled_scenario(scenario: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path()).await;
    let json = dir.path().join("scenario.json");
    let (stdout, v) = bench(
        &server,
        &json,
        &["--scenario", scenario, "--scale", "0.05", "--seconds", "2"],
    )
    .await;
    check_scenario(&v, &stdout, scenario, "voice-server");
    server.stop().await;
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_small_scaled_down() {
    let v = scaled_scenario("small").await;
    assert_eq!(
        (&v["clients"], &v["talkers"], &v["rooms"]),
        (&5.into(), &1.into(), &1.into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_big_room_scaled_down() {
    let v = scaled_scenario("big-room").await;
    assert_eq!(
        (&v["clients"], &v["talkers"], &v["rooms"]),
        (&25.into(), &1.into(), &1.into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_many_rooms_scaled_down() {
    // One talker in each of 5 rooms of 10: a packet heard in another room
    // would push the ratio above 1.
    let v = scaled_scenario("many-rooms").await;
    assert_eq!(
        (&v["clients"], &v["talkers"], &v["rooms"]),
        (&50.into(), &5.into(), &5.into())
    );
}

/// A relay binary (naive-relay or proto-relay), stopped when dropped.
struct RelayProcess {
    child: tokio::process::Child,
    addr: String,
}

/// Starts the relay binary `bin` with `args` on a free port of 127.0.0.1.
async fn start_relay(bin: &str, args: &[&str]) -> RelayProcess {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(bin)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the relay starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the relay prints its address")
        .unwrap()
        .expect("a line");
    let addr = line
        .strip_prefix("listening: ")
        .unwrap_or_else(|| panic!("not a listening line: {line}"))
        .to_owned();
    RelayProcess { child, addr }
}

/// Runs `scenario` at 5 % against the relay binary `bin` started with
/// `args`, through the naive relay's join; checks that everyone in a
/// talker's room heard everything, and no one else.
async fn scenario_against_a_relay(bin: &str, scenario: &str, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let relay = start_relay(bin, args).await;
    let pid = relay.child.id().unwrap();
    let json = dir.path().join("relay.json");
    let (stdout, v) = bench_at(
        &relay.addr,
        pid,
        &json,
        &[
            "--relay",
            "naive",
            "--scenario",
            scenario,
            "--scale",
            "0.05",
            "--seconds",
            "2",
        ],
    )
    .await;
    check_scenario(&v, &stdout, scenario, "naive");
    // Loopback, a few dozen clients: nothing may be lost, and a datagram
    // sent to the wrong room would push the ratio above 1.
    assert_eq!(number(&v, "delivered"), 1.0, "{stdout}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_many_rooms_against_the_proto_relay() {
    let v = scenario_against_a_relay(env!("CARGO_BIN_EXE_proto-relay"), "many-rooms", &[]).await;
    assert_eq!(v["rooms"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_big_room_against_the_proto_relay_with_the_server_transport() {
    let v = scenario_against_a_relay(
        env!("CARGO_BIN_EXE_proto-relay"),
        "big-room",
        &["--transport", "voice-server"],
    )
    .await;
    assert_eq!(v["clients"], 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_many_rooms_against_the_naive_relay() {
    let v = scenario_against_a_relay(env!("CARGO_BIN_EXE_naive-relay"), "many-rooms", &[]).await;
    assert_eq!(v["rooms"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_sets_the_shape_and_the_naive_relay_measures_voice_only() {
    let refused = |args: &'static [&'static str], why: &'static str| async move {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_voice-bench"))
            .args(["--server", "127.0.0.1:9"])
            .args(args)
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    };
    refused(
        &["--scenario", "small", "--clients", "5"],
        "cannot be used with",
    )
    .await;
    refused(&["--scale", "0.5", "--talkers", "1"], "--scenario").await;
    refused(
        &["--scenario", "small", "--scale", "0"],
        "--scale must be a positive",
    )
    .await;
    refused(&["--relay", "naive", "--storm", "1"], "measures voice only").await;
}

/// proto-relay in this process, spoken to directly: a join that is not 4
/// bytes closes the connection; voice reaches the rest of the room, with
/// the speaker id the join answered, and no one in another room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proto_relay_refuses_a_bad_join_and_relays_within_the_room() {
    use voice_bench::client;
    use voice_bench::proto_relay::{ProtoRelay, Transport};
    use voice_proto::voice;

    let relay = ProtoRelay::bind("127.0.0.1:0".parse().unwrap(), Transport::QuinnDefault).unwrap();
    let addr = relay.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(relay.run(async {
        let _ = stopped.await;
    }));
    let config = client::client_config(client::ServerCert::Any, client::transport()).unwrap();
    let endpoint = client::endpoint(addr, config).unwrap();

    let bad = client::connect(&endpoint, addr).await.unwrap();
    let (mut send, _recv) = bad.open_bi().await.unwrap();
    send.write_all(&[0; 5]).await.unwrap();
    send.finish().unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), bad.closed())
        .await
        .expect("the relay closes a bad join");
    assert!(
        matches!(&closed, quinn::ConnectionError::ApplicationClosed(c) if c.error_code == 1u32.into()),
        "{closed}"
    );

    let talker = client::connect(&endpoint, addr).await.unwrap();
    let listener = client::connect(&endpoint, addr).await.unwrap();
    let elsewhere = client::connect(&endpoint, addr).await.unwrap();
    let speaker = voice_bench::naive::join(&talker, 7).await.unwrap();
    voice_bench::naive::join(&listener, 7).await.unwrap();
    voice_bench::naive::join(&elsewhere, 8).await.unwrap();

    let mut packet = Vec::new();
    voice::encode_client(&mut packet, 0, 42, b"opus");
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        // Datagrams may be lost: send until one arrives.
        loop {
            talker
                .send_datagram(bytes::Bytes::copy_from_slice(&packet))
                .unwrap();
            tokio::select! {
                d = listener.read_datagram() => break d.unwrap(),
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    })
    .await
    .expect("the listener hears the talker");
    let heard = voice::decode_server(&heard, voice::DEFAULT_MAX_PAYLOAD).unwrap();
    assert_eq!(
        (heard.speaker, heard.seq, heard.opus),
        (speaker, 42, &b"opus"[..])
    );
    let leaked = tokio::time::timeout(Duration::from_millis(300), elsewhere.read_datagram()).await;
    assert!(leaked.is_err(), "another room heard the talker");

    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}
