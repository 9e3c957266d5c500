//! What the file benchmarks share: `voiced` daemons as child processes
//! (release build, null audio, XDG directories of their own), and a
//! process's CPU time and memory from /proc (Linux).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use voice_proto::pb::control as c;
use voice_testkit::{Client, TestServer, connect, paths_in, xdg_env};

/// A voiced process and a client of it; killed on drop.
pub struct Daemon {
    pub child: Child,
    pub client: Client,
    _dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `voiced` binary beside this example (`cargo build --release -p
/// voiced --bin voiced`).
pub fn voiced_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("voiced");
    assert!(
        bin.exists(),
        "build voiced first: cargo build --release -p voiced --bin voiced ({})",
        bin.display()
    );
    bin
}

/// Starts voiced (with `config_toml` as its config.toml, if given) and
/// connects it to `server` as `name`.
pub async fn start_daemon(server: &TestServer, name: &str, config_toml: Option<&str>) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let paths = paths_in(dir.path());
    if let Some(text) = config_toml {
        std::fs::create_dir_all(&paths.config_dir).unwrap();
        std::fs::write(paths.config_dir.join("config.toml"), text).unwrap();
    }
    let mut cmd = Command::new(voiced_binary());
    xdg_env(&mut cmd, dir.path())
        .args(["--audio-backend", "null"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = cmd.spawn().expect("voiced starts");
    let socket = paths.socket();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut client = loop {
        if let Ok(c) = voiced_client::connect(&socket).await {
            break c;
        }
        assert!(Instant::now() < deadline, "voiced did not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    connect(&mut client, server, name).await;
    Daemon {
        child,
        client,
        _dir: dir,
    }
}

/// A transfer of the daemon behind `client`, as it stands now.
pub async fn transfer(client: &mut Client, id: u32) -> c::Transfer {
    client
        .transfers(c::Empty {})
        .await
        .unwrap()
        .into_inner()
        .transfers
        .into_iter()
        .find(|t| t.id == id)
        .expect("the transfer is listed")
}

/// CPU seconds (user + system) of a process; /proc stat ticks at 100 Hz.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15, 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// (resident MiB now, peak resident MiB) of a process.
pub fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}
