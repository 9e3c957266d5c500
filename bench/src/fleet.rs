//! The simulated clients: each has its own UDP socket (so a burst of
//! forwarded datagrams lands in many receive buffers, as with real users),
//! logs in for real, drains its control stream and times the voice it hears.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use tokio::sync::Semaphore;
use voice_proto::pb::wire::{
    Change, Propose, Room, change::Kind, client_msg, rejected::Reason, server_msg::Msg,
};
use voice_proto::state::ROOT;
use voice_proto::voice;

use crate::client::{self, ClientError, Credentials, Framed, LoggedIn, ServerCert};
use crate::histogram::Histogram;
use crate::{naive, traffic};

/// How long one login may take before the bench gives up on it.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);

/// What every receiver adds to.
#[derive(Debug, Default)]
pub struct Reception {
    /// Latency of counted packets (receive time minus stamped send time).
    pub latency: Histogram,
    /// Counted packets received.
    pub counted: AtomicU64,
    /// Every voice datagram received.
    pub total: AtomicU64,
    /// Datagrams that did not parse.
    pub malformed: AtomicU64,
}

/// One logged-in simulated client.
#[derive(Debug)]
pub struct BenchClient {
    /// Its connection.
    pub conn: quinn::Connection,
    /// Its session id.
    pub session: u32,
    /// Its room.
    pub room: u32,
    endpoint: quinn::Endpoint,
    /// Its reader tasks, aborted when it closes.
    pub(crate) tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Closes every client, then waits (briefly) until the closes are sent.
pub async fn close_all(clients: Vec<BenchClient>) {
    let mut endpoints = Vec::with_capacity(clients.len());
    for c in clients {
        c.conn.close(0u32.into(), b"benchmark finished");
        for t in &c.tasks {
            t.abort();
        }
        endpoints.push(c.endpoint);
    }
    let idle = async {
        for e in &endpoints {
            e.wait_idle().await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), idle).await;
}

/// Which relay the clients talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Relay {
    /// `voice-server`: every client logs in with voice/1.
    VoiceServer,
    /// `naive-relay` ([`crate::naive`]): every client joins its room with
    /// one stream, no login.
    Naive,
}

impl Relay {
    /// The name in reports and JSON (as on the command line).
    pub fn name(self) -> &'static str {
        match self {
            Self::VoiceServer => "voice-server",
            Self::Naive => "naive",
        }
    }
}

/// How clients reach the server.
#[derive(Debug, Clone)]
pub struct Target {
    /// Server address.
    pub server: SocketAddr,
    /// Server password.
    pub password: String,
    /// quinn client configuration.
    pub config: quinn::ClientConfig,
    /// The clock every stamp is relative to.
    pub epoch: Instant,
    /// Where received voice is counted.
    pub reception: Arc<Reception>,
    /// Source addresses the clients are spread over (client `i` uses
    /// 127.0.0.1 + `i % sources`; 1 = the server's own address).
    pub sources: u32,
    /// The relay the clients talk to.
    pub relay: Relay,
}

impl Target {
    /// A target with the bench's transport settings.
    pub fn new(server: SocketAddr, password: String, cert: ServerCert) -> anyhow::Result<Self> {
        let config = client::client_config(cert, client::transport())?;
        Ok(Self {
            server,
            password,
            config,
            epoch: Instant::now(),
            reception: Arc::new(Reception::default()),
            sources: 1,
            relay: Relay::VoiceServer,
        })
    }

    /// Talks to `relay` instead of `voice-server`.
    pub fn with_relay(mut self, relay: Relay) -> Self {
        self.relay = relay;
        self
    }

