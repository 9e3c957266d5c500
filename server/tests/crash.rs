//! Fault: the server killed with SIGKILL while several clients change the
//! shared state as fast as it acknowledges (rooms created, renamed and
//! given ACLs) and an admin registers newcomers (`RegisterRequest`).
//! After each restart on the same data dir, every change a client saw
//! acknowledged is there, nothing is there that nobody proposed, and the
//! state is the last one a client saw or one a change in flight made from
//! it; every registration acknowledged is a stored `known` user (the admin
//! socket's list) and `known` again at its next login, the one in flight
//! may be, and no other key is. The real `voice-server` binary, killed for
//! real; clients on QUIC.
//!
//! `VOICE_CRASH_CYCLES` sets the number of cycles (default 5;
//! `scripts/crash-loop N` runs N).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use tokio::sync::Notify;
use voice_bench::client::{self, Credentials, Framed, ServerCert};
use voice_proto::acl::Permissions;
use voice_proto::hash::hex;
use voice_proto::pb::wire::{
    AclRule, Change, Permission, Propose, RegisterRequest, Room, RoomAcl, RoomEdit, acl_rule,
    change::Kind, client_msg, rejected::Reason, server_msg::Msg,
};
use voice_proto::state::{ROLE_ADMIN, ROLE_KNOWN};
use voice_proto::{Limits, State};

const BIN: &str = env!("CARGO_BIN_EXE_voice-server");
const PASSWORD: &str = "crash-secret";
const WRITERS: usize = 3;
/// Rooms each writer keeps; past it, it renames them.
const ROOMS_EACH: usize = 15;
/// Fixed keys: the writers, the observer, the registrar.
const FIXED_KEYS: usize = WRITERS + 2;

/// The server process; SIGKILLed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    fingerprint: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on `data`, listening on `listen`, and waits for the
/// banner (printed once it serves).
fn start(data: &Path, listen: &str) -> Server {
    let mut child = Command::new(BIN)
        .args(["--listen", listen, "--password", PASSWORD, "--data-dir"])
        .arg(data)
        // Every change is one write and one flush: lift the per-key budget.
        .args(["--persist-rate", "10000", "--persist-burst", "10000"])
        // New keys stay out of `known` until registered: a registration is
        // the only way a key gets there.
        .args(["--registration", "admin"])
        .env_remove("JOURNAL_STREAM")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut addr, mut fingerprint) = (None, None);
    while fingerprint.is_none() {
        let line = lines.next().expect("the banner").unwrap();
        if let Some(a) = line.strip_prefix("listening: ") {
            addr = Some(a.trim().parse().unwrap());
        } else if let Some(f) = line.strip_prefix("fingerprint: ") {
            fingerprint = Some(f.trim().to_owned());
        }
    }
    // Keep reading what it prints so a full pipe never blocks it.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Server {
        child,
        addr: addr.expect("listening line"),
        fingerprint: fingerprint.unwrap(),
    }
}

/// Gives a key the admin role through the admin socket.
fn make_admin(data: &Path, key: &SigningKey) {
    let ok = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["admin", "grant", &key_hex(key), "admin"])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "admin grant");
}

/// A key's public half in hex, as the admin socket names users.
fn key_hex(key: &SigningKey) -> String {
    hex(&key.verifying_key().to_bytes())
}

/// The stored users, from the admin socket: hex key → (name, roles).
fn stored_users(data: &Path) -> BTreeMap<String, (String, Vec<String>)> {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["admin", "users"])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "admin users");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut fields = line.split('\t');
            let mut next = || fields.next().unwrap_or_default().to_owned();
            let (key, name, roles) = (next(), next(), next());
            let roles = roles
                .split(',')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect();
            (key, (name, roles))
        })
        .collect()
}

/// A logged-in client with its mirror of the state.
struct Session {
    _conn: quinn::Connection,
    control: Framed,
    state: State,
    id: u32,
    next_request: u64,
}

async fn login(server: &Server, key: &SigningKey, name: &str) -> Session {
    try_login(server.addr, &server.fingerprint, key, name)
        .await
        .unwrap()
}

