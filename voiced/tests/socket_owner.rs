//! Issue 16, hole 12: nobody else at either end of the control socket.
//! A socket directory another user made or may write to is refused; voiced
//! serves no client of another uid, and a front end talks to no socket
//! another uid serves. The other user is real: a child process that runs as
//! `nobody` (uid 65534), which needs root; as any other user the uid tests
//! say so and pass without checking.
#![cfg(unix)]
#![allow(clippy::unwrap_used)] // test code: a failure is a test failure

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use voice_proto::pb::control as c;
use voiced::Daemon;

mod support;
use support::{TestDaemon, paths_in};

const NOBODY: u32 = 65534;

fn root() -> bool {
    if voiced_client::owner::my_uid() == 0 {
        return true;
    }
    eprintln!("not root: cannot run a process as another user; skipped");
    false
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `python3` as `nobody`, running `script` with `arg`; stdin piped (the
/// script may wait on it), stdout piped.
fn as_nobody(script: &str, arg: &Path) -> Child {
    Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(arg)
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim().to_owned()
}

#[tokio::test]
async fn a_socket_directory_others_may_write_is_refused() {
    for mode in [0o777, 0o1777, 0o770] {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        std::fs::create_dir_all(&paths.runtime_dir).unwrap();
        chmod(&paths.runtime_dir, mode);
        let err = Daemon::bind(paths.clone(), None).await.unwrap_err();
        let message = format!("{err:#}");
        let chain = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        assert!(
            chain.contains("may be written by others") && chain.contains("XDG_RUNTIME_DIR"),
            "mode {mode:o}: {message} / {chain}"
        );
        assert!(
            !paths.socket().exists(),
            "a socket was made in mode {mode:o}"
        );
    }
}

#[tokio::test]
async fn a_socket_directory_of_another_user_is_refused() {
    if !root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let paths = paths_in(dir.path());
    std::fs::create_dir_all(&paths.runtime_dir).unwrap();
    chmod(&paths.runtime_dir, 0o700);
    std::os::unix::fs::chown(&paths.runtime_dir, Some(NOBODY), Some(NOBODY)).unwrap();
    let err = Daemon::bind(paths.clone(), None).await.unwrap_err();
    let chain = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    assert!(
        chain.contains("belongs to uid 65534, not to you (uid 0)"),
        "{chain}"
    );
}

/// Connects as `nobody`, sends an HTTP/2 preface and SETTINGS, and prints
/// `answered` if voiced says anything back, `closed` if it hangs up.
const H2_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
    data = s.recv(64)
except (BrokenPipeError, ConnectionResetError):
    data = b""
print("answered" if data else "closed", flush=True)
"#;

#[tokio::test]
async fn voiced_serves_no_client_of_another_uid() {
    if !root() {
        return;
    }
    let d = TestDaemon::start().await;
    // Open the way as a careless setup would (a filesystem that ignores
    // modes, a chmod): only the uid check stands between nobody and voiced.
    let mut dir = d.socket.parent();
    while let Some(p) = dir {
        if p == Path::new("/tmp") || p == Path::new("/") {
            break;
        }
        chmod(p, 0o711);
        dir = p.parent();
    }
    chmod(&d.socket, 0o666);
    let mut child = as_nobody(H2_CLIENT, &d.socket);
    let said = tokio::task::spawn_blocking(move || {
        let line = first_line(&mut child);
        child.wait().unwrap();
        line
    })
    .await
    .unwrap();
    assert_eq!(said, "closed", "voiced answered a client of another uid");
    // And it still serves its own user.
    let s = d.client().await.status(c::Empty {}).await.unwrap();
    assert_eq!(s.get_ref().state, c::ConnectionState::Disconnected as i32);
}

/// Listens as `nobody` on the socket path, prints `ready`, and holds the
/// socket until its stdin closes.
const SQUATTER: &str = r#"
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.listen(4)
print("ready", flush=True)
sys.stdin.read()
"#;

#[tokio::test]
async fn a_front_end_refuses_a_socket_another_uid_serves() {
    if !root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o777);
    let socket = dir.path().join("voiced.sock");
    let mut squatter = as_nobody(SQUATTER, &socket);
    assert_eq!(first_line(&mut squatter), "ready");

    let err = voiced_client::local::connect(&socket).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
    let err = voiced_client::connect(&socket)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("runs as uid 65534, not as you (uid 0)") && err.contains("remove it"),
        "{err}"
    );

    drop(squatter.stdin.take());
    squatter.wait().unwrap();
}
