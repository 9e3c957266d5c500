//! Churn: clients moving between rooms at a steady rate for minutes while
//! talkers talk. Measures the voice every listener should have heard while
//! it sat in a room ([`crate::residency`]), relay latency, how long a move
//! takes, and the server's memory and CPU every few seconds.
//!
//! Talkers stay in their rooms; every other client moves. A move is a real
//! `SessionMove` proposal against the state hash the client last saw,
//! retried when another change got in first, as a real client does.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::sync::mpsc;
use voice_proto::pb::wire::{
    Change, Propose, SessionMove, change::Kind, client_msg, rejected::Reason, server_msg::Msg,
};
use voice_proto::state::ROOT;

use crate::client::LoggedIn;
use crate::fleet::{self, BenchClient, Target};
use crate::histogram::Histogram;
use crate::point::{self, MEASURING, STOPPED};
use crate::process;
use crate::residency::{self, MARGIN_US, Residency};

/// Time allowed for packets still in flight after the talkers stop.
const DRAIN: Duration = Duration::from_millis(500);
/// How long a move may wait for the server's answer.
const MOVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Stale answers a move is retried after (another change got in first).
const STALE_RETRIES: u32 = 50;

/// What to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Clients logged in, talkers included.
    pub clients: usize,
    /// Clients that talk (they stay in their rooms).
    pub talkers: usize,
    /// Rooms: the root and `bench-1` … under it.
    pub rooms: usize,
    /// Room moves per second, all moving clients together.
    pub rate: f64,
    /// Length of the run after everyone is in, seconds.
    pub seconds: f64,
    /// Seconds after which the server's memory should stay flat.
    pub warm_up: f64,
    /// Seconds between samples of the server's memory and CPU.
    pub sample_every: f64,
    /// Logins in flight at once.
    pub login_concurrency: usize,
}

/// One sample of the server, taken every [`Settings::sample_every`] seconds.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Seconds since the run started.
    pub t_s: f64,
    /// Server resident memory, bytes.
    pub server_rss_bytes: Option<u64>,
    /// Server CPU since the last sample, % of one core.
    pub server_cpu_pct: Option<f64>,
    /// Moves accepted so far.
    pub moves: u64,
    /// Voice datagrams the clients received per second since the last sample.
    pub forwarded_per_s: f64,
}

/// The figures of a churn run.
#[derive(Debug, Clone, Serialize)]
pub struct Churn {
    /// Clients logged in.
    pub clients: usize,
    /// Talkers among them.
    pub talkers: usize,
    /// Clients that moved.
    pub movers: usize,
    /// Rooms.
    pub rooms: usize,
    /// Seconds from the first login to the last `Welcome`.
    pub login_seconds: f64,
    /// Length of the run, seconds.
    pub seconds: f64,
    /// Moves per second asked for.
    pub moves_target_per_s: f64,
    /// Moves the server accepted.
    pub moves_accepted: u64,
    /// Accepted moves per second.
    pub moves_per_s: f64,
    /// Proposals that went stale (another change first) and were sent again.
    pub moves_stale_retries: u64,
    /// Ticks at which every mover was still busy with its last move.
    pub moves_skipped: u64,
    /// Moves refused, by the server's reason.
    pub moves_refused: BTreeMap<String, u64>,
    /// From proposing a move to its `Accepted`, median ms (retries included).
    pub move_p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub move_p99_ms: Option<f64>,
    /// Voice packets the talkers sent.
    pub sent: u64,
    /// Packets listeners should have heard (sent while they sat in the
    /// talker's room, moves' margins left out).
    pub expected: u64,
    /// Of those, the packets they heard.
    pub delivered: u64,
    /// `delivered / expected`.
    pub delivered_ratio: f64,
    /// Relay latency (send to receive) of every packet heard: median, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// 99.9th percentile, ms.
    pub p999_ms: Option<f64>,
    /// Largest, ms.
    pub max_ms: f64,
    /// Clients whose connection ended during the run.
    pub connections_lost: usize,
    /// Server CPU over the run, % of one core.
    pub server_cpu_pct: Option<f64>,
    /// Load generator CPU over the run, % of one core.
    pub generator_cpu_pct: Option<f64>,
    /// How late the generator's own 5 ms timer woke up: median, ms. A
    /// generator this late reads voice this late too, so it is part of the
    /// relay latency that is not the server's.
    pub generator_lag_p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub generator_lag_p99_ms: Option<f64>,
    /// The samples.
    pub samples: Vec<Sample>,
    /// Server memory at the first sample after warm-up, bytes.
    pub server_rss_warm_bytes: Option<u64>,
    /// Server memory at the end, bytes.
    pub server_rss_last_bytes: Option<u64>,
    /// Largest sample after warm-up, bytes.
    pub server_rss_max_after_warm_bytes: Option<u64>,
    /// Least-squares slope of the samples after warm-up, MB per minute.
    pub server_rss_slope_mb_per_min: Option<f64>,
}

