//! Files across NAT: two daemons in network namespaces of their own reach
//! the server's namespace but not each other (no forwarding there: a
//! NAT-like topology with no NAT box), so their BitTorrent connection can
//! only run through the server's relay. With forwarding on they reach each
//! other and the relay carries nothing.
//!
//! Real parts throughout: `ip netns` and veth pairs made by the test, the
//! voice-server in this process with its sockets in the server's namespace
//! (setns(2) on this thread before its runtime starts), each voiced a
//! process of its own started with `ip netns exec`, driven over its Unix
//! socket (a path works across namespaces). Needs root and iproute2; when
//! namespaces cannot be made the test fails and says so, it never skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use voice_proto::pb::control::{self as c, TransferState};

#[path = "support/netns.rs"]
mod netns;
mod support;
use netns::{Topology, alice_and_bob};
use support::{Client, TestDaemon, TestServer, WAIT};

/// The 20 MB of the issue.
const SIZE: usize = 20_000_000;

async fn transfer(client: &mut Client, id: u32) -> c::Transfer {
    client
        .transfers(c::Empty {})
        .await
        .unwrap()
        .into_inner()
        .transfers
        .into_iter()
        .find(|t| t.id == id)
        .expect("the transfer is listed")
}

/// Shares `path` from `from` in its room.
async fn share(from: &mut Client, path: &Path) -> c::ShareReply {
    from.share(c::ShareRequest {
        path: path.to_string_lossy().into_owned(),
        room: String::new(),
    })
    .await
    .expect("the share starts")
    .into_inner()
}

