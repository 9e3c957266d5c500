//! Files over BitTorrent on loopback, measured with real processes: a
//! voice-server (in this process) and three `voiced` daemons (child
//! processes, each with its own XDG directories). Prints the download
//! throughput from one seeder and from two, and the first seeder's CPU time
//! and memory while it serves, read from /proc (Linux).
//!
//! ```text
//! cargo build --release -p voiced --bin voiced
//! cargo run --release -p voiced --example files_bench -- 200   # MiB
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{cpu_seconds, memory_mib, start_daemon};
use voice_proto::pb::control::{self as c, TransferState};
use voice_testkit::{Client, TestServer};

async fn download(client: &mut Client, magnet: &str, to: &Path) -> Duration {
    let start = Instant::now();
    let t = client
        .download(c::DownloadRequest {
            file: magnet.to_owned(),
            to: to.to_string_lossy().into_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    loop {
        let all = client.transfers(c::Empty {}).await.unwrap().into_inner();
        let now = all
            .transfers
            .iter()
            .find(|x| x.id == t.id)
            .expect("transfer");
        match TransferState::try_from(now.state) {
            Ok(TransferState::Complete) => return start.elapsed(),
            Ok(TransferState::Failed) => panic!("download failed: {}", now.error),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mib: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let server = TestServer::start_with(|c| c.max_file_size = 1 << 40).await;
    let mut a = start_daemon(&server, "seeder-a", None).await;
    let mut b = start_daemon(&server, "seeder-b", None).await;
    let mut c3 = start_daemon(&server, "downloader", None).await;

    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("bench.bin");
    {
        let mut bytes = vec![0u8; (mib << 20) as usize];
        getrandom::getrandom(&mut bytes).unwrap();
        std::fs::write(&path, &bytes).unwrap();
    }
    let (pid_a, pid_b) = (a.child.id(), b.child.id());
    let idle_cpu = cpu_seconds(pid_a);
    let (idle_rss, _) = memory_mib(pid_a);
    let share_start = Instant::now();
    let shared = a
        .client
        .share(c::ShareRequest {
            path: path.to_string_lossy().into_owned(),
            room: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let share_time = share_start.elapsed();
    let share_cpu = cpu_seconds(pid_a) - idle_cpu;

    // One seeder.
    let out_b = tempfile::tempdir().unwrap();
    let cpu0 = cpu_seconds(pid_a);
    let one = download(&mut b.client, &shared.magnet, out_b.path()).await;
    let seed_cpu = cpu_seconds(pid_a) - cpu0;
    let (rss_a, peak_a) = memory_mib(pid_a);

    // Two seeders (A and B).
    let out_c = tempfile::tempdir().unwrap();
    let (cpu_a0, cpu_b0) = (cpu_seconds(pid_a), cpu_seconds(pid_b));
    let two = download(&mut c3.client, &shared.magnet, out_c.path()).await;
    let (cpu_a2, cpu_b2) = (cpu_seconds(pid_a) - cpu_a0, cpu_seconds(pid_b) - cpu_b0);

    // Seeding with nobody downloading.
    let cpu_idle0 = cpu_seconds(pid_a);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle_seed = cpu_seconds(pid_a) - cpu_idle0;
    let (rss_idle_seed, _) = memory_mib(pid_a);

    let rate = |d: Duration| mib as f64 / d.as_secs_f64();
    println!("file: {mib} MiB of random data, loopback, release build, 2-core machine");
    println!(
        "share (copy into the cache + SHA-1 hashing + librqbit's check): {:.2} s, {:.2} CPU s",
        share_time.as_secs_f64(),
        share_cpu
    );
    println!(
        "download from one seeder: {:.2} s = {:.1} MiB/s; seeder CPU {:.2} s ({:.0} % of one core)",
        one.as_secs_f64(),
        rate(one),
        seed_cpu,
        100.0 * seed_cpu / one.as_secs_f64()
    );
    println!(
        "download from two seeders: {:.2} s = {:.1} MiB/s; seeder CPU A {:.2} s, B {:.2} s",
        two.as_secs_f64(),
        rate(two),
        cpu_a2,
        cpu_b2
    );
    println!(
        "seeder memory: {idle_rss:.1} MiB resident before sharing, {rss_a:.1} MiB after serving (peak {peak_a:.1} MiB), {rss_idle_seed:.1} MiB seeding idle"
    );
    println!(
        "seeding with no downloader: {:.3} CPU s over 10 s ({:.2} % of one core)",
        idle_seed,
        idle_seed * 10.0
    );
    for d in [&mut a, &mut b, &mut c3] {
        let _ = d.child.kill();
        let _ = d.child.wait();
    }
}