/// What a client's control reader hands its mover.
#[derive(Debug)]
enum Event {
    /// Move to this room (from the scheduler).
    Move(u32),
    /// The server accepted request `id`.
    Accepted(u64),
    /// The server refused request `id`: reason, message.
    Rejected(u64, i32, String),
}

/// Counters every mover adds to.
#[derive(Debug, Default)]
struct Moves {
    accepted: AtomicU64,
    stale: AtomicU64,
    latency: Histogram,
    refused: Mutex<BTreeMap<String, u64>>,
}

/// One logged-in client of the run.
struct Member {
    client: BenchClient,
    residency: Arc<Residency>,
    /// Its control stream's send half and the state hash it last saw.
    send: Option<quinn::SendStream>,
    hash: Arc<Mutex<Vec<u8>>>,
    /// Where its control reader sends answers, and the receiving end.
    events: (
        mpsc::UnboundedSender<Event>,
        Option<mpsc::UnboundedReceiver<Event>>,
    ),
}

/// The room of each talker, by session (set once everyone is in).
type Talkers = Arc<OnceLock<HashMap<u32, u32>>>;

/// Runs the churn and prints a line per sample and the summary.
pub async fn run(
    target: &Target,
    settings: &Settings,
    server_pid: Option<u32>,
    print: &dyn Fn(&str),
) -> anyhow::Result<Churn> {
    if settings.talkers > settings.clients {
        anyhow::bail!(
            "--talkers {} exceeds --clients {}: talkers are among the clients",
            settings.talkers,
            settings.clients
        );
    }
    if settings.rooms < 2 {
        anyhow::bail!("--churn needs --rooms 2 or more: clients move between rooms");
    }
    if settings.rate.is_nan() || settings.rate <= 0.0 || settings.rate > 10_000.0 {
        anyhow::bail!("--churn is moves per second, above 0 and at most 10000");
    }
    let talkers: Talkers = Arc::new(OnceLock::new());
    let login_start = Instant::now();
    let (mut members, rooms) = log_in(target, settings, &talkers).await?;
    let login_seconds = login_start.elapsed().as_secs_f64();
    print(&format!(
        "churn: {} clients ({} talking, {} moving) in {} rooms, all logged in after {login_seconds:.2} s",
        members.len(),
        settings.talkers,
        members.len() - settings.talkers,
        rooms.len()
    ));
    let map: HashMap<u32, u32> = members[..settings.talkers]
        .iter()
        .map(|m| (m.client.session, m.client.room))
        .collect();
    let _ = talkers.set(map);

    let now_us = |epoch: Instant| epoch.elapsed().as_micros() as u64;
    let start_us = now_us(target.epoch);
    for m in &members {
        m.residency.open(m.client.room, start_us);
    }
    let phase = Arc::new(AtomicU8::new(MEASURING));
    let logs: Vec<Arc<Mutex<Vec<u64>>>> = (0..settings.talkers)
        .map(|_| Arc::new(Mutex::new(Vec::new())))
        .collect();
    let mut talking = Vec::new();
    for (m, log) in members.iter().zip(&logs) {
        let (conn, phase, log) = (m.client.conn.clone(), phase.clone(), log.clone());
        let epoch = target.epoch;
        talking.push(tokio::spawn(async move {
            point::talk(conn, phase, epoch, |stamp, _| {
                log.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(stamp);
            })
            .await;
        }));
    }

    let moves = Arc::new(Moves::default());
    let mut movers = Vec::new();
    let mut handles = Vec::new();
    for m in members.iter_mut().skip(settings.talkers) {
        let busy = Arc::new(AtomicBool::new(false));
        let room = Arc::new(AtomicU32::new(m.client.room));
        let (Some(send), Some(rx)) = (m.send.take(), m.events.1.take()) else {
            continue;
        };
        let tx = m.events.0.clone();
        let mover = Mover {
            session: m.client.session,
            send,
            hash: m.hash.clone(),
            events: rx,
            residency: m.residency.clone(),
            moves: moves.clone(),
            busy: busy.clone(),
            room: room.clone(),
            epoch: target.epoch,
        };
        handles.push(tokio::spawn(mover.run()));
        movers.push((tx, busy, room));
    }

    let lag = Arc::new(Histogram::new());
    let lag_task = tokio::spawn(measure_lag(lag.clone()));
    let server_cpu0 = server_pid.and_then(process::cpu_us);
    let own_cpu0 = process::cpu_us(std::process::id());
    let run_start = Instant::now();
    let deadline = run_start + Duration::from_secs_f64(settings.seconds);
    let mut samples = Vec::new();
    let mut sampler = Sampler {
        t_s: 0.0,
        total: target.reception.total.load(Ordering::Relaxed),
        cpu_us: server_cpu0,
    };
    let skipped = schedule(
        settings,
        &rooms,
        &movers,
        deadline,
        |t| {
            let s = sampler.take(target, server_pid, &moves, t);
            print(&sample_line(&s));
            samples.push(s);
        },
        run_start,
    )
    .await;
    phase.store(STOPPED, Ordering::Relaxed);
    lag_task.abort();
    let elapsed = run_start.elapsed().as_secs_f64();
    let server_cpu1 = server_pid.and_then(process::cpu_us);
    let own_cpu1 = process::cpu_us(std::process::id());
    for t in talking {
        let _ = t.await;
    }
    // Movers finish the move in hand; then every window closes.
    let settle = Instant::now() + MOVE_TIMEOUT + Duration::from_secs(1);
    while movers
        .iter()
        .any(|(_, busy, _)| busy.load(Ordering::Relaxed))
        && Instant::now() < settle
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stop_us = now_us(target.epoch);
    for m in &members {
        m.residency.close(stop_us);
    }
    tokio::time::sleep(DRAIN).await;
    drop(movers);
    for h in handles {
        h.abort();
    }

    let stamps: Vec<Vec<u64>> = logs
        .iter()
        .map(|l| {
            let mut v = l.lock().unwrap_or_else(PoisonError::into_inner).clone();
            v.sort_unstable();
            v
        })
        .collect();
    let sent: u64 = stamps.iter().map(|s| s.len() as u64).sum();
    let mut expected = 0;
    for (i, m) in members.iter().enumerate() {
        let windows = m.residency.windows();
        for (t, talker) in members[..settings.talkers].iter().enumerate() {
            if t != i {
                expected += residency::expected(&windows, talker.client.room, &stamps[t]);
            }
        }
    }
    let delivered: u64 = members.iter().map(|m| m.residency.heard()).sum();
    let connections_lost = members
        .iter()
        .filter(|m| m.client.conn.close_reason().is_some())
        .count();
    let moves_accepted = moves.accepted.load(Ordering::Relaxed);
    let latency = &target.reception.latency;
    let warm: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t_s >= settings.warm_up)
        .collect();
    let rss_after: Vec<(f64, u64)> = warm
        .iter()
        .filter_map(|s| s.server_rss_bytes.map(|r| (s.t_s, r)))
        .collect();
    let result = Churn {
        clients: members.len(),
        talkers: settings.talkers,
        movers: members.len() - settings.talkers,
        rooms: rooms.len(),
        login_seconds,
        seconds: elapsed,
        moves_target_per_s: settings.rate,
        moves_accepted,
        moves_per_s: moves_accepted as f64 / elapsed,
        moves_stale_retries: moves.stale.load(Ordering::Relaxed),
        moves_skipped: skipped,
        moves_refused: moves
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone(),
        move_p50_ms: moves.latency.quantile_ms(0.5),
        move_p99_ms: moves.latency.quantile_ms(0.99),
        sent,
        expected,
        delivered,
        delivered_ratio: if expected == 0 {
            0.0
        } else {
            delivered as f64 / expected as f64
        },
        p50_ms: latency.quantile_ms(0.5),
        p99_ms: latency.quantile_ms(0.99),
        p999_ms: latency.quantile_ms(0.999),
        max_ms: latency.max_ms(),
        connections_lost,
        server_cpu_pct: match (server_cpu0, server_cpu1) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e6 / elapsed * 100.0),
            _ => None,
        },
        generator_cpu_pct: match (own_cpu0, own_cpu1) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e6 / elapsed * 100.0),
            _ => None,
        },
        generator_lag_p50_ms: lag.quantile_ms(0.5),
        generator_lag_p99_ms: lag.quantile_ms(0.99),
        server_rss_warm_bytes: rss_after.first().map(|&(_, r)| r),
        server_rss_last_bytes: samples.last().and_then(|s| s.server_rss_bytes),
        server_rss_max_after_warm_bytes: rss_after.iter().map(|&(_, r)| r).max(),
        server_rss_slope_mb_per_min: slope(&rss_after).map(|b_per_s| b_per_s * 60.0 / 1e6),
        samples,
    };
    print_summary(&result, settings, print);
    fleet::close_all(members.into_iter().map(|m| m.client).collect()).await;
    Ok(result)
}

