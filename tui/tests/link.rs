//! The background link against real Unix sockets: no daemon at all, and a
//! socket whose listener does not speak gRPC (a stale or foreign socket).

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::sync::mpsc;
use voice_testkit::{DaemonProcess, paths_in};
use voice_tui::link::run_link;
use voice_tui::{Action, Command};
use voiced_client::command::Answer;
use voiced_client::link::Report;

/// Generous: the machine is loaded; this bounds a hang, it times nothing.
const PATIENCE: Duration = Duration::from_secs(60);

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("voice-tui-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make a temp dir");
    dir
}

async fn next(inbox: &mut mpsc::UnboundedReceiver<Action>) -> Action {
    tokio::time::timeout(PATIENCE, inbox.recv())
        .await
        .expect("the link went quiet")
        .expect("the link stopped")
}

#[tokio::test]
async fn no_daemon_is_reported_retried_and_commands_fail_politely() {
    let dir = temp_dir("none");
    let socket = dir.join("voiced.sock");
    let (actions, mut inbox) = mpsc::unbounded_channel();
    let (commands, outbox) = mpsc::unbounded_channel();
    let link = tokio::spawn(run_link(socket, actions, outbox));

    let Action::Link(Report::Down { error }) = next(&mut inbox).await else {
        panic!("expected DaemonDown first");
    };
    assert!(error.contains("No such file"), "error says why: {error}");
    commands.send(Command::SetMute(true)).unwrap();
    // Both the failed call and the retry's second DaemonDown arrive, in
    // whichever order the second passes.
    let mut saw_retry = false;
    let mut saw_failed = false;
    while !(saw_retry && saw_failed) {
        match next(&mut inbox).await {
            Action::Link(Report::Down { .. }) => saw_retry = true,
            Action::Link(Report::Failed { what, message, .. }) => {
                assert_eq!(what, "mute");
                assert_eq!(message, "voiced is not running");
                saw_failed = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    drop(commands);
    tokio::time::timeout(PATIENCE, link).await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_socket_that_is_not_voiced_counts_as_down() {
    let dir = temp_dir("foreign");
    let socket = dir.join("voiced.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    // Accept and hang up at once, like a process that is not voiced.
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                break;
            };
            drop(stream);
        }
    });
    let (actions, mut inbox) = mpsc::unbounded_channel();
    let (_commands, outbox) = mpsc::unbounded_channel();
    let link = tokio::spawn(run_link(socket, actions, outbox));
    assert!(matches!(
        next(&mut inbox).await,
        Action::Link(Report::Down { .. })
    ));
    link.abort();
    server.abort();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_link_comes_back_after_voiced_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = paths_in(dir.path());
    let socket = paths.socket();
    let daemon = DaemonProcess::start(paths.clone());

    let (actions, mut inbox) = mpsc::unbounded_channel();
    let (commands, outbox) = mpsc::unbounded_channel();
    let link = tokio::spawn(run_link(socket, actions, outbox));
    assert!(matches!(next(&mut inbox).await, Action::Link(Report::Up)));
    commands.send(Command::LoadBookmarks).unwrap();
    loop {
        if let Action::Link(Report::Answer(Answer::Bookmarks(marks))) = next(&mut inbox).await {
            assert!(marks.is_empty());
            break;
        }
    }

    daemon.kill();
    loop {
        if let Action::Link(Report::Down { .. }) = next(&mut inbox).await {
            break;
        }
    }

    // A new daemon replaces the stale socket; the link finds it by itself.
    let daemon = DaemonProcess::start(paths);
    loop {
        if let Action::Link(Report::Up) = next(&mut inbox).await {
            break;
        }
    }
    commands.send(Command::LoadBookmarks).unwrap();
    loop {
        if let Action::Link(Report::Answer(Answer::Bookmarks(_))) = next(&mut inbox).await {
            break;
        }
    }
    drop(commands);
    tokio::time::timeout(PATIENCE, link).await.unwrap().unwrap();
    daemon.kill();
}