/// A login that fails if the server goes (as it does when killed).
async fn try_login(
    addr: SocketAddr,
    fingerprint: &str,
    key: &SigningKey,
    name: &str,
) -> Result<Session, String> {
    let config = client::client_config(
        ServerCert::Pinned(fingerprint.to_owned()),
        voice_server::tls::transport(),
    )
    .map_err(|e| e.to_string())?;
    let endpoint = client::endpoint(addr, config).map_err(|e| e.to_string())?;
    let conn = client::connect(&endpoint, addr)
        .await
        .map_err(|e| e.to_string())?;
    let logged = client::login(
        &conn,
        Credentials {
            key: key.clone(),
            password: PASSWORD.into(),
            name: name.into(),
            admin_token: String::new(),
            room: 0,
            share_history: false,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let snapshot = logged.welcome.snapshot.unwrap_or_default();
    let state = State::from_snapshot(&snapshot, Limits::default()).unwrap();
    assert_eq!(state.hash().to_vec(), logged.welcome.hash, "welcome hash");
    Ok(Session {
        _conn: conn,
        control: logged.control,
        state,
        id: logged.welcome.session_id,
        next_request: 1,
    })
}

/// A room as its writer last saw it acknowledged: name and ACL rules.
type Seen = (String, Vec<AclRule>);

/// What one writer saw acknowledged, and what it had in flight.
#[derive(Default, Clone)]
struct Writer {
    /// Its rooms as acknowledged.
    rooms: BTreeMap<u32, Seen>,
    /// The change it sent and has no answer for.
    in_flight: Option<Change>,
    acked: u64,
}

/// `change` applied to a writer's view; `id` names a created room.
fn take_in(rooms: &mut BTreeMap<u32, Seen>, change: &Change, id: u32) {
    match &change.kind {
        Some(Kind::AddRoom(r)) => {
            rooms.insert(id, (r.name.clone(), Vec::new()));
        }
        Some(Kind::EditRoom(e)) => {
            if let (Some(room), Some(name)) = (rooms.get_mut(&e.id), &e.name) {
                room.0 = name.clone();
            }
        }
        Some(Kind::SetRoomAcl(a)) => {
            if let Some(room) = rooms.get_mut(&a.room) {
                room.1 = a.rules.clone();
            }
        }
        _ => {}
    }
}

/// The next change of writer `me`: rooms until it has [`ROOMS_EACH`],
/// then renames and ACLs of them in turn.
fn next_change(w: &Writer, me: usize, n: u64) -> Change {
    let name = format!("w{me}-{n}");
    let kind = if w.rooms.len() < ROOMS_EACH {
        Kind::AddRoom(Room {
            parent: 0,
            name,
            inherit_acl: true,
            ..Room::default()
        })
    } else {
        let ids: Vec<u32> = w.rooms.keys().copied().collect();
        let id = ids[(n as usize) % ids.len()];
        if n.is_multiple_of(3) {
            // A rule for a key made from n: each ACL differs from the last.
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&n.to_be_bytes());
            Kind::SetRoomAcl(RoomAcl {
                room: id,
                inherit_acl: true,
                rules: vec![AclRule {
                    subject: Some(acl_rule::Subject::UserKey(key.to_vec())),
                    allow: Permissions::from(Permission::Speak).bits(),
                    deny: 0,
                    apply_here: true,
                    apply_subs: true,
                }],
            })
        } else {
            Kind::EditRoom(RoomEdit {
                id,
                name: Some(name),
                ..RoomEdit::default()
            })
        }
    };
    Change { kind: Some(kind) }
}

/// Proposes changes until the connection goes; records each answer.
async fn write(mut s: Session, me: usize, book: Arc<Mutex<Vec<Writer>>>, mut n: u64) {
    loop {
        n += 1;
        let change = next_change(&book.lock().unwrap()[me], me, n);
        let request_id = s.next_request;
        s.next_request += 1;
        book.lock().unwrap()[me].in_flight = Some(change.clone());
        let sent = s
            .control
            .send(client_msg::Msg::Propose(Propose {
                request_id,
                expected_hash: s.state.hash().to_vec(),
                change: Some(change.clone()),
            }))
            .await;
        if sent.is_err() {
            return;
        }
        loop {
            let Ok(Some(msg)) = s.control.next().await else {
                return;
            };
            match msg {
                Msg::Update(u) => {
                    s.state.apply(&u.change.unwrap()).unwrap();
                    assert_eq!(s.state.hash().to_vec(), u.resulting_hash);
                }
                Msg::Accepted(a) if a.request_id == request_id => {
                    let mut book = book.lock().unwrap();
                    let w = &mut book[me];
                    w.in_flight = None;
                    w.acked += 1;
                    take_in(&mut w.rooms, &change, a.assigned_id);
                    break;
                }
                Msg::Rejected(r) if r.request_id == request_id => {
                    book.lock().unwrap()[me].in_flight = None;
                    assert_eq!(r.reason, Reason::Stale as i32, "only stale: {r:?}");
                    break;
                }
                _ => {}
            }
        }
    }
}

/// What the registrar saw acknowledged, and what it had in flight.
#[derive(Default)]
struct Registrations {
    /// Registered keys (hex) as acknowledged, with the name each logged in
    /// with (the name stored with it).
    acked: BTreeMap<String, String>,
    /// The registration sent and not answered: key (hex) and name.
    in_flight: Option<(String, String)>,
    /// The number of the newcomer last registered this cycle.
    last: Option<u64>,
    count: u64,
}

/// The key of newcomer `n` (apart from the fixed keys, whose seeds are
/// one byte repeated).
fn newcomer_key(n: u64) -> SigningKey {
    let mut seed = [0xa5u8; 32];
    seed[..8].copy_from_slice(&n.to_be_bytes());
    SigningKey::from_bytes(&seed)
}

/// Logs newcomers in, one after another, and registers each from the
/// admin session `admin`; records each answer. Returns why it stopped
/// (the server went).
async fn register(
    mut admin: Session,
    addr: SocketAddr,
    fingerprint: String,
    book: Arc<Mutex<Registrations>>,
    first: Arc<Notify>,
    mut n: u64,
) -> String {
    loop {
        n += 1;
        let key = newcomer_key(n);
        let name = format!("r{n}");
        let newcomer = match try_login(addr, &fingerprint, &key, &name).await {
            Ok(s) => s,
            Err(e) => return format!("{name}'s login: {e}"),
        };
        let request_id = admin.next_request;
        admin.next_request += 1;
        book.lock().unwrap().in_flight = Some((key_hex(&key), name.clone()));
        let sent = admin
            .control
            .send(client_msg::Msg::Register(RegisterRequest {
                request_id,
                session: newcomer.id,
            }))
            .await;
        if let Err(e) = sent {
            return format!("sending {name}'s registration: {e}");
        }
        loop {
            let msg = match admin.control.next().await {
                Ok(Some(msg)) => msg,
                Ok(None) => return "the registrar's connection ended".to_owned(),
                Err(e) => return format!("the registrar's connection: {e}"),
            };
            match msg {
                Msg::Update(u) => {
                    admin.state.apply(&u.change.unwrap()).unwrap();
                    assert_eq!(admin.state.hash().to_vec(), u.resulting_hash);
                }
                Msg::Accepted(a) if a.request_id == request_id => {
                    let mut book = book.lock().unwrap();
                    let (key, name) = book.in_flight.take().unwrap();
                    book.acked.insert(key, name);
                    book.last = Some(n);
                    book.count += 1;
                    first.notify_one();
                    break;
                }
                Msg::Failed(f) if f.request_id == request_id => {
                    panic!("the registration of {name} failed: {}", f.message)
                }
                _ => {}
            }
        }
        // Registered: its session may go.
        drop(newcomer);
    }
}

/// Checks the stored users after a restart against what the registrar
/// saw, and takes in the registration in flight if it landed. `fixed` are
/// the keys made admins at the start.
fn check_registrations(
    cycle: u64,
    users: &BTreeMap<String, (String, Vec<String>)>,
    fixed: &BTreeSet<String>,
    book: &mut Registrations,
) {
    for (key, name) in &book.acked {
        let (stored, roles) = users.get(key).unwrap_or_else(|| {
            panic!("cycle {cycle}: the registration of {name} ({key}) acknowledged, then lost")
        });
        assert!(
            stored == name && roles.iter().any(|r| r == ROLE_KNOWN),
            "cycle {cycle}: {name} ({key}) registered and acknowledged, stored as \
             {stored:?} with roles {roles:?}"
        );
    }
    if let Some((key, name)) = book.in_flight.take()
        && users.contains_key(&key)
    {
        book.acked.insert(key, name);
    }
    for (key, (name, roles)) in users {
        if fixed.contains(key) {
            assert_eq!(roles, &[ROLE_ADMIN], "cycle {cycle}: the roles of {name}");
        } else {
            assert!(
                book.acked.get(key) == Some(name) && roles == &[ROLE_KNOWN],
                "cycle {cycle}: user {name:?} ({key}) with roles {roles:?} is no registration \
                 that was proposed"
            );
        }
    }
}

/// Checks the state after a restart against what the writers saw, and
/// takes in the changes in flight that landed.
fn check(cycle: u64, state: &State, book: &mut [Writer]) {
    let rooms: BTreeMap<u32, Seen> = state
        .rooms()
        .iter()
        .filter(|(id, _)| **id != 0)
        .map(|(id, r)| (*id, (r.name.clone(), r.acl.clone())))
        .collect();
    let mut explained = 0;
    for (me, w) in book.iter_mut().enumerate() {
        // What the writer saw, with its change in flight landed too (a
        // room created in flight found by its name).
        let mut landed = w.rooms.clone();
        if let Some(change) = &w.in_flight {
            let created = match &change.kind {
                Some(Kind::AddRoom(r)) => rooms.iter().find(|(_, s)| s.0 == r.name),
                _ => None,
            };
            take_in(&mut landed, change, created.map_or(0, |(id, _)| *id));
            if let Some(Kind::AddRoom(_)) = &change.kind
                && created.is_none()
            {
                landed.remove(&0);
            }
        }
        for (id, seen) in &w.rooms {
            let now = rooms.get(id).unwrap_or_else(|| {
                panic!(
                    "cycle {cycle}: writer {me}'s room {id} ({}) acknowledged, then lost",
                    seen.0
                )
            });
            assert!(
                now == seen || Some(now) == landed.get(id),
                "cycle {cycle}: room {id} is {now:?}; writer {me} saw {seen:?} acknowledged"
            );
        }
        // Take in what landed of the change in flight.
        w.rooms = landed
            .into_iter()
            .filter(|(id, _)| rooms.contains_key(id))
            .map(|(id, _)| (id, rooms[&id].clone()))
            .collect();
        w.in_flight = None;
        explained += w.rooms.len();
    }
    assert_eq!(
        explained,
        rooms.len(),
        "cycle {cycle}: every room is one a writer proposed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_kill_9_of_the_server() {
    let cycles: u64 = std::env::var("VOICE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keys: Vec<SigningKey> = (0..FIXED_KEYS)
        .map(|i| SigningKey::from_bytes(&[i as u8 + 1; 32]))
        .collect();
    let (observer_key, registrar_key) = (&keys[WRITERS], &keys[WRITERS + 1]);
    let fixed: BTreeSet<String> = keys.iter().map(key_hex).collect();
    let mut server = start(&data, "127.0.0.1:0");
    let listen = server.addr.to_string();
    for key in &keys {
        make_admin(&data, key);
    }
    let book = Arc::new(Mutex::new(vec![Writer::default(); WRITERS]));
    let registrations = Arc::new(Mutex::new(Registrations::default()));
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut restarts = Vec::new();
    let mut n = 0u64;
    for cycle in 0..cycles {
        let mut writers = Vec::new();
        for (me, key) in keys.iter().take(WRITERS).enumerate() {
            let s = login(&server, key, &format!("writer{me}")).await;
            writers.push(tokio::spawn(write(s, me, book.clone(), n)));
        }
        let admin = login(&server, registrar_key, "registrar").await;
        let first = Arc::new(Notify::new());
        let mut registrar = tokio::spawn(register(
            admin,
            server.addr,
            server.fingerprint.clone(),
            registrations.clone(),
            first.clone(),
            n,
        ));
        n += 1_000_000;
        // The kill window opens at the cycle's first registration
        // acknowledged, so every cycle has registrations before the kill.
        tokio::select! {
            () = first.notified() => {}
            stopped = &mut registrar => match stopped {
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                stopped => panic!("cycle {cycle}: the registrar stopped first: {stopped:?}"),
            },
        }
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = 100 + (seed >> 33) % 300;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        // SIGKILL: no shutdown, no last flush.
        drop(server);
        // The clients would notice only at their idle timeout: stop them
        // now (what they saw acknowledged is in the book; each records an
        // answer without awaiting in between, so none is half recorded).
        registrar.abort();
        for w in &writers {
            w.abort();
        }
        if let Err(e) = registrar.await
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
        for w in writers {
            if let Err(e) = w.await
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        let up = Instant::now();
        server = start(&data, &listen);
        restarts.push(up.elapsed());
        let observer = login(&server, observer_key, "observer").await;
        check(cycle, &observer.state, &mut book.lock().unwrap());
        let last = {
            let mut registrations = registrations.lock().unwrap();
            check_registrations(cycle, &stored_users(&data), &fixed, &mut registrations);
            registrations.last.take()
        };
        // And a registered key is `known` again when it logs in.
        if let Some(n) = last {
            let again = login(&server, &newcomer_key(n), &format!("r{n}")).await;
            let roles = &again.state.session(again.id).unwrap().roles;
            assert!(
                roles.iter().any(|r| r == ROLE_KNOWN),
                "cycle {cycle}: r{n}'s registration acknowledged, but it logs in with {roles:?}"
            );
        }
    }
    let book = book.lock().unwrap();
    let acked: u64 = book.iter().map(|w| w.acked).sum();
    let registered = registrations.lock().unwrap().count;
    restarts.sort();
    println!(
        "kill -9 of the server under changes: {cycles} cycles, {acked} changes acknowledged, \
         {registered} registrations acknowledged, 0 lost, 0 unproposed, 0 failed restarts; \
         restart to serving: median {} ms, max {} ms",
        restarts[restarts.len() / 2].as_millis(),
        restarts.last().unwrap().as_millis()
    );
}
