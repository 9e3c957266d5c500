//! python3 with grpcio for the tests of our examples: the stubs of
//! `wire.proto`, `control.proto` and `admin.proto` generated into a temp
//! dir as docs/api.md tells a user, and python3 run with them on its path.

use std::path::{Path, PathBuf};
use std::process::Output;

use tempfile::TempDir;

use super::WAIT;

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Generates the stubs; fails saying what to install without grpcio.
pub async fn stubs() -> TempDir {
    let probe = python3(None, &["-c", "import grpc, grpc_tools"]).await;
    assert!(
        probe.status.success(),
        "these tests need python3 with grpcio and grpcio-tools: \
         python3 -m pip install grpcio grpcio-tools (scripts/test installs them)\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let stubs = tempfile::tempdir().unwrap();
    let proto = repo().join("proto/proto");
    let out = python3(
        None,
        &[
            "-m",
            "grpc_tools.protoc",
            &format!("-I{}", proto.display()),
            &format!("--python_out={}", stubs.path().display()),
            &format!("--grpc_python_out={}", stubs.path().display()),
            "wire.proto",
            "control.proto",
            "admin.proto",
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "protoc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stubs
}

/// Runs python3 with `args`, the stubs on its path when given.
pub async fn python3(stubs: Option<&Path>, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new("python3");
    command.args(args).kill_on_drop(true);
    if let Some(stubs) = stubs {
        command.env("PYTHONPATH", stubs);
    }
    tokio::time::timeout(WAIT, command.output())
        .await
        .expect("python3 finishes in time")
        .expect("python3 runs")
}
