//! Room history from peers end to end: a real voice-server, real daemons
//! with real librqbit sessions on loopback. Members who saw the room's chat
//! build the same snapshot, seed it, and a member who joined later fetches
//! it from them, checked against the server's chain; members who joined
//! later do not serve a different range, members who do not share are not
//! asked, and a member without read_history is refused by name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use voice_proto::pb::control::{self as c};
use voice_proto::pb::wire::{AclRule, Change, Permission, RoomAcl, acl_rule, change::Kind};

mod support;
use support::{Client, TestDaemon, TestServer, WAIT, connect, paths_in};

/// A daemon whose config.toml holds `config` (TOML lines), connected.
async fn daemon_with(server: &TestServer, name: &str, config: &str) -> (TestDaemon, Client) {
    let dir = tempfile::tempdir().unwrap();
    let paths = paths_in(dir.path());
    std::fs::create_dir_all(paths.config_file().parent().unwrap()).unwrap();
    std::fs::write(paths.config_file(), config).unwrap();
    let d = TestDaemon::start_in(dir, paths).await;
    let mut client = d.client().await;
    connect(&mut client, server, name).await;
    (d, client)
}

async fn daemon(server: &TestServer, name: &str) -> (TestDaemon, Client) {
    daemon_with(server, name, "").await
}

/// A chat line long enough that 200 of them take several 16 KiB pieces.
fn line(i: usize) -> String {
    let filler = "the quick brown fox jumps over the lazy dog ".repeat(8);
    format!("line {i}: {}", filler.trim_end())
}

async fn say(client: &mut Client, text: String) {
    client
        .send_chat(c::SendChatRequest {
            text,
            room: String::new(),
        })
        .await
        .unwrap();
}