/// Logs everyone in: client 0 first (it creates the rooms), then the rest
/// with `login_concurrency` in flight, each in room `i % rooms`. Each
/// client's control and voice readers start as soon as it is in.
async fn log_in(
    target: &Target,
    settings: &Settings,
    talkers: &Talkers,
) -> anyhow::Result<(Vec<Member>, Vec<u32>)> {
    let (first, mut logged) = fleet::timed_login(target, 0, "churn-0".to_owned(), ROOT)
        .await
        .context("first client")?;
    let rooms = fleet::ensure_rooms(&mut logged, settings.rooms)
        .await
        .context("creating the bench rooms")?;
    let mut members = vec![member(target, first, logged, talkers)];
    let talkers = talkers.clone();
    members.extend(
        fleet::log_in_many(
            target,
            1..settings.clients,
            &rooms,
            settings.login_concurrency,
            "churn",
            move |target, client, logged| member(target, client, logged, &talkers),
        )
        .await?,
    );
    Ok((members, rooms))
}

/// Starts a client's readers: control frames keep its state hash and pass
/// answers to its mover; voice datagrams are timed and checked against its
/// residency.
fn member(target: &Target, mut client: BenchClient, logged: LoggedIn, talkers: &Talkers) -> Member {
    let hash = Arc::new(Mutex::new(logged.welcome.hash.clone()));
    let (tx, rx) = mpsc::unbounded_channel();
    let (send, mut reader) = logged.control.into_parts();
    let (h, events) = (hash.clone(), tx.clone());
    client.tasks.push(tokio::spawn(async move {
        while let Ok(Some(msg)) = reader.next().await {
            match msg.msg {
                Some(Msg::Update(u)) => {
                    *h.lock().unwrap_or_else(PoisonError::into_inner) = u.resulting_hash;
                }
                Some(Msg::Accepted(a)) => {
                    let _ = events.send(Event::Accepted(a.request_id));
                }
                Some(Msg::Rejected(r)) => {
                    if r.reason == Reason::Stale as i32 {
                        *h.lock().unwrap_or_else(PoisonError::into_inner) = r.current_hash;
                    }
                    let _ = events.send(Event::Rejected(r.request_id, r.reason, r.message));
                }
                _ => {}
            }
        }
    }));
    let residency = Arc::new(Residency::default());
    let (conn, epoch, reception) = (client.conn.clone(), target.epoch, target.reception.clone());
    let (heard, talkers) = (residency.clone(), talkers.clone());
    client.tasks.push(tokio::spawn(async move {
        while let Ok(datagram) = conn.read_datagram().await {
            let Some((speaker, sent)) = reception.receive(epoch, &datagram) else {
                continue;
            };
            if let Some(&room) = talkers.get().and_then(|t| t.get(&speaker)) {
                heard.arrived(room, sent);
            }
        }
    }));
    Member {
        client,
        residency,
        send: Some(send),
        hash,
        events: (tx, Some(rx)),
    }
}

