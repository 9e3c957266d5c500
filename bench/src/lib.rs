//! `voice-bench`: a load generator for the voice relay of `voice-server`,
//! run as its own process against a running server.
//!
//! - [`client`]: a minimal voice/1 client (connect, log in, frames), shared
//!   with the server's integration tests;
//! - [`fleet`]: the simulated clients and the rooms they sit in;
//! - [`traffic`]: what a talker sends (Opus-sized packets, DTX gaps, stamps);
//! - [`point`]: measuring one load point; [`storm`]: the connection storm;
//! - [`churn`]: clients moving between rooms for minutes while talkers talk,
//!   with [`residency`] saying who should have heard what;
//! - [`process`]: the server's CPU time and memory from /proc, core pinning;
//! - [`scenario`]: the named load points and their result block;
//! - [`naive`]: the naive quinn relay measured beside the server, and its
//!   join;
//! - [`proto_relay`]: the same relay on quinn-proto with its own I/O loop
//!   (one thread, batched receives and sends), measured beside both.

pub mod churn;
pub mod cli;
pub mod client;
pub mod fleet;
pub mod histogram;
pub mod naive;
pub mod point;
pub mod process;
#[cfg(target_os = "linux")]
pub mod proto_relay;
pub mod report;
pub mod residency;
pub mod scenario;
pub mod storm;
pub mod traffic;

use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

pub use cli::Cli;

use crate::client::ServerCert;
use crate::fleet::{Fleet, Relay, Target};
use crate::point::Point;
use crate::scenario::Outcome;

/// Clients of a sweep when `--clients` is not given.
const SWEEP_CLIENTS: usize = 100;
/// Talker counts a sweep tries, in order, until one is over capacity; past
/// the number of clients, clients are added so that everyone talks.
const SWEEP_TALKERS: &[usize] = &[
    1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 100, 110, 120, 130, 140, 150, 175, 200, 250,
    300,
];

/// Runs the benchmark the arguments ask for; `print` gets the report, one
/// line at a time.
pub fn run(cli: Cli, print: impl Fn(&str)) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(cli, &print))
}

