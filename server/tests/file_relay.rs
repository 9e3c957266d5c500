//! The file relay at the wire (the voice and chat relay is `relay.rs`): a
//! relay joins two peers of one swarm in its room and carries bytes both
//! ways unchanged; everyone else is refused with the reason; a relay ends
//! when an end leaves the swarm; a stream that is no relay closes the
//! connection; the session budget paces it; `file_relay = false` turns it
//! off. Real QUIC on loopback, raw clients.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use support::*;
use voice_proto::frame;
use voice_proto::pb::wire::{
    Hello, RelayAnswer, RelayOpen, ServerMsg, StreamKind, TrackerAnnounce, TrackerEvent,
    TrackerPeers, client_msg, server_msg,
};

const SIZE: u64 = 100_000;

fn announce(hash: &[u8], left: u64, event: TrackerEvent) -> impl FnOnce(u64) -> client_msg::Msg {
    let info_hash = hash.to_vec();
    move |request_id| {
        client_msg::Msg::Announce(TrackerAnnounce {
            request_id,
            room: 0,
            info_hash,
            port: 6881,
            left,
            event: event as i32,
        })
    }
}

async fn peers(client: &mut Client, hash: &[u8], left: u64) -> TrackerPeers {
    match client
        .request(announce(hash, left, TrackerEvent::Started))
        .await
    {
        server_msg::Msg::Peers(p) => p,
        other => panic!("the announce was refused: {other:?}"),
    }
}

/// Opens a relay to `target`; the stream on success, the refusal otherwise.
async fn open(
    client: &Client,
    hash: &[u8],
    target: u32,
) -> Result<(quinn::SendStream, quinn::RecvStream), String> {
    let (mut send, recv) = client.conn.open_bi().await.unwrap();
    voice_net::frames::write(
        &mut send,
        client_msg::Msg::Hello(Hello {
            protocol_version: 1,
            kind: StreamKind::Relay as i32,
            client: "test".into(),
        }),
    )
    .await
    .unwrap();
    voice_net::frames::write(
        &mut send,
        client_msg::Msg::RelayOpen(RelayOpen {
            room: 0,
            info_hash: hash.to_vec(),
            target,
        }),
    )
    .await
    .unwrap();
    let mut reader = voice_net::FrameReader::<ServerMsg>::new(recv, frame::SERVER_MAX_FRAME);
    let answer = tokio::time::timeout(WAIT, reader.next())
        .await
        .expect("the server answers")
        .expect("a valid frame")
        .expect("an answer");
    match answer.msg {
        Some(server_msg::Msg::RelayAnswer(RelayAnswer { accepted: true, .. })) => {
            Ok((send, reader.into_inner()))
        }
        Some(server_msg::Msg::RelayAnswer(a)) => Err(a.reason),
        other => panic!("expected RelayAnswer, got {other:?}"),
    }
}

/// Takes the relays the server opens to `client`, accepting each (after
/// checking who it is from) and handing its streams over.
fn serve_incoming(
    client: &Client,
    expect_from: u32,
) -> tokio::sync::mpsc::Receiver<(quinn::SendStream, quinn::RecvStream)> {
    let conn = client.conn.clone();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        while let Ok((mut send, recv)) = conn.accept_bi().await {
            let mut reader =
                voice_net::FrameReader::<ServerMsg>::new(recv, frame::SERVER_MAX_FRAME);
            let Ok(Some(msg)) = reader.next().await else {
                continue;
            };
            let Some(server_msg::Msg::RelayIncoming(incoming)) = msg.msg else {
                panic!("a server stream that is no relay: {msg:?}");
            };
            assert_eq!(incoming.from, expect_from);
            voice_net::frames::write(
                &mut send,
                client_msg::Msg::RelayAnswer(RelayAnswer {
                    accepted: true,
                    reason: String::new(),
                }),
            )
            .await
            .unwrap();
            if tx.send((send, reader.into_inner())).await.is_err() {
                return;
            }
        }
    });
    rx
}

