//! Room history from peers, measured with real parts on loopback: a
//! voice-server and daemons in this process. Two members exchange N chat
//! lines (default 1000, about 80 characters each); then, several times, a
//! new daemon connects and fetches the room's history. Prints, per run, the
//! time from the connect call to the verified history in hand, the part of
//! it the fetch took, the snapshot's size and the peers it came from.
//!
//! ```text
//! cargo run -q -p voiced --example history_bench -- 1000
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use voice_proto::pb::control as c;
use voice_testkit::{Client, TestDaemon, TestServer, connect};

const RUNS: usize = 5;

async fn seen(client: &mut Client) -> usize {
    client
        .chat_history(c::ChatHistoryRequest::default())
        .await
        .unwrap()
        .into_inner()
        .messages
        .len()
}

#[tokio::main]
async fn main() {
    let lines: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let server = TestServer::start_with(|c| {
        c.chat_rate = 100_000.0;
        c.chat_burst = 100_000.0;
    })
    .await;
    let a_daemon = TestDaemon::start().await;
    let mut a = a_daemon.client().await;
    connect(&mut a, &server, "Ana").await;
    let b_daemon = TestDaemon::start().await;
    let mut b = b_daemon.client().await;
    connect(&mut b, &server, "Ben").await;
    for i in 0..lines {
        let sender = if i % 2 == 0 { &mut a } else { &mut b };
        sender
            .send_chat(c::SendChatRequest {
                text: format!(
                    "line {i}: a chat line of about eighty characters, as people type them"
                ),
                room: String::new(),
            })
            .await
            .unwrap();
    }
    while seen(&mut a).await < lines || seen(&mut b).await < lines {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("history of {lines} lines, 2 members serving, {RUNS} joiners");
    println!("run  join->shown ms  fetch ms  snapshot bytes  bytes/line  peers");
    for run in 1..=RUNS {
        let d = TestDaemon::start().await;
        let mut client = d.client().await;
        let started = Instant::now();
        connect(&mut client, &server, &format!("Joiner{run}")).await;
        let reply = client
            .fetch_history(c::FetchHistoryRequest::default())
            .await
            .expect("history arrives")
            .into_inner();
        let total = started.elapsed();
        assert_eq!(reply.messages.len(), lines);
        println!(
            "{run:>3}  {:>14.1}  {:>8}  {:>14}  {:>10.1}  {:>5}",
            total.as_secs_f64() * 1000.0,
            reply.elapsed_ms,
            reply.bytes,
            reply.bytes as f64 / lines as f64,
            reply.peers
        );
        d.stop().await;
    }
}
