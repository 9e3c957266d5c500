//! The `voiced` binary as a process: one per user, SIGTERM shuts it down
//! cleanly.
#![allow(clippy::unwrap_used)] // test code: a failure is a test failure

use std::io::BufRead;
use std::process::{Command, Stdio};

fn voiced(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_voiced"));
    voice_testkit::xdg_env(&mut c, dir)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .arg("--foreground")
        // Sound devices are tested in `devices.rs`, one test at a time.
        .args(["--audio-backend", "null"]);
    c
}

#[test]
fn one_daemon_per_user_and_sigterm_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("run")).unwrap();
    let mut first = voiced(dir.path()).stderr(Stdio::piped()).spawn().unwrap();
    let mut log = std::io::BufReader::new(first.stderr.take().unwrap()).lines();
    // The daemon logs once its socket is bound.
    loop {
        let line = log.next().expect("voiced exited early").unwrap();
        if line.contains("voiced listening") {
            break;
        }
    }
    let socket = dir.path().join("run/voice/voiced.sock");
    assert!(socket.exists());

    let second = voiced(dir.path()).output().unwrap();
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("already running"), "{err}");

    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(first.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = first.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = log.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("SIGTERM")), "{rest:?}");
    assert!(!socket.exists(), "the socket is removed on shutdown");
}