/// A moving client: proposes each move it is given, retries stale ones,
/// and keeps its residency's windows.
struct Mover {
    session: u32,
    send: quinn::SendStream,
    hash: Arc<Mutex<Vec<u8>>>,
    events: mpsc::UnboundedReceiver<Event>,
    residency: Arc<Residency>,
    moves: Arc<Moves>,
    busy: Arc<AtomicBool>,
    room: Arc<AtomicU32>,
    epoch: Instant,
}

impl Mover {
    async fn run(mut self) {
        let mut request_id = 0u64;
        while let Some(event) = self.events.recv().await {
            let Event::Move(to) = event else {
                continue;
            };
            let started = Instant::now();
            let epoch = self.epoch;
            let now = move || epoch.elapsed().as_micros() as u64;
            self.residency.close(now().saturating_sub(MARGIN_US));
            let outcome = self.propose(&mut request_id, to).await;
            match outcome {
                Ok(()) => {
                    self.room.store(to, Ordering::Relaxed);
                    self.moves.accepted.fetch_add(1, Ordering::Relaxed);
                    self.moves
                        .latency
                        .record(started.elapsed().as_micros() as u64);
                }
                Err(reason) => {
                    *self
                        .moves
                        .refused
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(reason)
                        .or_insert(0) += 1;
                }
            }
            let room = self.room.load(Ordering::Relaxed);
            self.residency.open(room, now() + MARGIN_US);
            self.busy.store(false, Ordering::Release);
        }
    }