async fn run_async(cli: Cli, print: &dyn Fn(&str)) -> anyhow::Result<()> {
    let cert = match &cli.fingerprint {
        Some(fp) => ServerCert::Pinned(fp.clone()),
        None => ServerCert::Any,
    };
    // clap's `requires` gives way to the conflict with --clients/--talkers.
    if cli.scale.is_some() && cli.scenario.is_none() {
        anyhow::bail!("--scale needs --scenario: it scales a named scenario");
    }
    if cli.relay == Relay::Naive && (cli.storm.is_some() || cli.churn.is_some()) {
        anyhow::bail!(
            "--relay naive measures voice only: --storm and --churn need voice-server's logins"
        );
    }
    let target = Target::new(cli.server, cli.password.clone(), cert)?
        .with_sources(cli.source_addresses)?
        .with_relay(cli.relay);
    let pinned = pin(&cli, print);
    let result = measure(&cli, &target, print).await;
    if pinned && let Some(pid) = cli.server_pid {
        let _ = process::pin(pid, &format!("0-{}", process::cores() - 1));
    }
    let report = result?;
    if let Some(path) = &cli.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// With 2+ cores and a server pid: the server on core 0, the generator on
/// the last core. Returns whether the server was pinned.
fn pin(cli: &Cli, print: &dyn Fn(&str)) -> bool {
    let cores = process::cores();
    let Some(pid) = cli.server_pid else {
        return false;
    };
    if cli.no_pin || cores < 2 {
        return false;
    }
    let last = (cores - 1).to_string();
    match process::pin(pid, "0").and_then(|()| process::pin(std::process::id(), &last)) {
        Ok(()) => {
            print(&format!(
                "pinned: server (pid {pid}) on core 0, generator on core {last}"
            ));
            true
        }
        Err(e) => {
            print(&format!("not pinned: {e}"));
            false
        }
    }
}

async fn measure(cli: &Cli, target: &Target, print: &dyn Fn(&str)) -> anyhow::Result<Value> {
    let pid = cli.server_pid;
    if let Some(count) = cli.storm {
        let storm = storm::run(target, count, pid).await;
        print(&format!(
            "storm: {} of {} clients connected and logged in; all in after {:.2} s \
             (one login: median {:.2} s, slowest {:.2} s)",
            storm.connected,
            storm.clients,
            storm.seconds_to_all_connected,
            storm.login_p50_s,
            storm.login_max_s
        ));
        for (reason, n) in &storm.failures {
            print(&format!("storm: {n} failed: {reason}"));
        }
        if let (Some(rss), Some(per)) = (storm.server_rss_bytes, storm.server_rss_per_session_bytes)
        {
            print(&format!(
                "server memory with {} idle sessions: {:.1} MB ({:.1} kB per session)",
                storm.connected,
                rss as f64 / 1e6,
                per / 1e3
            ));
        }
        if let Some(cpu) = storm.server_cpu_s {
            print(&format!("server CPU during the storm: {cpu:.2} s"));
        }
        return Ok(serde_json::to_value(&storm)?);
    }
    if let Some(rate) = cli.churn {
        let settings = churn::Settings {
            clients: cli.clients.unwrap_or(SWEEP_CLIENTS),
            talkers: cli.talkers.unwrap_or(0),
            rooms: cli.rooms,
            rate,
            seconds: cli.seconds,
            warm_up: cli.warm_up,
            sample_every: cli.sample_every,
            login_concurrency: cli.login_concurrency,
        };
        let churn = churn::run(target, &settings, pid, print).await?;
        return Ok(serde_json::to_value(&churn)?);
    }

    let shape = match cli.scenario {
        Some(scenario) => Some(scenario.shape().scaled(cli.scale.unwrap_or(1.0))?),
        None => None,
    };
    let talkers = shape.map(|s| s.talkers).or(cli.talkers);
    let rooms = shape.map_or(cli.rooms, |s| s.rooms);
    let clients = match (shape, cli.clients) {
        (Some(s), _) => s.clients,
        (None, Some(n)) => n,
        (None, None) => SWEEP_CLIENTS.max(talkers.unwrap_or(0)),
    };
    if let Some(talkers) = talkers
        && talkers > clients
    {
        anyhow::bail!(
            "--talkers {talkers} exceeds --clients {clients}: talkers are among the clients"
        );
    }
    let rss_baseline = pid.and_then(process::rss_bytes);
    let mut fleet = Fleet::connect(target, clients, rooms, cli.login_concurrency).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = pid.and_then(process::rss_bytes);
    let per_session = match (rss_baseline, rss_idle) {
        (Some(a), Some(b)) => Some((b as f64 - a as f64) / clients as f64),
        _ => None,
    };
    if let (Some(a), Some(b), Some(per)) = (rss_baseline, rss_idle, per_session) {
        print(&format!(
            "server memory: {:.1} MB before, {:.1} MB with {clients} idle sessions ({:.1} kB per session)",
            a as f64 / 1e6,
            b as f64 / 1e6,
            per / 1e3
        ));
    }
    let memory = json!({
        "server_rss_baseline_bytes": rss_baseline,
        "server_rss_idle_bytes": rss_idle,
        "server_rss_per_session_bytes": per_session,
    });
    print(&report::header());
    let result = match talkers {
        Some(talkers) => {
            let p = point::measure(target, &fleet, talkers, cli.seconds, pid).await;
            print(&report::line(&p));
            let mut v = serde_json::to_value(&p)?;
            merge(&mut v, &memory);
            if let Some(scenario) = cli.scenario {
                let outcome = Outcome {
                    scenario,
                    relay: cli.relay,
                    point: &p,
                    rss_per_session_bytes: per_session,
                };
                for line in outcome.block() {
                    print(&line);
                }
                merge(&mut v, &outcome.keys());
            }
            v
        }
        None => sweep(target, &mut fleet, cli, print, &memory).await?,
    };
    fleet.close().await;
    Ok(result)
}

/// Adds talkers until a point is over capacity; the JSON's top level is
/// the last point within capacity, `points` holds them all.
async fn sweep(
    target: &Target,
    fleet: &mut Fleet,
    cli: &Cli,
    print: &dyn Fn(&str),
    memory: &Value,
) -> anyhow::Result<Value> {
    let mut points: Vec<Point> = Vec::new();
    let mut last_good: Option<Point> = None;
    for &talkers in SWEEP_TALKERS {
        if talkers > fleet.clients.len() {
            fleet.grow(target, talkers, cli.login_concurrency).await?;
        }
        let p = point::measure(target, fleet, talkers, cli.seconds, cli.server_pid).await;
        print(&report::line(&p));
        let over = p.over_capacity();
        points.push(p.clone());
        if over {
            break;
        }
        last_good = Some(p);
    }
    match &last_good {
        Some(p) => print(&format!(
            "capacity: {} talkers ({:.0} forwarded datagrams/s) within 0.1 % loss and 20 ms p99; \
             server cost there {} µs per forwarded datagram = {} forwarded datagrams/s per core",
            p.talkers,
            p.forwarded_per_s,
            p.server_cpu_us_per_forwarded_packet
                .map_or("-".to_owned(), |c| format!("{c:.2}")),
            p.capacity_per_core
                .map_or("-".to_owned(), |c| format!("{c:.0}")),
        )),
        None => print("capacity: even the first point is over capacity"),
    }
    let mut top = serde_json::to_value(last_good.as_ref().or(points.first()))?;
    merge(&mut top, memory);
    if let Value::Object(map) = &mut top {
        map.insert("points".to_owned(), serde_json::to_value(&points)?);
        map.insert(
            "capacity_forwarded_per_s".to_owned(),
            json!(last_good.as_ref().map(|p| p.forwarded_per_s)),
        );
    }
    Ok(top)
}

fn merge(into: &mut Value, from: &Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
}