/// Waits until the daemon has seen `n` live chat messages.
async fn until_seen(client: &mut Client, n: usize) {
    tokio::time::timeout(WAIT, async {
        loop {
            let seen = client
                .chat_history(c::ChatHistoryRequest::default())
                .await
                .unwrap()
                .into_inner()
                .messages
                .len();
            if seen >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{n} messages seen"));
}

/// Snapshot files in a daemon's torrent cache (`room-*-history-*.pb`).
fn snapshots(d: &TestDaemon) -> Vec<Vec<u8>> {
    fn walk(dir: &Path, out: &mut Vec<Vec<u8>>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("room-") && n.ends_with(".pb"))
            {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = Vec::new();
    walk(&d.paths.cache_dir.join("torrents"), &mut out);
    out
}

/// The message of a history fetch that must fail.
async fn fetch_refused(client: &mut Client) -> String {
    client
        .fetch_history(c::FetchHistoryRequest::default())
        .await
        .unwrap_err()
        .message()
        .to_owned()
}

fn fast_chat(c: &mut voice_server::Config) {
    c.chat_rate = 1000.0;
    c.chat_burst = 1000.0;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_joiner_fetches_every_line_from_the_members_who_saw_them() {
    let server = TestServer::start_with(fast_chat).await;
    let (a_daemon, mut a) = daemon(&server, "Ana").await;
    let (b_daemon, mut b) = daemon(&server, "Ben").await;
    for i in 1..=100 {
        let sender = if i % 2 == 0 { &mut a } else { &mut b };
        say(sender, line(i)).await;
    }
    until_seen(&mut a, 100).await;
    until_seen(&mut b, 100).await;
    // Cy joins after line 100 and chats too.
    let (c_daemon, mut cy) = daemon(&server, "Cy").await;
    for i in 101..=200 {
        let sender = match i % 3 {
            0 => &mut a,
            1 => &mut b,
            _ => &mut cy,
        };
        say(sender, line(i)).await;
    }
    until_seen(&mut a, 200).await;
    until_seen(&mut b, 200).await;
    until_seen(&mut cy, 100).await;

    let (_d_daemon, mut dee) = daemon(&server, "Dee").await;
    let reply = dee
        .fetch_history(c::FetchHistoryRequest::default())
        .await
        .expect("the history arrives")
        .into_inner();
    // Every line, in the order the server relayed them (which Ana saw).
    let seen_by_ana: Vec<String> = a
        .chat_history(c::ChatHistoryRequest::default())
        .await
        .unwrap()
        .into_inner()
        .messages
        .into_iter()
        .map(|m| m.text)
        .collect();
    let texts: Vec<String> = reply.messages.iter().map(|m| m.text.clone()).collect();
    assert_eq!(texts.len(), 200, "every line");
    assert!(texts == seen_by_ana, "in the order the server relayed them");
    let mut sorted = texts.clone();
    sorted.sort_by_key(|t| t[5..t.find(':').unwrap()].parse::<usize>().unwrap());
    assert!(
        sorted == (1..=200).map(line).collect::<Vec<_>>(),
        "lines 1 to 200"
    );
    assert!(reply.messages.iter().all(|m| m.history && m.room == 0));
    assert!(
        reply.messages.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "consecutive sequence numbers"
    );
    assert_eq!(reply.first_seq, reply.messages[0].seq);
    assert_eq!(reply.last_seq, reply.messages[199].seq);
    assert!(
        reply
            .messages
            .iter()
            .all(|m| ["Ana", "Ben", "Cy"].contains(&m.sender_name.as_str()))
    );
    assert!(reply.messages.iter().all(|m| m.sender_key.len() == 32));
    // Ana and Ben built the same bytes: one info hash with two seeders.
    assert_eq!(reply.seeders, 2, "{reply:?}");
    let (a_snap, b_snap) = (snapshots(&a_daemon), snapshots(&b_daemon));
    assert_eq!(a_snap.len(), 1);
    assert_eq!(a_snap, b_snap, "identical snapshots");
    assert_eq!(reply.bytes, a_snap[0].len() as u64);
    assert!(
        reply.bytes > 3 * 16 * 1024,
        "several pieces: {}",
        reply.bytes
    );
    assert_eq!(reply.peers, 2, "downloaded from both members");
    // Cy joined after line 100: it served nothing into that swarm.
    assert!(snapshots(&c_daemon).is_empty(), "Cy served no other range");
    // The history is listed above the live chat from now on.
    let listed = dee
        .chat_history(c::ChatHistoryRequest::default())
        .await
        .unwrap()
        .into_inner()
        .messages;
    assert_eq!(listed.len(), 200);
    assert!(listed.iter().all(|m| m.history));
    // A live line after it comes below, not marked.
    say(&mut a, "after the history".into()).await;
    until_seen(&mut dee, 201).await;
    let listed = dee
        .chat_history(c::ChatHistoryRequest::default())
        .await
        .unwrap()
        .into_inner()
        .messages;
    assert_eq!(listed.last().unwrap().text, "after the history");
    assert!(!listed.last().unwrap().history);
    println!(
        "history: {} lines, {} bytes, {} seeders, {} peers, {} ms",
        reply.messages.len(),
        reply.bytes,
        reply.seeders,
        reply.peers,
        reply.elapsed_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_needs_read_history_and_asks_only_members_who_share() {
    let server = TestServer::start_with(fast_chat).await;
    let (_quiet_daemon, mut quiet) = daemon_with(&server, "Quiet", "history_share = false\n").await;
    let (_r_daemon, mut reader) = daemon(&server, "Reader").await;
    for i in 1..=10 {
        say(&mut quiet, line(i)).await;
    }
    until_seen(&mut reader, 10).await;
    // The only other member does not share: it is not asked.
    let err = fetch_refused(&mut reader).await;
    assert!(err.contains("shares history"), "{err}");

    // Sam shares; the server denies read_history to Nosy.
    let (_sam_daemon, mut sam) = daemon(&server, "Sam").await;
    let (_nosy_daemon, mut nosy) = daemon(&server, "Nosy").await;
    let nosy_key = nosy
        .identity(c::Empty {})
        .await
        .unwrap()
        .into_inner()
        .public_key;
    let mut rules = voice_proto::acl::default_root_acl();
    rules.push(AclRule {
        subject: Some(acl_rule::Subject::UserKey(hex_decode(&nosy_key))),
        allow: 0,
        deny: voice_proto::acl::Permissions::from(Permission::ReadHistory).bits(),
        apply_here: true,
        apply_subs: true,
    });
    server
        .hub
        .server_change(Change {
            kind: Some(Kind::SetRoomAcl(RoomAcl {
                room: 0,
                inherit_acl: true,
                rules,
            })),
        })
        .await
        .unwrap();
    for i in 11..=20 {
        say(&mut sam, line(i)).await;
    }
    until_seen(&mut nosy, 10).await;
    until_seen(&mut reader, 20).await;
    let err = fetch_refused(&mut nosy).await;
    assert!(
        err.contains("read_history"),
        "the refusal names the permission: {err}"
    );
    // Reader may: Sam alone serves what it saw (Quiet is not asked).
    let reply = reader
        .fetch_history(c::FetchHistoryRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.seeders, 1);
    let texts: Vec<&str> = reply.messages.iter().map(|m| m.text.as_str()).collect();
    let want: Vec<String> = (11..=20).map(line).collect();
    assert_eq!(texts, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_holds_a_bounded_number_of_snapshots() {
    let server = TestServer::start_with(|c| {
        fast_chat(c);
        c.history_rate = 100.0;
        c.history_burst = 100.0;
    })
    .await;
    let (a_daemon, mut a) = daemon(&server, "Ana").await;
    let (_b_daemon, mut b) = daemon(&server, "Ben").await;
    // Ten fetches, each after one more line: ten ranges, ten snapshots.
    for i in 1..=10 {
        say(&mut a, line(i)).await;
        until_seen(&mut b, i).await;
        let reply = b
            .fetch_history(c::FetchHistoryRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.messages.len(), i);
    }
    // Ana seeds at most eight at once: the oldest made way.
    let held = snapshots(&a_daemon).len();
    assert!((1..=8).contains(&held), "Ana holds {held} snapshots");
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
