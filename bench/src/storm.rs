//! Connection storm: N clients connect and log in at once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::fleet::{BenchClient, Target};
use crate::process;

/// The figures of a storm.
#[derive(Debug, Clone, Serialize)]
pub struct Storm {
    /// Clients that tried.
    pub clients: usize,
    /// Clients that got their `Welcome`.
    pub connected: usize,
    /// Seconds from the first connection attempt until the last `Welcome`.
    pub seconds_to_all_connected: f64,
    /// Median time of one login (QUIC + voice/1), seconds.
    pub login_p50_s: f64,
    /// Slowest login, seconds.
    pub login_max_s: f64,
    /// Failures by reason.
    pub failures: BTreeMap<String, usize>,
    /// Server memory before the storm, bytes.
    pub server_rss_before_bytes: Option<u64>,
    /// Server memory with every client connected and idle, bytes.
    pub server_rss_bytes: Option<u64>,
    /// Memory per idle session, bytes.
    pub server_rss_per_session_bytes: Option<f64>,
    /// Server CPU used by the storm, seconds.
    pub server_cpu_s: Option<f64>,
}

/// Starts `count` logins at once and waits for all of them.
pub async fn run(target: &Target, count: usize, server_pid: Option<u32>) -> Storm {
    let rss0 = server_pid.and_then(process::rss_bytes);
    let cpu0 = server_pid.and_then(process::cpu_us);
    let start = Instant::now();
    let mut pending = Vec::with_capacity(count);
    for i in 0..count {
        let target = target.clone();
        pending.push(tokio::spawn(async move {
            let r = tokio::time::timeout(
                Duration::from_secs(60),
                target.login(i, format!("storm-{i}"), 0),
            )
            .await;
            (r, start.elapsed())
        }));
    }
    let mut clients: Vec<BenchClient> = Vec::with_capacity(count);
    let mut times = Vec::with_capacity(count);
    let mut failures = BTreeMap::new();
    for p in pending {
        let reason = match p.await {
            Ok((Ok(Ok((mut client, logged))), took)) => {
                target.start_readers(&mut client, logged.control);
                clients.push(client);
                times.push(took.as_secs_f64());
                continue;
            }
            Ok((Ok(Err(e)), _)) => e.to_string(),
            Ok((Err(_), _)) => "no Welcome within 60 s".to_owned(),
            Err(e) => format!("task failed: {e}"),
        };
        *failures.entry(reason).or_insert(0) += 1;
    }
    times.sort_by(f64::total_cmp);
    let all = times.last().copied().unwrap_or(0.0);
    let cpu1 = server_pid.and_then(process::cpu_us);
    // Let the last updates settle before reading the idle memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = server_pid.and_then(process::rss_bytes);
    let connected = clients.len();
    crate::fleet::close_all(clients).await;
    Storm {
        clients: count,
        connected,
        seconds_to_all_connected: all,
        login_p50_s: times.get(times.len() / 2).copied().unwrap_or(0.0),
        login_max_s: all,
        failures,
        server_rss_before_bytes: rss0,
        server_rss_bytes: rss,
        server_rss_per_session_bytes: match (rss0, rss) {
            (Some(a), Some(b)) if connected > 0 => Some((b as f64 - a as f64) / connected as f64),
            _ => None,
        },
        server_cpu_s: match (cpu0, cpu1) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e6),
            _ => None,
        },
    }
}
