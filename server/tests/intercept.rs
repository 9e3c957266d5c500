//! `Admin.Intercept` on a real server through its admin socket: a plugin
//! refuses chat messages and logins, with its reason reaching the user;
//! a plugin that never answers delays by the deadline and is overruled;
//! nothing is asked unless the config says so; one plugin at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use support::*;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use voice_proto::pb::admin::{
    InterceptQuestion, InterceptVerdict, admin_client::AdminClient, intercept_question::Kind,
};
use voice_proto::pb::wire::server_msg::Msg;
use voice_server::admin::client::connect;

/// A plugin that answers each question with `decide` (None: never answers).
async fn plugin(
    admin: &mut AdminClient<tonic::transport::Channel>,
    decide: fn(&InterceptQuestion) -> Option<(bool, &'static str)>,
) -> (
    tokio::task::JoinHandle<()>,
    mpsc::UnboundedReceiver<InterceptQuestion>,
) {
    let (verdicts, rx) = mpsc::channel(16);
    let mut questions = admin
        .intercept(ReceiverStream::new(rx))
        .await
        .expect("the plugin attaches")
        .into_inner();
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Ok(Some(q)) = questions.message().await {
            if let Some((allow, reason)) = decide(&q) {
                let _ = verdicts
                    .send(InterceptVerdict {
                        id: q.id,
                        allow,
                        reason: reason.to_owned(),
                    })
                    .await;
            }
            let _ = seen_tx.send(q);
        }
    });
    (task, seen)
}

fn no_spam(q: &InterceptQuestion) -> Option<(bool, &'static str)> {
    match &q.kind {
        Some(Kind::Chat(m)) => Some((!m.text.contains("spam"), "no spam here")),
        Some(Kind::Join(j)) => Some((j.name != "Mallory", "Mallory is not welcome")),
        None => None,
    }
}

fn config_with(
    dir: &std::path::Path,
    chat: bool,
    joins: bool,
    deadline_ms: u64,
) -> voice_server::config::Config {
    voice_server::config::Config {
        intercept_chat: chat,
        intercept_joins: joins,
        intercept_deadline_ms: deadline_ms,
        ..config(dir)
    }
}

#[tokio::test]
async fn a_plugin_refuses_chat_and_logins_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config_with(dir.path(), true, true, 2000)).await;
    let mut admin = connect(&server.admin_socket).await.unwrap();
    let (_task, mut seen) = plugin(&mut admin, no_spam).await;

    let mut ana = server.join("Ana").await;
    let q = seen.recv().await.unwrap();
    assert!(
        matches!(&q.kind, Some(Kind::Join(j)) if j.name == "Ana" && j.public_key.len() == 64 && j.address.starts_with("127.0.0.1:")),
        "{q:?}"
    );
    let mut ben = server.join("Ben").await;
    ana.open_chat().await;
    ben.open_chat().await;
    ana.say(1, "hello").await;
    assert_eq!(ben.expect_chat().await.text, "hello");
    ana.say(2, "buy spam").await;
    ana.expect_chat().await; // her own "hello"
    match ana.next_chat().await {
        Some(Msg::ChatRejected(r)) => {
            assert_eq!(r.client_id, 2);
            assert_eq!(
                r.message,
                "a server plugin refused your message: no spam here"
            );
        }
        other => panic!("a refusal expected: {other:?}"),
    }
    ana.say(3, "sorry").await;
    assert_eq!(
        ben.expect_chat().await.text,
        "sorry",
        "the refused line never reached Ben"
    );

    let err = Client::connect(&server, server.login("Mallory"))
        .await
        .err()
        .expect("Mallory is refused");
    assert!(
        err.1
            .contains("a server plugin refused your login: Mallory is not welcome"),
        "{err:?}"
    );

    // One plugin at a time.
    let mut second = connect(&server.admin_socket).await.unwrap();
    let (_tx, rx) = mpsc::channel::<InterceptVerdict>(1);
    let refused = second.intercept(ReceiverStream::new(rx)).await;
    let status = match refused {
        Err(status) => status,
        Ok(stream) => stream
            .into_inner()
            .message()
            .await
            .expect_err("a second plugin is refused"),
    };
    assert_eq!(status.code(), tonic::Code::AlreadyExists, "{status:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_plugin_that_never_answers_only_delays_by_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config_with(dir.path(), true, true, 150)).await;
    let mut admin = connect(&server.admin_socket).await.unwrap();
    let (_task, mut seen) = plugin(&mut admin, |_| None).await;
    let started = Instant::now();
    let mut ana = server.join("Ana").await;
    let joined = started.elapsed();
    assert!(matches!(
        seen.recv().await.unwrap().kind,
        Some(Kind::Join(_))
    ));
    ana.open_chat().await;
    let said = Instant::now();
    ana.say(1, "anyone?").await;
    assert_eq!(ana.expect_chat().await.text, "anyone?");
    let relayed = said.elapsed();
    eprintln!(
        "with a silent plugin and a 150 ms deadline: joined after {} ms, chat relayed after {} ms",
        joined.as_millis(),
        relayed.as_millis()
    );
    assert!(relayed >= Duration::from_millis(150), "{relayed:?}");
    assert!(relayed < Duration::from_secs(3), "{relayed:?}");
    server.stop().await;
}

#[tokio::test]
async fn nothing_is_asked_unless_the_config_says_so_and_a_plugin_can_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut admin = connect(&server.admin_socket).await.unwrap();
    let (task, mut seen) = plugin(&mut admin, no_spam).await;
    let mut ana = server.join("Mallory").await;
    ana.open_chat().await;
    ana.say(1, "spam").await;
    assert_eq!(
        ana.expect_chat().await.text,
        "spam",
        "not intercepted by default"
    );
    assert!(seen.try_recv().is_err(), "nothing was asked");
    // The plugin leaves; another one may attach.
    task.abort();
    drop(admin);
    let mut admin = connect(&server.admin_socket).await.unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let (_tx, rx) = mpsc::channel::<InterceptVerdict>(1);
        match admin.intercept(ReceiverStream::new(rx)).await {
            Ok(_) => break,
            Err(s) if s.code() == tonic::Code::AlreadyExists && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(s) => panic!("a new plugin cannot attach: {s:?}"),
        }
    }
    server.stop().await;
}