/// Starts downloading file `id` into `to` (made here), once the client's
/// daemon lists it (the share reaches it as a state update, which may come
/// after the sharer's answer).
async fn download(client: &mut Client, id: u32, to: &Path) -> u32 {
    std::fs::create_dir_all(to).unwrap();
    tokio::time::timeout(WAIT, async {
        loop {
            let files = client
                .files(c::FilesRequest {
                    room: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .files;
            if files.iter().any(|f| f.id == id) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the downloader's daemon lists the shared file");
    client
        .download(c::DownloadRequest {
            file: id.to_string(),
            to: to.to_string_lossy().into_owned(),
        })
        .await
        .expect("the download starts")
        .into_inner()
        .id
}

/// Waits for a download to complete, noting every route it showed.
async fn until_complete(
    client: &mut Client,
    id: u32,
    routes: &mut std::collections::BTreeSet<String>,
) -> c::Transfer {
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let t = transfer(client, id).await;
            if !t.route.is_empty() {
                routes.insert(t.route.clone());
            }
            match TransferState::try_from(t.state) {
                Ok(TransferState::Complete) => return t,
                Ok(TransferState::Failed) => panic!("the download failed: {}", t.error),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .expect("the download finishes in 120 s")
}

/// What a run saw.
struct Outcome {
    /// B's download, complete.
    download: c::Transfer,
    /// A's share, after it.
    share: c::Transfer,
    /// The routes B's download showed while it ran.
    routes: std::collections::BTreeSet<String>,
    /// The server's relay counters.
    stats: voice_proto::pb::admin::RelayStatsReply,
}

/// Shares 20 MB from A and downloads it on B.
fn share_and_download(routed: bool) -> Outcome {
    let net = Topology::new("vrelay", routed);
    net.enter_server();
    // Built after setns: its threads, and every socket the server makes,
    // are in the server's namespace.
    let runtime = voice_testkit::runtime();
    runtime.block_on(async {
        let server = TestServer::start_with(|c| {
            c.listen = "0.0.0.0:0".parse().unwrap();
            // Fast enough for a test, still paced by the relay.
            c.relay_session_bytes_per_second = 16 << 20;
            c.relay_bytes_per_second = 32 << 20;
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let (a, b, mut ca, mut cb) = alice_and_bob(&net, &server, dir.path()).await;

        let mut data = vec![0u8; SIZE];
        getrandom::getrandom(&mut data).unwrap();
        let path = dir.path().join("relayed.bin");
        std::fs::write(&path, &data).unwrap();
        let sha = Sha256::digest(&data).to_vec();
        let shared = share(&mut ca, &path).await;
        let started = download(&mut cb, shared.id, &dir.path().join("downloads")).await;
        let mut routes = std::collections::BTreeSet::new();
        let done = until_complete(&mut cb, started, &mut routes).await;
        let got = std::fs::read(&done.path).unwrap();
        assert_eq!(Sha256::digest(&got).to_vec(), sha, "the file arrived whole");
        let sharer = ca
            .transfers(c::Empty {})
            .await
            .unwrap()
            .into_inner()
            .transfers
            .into_iter()
            .find(|t| t.info_hash == shared.info_hash)
            .expect("A's share is listed");
        let stats = server.hub.relays.stats();
        drop((ca, cb));
        drop((a, b));
        Outcome {
            download: done,
            share: sharer,
            routes,
            stats,
        }
    })
}

#[test]
fn a_file_crosses_nat_through_the_relay() {
    let Outcome {
        download,
        share,
        routes,
        stats,
    } = share_and_download(false);
    let size = SIZE as u64;
    // B was told its peer is relayed, and never saw a direct one.
    assert!(routes.contains("relayed"), "{routes:?}");
    assert!(!routes.contains("direct"), "{routes:?}");
    // Every byte of the file went through the server.
    assert!(stats.opened >= 1, "{stats:?}");
    assert!(stats.bytes >= size, "{stats:?}");
    assert!(download.relayed_bytes >= size, "{download:?}");
    assert!(share.relayed_bytes >= size, "{share:?}");
    eprintln!(
        "relayed: {} bytes through the server, {} connections opened, {} refused",
        stats.bytes, stats.opened, stats.refused
    );
}

#[test]
fn peers_that_reach_each_other_connect_directly() {
    let Outcome {
        download,
        share,
        routes,
        stats,
    } = share_and_download(true);
    assert_eq!((stats.opened, stats.bytes), (0, 0), "{stats:?}");
    assert!(!routes.contains("relayed"), "{routes:?}");
    assert_eq!(download.relayed_bytes, 0, "{download:?}");
    assert_eq!(share.relayed_bytes, 0, "{share:?}");
}

/// An in-process daemon whose config.toml says `bt_relay = MODE`.
async fn daemon_with_relay(server: &TestServer, name: &str, mode: &str) -> (TestDaemon, Client) {
    let dir = tempfile::tempdir().unwrap();
    let paths = support::paths_in(dir.path());
    std::fs::create_dir_all(&paths.config_dir).unwrap();
    std::fs::write(
        paths.config_dir.join("config.toml"),
        format!("bt_relay = \"{mode}\"\n"),
    )
    .unwrap();
    let d = TestDaemon::start_in(dir, paths).await;
    let mut client = d.client().await;
    support::connect(&mut client, server, name).await;
    (d, client)
}

/// On loopback, where every peer is reachable: `always` still relays, and
/// a peer with `never` refuses every relay opened to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_mode_is_the_users_choice() {
    let server = TestServer::start().await;
    let (_a, mut ca) = daemon_with_relay(&server, "alice", "always").await;
    let (_b, mut cb) = daemon_with_relay(&server, "bob", "always").await;
    let (_n, mut cn) = daemon_with_relay(&server, "nina", "never").await;
    let dir = tempfile::tempdir().unwrap();
    let mut data = vec![0u8; 3 << 20];
    getrandom::getrandom(&mut data).unwrap();
    let path = dir.path().join("small.bin");
    std::fs::write(&path, &data).unwrap();

    // Nina shares and takes no relay; Bob dials only through the relay:
    // each of his relays to her is refused. (She may still dial him
    // directly: `always` is about how Bob dials, not who may reach him.)
    let refused0 = server.hub.relays.stats().refused;
    let nina = share(&mut cn, &path).await;
    let stuck = download(&mut cb, nina.id, &dir.path().join("b1")).await;
    let deadline = Instant::now() + WAIT;
    while server.hub.relays.stats().refused == refused0 {
        assert!(
            Instant::now() < deadline,
            "the relay to nina was never refused"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = transfer(&mut cb, stuck).await;
    assert_eq!(t.relayed_bytes, 0, "{t:?}");
    assert_eq!(server.hub.relays.stats().opened, 0);
    cb.cancel_transfer(c::TransferRef { id: stuck })
        .await
        .unwrap();

    // Alice and Bob both relay always: the file goes through the server.
    let alice = share(&mut ca, &path).await;
    let started = download(&mut cb, alice.id, &dir.path().join("b2")).await;
    let done = until_complete(&mut cb, started, &mut Default::default()).await;
    assert_eq!(std::fs::read(&done.path).unwrap(), data);
    assert!(done.relayed_bytes >= data.len() as u64, "{done:?}");
    let stats = server.hub.relays.stats();
    assert!(
        stats.opened >= 1 && stats.bytes >= data.len() as u64,
        "{stats:?}"
    );
}