    /// Proposes the move until it is accepted, refused, or unanswered.
    async fn propose(&mut self, request_id: &mut u64, to: u32) -> Result<(), String> {
        for _ in 0..=STALE_RETRIES {
            *request_id += 1;
            let id = *request_id;
            let expected_hash = self
                .hash
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let propose = client_msg::Msg::Propose(Propose {
                request_id: id,
                expected_hash,
                change: Some(Change {
                    kind: Some(Kind::MoveSession(SessionMove {
                        session: self.session,
                        room: to,
                    })),
                }),
            });
            voice_net::frames::write(&mut self.send, propose)
                .await
                .map_err(|e| format!("cannot send the proposal: {e}"))?;
            let answer = tokio::time::timeout(MOVE_TIMEOUT, async {
                while let Some(event) = self.events.recv().await {
                    match event {
                        Event::Accepted(a) if a == id => return Some(Ok(())),
                        Event::Rejected(r, reason, message) if r == id => {
                            return Some(Err((reason, message)));
                        }
                        _ => {}
                    }
                }
                None
            })
            .await;
            match answer {
                Ok(Some(Ok(()))) => return Ok(()),
                Ok(Some(Err((reason, _)))) if reason == Reason::Stale as i32 => {
                    self.moves.stale.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Some(Err((_, message)))) => return Err(message),
                Ok(None) => return Err("the client stopped".to_owned()),
                Err(_) => {
                    return Err(format!("no answer within {} s", MOVE_TIMEOUT.as_secs()));
                }
            }
        }
        Err(format!("stale {} times in a row", STALE_RETRIES + 1))
    }
}

/// Hands out moves at `settings.rate` until `deadline`, each to an idle
/// mover picked at random and into another room picked at random; calls
/// `on_sample` every `sample_every` seconds. Returns the ticks skipped
/// because the movers tried were all busy.
async fn schedule(
    settings: &Settings,
    rooms: &[u32],
    movers: &[(
        mpsc::UnboundedSender<Event>,
        Arc<AtomicBool>,
        Arc<AtomicU32>,
    )],
    deadline: Instant,
    mut on_sample: impl FnMut(f64),
    start: Instant,
) -> u64 {
    let mut skipped = 0;
    if movers.is_empty() {
        tokio::time::sleep_until(deadline.into()).await;
        return 0;
    }
    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / settings.rate));
    let every = Duration::from_secs_f64(settings.sample_every.max(0.1));
    let mut next_sample = start + every;
    while Instant::now() < deadline {
        tick.tick().await;
        if Instant::now() >= next_sample {
            on_sample(start.elapsed().as_secs_f64());
            next_sample += every;
        }
        let picked = (0..8).find_map(|_| {
            let (tx, busy, room) = &movers[rng.gen_range(0..movers.len())];
            busy.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
                .then_some((tx, busy, room))
        });
        let Some((tx, busy, room)) = picked else {
            skipped += 1;
            continue;
        };
        let here = room.load(Ordering::Relaxed);
        let others: Vec<u32> = rooms.iter().copied().filter(|&r| r != here).collect();
        let to = others[rng.gen_range(0..others.len())];
        if tx.send(Event::Move(to)).is_err() {
            busy.store(false, Ordering::Release);
        }
    }
    // A last sample at the end, unless one was just taken.
    if Instant::now() >= next_sample - every + Duration::from_secs(1) {
        on_sample(start.elapsed().as_secs_f64());
    }
    skipped
}

/// Cumulative counters at the last sample, for rates between samples.
struct Sampler {
    t_s: f64,
    total: u64,
    cpu_us: Option<u64>,
}