async fn read_n(recv: &mut quinn::RecvStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(WAIT, recv.read_exact(&mut buf))
        .await
        .expect("the bytes arrive in time")
        .expect("the bytes arrive");
    buf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_join_peers_of_one_swarm_in_its_room_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(dir.path())).await;
    let mut boss = admin(&server, "boss").await;
    let other = accepted(
        boss.propose(voice_proto::pb::wire::Change {
            kind: Some(voice_proto::pb::wire::change::Kind::AddRoom(
                voice_proto::pb::wire::Room {
                    parent: 0,
                    name: "other".into(),
                    inherit_acl: true,
                    ..Default::default()
                },
            )),
        })
        .await,
    )
    .assigned_id;

    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let mut dave = server.join("dave").await;
    let mut login = server.login("carol");
    login.room = other;
    let mut carol = Client::connect(&server, login).await.unwrap();
    for c in [&mut alice, &mut bob, &mut dave, &mut carol] {
        c.open_chat().await;
    }

    accepted(alice.share(0, "film.mkv", SIZE).await);
    let hash = voice_proto::torrent::info_hash(&torrent_info("film.mkv", SIZE, true)).to_vec();
    peers(&mut alice, &hash, 0).await;
    let listed = peers(&mut bob, &hash, SIZE).await;
    // The peer list names the session to relay to.
    assert_eq!(listed.peers.len(), 1, "{listed:?}");
    assert_eq!(listed.peers[0].session, alice.id);

    // Bob's relay reaches Alice; bytes cross both ways unchanged.
    let mut incoming = serve_incoming(&alice, bob.id);
    let (mut b_send, mut b_recv) = open(&bob, &hash, alice.id).await.expect("admitted");
    let (mut a_send, mut a_recv) = tokio::time::timeout(WAIT, incoming.recv())
        .await
        .unwrap()
        .unwrap();
    let up: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let down: Vec<u8> = (0..50_000u32).map(|i| (i % 241) as u8).collect();
    b_send.write_all(&up).await.unwrap();
    assert_eq!(read_n(&mut a_recv, up.len()).await, up);
    a_send.write_all(&down).await.unwrap();
    assert_eq!(read_n(&mut b_recv, down.len()).await, down);
    let stats = server.hub.relays.stats();
    assert_eq!((stats.active, stats.opened), (1, 1), "{stats:?}");
    assert_eq!(stats.bytes, 150_000, "{stats:?}");

    // Everyone else is refused, with the reason.
    let again = open(&alice, &hash, bob.id).await.unwrap_err();
    assert!(again.contains("already open"), "{again}");
    let outside = open(&carol, &hash, alice.id).await.unwrap_err();
    assert!(outside.contains("not in room 0"), "{outside}");
    let not_peer = open(&dave, &hash, alice.id).await.unwrap_err();
    assert!(
        not_peer.contains("announce the torrent first"),
        "{not_peer}"
    );
    let nobody = open(&bob, &hash, 999).await.unwrap_err();
    assert!(nobody.contains("not a peer of this file"), "{nobody}");
    let me = open(&bob, &hash, bob.id).await.unwrap_err();
    assert!(me.contains("your own session"), "{me}");
    let unknown = open(&bob, &[9; 20], alice.id).await.unwrap_err();
    assert!(unknown.contains("no file with this info hash"), "{unknown}");
    assert_eq!(server.hub.relays.stats().refused, 6);

    // Bob leaves the swarm: the relay ends on both sides.
    match bob
        .request(announce(&hash, SIZE, TrackerEvent::Stopped))
        .await
    {
        server_msg::Msg::Peers(_) => {}
        other => panic!("{other:?}"),
    }
    let mut buf = [0u8; 16];
    let ended = tokio::time::timeout(WAIT, b_recv.read(&mut buf))
        .await
        .expect("the relay ends within the sweep");
    assert!(ended.is_err(), "the stream was reset: {ended:?}");
    let ended = tokio::time::timeout(WAIT, a_recv.read(&mut buf))
        .await
        .expect("the relay ends within the sweep");
    assert!(ended.is_err(), "the stream was reset: {ended:?}");
    let deadline = Instant::now() + WAIT;
    while server.hub.relays.stats().active != 0 {
        assert!(Instant::now() < deadline, "the relay was not released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A stream after the chat stream that is no relay is a protocol error.
    let (mut send, _recv) = dave.conn.open_bi().await.unwrap();
    voice_net::frames::write(
        &mut send,
        client_msg::Msg::Hello(Hello {
            protocol_version: 1,
            kind: StreamKind::Control as i32,
            client: "test".into(),
        }),
    )
    .await
    .unwrap();
    let (code, reason) = close_of(&dave.conn).await;
    assert_eq!(code, voice_proto::close::PROTOCOL_ERROR);
    assert!(reason.contains("RELAY"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_budget_paces_a_relay_and_the_switch_turns_it_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.relay_session_bytes_per_second = 256 * 1024;
    let server = TestServer::start(cfg).await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    alice.open_chat().await;
    bob.open_chat().await;
    accepted(alice.share(0, "big.iso", SIZE).await);
    let hash = voice_proto::torrent::info_hash(&torrent_info("big.iso", SIZE, true)).to_vec();
    peers(&mut alice, &hash, 0).await;
    peers(&mut bob, &hash, SIZE).await;
    let mut incoming = serve_incoming(&alice, bob.id);
    let (mut b_send, _b_recv) = open(&bob, &hash, alice.id).await.expect("admitted");
    let (_a_send, mut a_recv) = incoming.recv().await.unwrap();
    // 1 MiB at 256 KiB/s with 64 KiB saved up: at least 3.75 s. (A lower
    // bound only: the budget can make the relay slow, never fast.)
    let data = vec![7u8; 1 << 20];
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        b_send.write_all(&data).await.unwrap();
        b_send
    });
    read_n(&mut a_recv, 1 << 20).await;
    let took = start.elapsed();
    drop(writer.await.unwrap());
    assert!(took >= Duration::from_millis(3500), "1 MiB took {took:?}");

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.file_relay = false;
    let off = TestServer::start(cfg).await;
    let mut alice = off.join("alice").await;
    let mut bob = off.join("bob").await;
    alice.open_chat().await;
    bob.open_chat().await;
    accepted(alice.share(0, "big.iso", SIZE).await);
    peers(&mut alice, &hash, 0).await;
    peers(&mut bob, &hash, SIZE).await;
    let refused = open(&bob, &hash, alice.id).await.unwrap_err();
    assert!(refused.contains("file_relay is off"), "{refused}");
}
