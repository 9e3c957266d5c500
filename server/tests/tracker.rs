//! The BitTorrent tracker over QUIC: a shared file's torrent is published,
//! fetched and announced in its room only; peer lists never hold the asker
//! or anyone outside the room; limits refuse with the reason; a swarm
//! without a seeder takes its file out of every client's list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::*;
use voice_proto::pb::wire::{
    AclRule, Change, Permission, Ping, Room, RoomAcl, SharedFile, TorrentFetch, TorrentPublish,
    TrackerAnnounce, TrackerEvent, TrackerScrape, acl_rule, change::Kind, client_msg,
    server_msg::Msg,
};

fn publish(room: u32, info: Vec<u8>) -> impl FnOnce(u64) -> client_msg::Msg {
    move |request_id| {
        client_msg::Msg::TorrentPublish(TorrentPublish {
            request_id,
            room,
            info,
        })
    }
}

fn announce(
    room: u32,
    hash: &[u8],
    port: u32,
    left: u64,
    event: TrackerEvent,
) -> impl FnOnce(u64) -> client_msg::Msg {
    let info_hash = hash.to_vec();
    move |request_id| {
        client_msg::Msg::Announce(TrackerAnnounce {
            request_id,
            room,
            info_hash,
            port,
            left,
            event: event as i32,
        })
    }
}

fn fetch(room: u32, hash: &[u8]) -> impl FnOnce(u64) -> client_msg::Msg {
    let info_hash = hash.to_vec();
    move |request_id| {
        client_msg::Msg::TorrentFetch(TorrentFetch {
            request_id,
            room,
            info_hash,
        })
    }
}

fn scrape(request_id: u64) -> client_msg::Msg {
    client_msg::Msg::Scrape(TrackerScrape {
        request_id,
        room: 0,
    })
}