impl Sampler {
    /// Samples the server at `t_s` seconds into the run.
    fn take(&mut self, target: &Target, pid: Option<u32>, moves: &Moves, t_s: f64) -> Sample {
        let total = target.reception.total.load(Ordering::Relaxed);
        let cpu = pid.and_then(process::cpu_us);
        let dt = (t_s - self.t_s).max(1e-3);
        let sample = Sample {
            t_s,
            server_rss_bytes: pid.and_then(process::rss_bytes),
            server_cpu_pct: match (self.cpu_us, cpu) {
                (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e6 / dt * 100.0),
                _ => None,
            },
            moves: moves.accepted.load(Ordering::Relaxed),
            forwarded_per_s: total.saturating_sub(self.total) as f64 / dt,
        };
        *self = Self {
            t_s,
            total,
            cpu_us: cpu,
        };
        sample
    }
}

fn sample_line(s: &Sample) -> String {
    format!(
        "t={:>6.0} s  server RSS {:>7} MB  CPU {:>5} %  moves {:>7}  forwarded {:>8.0}/s",
        s.t_s,
        s.server_rss_bytes
            .map_or("-".to_owned(), |r| format!("{:.1}", r as f64 / 1e6)),
        s.server_cpu_pct
            .map_or("-".to_owned(), |c| format!("{c:.0}")),
        s.moves,
        s.forwarded_per_s
    )
}

fn print_summary(r: &Churn, settings: &Settings, print: &dyn Fn(&str)) {
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
    let refused: u64 = r.moves_refused.values().sum();
    print(&format!(
        "churn: {} moves accepted in {:.0} s ({:.1}/s; asked {:.1}/s), {} stale and sent again, \
         {} refused, {} ticks skipped (every mover tried was busy); a move took {} ms median, {} ms p99",
        r.moves_accepted,
        r.seconds,
        r.moves_per_s,
        r.moves_target_per_s,
        r.moves_stale_retries,
        refused,
        r.moves_skipped,
        ms(r.move_p50_ms),
        ms(r.move_p99_ms)
    ));
    for (reason, n) in &r.moves_refused {
        print(&format!("churn: {n} moves refused: {reason}"));
    }
    print(&format!(
        "churn: voice delivered {} of {} expected ({:.5}); {} sent by {} talkers; relay latency \
         p50 {} ms, p99 {} ms, p99.9 {} ms, max {:.1} ms",
        r.delivered,
        r.expected,
        r.delivered_ratio,
        r.sent,
        r.talkers,
        ms(r.p50_ms),
        ms(r.p99_ms),
        ms(r.p999_ms),
        r.max_ms
    ));
    let mb = |v: Option<u64>| v.map_or("-".to_owned(), |v| format!("{:.1}", v as f64 / 1e6));
    print(&format!(
        "churn: server RSS {} MB after warm-up ({:.0} s), {} MB at the end, {} MB at most; \
         slope {} MB/min; server CPU {} %, generator CPU {} % (its timers woke {} ms late \
         median, {} ms p99)",
        mb(r.server_rss_warm_bytes),
        settings.warm_up,
        mb(r.server_rss_last_bytes),
        mb(r.server_rss_max_after_warm_bytes),
        r.server_rss_slope_mb_per_min
            .map_or("-".to_owned(), |s| format!("{s:+.3}")),
        r.server_cpu_pct
            .map_or("-".to_owned(), |c| format!("{c:.0}")),
        r.generator_cpu_pct
            .map_or("-".to_owned(), |c| format!("{c:.0}")),
        ms(r.generator_lag_p50_ms),
        ms(r.generator_lag_p99_ms),
    ));
    print(&format!("churn: {} connections lost", r.connections_lost));
}

/// Records how late a 5 ms sleep wakes up, until aborted.
async fn measure_lag(lag: Arc<Histogram>) {
    let period = Duration::from_millis(5);
    loop {
        let due = Instant::now() + period;
        tokio::time::sleep(period).await;
        lag.record(Instant::now().saturating_duration_since(due).as_micros() as u64);
    }
}

/// Least-squares slope of `(t, y)`, y per second; `None` below two points.
fn slope(points: &[(f64, u64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mt = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1 as f64).sum::<f64>() / n;
    let cov: f64 = points.iter().map(|p| (p.0 - mt) * (p.1 as f64 - my)).sum();
    let var: f64 = points.iter().map(|p| (p.0 - mt).powi(2)).sum();
    (var > 0.0).then(|| cov / var)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_and_of_too_few_points() {
        let s = slope(&[(0.0, 100), (10.0, 200), (20.0, 300)]).unwrap();
        assert!((s - 10.0).abs() < 1e-9, "{s}");
        assert_eq!(slope(&[(0.0, 1)]), None);
        assert_eq!(slope(&[(5.0, 1), (5.0, 2)]), None);
    }
}
