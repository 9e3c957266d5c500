//! Fault: voiced killed with SIGKILL while it writes its own files. Four
//! clients change the display name (config.toml), save bookmarks (two of
//! them, to bookmarks.toml) and pin servers (known_servers) as fast as voiced
//! answers; voiced is killed at a moment that differs each cycle, and
//! started again on the same files. Each time every file must read whole,
//! the identity key must be the one it had, and every change voiced
//! acknowledged must be there. A real voiced process, real files.
//!
//! `VOICE_KILL_CYCLES` sets the number of cycles (default 20).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use voice_proto::pb::control as c;
use voice_testkit::{Client, VoicedChild, paths_in};

fn start(dir: &Path) -> VoicedChild {
    VoicedChild::start(Command::new(env!("CARGO_BIN_EXE_voiced")), dir)
}

/// What voiced acknowledged before it was killed.
#[derive(Default)]
struct Acked {
    /// The last display name acknowledged, by its number.
    name: Option<u64>,
    /// The last display name sent (acknowledged or not).
    name_sent: Option<u64>,
    bookmarks: Vec<String>,
    pins: Vec<(String, String)>,
    writes: u64,
}

fn name_of(n: u64) -> String {
    format!("name-{n}")
}

/// Temporary files left beside voiced's own files (an interrupted write).
fn temporaries(dir: &Path) -> usize {
    let paths = paths_in(dir);
    [paths.config_dir, paths.data_dir]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with('.') && name.ends_with(".tmp")
        })
        .count()
}

/// Writes until voiced stops answering, recording what it acknowledged.
async fn write_names(mut client: Client, acked: Arc<Mutex<Acked>>, from: u64) {
    for n in from.. {
        acked.lock().unwrap().name_sent = Some(n);
        let req = c::SetDisplayNameRequest { name: name_of(n) };
        if client.set_display_name(req).await.is_err() {
            return;
        }
        let mut a = acked.lock().unwrap();
        a.name = Some(n);
        a.writes += 1;
    }
}

async fn write_bookmarks(mut client: Client, acked: Arc<Mutex<Acked>>, tag: String) {
    for i in 0.. {
        let name = format!("{tag}-{i}");
        let mark = c::Bookmark {
            name: name.clone(),
            server: format!("{tag}x{i}.example:7878"),
            display_name: String::new(),
            password: "pw".into(),
        };
        if client.save_bookmark(mark).await.is_err() {
            return;
        }
        let mut a = acked.lock().unwrap();
        a.bookmarks.push(name);
        a.writes += 1;
    }
}

async fn write_pins(mut client: Client, acked: Arc<Mutex<Acked>>, cycle: u64) {
    for i in 0u64.. {
        let server = format!("p{cycle}x{i}.example:7878");
        let fingerprint = format!("{:064x}", cycle << 32 | i);
        let req = c::TrustRequest {
            server: server.clone(),
            fingerprint: fingerprint.clone(),
            permanent: true,
        };
        if client.trust(req).await.is_err() {
            return;
        }
        let mut a = acked.lock().unwrap();
        a.pins.push((server, fingerprint));
        a.writes += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_daemon_leaves_whole_files_and_keeps_what_it_acknowledged() {
    let cycles: u64 = std::env::var("VOICE_KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let key = {
        let child = start(dir.path());
        let mut client = child.client().await;
        client
            .identity(c::Empty {})
            .await
            .unwrap()
            .into_inner()
            .public_key
    };
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut next_name = 0;
    let mut interrupted = 0;
    // A seeded walk over kill delays from 5 to 155 ms.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for cycle in 0..cycles {
        let mut child = start(dir.path());
        let mut client = child.client().await;
        // Everything acknowledged before the last kill is there, whole.
        let id = client.identity(c::Empty {}).await.unwrap().into_inner();
        assert_eq!(
            id.public_key, key,
            "cycle {cycle}: the identity key is unchanged"
        );
        let marks = client.bookmarks(c::Empty {}).await.unwrap().into_inner();
        let pins = client
            .known_servers(c::Empty {})
            .await
            .unwrap()
            .into_inner();
        {
            let a = acked.lock().unwrap();
            if let Some(sent) = a.name_sent {
                // The last one acknowledged, or the one in flight when the
                // kill came (each client waits for one answer at a time).
                let shown = id
                    .display_name
                    .strip_prefix("name-")
                    .and_then(|n| n.parse().ok());
                assert!(
                    shown == a.name || shown == Some(sent),
                    "cycle {cycle}: display name {:?}; acknowledged {:?}, last sent {sent}",
                    id.display_name,
                    a.name
                );
                next_name = sent + 1;
            }
            for b in &a.bookmarks {
                assert!(
                    marks.bookmarks.iter().any(|m| &m.name == b),
                    "cycle {cycle}: bookmark {b} acknowledged, then lost"
                );
            }
            for (server, fp) in &a.pins {
                assert!(
                    pins.servers
                        .iter()
                        .any(|p| &p.server == server && &p.fingerprint == fp),
                    "cycle {cycle}: pin of {server} acknowledged, then lost"
                );
            }
        }
        // Write from four clients at once, and kill in the middle.
        let writers = [
            tokio::spawn(write_names(child.client().await, acked.clone(), next_name)),
            tokio::spawn(write_bookmarks(
                child.client().await,
                acked.clone(),
                format!("a{cycle}"),
            )),
            tokio::spawn(write_bookmarks(
                child.client().await,
                acked.clone(),
                format!("b{cycle}"),
            )),
            tokio::spawn(write_pins(child.client().await, acked.clone(), cycle)),
        ];
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = 5 + (seed >> 33) % 150;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.kill();
        for w in writers {
            w.await.unwrap();
        }
        if temporaries(dir.path()) > 0 {
            interrupted += 1;
        }
    }
    // The last kill's files, read once more.
    let child = start(dir.path());
    let mut client = child.client().await;
    let id = client.identity(c::Empty {}).await.unwrap().into_inner();
    assert_eq!(id.public_key, key);
    assert_eq!(temporaries(dir.path()), 0, "voiced removed what kills left");
    let a = acked.lock().unwrap();
    println!(
        "kill -9 of voiced while writing: {cycles} cycles, {} writes acknowledged \
         ({} bookmarks, {} pins), 0 lost, 0 torn files, {interrupted} kills left a \
         half-written temporary file",
        a.writes,
        a.bookmarks.len(),
        a.pins.len()
    );
}