    /// Spreads the clients over `n` source addresses from 127.0.0.1 on
    /// (loopback answers to all of 127.0.0.0/8), so that a server's limits
    /// per address see many users, as from the internet.
    pub fn with_sources(mut self, n: u32) -> anyhow::Result<Self> {
        if n > 1 && self.server.ip() != std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST) {
            bail!(
                "--source-addresses needs a server on 127.0.0.1 (it is {}): other addresses \
                 of 127.0.0.0/8 stand for the users",
                self.server
            );
        }
        if n == 0 || n > 1 << 23 {
            bail!("--source-addresses must be between 1 and {}", 1 << 23);
        }
        self.sources = n;
        Ok(self)
    }

    /// The UDP endpoint of client `index`.
    fn endpoint(&self, index: usize) -> Result<quinn::Endpoint, ClientError> {
        if self.sources <= 1 {
            return client::endpoint(self.server, self.config.clone());
        }
        let base = u32::from(std::net::Ipv4Addr::LOCALHOST);
        let ip = std::net::Ipv4Addr::from(base + (index as u32 % self.sources));
        client::endpoint_at(self.server, ip.into(), self.config.clone())
    }

    /// Connects and logs in client `index`, named `name`, into `room`;
    /// returns the client and its control stream (not yet drained).
    pub async fn login(
        &self,
        index: usize,
        name: String,
        room: u32,
    ) -> Result<(BenchClient, LoggedIn), ClientError> {
        let endpoint = self.endpoint(index)?;
        let conn = client::connect(&endpoint, self.server).await?;
        let creds = Credentials {
            key: SigningKey::generate(&mut rand::rngs::OsRng),
            password: self.password.clone(),
            name,
            admin_token: String::new(),
            room,
            share_history: false,
        };
        let logged = client::login(&conn, creds).await?;
        let client = BenchClient {
            conn,
            session: logged.welcome.session_id,
            room: current_room(&logged),
            endpoint,
            tasks: Vec::new(),
        };
        Ok((client, logged))
    }

    /// Connects client `index` to a naive relay and joins it to `room`
    /// ([`naive::join`]); its voice reader is started.
    pub async fn join_naive(&self, index: usize, room: u32) -> Result<BenchClient, ClientError> {
        let endpoint = self.endpoint(index)?;
        let conn = client::connect(&endpoint, self.server).await?;
        let session = naive::join(&conn, room).await?;
        let mut client = BenchClient {
            conn,
            session,
            room,
            endpoint,
            tasks: Vec::new(),
        };
        self.start_voice_reader(&mut client);
        Ok(client)
    }

    /// Starts the client's readers: the control stream is read and dropped,
    /// voice datagrams are timed.
    pub fn start_readers(&self, client: &mut BenchClient, mut control: Framed) {
        client.tasks.push(tokio::spawn(async move {
            while let Ok(Some(_)) = control.next_frame().await {}
        }));
        self.start_voice_reader(client);
    }

    /// Starts the task that times the voice datagrams the client receives.
    fn start_voice_reader(&self, client: &mut BenchClient) {
        let conn = client.conn.clone();
        let epoch = self.epoch;
        let reception = self.reception.clone();
        client.tasks.push(tokio::spawn(async move {
            while let Ok(datagram) = conn.read_datagram().await {
                reception.receive(epoch, &datagram);
            }
        }));
    }
}

