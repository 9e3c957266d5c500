//! Files over BitTorrent end to end: real voice-server (the tracker), real
//! daemons with real librqbit sessions, real TCP between them, all on
//! loopback. A shared file reaches two downloaders at once and, after its
//! sharer left, a third from them; it leaves every list with its last
//! seeder; caches are emptied on exit and after `torrent_ttl`; limits and
//! permissions refuse with their names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use voice_proto::pb::control::{self as c, TransferState};
use voice_proto::pb::wire::{AclRule, Change, Permission, RoomAcl, acl_rule, change::Kind};

mod support;
use support::{Client, TestDaemon, TestServer, WAIT, connect};

/// A file of `len` random bytes; returns its path and SHA-256.
fn random_file(dir: &Path, name: &str, len: usize) -> (PathBuf, Vec<u8>) {
    let mut data = vec![0u8; len];
    getrandom::getrandom(&mut data).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, &data).unwrap();
    (path, Sha256::digest(&data).to_vec())
}

fn sha256_of(path: &str) -> Vec<u8> {
    Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

/// Files (not directories) under a daemon's torrent cache.
fn cached_files(d: &TestDaemon) -> usize {
    fn count(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() { count(&p) } else { 1 }
                })
                .sum()
        })
    }
    count(&d.paths.cache_dir.join("torrents"))
}

async fn daemon(server: &TestServer, name: &str) -> (TestDaemon, Client) {
    let d = TestDaemon::start().await;
    let mut client = d.client().await;
    connect(&mut client, server, name).await;
    (d, client)
}

