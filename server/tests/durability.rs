//! A change is confirmed only once it is on disk: on a full disk or a data
//! dir turned read-only a change is refused (and nobody sees it), the
//! server recovers by itself when space returns, and every acknowledged
//! change survives a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;
use voice_proto::pb::wire::{Change, Room, change::Kind};

fn add_room(name: &str) -> Change {
    Change {
        kind: Some(Kind::AddRoom(Room {
            id: 0,
            parent: 0,
            name: name.into(),
            inherit_acl: true,
            // Big enough that a handful fills what the disk has left.
            description: "x".repeat(1000),
            ..Room::default()
        })),
    }
}

/// A small tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Self, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(Self(dir.to_owned()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes a file until the disk is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 4096];
    while file
        .write_all(&chunk)
        .and_then(|()| file.sync_all())
        .is_ok()
    {}
}

/// Starts the server again on its data and checks that every acknowledged
/// room is there and no refused one.
async fn restart_and_check(
    config: voice_server::config::Config,
    acked: &[String],
    refused: &[String],
    what: &str,
) {
    let server = TestServer::start(config).await;
    let names: Vec<String> = {
        let inner = server.hub.lock().await;
        inner
            .state
            .rooms()
            .values()
            .map(|r| r.name.clone())
            .collect()
    };
    for name in acked {
        assert!(names.contains(name), "{name} was acknowledged and is gone");
    }
    for name in refused {
        assert!(!names.contains(name), "{name} was refused and is there");
    }
    eprintln!(
        "{} acknowledged, {} refused on {what}; all acknowledged ones lasted",
        acked.len(),
        refused.len()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_full_disk_changes_are_refused_unseen_and_acknowledged_ones_last() {
    let mnt = tempfile::tempdir().unwrap();
    // Never skipped: without a tmpfs there is no full disk to test.
    let _tmpfs = Tmpfs::mount(mnt.path(), "24m")
        .unwrap_or_else(|e| panic!("this test fills a tmpfs it mounts and must run as root: {e}"));
    let data = mnt.path().join("data");
    let mut config = config(&data);
    config.persist_burst = 10_000.0;
    config.max_rooms_per_key = 0;
    let server = TestServer::start(config.clone()).await;
    let mut boss = admin(&server, "boss").await;
    let mut watcher = server.join("watcher").await;

    let mut acked = Vec::new();
    let mut refused = Vec::new();
    let propose =
        async |boss: &mut Client,
               name: String,
               acked: &mut Vec<String>,
               refused: &mut Vec<String>| match boss.propose(add_room(&name)).await {
            Reply::Accepted(_) => acked.push(name),
            Reply::Rejected(r) => {
                assert!(
                    r.message.contains("could not be saved")
                        && r.message.contains("the server's disk is full"),
                    "refused for the full disk, and saying so: {r:?}"
                );
                refused.push(name)
            }
        };
    for i in 0..5 {
        propose(&mut boss, format!("before {i}"), &mut acked, &mut refused).await;
    }
    fill(&mnt.path().join("filler"));
    for i in 0..150 {
        propose(&mut boss, format!("full {i}"), &mut acked, &mut refused).await;
    }
    // Chat needs no disk: it goes on.
    boss.open_chat().await;
    watcher.open_chat().await;
    boss.say(1, "still here").await;
    assert_eq!(boss.expect_chat().await.text, "still here");
    std::fs::remove_file(mnt.path().join("filler")).unwrap();
    // The server recovers by itself once there is space: sled stays failed
    // after an I/O error, so the store opens the database again (at most
    // once a second). The bound is a liveness limit, not a measurement.
    let freed = std::time::Instant::now();
    let mut tries = 0;
    while !acked.iter().any(|n| n.starts_with("after")) {
        assert!(
            freed.elapsed() < std::time::Duration::from_secs(20),
            "no change was accepted within 20 s of space returning ({tries} tries, {} reopens)",
            server.hub.store.reopens()
        );
        propose(
            &mut boss,
            format!("after {tries}"),
            &mut acked,
            &mut refused,
        )
        .await;
        tries += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let recovered = freed.elapsed();
    for i in 0..5 {
        propose(
            &mut boss,
            format!("after more {i}"),
            &mut acked,
            &mut refused,
        )
        .await;
    }
    assert!(
        acked.iter().any(|n| n.starts_with("before")),
        "changes are accepted while there is space: {acked:?}"
    );
    assert!(!refused.is_empty(), "the full disk refused something");
    assert!(
        server.hub.store.reopens() >= 1,
        "the database was opened again"
    );
    eprintln!(
        "space returned: first change accepted after {} ms ({tries} tries, {} reopens)",
        recovered.as_millis(),
        server.hub.store.reopens()
    );

    // Nobody saw a refused change.
    watcher.catch_up(boss.seq).await;
    let seen: Vec<&str> = watcher
        .state
        .rooms()
        .values()
        .map(|r| r.name.as_str())
        .collect();
    for name in &refused {
        assert!(
            !seen.contains(&name.as_str()),
            "{name} was refused yet seen"
        );
    }
    drop(boss);
    drop(watcher);
    let _ = server.stop_reporting().await;

    restart_and_check(config, &acked, &refused, "the full disk").await;
}

/// An ext4 image on a loop device, mounted with `errors=remount-ro` (as
/// data disks usually are); unmounted when dropped.
struct Ext4 {
    image: PathBuf,
    dir: PathBuf,
}

fn run(program: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Ext4 {
    fn mount(image: &Path, dir: &Path) -> Result<Self, String> {
        std::fs::File::create(image)
            .and_then(|f| f.set_len(64 << 20))
            .map_err(|e| e.to_string())?;
        run("mkfs.ext4", &["-q".as_ref(), "-F".as_ref(), image.as_ref()])?;
        let fs = Self {
            image: image.to_owned(),
            dir: dir.to_owned(),
        };
        fs.mount_again()?;
        Ok(fs)
    }

    fn mount_again(&self) -> Result<(), String> {
        run(
            "mount",
            &[
                "-o".as_ref(),
                "loop,errors=remount-ro".as_ref(),
                self.image.as_ref(),
                self.dir.as_ref(),
            ],
        )
    }

    /// Turns the filesystem read-only under open files, the way the kernel
    /// does on a disk error (ext4's `trigger_fs_error`, made for testing).
    fn fail(&self) {
        let out = Command::new("findmnt")
            .args(["-n", "-o", "SOURCE"])
            .arg(&self.dir)
            .output()
            .unwrap();
        let source = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let device = Path::new(&source).file_name().unwrap().to_owned();
        let trigger = Path::new("/sys/fs/ext4")
            .join(device)
            .join("trigger_fs_error");
        std::fs::write(&trigger, "test").unwrap_or_else(|e| panic!("{}: {e}", trigger.display()));
    }

    /// Unmounts, checks and mounts the filesystem again: what an
    /// administrator does after a disk error.
    fn repair(&self) {
        run("umount", &[self.dir.as_ref()]).unwrap();
        // e2fsck exits 1 when it fixed something.
        let _ = Command::new("e2fsck").arg("-fy").arg(&self.image).output();
        self.mount_again().unwrap();
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_data_dir_turns_read_only_changes_are_refused_saying_why_and_chat_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // Never skipped: without a filesystem that can fail there is nothing to test.
    let fs = Ext4::mount(&tmp.path().join("disk.img"), &mnt).unwrap_or_else(|e| {
        panic!("this test mounts an ext4 image on a loop device and must run as root: {e}")
    });
    let mut config = config(&mnt.join("data"));
    config.persist_burst = 10_000.0;
    config.max_rooms_per_key = 0;
    let server = TestServer::start(config.clone()).await;
    let mut boss = admin(&server, "boss").await;
    let mut watcher = server.join("watcher").await;

    let mut acked = Vec::new();
    let mut refused = Vec::new();
    for i in 0..5 {
        match boss.propose(add_room(&format!("before {i}"))).await {
            Reply::Accepted(_) => acked.push(format!("before {i}")),
            Reply::Rejected(r) => panic!("refused on a healthy disk: {r:?}"),
        }
    }
    fs.fail();
    for i in 0..20 {
        let name = format!("read-only {i}");
        match boss.propose(add_room(&name)).await {
            Reply::Accepted(_) => acked.push(name),
            Reply::Rejected(r) => {
                assert!(
                    r.message.contains("could not be saved")
                        && r.message.contains("data directory cannot be written"),
                    "refused for the read-only disk, and saying so: {r:?}"
                );
                refused.push(name);
            }
        }
    }
    assert!(!refused.is_empty(), "the read-only disk refused something");
    // Chat needs no disk: it goes on.
    boss.open_chat().await;
    watcher.open_chat().await;
    boss.say(1, "still here").await;
    assert_eq!(boss.expect_chat().await.text, "still here");
    watcher.catch_up(boss.seq).await;
    for room in watcher.state.rooms().values() {
        assert!(
            !refused.contains(&room.name),
            "{} was refused yet seen",
            room.name
        );
    }
    drop(boss);
    drop(watcher);
    let _ = server.stop_reporting().await;

    // The kernel keeps the filesystem read-only until it is checked and
    // mounted again; after that the server starts with everything it
    // acknowledged.
    fs.repair();
    restart_and_check(config, &acked, &refused, "the read-only disk").await;
}

#[tokio::test]
async fn a_database_that_lost_its_rooms_is_not_reset_to_the_default_acl() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    server.stop().await;
    {
        let store = voice_server::store::Store::open(&dir.path().join("db")).unwrap();
        for room in store.rooms().unwrap() {
            store.remove_room(room.id).unwrap();
        }
        store.flush_blocking(store.epoch()).unwrap();
    }
    let Err(e) = voice_server::Server::bind(config(dir.path())).await else {
        panic!("a server started on a database without rooms");
    };
    let message = e.to_string();
    assert!(message.contains("no rooms"), "{message}");
    assert!(message.contains("backup"), "{message}");
}

#[tokio::test]
async fn lasting_changes_are_budgeted_per_key_and_other_changes_are_not() {
    use voice_proto::pb::wire::{SessionFlags, SessionRename, rejected::Reason};
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.persist_burst = 3.0;
    config.persist_rate = 0.001;
    let server = TestServer::start(config).await;
    let mut user = server.join("user").await;
    let rename = |id: u32, i: u32| Change {
        kind: Some(Kind::RenameSession(SessionRename {
            session: id,
            name: format!("user {i}"),
        })),
    };
    for i in 0..3 {
        assert!(matches!(
            user.propose(rename(user.id, i)).await,
            Reply::Accepted(_)
        ));
    }
    let Reply::Rejected(r) = user.propose(rename(user.id, 3)).await else {
        panic!("a fourth rename (disk write) passed a budget of three");
    };
    assert_eq!(r.reason, Reason::RateLimited as i32, "{r:?}");
    assert!(r.message.contains("persist_rate"), "{r:?}");
    // Changes that are not written to disk are not counted.
    let mute = Change {
        kind: Some(Kind::SetSessionFlags(SessionFlags {
            session: user.id,
            self_mute: Some(true),
            ..SessionFlags::default()
        })),
    };
    assert!(matches!(user.propose(mute).await, Reply::Accepted(_)));
    // Logging in again does not refill the key's budget.
    let mut login = server.login("user again");
    login.key = user.key.clone();
    drop(user);
    let mut again = Client::connect(&server, login).await.unwrap();
    let Reply::Rejected(r) = again.propose(rename(again.id, 4)).await else {
        panic!("a new session of the same key got a fresh budget");
    };
    assert_eq!(r.reason, Reason::RateLimited as i32, "{r:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_login_refused_as_full_stores_nothing_for_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.max_sessions = 1;
    let server = TestServer::start(config).await;
    let _first = server.join("first").await;
    let login = server.login("second");
    let key = login.key.verifying_key().to_bytes();
    let Err((code, _)) = Client::connect(&server, login).await else {
        panic!("a second session joined a server for one");
    };
    assert_eq!(code, voice_proto::close::SERVER_FULL);
    assert!(
        server.hub.store.user(&key).unwrap().is_none(),
        "a refused login wrote a user record (and a disk sync)"
    );
    server.stop().await;
}

/// Names stored before bidi and invisible characters were refused do not
/// stop the server: they are cleaned at start (and role references with
/// them), so the state loads and every client can mirror it.
#[tokio::test]
async fn names_stored_before_the_unsafe_character_rule_are_cleaned_at_start() {
    use voice_proto::pb::wire::{AclRule, Role, Room, acl_rule};
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    server.stop().await;
    {
        let store = voice_server::store::Store::open(&dir.path().join("db")).unwrap();
        store
            .put_role(&Role {
                name: "mo\u{200B}d".into(),
                description: String::new(),
            })
            .unwrap();
        store
            .put_room(&Room {
                id: 5,
                parent: 0,
                name: "eve\u{202E}nimda".into(),
                description: "two\nlines\u{1b}[2J".into(),
                inherit_acl: true,
                acl: vec![AclRule {
                    subject: Some(acl_rule::Subject::Role("mo\u{200B}d".into())),
                    allow: 1,
                    deny: 0,
                    apply_here: true,
                    apply_subs: true,
                }],
                ..Room::default()
            })
            .unwrap();
        store.flush_blocking(store.epoch()).unwrap();
    }
    let server = TestServer::in_dir(dir.path()).await;
    let client = server.join("reader").await;
    let room = client.state.room(5).expect("the room survived");
    assert_eq!(room.name, "evenimda");
    assert_eq!(room.description, "two\nlines[2J");
    assert!(client.state.roles().contains_key("mod"));
    assert!(matches!(
        &room.acl[0].subject,
        Some(acl_rule::Subject::Role(r)) if r == "mod"
    ));
    server.stop().await;
}

/// Logging in again and again does not write (and sync) the user record
/// each time: last seen is kept to the hour.
#[tokio::test]
async fn logging_in_again_soon_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let login = server.login("regular");
    let key = login.key.verifying_key().to_bytes();
    let first = Client::connect(&server, login.clone()).await.unwrap();
    let seen = server.hub.store.user(&key).unwrap().unwrap().last_seen_ms;
    assert_ne!(seen, 0, "a first login is recorded");
    drop(first);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let _again = Client::connect(&server, login).await.unwrap();
    let after = server.hub.store.user(&key).unwrap().unwrap().last_seen_ms;
    assert_eq!(after, seen, "the second login rewrote the user record");
    server.stop().await;
}