impl Reception {
    /// Counts and times one voice datagram received; returns the speaker's
    /// session and the send time of a counted packet.
    pub fn receive(&self, epoch: Instant, datagram: &[u8]) -> Option<(u32, u64)> {
        let now = epoch.elapsed().as_micros() as u64;
        self.total.fetch_add(1, Ordering::Relaxed);
        let Ok(packet) = voice::decode_server(datagram, voice::DEFAULT_MAX_PAYLOAD) else {
            self.malformed.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let (sent, true) = traffic::read_stamp(packet.opus)? else {
            return None;
        };
        self.counted.fetch_add(1, Ordering::Relaxed);
        self.latency.record(now.saturating_sub(sent));
        Some((packet.speaker, sent))
    }
}

/// The room the server put a client in (it falls back to the root when the
/// requested room is full or closed).
fn current_room(logged: &LoggedIn) -> u32 {
    let id = logged.welcome.session_id;
    logged
        .welcome
        .snapshot
        .as_ref()
        .and_then(|s| s.sessions.iter().find(|x| x.id == id))
        .map(|s| s.room)
        .unwrap_or(ROOT)
}

/// Logged-in clients spread over rooms.
#[derive(Debug)]
pub struct Fleet {
    /// The clients, client `i` in room `rooms[i % rooms.len()]`.
    pub clients: Vec<BenchClient>,
    /// The rooms used.
    pub rooms: Vec<u32>,
}

impl Fleet {
    /// Logs in `count` clients over `rooms` rooms, at most `concurrency`
    /// logins at once. The first client creates missing rooms `bench-N`.
    /// With a naive relay the clients join rooms 0 … `rooms` - 1 instead.
    pub async fn connect(
        target: &Target,
        count: usize,
        rooms: usize,
        concurrency: usize,
    ) -> anyhow::Result<Self> {
        if count == 0 {
            bail!("--clients must be at least 1");
        }
        if target.relay == Relay::Naive {
            let mut fleet = Self {
                clients: Vec::new(),
                rooms: (0..rooms.max(1) as u32).collect(),
            };
            fleet.grow(target, count, concurrency).await?;
            return Ok(fleet);
        }
        let (mut first, mut logged) = timed_login(target, 0, "bench-0".to_owned(), ROOT)
            .await
            .context("first client")?;
        let room_ids = ensure_rooms(&mut logged, rooms.max(1))
            .await
            .context("creating the bench rooms")?;
        target.start_readers(&mut first, logged.control);
        let mut fleet = Self {
            clients: vec![first],
            rooms: room_ids,
        };
        fleet.grow(target, count, concurrency).await?;
        Ok(fleet)
    }

    /// Logs in more clients until there are `count`, client `i` in room
    /// `rooms[i % rooms.len()]`.
    pub async fn grow(
        &mut self,
        target: &Target,
        count: usize,
        concurrency: usize,
    ) -> anyhow::Result<()> {
        let first = self.clients.len();
        if target.relay == Relay::Naive {
            let clients = join_many(target, first..count, &self.rooms, concurrency).await?;
            self.clients.extend(clients);
            return Ok(());
        }
        let clients = log_in_many(
            target,
            first..count,
            &self.rooms,
            concurrency,
            "bench",
            |target, mut client, logged| {
                target.start_readers(&mut client, logged.control);
                client
            },
        )
        .await?;
        self.clients.extend(clients);
        Ok(())
    }

    /// Clients in the same room as client `i`, itself excluded.
    pub fn listeners_of(&self, i: usize) -> usize {
        let room = self.clients[i].room;
        self.clients.iter().filter(|c| c.room == room).count() - 1
    }

    /// Closes every client.
    pub async fn close(self) {
        close_all(self.clients).await;
    }
}

/// Logs in clients `indices` (named `{prefix}-{i}`, client `i` in room
/// `rooms[i % rooms.len()]`), at most `concurrency` at once; `setup` takes
/// each as soon as it is in (so its readers start at once) and makes what
/// is returned, in the order of `indices`.
pub(crate) async fn log_in_many<T: Send + 'static>(
    target: &Target,
    indices: std::ops::Range<usize>,
    rooms: &[u32],
    concurrency: usize,
    prefix: &str,
    setup: impl Fn(&Target, BenchClient, LoggedIn) -> T + Clone + Send + 'static,
) -> anyhow::Result<Vec<T>> {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut pending = Vec::with_capacity(indices.len());
    for i in indices.clone() {
        let (target, gate, setup) = (target.clone(), gate.clone(), setup.clone());
        let (name, room) = (format!("{prefix}-{i}"), rooms[i % rooms.len()]);
        pending.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            let (client, logged) = timed_login(&target, i, name, room).await?;
            Ok::<_, ClientError>(setup(&target, client, logged))
        }));
    }
    let mut out = Vec::with_capacity(pending.len());
    for (i, p) in indices.zip(pending) {
        let item = p
            .await
            .context("login task")?
            .with_context(|| format!("client {i} could not log in"))?;
        out.push(item);
    }
    Ok(out)
}