fn failure(msg: Msg) -> String {
    match msg {
        Msg::Failed(f) => f.message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn room(name: &str) -> Change {
    Change {
        kind: Some(Kind::AddRoom(Room {
            parent: 0,
            name: name.into(),
            inherit_acl: true,
            ..Room::default()
        })),
    }
}

/// Waits until a client's mirror holds no file `id`.
async fn until_file_gone(client: &mut Client, id: u32, within: Duration) {
    tokio::time::timeout(within, async {
        while client.state.files().contains_key(&id) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            client
                .control
                .send(client_msg::Msg::Ping(Ping { timestamp_us: 1 }))
                .await;
            if client.next_reply().await.is_none() {
                panic!("closed: {:?}", close_of(&client.conn).await);
            }
        }
    })
    .await
    .expect("the file left the shared state in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_serves_its_room_only_and_goes_with_its_last_seeder() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.swarm_grace_secs = 2;
    config.max_file_size = 1 << 20;
    config.max_torrent_info_bytes = 2048;
    let server = TestServer::start(config).await;
    let mut boss = admin(&server, "boss").await;
    let other = accepted(boss.propose(room("other")).await).assigned_id;
    let noshare = accepted(boss.propose(room("no sharing")).await).assigned_id;
    accepted(
        boss.propose(Change {
            kind: Some(Kind::SetRoomAcl(RoomAcl {
                room: noshare,
                inherit_acl: true,
                rules: vec![AclRule {
                    subject: Some(acl_rule::Subject::Role("everyone".into())),
                    deny: 1 << (Permission::ShareFiles as u32 - 1),
                    apply_here: true,
                    ..AclRule::default()
                }],
            })),
        })
        .await,
    );

    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let mut login = server.login("carol");
    login.room = other;
    let mut carol = Client::connect(&server, login).await.unwrap();

    // Alice shares; the entry is in everyone's list.
    let info = torrent_info("song.ogg", 100_000, true);
    let hash = voice_proto::torrent::info_hash(&info).to_vec();
    let file = accepted(alice.share(0, "song.ogg", 100_000).await).assigned_id;
    bob.catch_up(alice.seq).await;
    assert_eq!(bob.state.files()[&file].info_hash, hash);

    // Bob (same room) fetches the info dictionary and finds Alice.
    match bob.request(fetch(0, &hash)).await {
        Msg::TorrentInfo(t) => assert_eq!(t.info, info),
        other => panic!("{other:?}"),
    }
    let Msg::Peers(first) = alice
        .request(announce(0, &hash, 6881, 0, TrackerEvent::Started))
        .await
    else {
        panic!("alice's announce was refused");
    };
    assert!(first.peers.is_empty(), "the asker is never in its own list");
    assert_eq!((first.seeders, first.leechers), (1, 0));
    let Msg::Peers(peers) = bob
        .request(announce(0, &hash, 6882, 100_000, TrackerEvent::Started))
        .await
    else {
        panic!("bob's announce was refused");
    };
    assert_eq!(peers.peers.len(), 1, "{peers:?}");
    assert_eq!(peers.peers[0].ip, vec![127, 0, 0, 1]);
    assert_eq!(peers.peers[0].port, 6881);
    assert_eq!((peers.seeders, peers.leechers), (1, 1));
    match bob.request(scrape).await {
        Msg::Scrape(s) => {
            assert_eq!(s.swarms.len(), 1);
            assert_eq!((s.swarms[0].seeders, s.swarms[0].leechers), (1, 1));
        }
        other => panic!("{other:?}"),
    }

    // Carol, in another room, gets neither the torrent nor peers.
    let refused = failure(carol.request(fetch(0, &hash)).await);
    assert!(refused.contains("not in room 0"), "{refused}");
    let refused = failure(
        carol
            .request(announce(0, &hash, 6883, 100_000, TrackerEvent::Started))
            .await,
    );
    assert!(refused.contains("not in room 0"), "{refused}");

    // Refusals name their reason; nothing is kept.
    let refused = failure(bob.request(publish(0, torrent_info("a", 10, false))).await);
    assert!(refused.contains("private"), "{refused}");
    let refused = failure(
        bob.request(publish(0, torrent_info("big", (1 << 20) + 1, true)))
            .await,
    );
    assert!(refused.contains("max_file_size"), "{refused}");
    let refused = failure(
        bob.request(publish(0, torrent_info(&"h".repeat(2100), 10, true)))
            .await,
    );
    assert!(refused.contains("limit is 2048"), "{refused}");
    let refused = failure(bob.request(publish(0, b"d4:name".to_vec())).await);
    assert!(refused.contains("bencode"), "{refused}");
    let mut login = server.login("dave");
    login.room = noshare;
    let mut dave = Client::connect(&server, login).await.unwrap();
    let refused = failure(
        dave.request(publish(noshare, torrent_info("x", 10, true)))
            .await,
    );
    assert!(refused.contains("share_files"), "{refused}");
    // An entry for a torrent never published is refused.
    let bogus = Change {
        kind: Some(Kind::AddFile(SharedFile {
            info_hash: vec![9; 20],
            name: "bogus".into(),
            size: 1,
            room: 0,
            owner_key: bob.key.verifying_key().to_bytes().to_vec(),
            ..SharedFile::default()
        })),
    };
    let r = rejected(bob.propose(bogus).await);
    assert!(r.message.contains("publish"), "{r:?}");
    let r = rejected(bob.share(0, "song.ogg", 100_000).await);
    assert!(r.message.contains("another user"), "{r:?}");

    // Bob finishes, Alice stops: Bob seeds on. Bob leaves too: within the
    // grace period the file leaves every client's list.
    let Msg::Peers(done) = bob
        .request(announce(0, &hash, 6882, 0, TrackerEvent::Completed))
        .await
    else {
        panic!("refused");
    };
    assert_eq!(done.seeders, 2);
    alice
        .request(announce(0, &hash, 6881, 0, TrackerEvent::Stopped))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    alice.catch_up(bob.seq).await;
    assert!(alice.state.files().contains_key(&file), "Bob still seeds");
    bob.conn.close(0u32.into(), b"bye");
    until_file_gone(&mut alice, file, Duration::from_secs(10)).await;
    until_file_gone(&mut carol, file, Duration::from_secs(10)).await;
    let refused = failure(alice.request(fetch(0, &hash)).await);
    assert!(refused.contains("no file"), "{refused}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracker_requests_and_swarms_have_budgets() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.tracker_burst = 5.0;
    config.tracker_rate = 0.01;
    config.max_swarms_per_session = 2;
    let server = TestServer::start(config).await;
    let mut user = server.join("user").await;
    accepted(user.share(0, "one", 10).await);
    accepted(user.share(0, "two", 10).await);
    let refused = failure(
        user.request(publish(0, torrent_info("three", 10, true)))
            .await,
    );
    assert!(refused.contains("max_swarms_per_session"), "{refused}");
    // Three requests spent of five: the sixth is refused, the session goes on.
    for _ in 0..2 {
        let msg = user.request(scrape).await;
        assert!(matches!(msg, Msg::Scrape(_)), "{msg:?}");
    }
    let refused = failure(user.request(scrape).await);
    assert!(refused.contains("tracker_rate"), "{refused}");
    user.control
        .send(client_msg::Msg::Ping(Ping { timestamp_us: 7 }))
        .await;
    assert!(matches!(user.next_reply().await, Some(Msg::Pong(_))));
    server.stop().await;
}
