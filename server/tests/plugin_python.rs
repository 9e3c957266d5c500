//! The Python example of the plugin TCP listener
//! (`examples/plugins/tcp_welcome_bot.py`, grpcio over TLS with the
//! server's self-signed certificate as root and a token in the metadata)
//! against a real server: it welcomes a joiner, and it stops saying why
//! when its token is wrong. Needs python3 with grpcio and grpcio-tools
//! (the stubs are generated as docs/api.md tells a user).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[allow(dead_code)]
#[path = "../../voiced/tests/support/python.rs"]
mod python;

use std::process::Stdio;

use python::{repo, stubs};
use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use voice_server::admin::client::{AdminCommand, run};
use voice_server::admin::token_commands::PluginTokenCommand;

/// The bot started against `server`, with `token`; killed when dropped.
fn bot(
    server: &TestServer,
    dir: &std::path::Path,
    stubs: &std::path::Path,
    token: &str,
) -> tokio::process::Child {
    tokio::process::Command::new("python3")
        .arg(repo().join("examples/plugins/tcp_welcome_bot.py"))
        .arg(server.plugin_addr.unwrap().to_string())
        .arg("--cert")
        .arg(dir.join("cert.pem"))
        .args(["--server-name", "localhost", "--name", "Greeter"])
        .env("PYTHONPATH", stubs)
        .env("VOICE_PLUGIN_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 starts")
}

#[tokio::test]
async fn the_python_tcp_bot_welcomes_a_joiner_and_stops_on_a_wrong_token() {
    let stubs = stubs().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.plugin_listen = Some("127.0.0.1:0".parse().unwrap());
    let server = TestServer::start(config).await;
    let created = run(
        &server.admin_socket,
        AdminCommand::PluginToken {
            command: PluginTokenCommand::Create {
                name: "greeter".to_owned(),
                scope: vec!["events".to_owned(), "chat".to_owned()],
            },
        },
    )
    .await
    .unwrap();

    let mut child = bot(&server, dir.path(), stubs.path(), &created[0]);
    let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
    let watching = tokio::time::timeout(WAIT, async {
        while let Ok(Some(line)) = log.next_line().await {
            eprintln!("{line}");
            if line.contains(" watching ") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(watching, Ok(true), "the bot watches");

    let mut bob = server.join("Bob").await;
    bob.open_chat().await;
    // Bob's own join is welcomed too; Ana's is the one looked for.
    let _ana = server.join("Ana").await;
    let welcome = tokio::time::timeout(WAIT, async {
        loop {
            let m = bob.expect_chat().await;
            if m.text == "Welcome, Ana!" {
                return m;
            }
        }
    })
    .await
    .expect("the bot welcomes Ana");
    assert_eq!(
        (welcome.sender, welcome.sender_name.as_str()),
        (0, "Greeter")
    );
    drop(child);

    let wrong = format!("vpt_{}", "00".repeat(32));
    let out = tokio::time::timeout(
        WAIT,
        bot(&server, dir.path(), stubs.path(), &wrong).wait_with_output(),
    )
    .await
    .expect("the bot stops")
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("UNAUTHENTICATED"), "{err}");
    assert!(err.contains("plugin-token create"), "{err}");
    server.stop().await;
}
