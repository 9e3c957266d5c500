//! Room history, the server's part seen by raw clients: every chat message
//! carries its room's sequence number, the sender's key and the chain
//! before it; a restart starts numbering above every earlier run; history
//! requests have their own small budget per session.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;
use voice_proto::history::{CHAIN_START, chain_from, chain_next, line};
use voice_proto::pb::wire::{HistoryRequest, Ping, client_msg, server_msg::Msg};

#[tokio::test]
async fn chat_is_numbered_and_chained_and_a_restart_numbers_above() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let ana_login = server.login("Ana");
    let ana_key = ana_login.key.verifying_key().to_bytes().to_vec();
    let mut ana = Client::connect(&server, ana_login).await.unwrap();
    // The sender gets its own messages back as the room sees them (its
    // chat stream is known to the server before its first message).
    ana.open_chat().await;
    ana.say(1, "one").await;
    ana.say(2, "two").await;
    let first = ana.expect_chat().await;
    let second = ana.expect_chat().await;
    let run = first.seq >> 32;
    assert!(run >= 1, "a run number: {:#x}", first.seq);
    assert_eq!(first.seq & 0xffff_ffff, 1, "the room's first message");
    assert_eq!(second.seq, first.seq + 1);
    assert_eq!(first.sender_key, ana_key, "the sender's key");
    assert_eq!(chain_from(&first.prev_chain), Some(CHAIN_START));
    assert_eq!(
        chain_from(&second.prev_chain),
        Some(chain_next(&CHAIN_START, &line(&first))),
        "each message names the chain after the one before it"
    );
    server.stop().await;

    // After a restart the room's chat starts a new run, above the last.
    let server = TestServer::in_dir(dir.path()).await;
    let mut cy = server.join("Cy").await;
    cy.open_chat().await;
    cy.say(1, "three").await;
    let third = cy.expect_chat().await;
    assert!(
        third.seq >> 32 > run,
        "{:#x} after {:#x}",
        third.seq,
        second.seq
    );
    assert_eq!(third.seq & 0xffff_ffff, 1);
    assert_eq!(chain_from(&third.prev_chain), Some(CHAIN_START));
    server.stop().await;
}

#[tokio::test]
async fn lines_relayed_before_a_members_chat_stream_opens_wait_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut ana = server.join("Ana").await;
    ana.open_chat().await;
    // Ben has his Welcome but has not opened his chat stream yet.
    let mut ben = server.join("Ben").await;
    ana.say(1, "before ben's stream").await;
    assert_eq!(ana.expect_chat().await.text, "before ben's stream");
    ben.open_chat().await;
    ana.say(2, "after it").await;
    assert_eq!(ben.expect_chat().await.text, "before ben's stream");
    assert_eq!(ben.expect_chat().await.text, "after it");
    server.stop().await;
}

#[tokio::test]
async fn history_requests_have_their_own_budget() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.history_rate = 0.01;
    config.history_burst = 2.0;
    let server = TestServer::start(config).await;
    let mut ana = server.join("Ana").await;
    let ask = |request_id| {
        client_msg::Msg::HistoryRequest(HistoryRequest {
            request_id,
            room: 0,
        })
    };
    for _ in 0..2 {
        match ana.request(ask).await {
            Msg::Failed(f) => assert!(f.message.contains("no chat was sent"), "{}", f.message),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    match ana.request(ask).await {
        Msg::Failed(f) => assert!(f.message.contains("history_rate"), "{}", f.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Refused, not closed.
    ana.control
        .send(client_msg::Msg::Ping(Ping { timestamp_us: 7 }))
        .await;
    assert!(matches!(ana.next_reply().await, Some(Msg::Pong(_))));
    server.stop().await;
}