/// Waits until `client` lists a file with this hash in its room.
async fn until_listed(client: &mut Client, info_hash: &str) -> c::FileEntry {
    tokio::time::timeout(WAIT, async {
        loop {
            let files = client
                .files(c::FilesRequest::default())
                .await
                .unwrap()
                .into_inner()
                .files;
            if let Some(f) = files.into_iter().find(|f| f.info_hash == info_hash) {
                return f;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the shared file is listed")
}

/// Downloads `file` into `to` and waits for it; returns the path.
async fn download(mut client: Client, file: String, to: PathBuf) -> Result<String, String> {
    let started = client
        .download(c::DownloadRequest {
            file,
            to: to.to_string_lossy().into_owned(),
        })
        .await
        .map_err(|e| e.message().to_owned())?
        .into_inner();
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let all = client
                .transfers(c::Empty {})
                .await
                .unwrap()
                .into_inner()
                .transfers;
            let Some(t) = all.into_iter().find(|t| t.id == started.id) else {
                return Err("the transfer went away".to_owned());
            };
            match TransferState::try_from(t.state) {
                Ok(TransferState::Complete) => return Ok(t.path),
                Ok(TransferState::Failed) => return Err(t.error),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await
    .map_err(|_| "the download did not finish in 120 s".to_owned())?
}

/// Every TCP and UDP socket of this process (server, daemons, librqbit)
/// talks to loopback or to nobody: no DHT, no public tracker, no UPnP.
#[cfg(target_os = "linux")]
fn assert_only_loopback() {
    let mut seen = 0;
    for table in ["tcp", "tcp6", "udp", "udp6"] {
        let text = std::fs::read_to_string(format!("/proc/self/net/{table}")).unwrap();
        for line in text.lines().skip(1) {
            let remote = line.split_whitespace().nth(2).unwrap();
            let (ip, _port) = remote.split_once(':').unwrap();
            let ok = match ip.len() {
                8 => ip == "00000000" || ip == "0100007F",
                32 => {
                    ip == "00000000000000000000000000000000"
                        || ip == "00000000000000000000000001000000"
                        || ip == "0000000000000000FFFF00000100007F"
                }
                _ => false,
            };
            assert!(ok, "a {table} socket talks to {remote}: {line}");
            seen += 1;
        }
    }
    assert!(seen > 0, "sockets were seen");
}

#[cfg(not(target_os = "linux"))]
fn assert_only_loopback() {}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_reaches_every_downloader_and_goes_with_its_last_seeder() {
    let server = TestServer::start_with(|c| c.swarm_grace_secs = 3).await;
    let (a, mut ca) = daemon(&server, "alice").await;
    let (b, mut cb) = daemon(&server, "bob").await;
    let (cd, cc) = daemon(&server, "carol").await;
    let (watcher, mut cw) = daemon(&server, "watcher").await;
    let data = tempfile::tempdir().unwrap();
    let (path, sha) = random_file(data.path(), "random 20MB.bin", 20 << 20);

    let shared = ca
        .share(c::ShareRequest {
            path: path.to_string_lossy().into_owned(),
            room: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shared.size, 20 << 20);
    assert_eq!(shared.name, "random 20MB.bin");
    assert!(
        shared
            .magnet
            .starts_with(&format!("magnet:?xt=urn:btih:{}", shared.info_hash)),
        "{shared:?}"
    );
    // Others see it in the room's list and its magnet link in chat.
    let listed = until_listed(&mut cb, &shared.info_hash).await;
    assert_eq!(
        (listed.id, listed.seeders, listed.sharer.as_str()),
        (shared.id, 1, "alice")
    );
    let chat = cb
        .chat_history(c::ChatHistoryRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        chat.messages.iter().any(|m| m.text == shared.magnet),
        "{chat:?}"
    );

    // Bob (by magnet) and Carol (by id) at once.
    let (to_b, to_c) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let start = Instant::now();
    let (got_b, got_c) = tokio::join!(
        download(cb.clone(), shared.magnet.clone(), to_b.path().to_owned()),
        download(cc.clone(), shared.id.to_string(), to_c.path().to_owned()),
    );
    let took = start.elapsed();
    let (got_b, got_c) = (got_b.unwrap(), got_c.unwrap());
    eprintln!("two downloads of 20 MiB at once from one seeder: {took:?}");
    assert_eq!(sha256_of(&got_b), sha);
    assert_eq!(sha256_of(&got_c), sha);
    assert!(got_b.starts_with(to_b.path().to_str().unwrap()), "{got_b}");
    assert_only_loopback();

    // Alice leaves: her cache is empty; Dave gets the file from Bob and Carol.
    let listed = until_listed(&mut cw, &shared.info_hash).await;
    assert_eq!(listed.seeders, 3, "{listed:?}");
    drop(ca);
    tokio::time::timeout(WAIT, a.stop()).await.unwrap();
    let (d, cdave) = daemon(&server, "dave").await;
    let to_d = tempfile::tempdir().unwrap();
    let got_d = download(cdave.clone(), shared.magnet.clone(), to_d.path().to_owned())
        .await
        .unwrap();
    assert_eq!(sha256_of(&got_d), sha);

    // Every seeder leaves: within the grace period the file leaves the lists.
    for d in [b, cd, d] {
        tokio::time::timeout(WAIT, d.stop()).await.unwrap();
    }
    let gone = Instant::now();
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let files = cw
                .files(c::FilesRequest::default())
                .await
                .unwrap()
                .into_inner()
                .files;
            if files.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the file left the list");
    eprintln!(
        "file unlisted {:?} after its last seeder left (grace 3 s)",
        gone.elapsed()
    );
    let st = cw.state(c::Empty {}).await.unwrap().into_inner();
    assert!(st.state.unwrap().files.is_empty());
    drop(cw);
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_empty_on_exit_and_after_the_ttl() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let paths = support::paths_in(dir.path());
    std::fs::create_dir_all(&paths.config_dir).unwrap();
    std::fs::write(paths.config_dir.join("config.toml"), "torrent_ttl = 2\n").unwrap();
    let a = TestDaemon::start_at(paths).await;
    let mut ca = a.client().await;
    connect(&mut ca, &server, "alice").await;
    let data = tempfile::tempdir().unwrap();
    let (path, _) = random_file(data.path(), "short.bin", 300_000);
    ca.share(c::ShareRequest {
        path: path.to_string_lossy().into_owned(),
        room: String::new(),
    })
    .await
    .unwrap();
    assert_eq!(cached_files(&a), 1, "the shared copy is in the cache");
    tokio::time::timeout(WAIT, async {
        while cached_files(&a) > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the cache copy goes after torrent_ttl");
    let transfers = ca
        .transfers(c::Empty {})
        .await
        .unwrap()
        .into_inner()
        .transfers;
    assert!(transfers.is_empty(), "{transfers:?}");
    assert!(path.exists(), "the user's original stays");

    // A daemon with the default ttl: the cache is empty once it exited.
    let (b, mut cb) = daemon(&server, "bob").await;
    cb.share(c::ShareRequest {
        path: path.to_string_lossy().into_owned(),
        room: String::new(),
    })
    .await
    .unwrap();
    assert_eq!(cached_files(&b), 1);
    let cache = b.paths.cache_dir.clone();
    drop(cb);
    let (dir_kept, _) = tokio::time::timeout(WAIT, b.stop()).await.unwrap();
    assert!(
        !cache.join("torrents").exists(),
        "the cache was emptied on exit"
    );
    drop(dir_kept);
    drop(ca);
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_are_refused_by_permission_size_and_room() {
    let server = TestServer::start_with(|c| c.max_file_size = 1 << 20).await;
    let (a, mut ca) = daemon(&server, "alice").await;
    let data = tempfile::tempdir().unwrap();
    let (big, _) = random_file(data.path(), "big.bin", 2 << 20);
    let err = ca
        .share(c::ShareRequest {
            path: big.to_string_lossy().into_owned(),
            room: String::new(),
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("max_file_size"), "{err:?}");
    assert_eq!(cached_files(&a), 0, "refused before any data moved");

    // A user in another room gets neither the torrent nor peers.
    let (small, _) = random_file(data.path(), "small.bin", 1000);
    let shared = ca
        .share(c::ShareRequest {
            path: small.to_string_lossy().into_owned(),
            room: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let (b, mut cb) = daemon(&server, "bob").await;
    cb.create_room(c::CreateRoomRequest {
        name: "elsewhere".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    cb.join(c::RoomRef {
        room: "elsewhere".into(),
    })
    .await
    .unwrap();
    let to = tempfile::tempdir().unwrap();
    let err = download(cb.clone(), shared.magnet.clone(), to.path().to_owned())
        .await
        .unwrap_err();
    assert!(err.contains("join it"), "{err}");
    assert_eq!(cached_files(&b), 0);
    ca.cancel_transfer(c::TransferRef { id: 1 }).await.unwrap();

    // Nobody may share in the root: the permission is named.
    server
        .hub
        .server_change(Change {
            kind: Some(Kind::SetRoomAcl(RoomAcl {
                room: 0,
                inherit_acl: true,
                rules: vec![AclRule {
                    subject: Some(acl_rule::Subject::Role("everyone".into())),
                    allow: 0b11111 | (1 << (Permission::MakeRoom as u32 - 1)),
                    deny: 1 << (Permission::ShareFiles as u32 - 1),
                    apply_here: true,
                    apply_subs: true,
                }],
            })),
        })
        .await
        .unwrap();
    let (small, _) = random_file(data.path(), "other.bin", 1000);
    let err = ca
        .share(c::ShareRequest {
            path: small.to_string_lossy().into_owned(),
            room: String::new(),
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("share_files"), "{err:?}");
    assert_eq!(
        cached_files(&a),
        0,
        "a refused share leaves nothing in the cache"
    );
    drop((ca, cb));
    a.stop().await;
    b.stop().await;
}
