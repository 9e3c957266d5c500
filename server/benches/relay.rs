//! Relay throughput: one speaker, N listeners in one room, real QUIC on
//! loopback. Prints datagrams forwarded per second and process CPU per
//! forwarded datagram (clients included, so an upper bound for the server).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::*;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let listeners: usize = std::env::var("LISTENERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let packets: u32 = std::env::var("PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    // Packets per second the speaker sends (a real speaker sends 50).
    let rate: u32 = std::env::var("RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        config.voice_rate = 1e9;
        config.voice_bytes_per_second = 1e12;
        let server = TestServer::start(config).await;
        let speaker = server.join("speaker").await;
        let received = Arc::new(AtomicU64::new(0));
        let mut clients = Vec::new();
        for i in 0..listeners {
            let c = server.join(&format!("l{i}")).await;
            let received = received.clone();
            let conn = c.conn.clone();
            tokio::spawn(async move {
                while conn.read_datagram().await.is_ok() {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            });
            clients.push(c);
        }
        let payload = [0x55u8; 80]; // 20 ms of Opus at 32 kb/s
        let cpu0 = cpu_seconds();
        let start = Instant::now();
        // Bursts every 10 ms, like many speakers' 20 ms frames interleaved.
        let per_tick = (rate / 100).max(1);
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let mut seq = 0;
        while seq < packets {
            tick.tick().await;
            for _ in 0..per_tick.min(packets - seq) {
                let mut buf = Vec::new();
                voice_proto::voice::encode_client(&mut buf, 0, seq, &payload);
                speaker.conn.send_datagram_wait(buf.into()).await.unwrap();
                seq += 1;
            }
        }
        // Wait until nothing more arrives.
        let mut last = received.load(Ordering::Relaxed);
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = received.load(Ordering::Relaxed);
            if now == last {
                break;
            }
            last = now;
        }
        let elapsed = start.elapsed().as_secs_f64() - 0.3;
        let cpu = cpu_seconds() - cpu0;
        let expected = u64::from(packets) * listeners as u64;
        println!("listeners: {listeners}, packets sent: {packets} at {rate}/s, payload: 80 bytes");
        println!(
            "forwarded: {last} of {expected} ({:.1} %)",
            100.0 * last as f64 / expected as f64
        );
        println!(
            "elapsed: {elapsed:.2} s, forwarded datagrams/s: {:.0}",
            last as f64 / elapsed
        );
        println!(
            "process CPU: {cpu:.2} s, per forwarded datagram: {:.1} µs (clients included)",
            cpu * 1e6 / last.max(1) as f64
        );
        server.stop().await;
    });
}
