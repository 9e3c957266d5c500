//! The generated password and admin token are shown once, by the start that
//! made them, and never written to the systemd journal (issue 16, low items).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_voice-server");

/// Runs the binary on `dir` with stdout in `out` (as the journal when
/// `journal`), waits until it serves, stops it and returns what it printed.
fn run_once(dir: &Path, out: &Path, journal: bool) -> String {
    let file = std::fs::File::create(out).unwrap();
    let meta = file.metadata().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("VOICE_SERVER_PASSWORD")
        .env_remove("JOURNAL_STREAM")
        .stdout(Stdio::from(file))
        .stderr(Stdio::null());
    if journal {
        cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    }
    let mut child = cmd.spawn().unwrap();
    // The admin socket answers once the banner is out.
    let served = (0..600).any(|_| {
        let ok = Command::new(BIN)
            .arg("--data-dir")
            .arg(dir)
            .args(["admin", "rooms"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        if !ok {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        ok
    });
    assert!(served, "the server serves its admin socket");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn secrets_are_shown_by_the_start_that_made_them_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = run_once(&data, &dir.path().join("1.out"), false);
    assert!(first.contains("\npassword: "), "{first}");
    assert!(first.contains("\nadmin token: "), "{first}");
    let second = run_once(&data, &dir.path().join("2.out"), false);
    assert!(second.starts_with("listening: "), "{second}");
    assert!(!second.contains("password"), "{second}");
    assert!(!second.contains("admin token"), "{second}");
}

#[test]
fn secrets_go_to_a_private_file_instead_of_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let journal = run_once(&data, &dir.path().join("journal.out"), true);
    assert!(!journal.contains("password:"), "{journal}");
    assert!(!journal.contains("admin token:"), "{journal}");
    let file = data.join("new-secrets.txt");
    assert!(journal.contains(&file.display().to_string()), "{journal}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let secrets = std::fs::read_to_string(&file).unwrap();
    assert!(secrets.starts_with("password: "), "{secrets}");
    assert!(secrets.contains("\nadmin token: "), "{secrets}");
}