/// Joins clients `indices` to a naive relay (client `i` in room
/// `rooms[i % rooms.len()]`), at most `concurrency` at once, each within the
/// login timeout.
async fn join_many(
    target: &Target,
    indices: std::ops::Range<usize>,
    rooms: &[u32],
    concurrency: usize,
) -> anyhow::Result<Vec<BenchClient>> {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut pending = Vec::with_capacity(indices.len());
    for i in indices.clone() {
        let (target, gate, room) = (target.clone(), gate.clone(), rooms[i % rooms.len()]);
        pending.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            match tokio::time::timeout(LOGIN_TIMEOUT, target.join_naive(i, room)).await {
                Ok(joined) => joined,
                Err(_) => Err(ClientError::Unexpected(format!(
                    "no answer to the naive join within {} s",
                    LOGIN_TIMEOUT.as_secs()
                ))),
            }
        }));
    }
    let mut out = Vec::with_capacity(pending.len());
    for (i, p) in indices.zip(pending) {
        let client = p
            .await
            .context("join task")?
            .with_context(|| format!("client {i} could not join the naive relay"))?;
        out.push(client);
    }
    Ok(out)
}

/// [`Target::login`] with the bench's login timeout.
pub(crate) async fn timed_login(
    target: &Target,
    index: usize,
    name: String,
    room: u32,
) -> Result<(BenchClient, LoggedIn), ClientError> {
    match tokio::time::timeout(LOGIN_TIMEOUT, target.login(index, name, room)).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Unexpected(format!(
            "no Welcome within {} s",
            LOGIN_TIMEOUT.as_secs()
        ))),
    }
}

/// The ids of the root and of rooms `bench-1` … `bench-(n-1)` under it,
/// creating those that do not exist (needs the MakeRoom permission, which a
/// registered user has by default).
pub(crate) async fn ensure_rooms(logged: &mut LoggedIn, n: usize) -> anyhow::Result<Vec<u32>> {
    let mut ids = vec![ROOT];
    let existing: Vec<Room> = logged
        .welcome
        .snapshot
        .as_ref()
        .map(|s| s.rooms.clone())
        .unwrap_or_default();
    let mut hash = logged.welcome.hash.clone();
    for k in 1..n {
        let name = format!("bench-{k}");
        if let Some(r) = existing
            .iter()
            .find(|r| r.parent == ROOT && r.name == name && r.id != ROOT)
        {
            ids.push(r.id);
            continue;
        }
        let change = Change {
            kind: Some(Kind::AddRoom(Room {
                id: 0,
                parent: ROOT,
                name: name.clone(),
                inherit_acl: true,
                ..Room::default()
            })),
        };
        let mut attempts = 0;
        let id = loop {
            let request_id = k as u64 * 100 + attempts;
            logged
                .control
                .send(client_msg::Msg::Propose(Propose {
                    request_id,
                    expected_hash: hash.clone(),
                    change: Some(change.clone()),
                }))
                .await?;
            let reply = loop {
                match logged.control.next().await? {
                    Some(Msg::Update(u)) => hash = u.resulting_hash,
                    Some(Msg::Accepted(a)) if a.request_id == request_id => break Ok(a),
                    Some(Msg::Rejected(r)) if r.request_id == request_id => break Err(r),
                    Some(_) => {}
                    None => bail!("the server closed the control stream"),
                }
            };
            match reply {
                Ok(accepted) => break accepted.assigned_id,
                Err(r) if r.reason == Reason::Stale as i32 && attempts < 20 => {
                    hash = r.current_hash;
                    attempts += 1;
                }
                Err(r) if r.reason == Reason::RateLimited as i32 => bail!(
                    "the server refused to create room {name} after {} others: {} \
                     (start it with --persist-burst at least the number of rooms)",
                    k - 1,
                    r.message
                ),
                Err(r) => bail!("the server refused to create room {name}: {}", r.message),
            }
        };
        ids.push(id);
    }
    Ok(ids)
}
