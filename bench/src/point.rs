//! Measuring one load point: T talkers among the fleet's clients, a second
//! of warm-up, then a measured window.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde::Serialize;
use voice_proto::voice;

use crate::fleet::{Fleet, Target};
use crate::process;
use crate::traffic::{self, STAMP_LEN, Schedule, Slot};

/// Warm-up before each measured window.
const WARM_UP: Duration = Duration::from_secs(1);
/// Time allowed for counted packets still in flight after the window.
const DRAIN: Duration = Duration::from_millis(500);

/// Talkers send, their packets not counted.
pub(crate) const WARMING: u8 = 0;
/// Talkers send counted packets.
pub(crate) const MEASURING: u8 = 1;
/// Talkers stop.
pub(crate) const STOPPED: u8 = 2;

/// The figures of one load point.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Clients logged in.
    pub clients: usize,
    /// Clients talking.
    pub talkers: usize,
    /// Rooms the clients are spread over.
    pub rooms: usize,
    /// Measured window, seconds.
    pub seconds: f64,
    /// Voice packets the talkers sent per second (all talkers).
    pub sent_per_s: f64,
    /// Datagrams the clients received per second (forwarded by the server).
    pub forwarded_per_s: f64,
    /// Counted packets received over those expected (sent × room listeners).
    pub delivered_ratio: f64,
    /// Latency from the talker's send to a listener's receive: median, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// 99.9th percentile, ms.
    pub p999_ms: Option<f64>,
    /// Largest, ms.
    pub max_ms: f64,
    /// Server CPU (user + system) over the window, % of one core.
    pub server_cpu_pct: Option<f64>,
    /// Server CPU per forwarded datagram, µs.
    pub server_cpu_us_per_forwarded_packet: Option<f64>,
    /// Forwarded datagrams per second one core of the server could sustain
    /// at this CPU cost (1 s / cost).
    pub capacity_per_core: Option<f64>,
    /// Load generator CPU over the window, % of one core.
    pub generator_cpu_pct: Option<f64>,
    /// Server resident memory at the end of the window, bytes.
    pub server_rss_bytes: Option<u64>,
    /// Bytes on the wire (UDP payload + UDP/IP headers) a talker sends per
    /// voice packet, its ACKs for what it hears included.
    pub wire_up_bytes_per_packet: Option<f64>,
    /// Bytes on the wire a pure listener receives per voice packet.
    pub wire_down_bytes_per_packet: Option<f64>,
    /// Bytes on the wire a pure listener sends back (ACKs) per voice packet.
    pub wire_ack_bytes_per_packet: Option<f64>,
    /// One talker's stream upstream, kbit/s on the wire.
    pub wire_up_kbps_per_stream: Option<f64>,
    /// One talker's stream as a listener receives it, kbit/s on the wire,
    /// ACKs it returns included.
    pub wire_down_kbps_per_stream: Option<f64>,
    /// Opus payload bytes per packet (average), for comparison.
    pub payload_bytes_per_packet: f64,
}

impl Point {
    /// Loss above 0.1 % or p99 above 20 ms.
    pub fn over_capacity(&self) -> bool {
        self.delivered_ratio < 0.999 || self.p99_ms.is_none_or(|p| p > 20.0)
    }
}

#[derive(Debug, Default)]
struct Sent {
    counted: AtomicU64,
    expected: AtomicU64,
    payload_bytes: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Wire {
    tx_bytes: u64,
    rx_bytes: u64,
}

/// UDP payload bytes plus the UDP and IP headers.
fn on_wire(stats: &quinn::UdpStats, ipv6: bool) -> u64 {
    stats.bytes + stats.datagrams * if ipv6 { 48 } else { 28 }
}

fn wire(fleet: &Fleet, ipv6: bool) -> Vec<Wire> {
    fleet
        .clients
        .iter()
        .map(|c| {
            let s = c.conn.stats();
            Wire {
                tx_bytes: on_wire(&s.udp_tx, ipv6),
                rx_bytes: on_wire(&s.udp_rx, ipv6),
            }
        })
        .collect()
}

/// Runs `talkers` talkers for warm-up plus `seconds` and measures.
pub async fn measure(
    target: &Target,
    fleet: &Fleet,
    talkers: usize,
    seconds: f64,
    server_pid: Option<u32>,
) -> Point {
    let talkers = talkers.min(fleet.clients.len());
    let phase = Arc::new(AtomicU8::new(WARMING));
    let sent = Arc::new(Sent::default());
    let mut tasks = Vec::new();
    for i in 0..talkers {
        let conn = fleet.clients[i].conn.clone();
        let listeners = fleet.listeners_of(i) as u64;
        let phase = phase.clone();
        let sent = sent.clone();
        let epoch = target.epoch;
        tasks.push(tokio::spawn(async move {
            talk(conn, phase, epoch, |_, len| {
                sent.counted.fetch_add(1, Ordering::Relaxed);
                sent.expected.fetch_add(listeners, Ordering::Relaxed);
                sent.payload_bytes.fetch_add(len as u64, Ordering::Relaxed);
            })
            .await;
        }));
    }
    tokio::time::sleep(WARM_UP).await;

    let ipv6 = target.server.is_ipv6();
    let reception = &target.reception;
    let wire0 = wire(fleet, ipv6);
    let total0 = reception.total.load(Ordering::Relaxed);
    let counted0 = reception.counted.load(Ordering::Relaxed);
    reception.latency.clear();
    let server_cpu0 = server_pid.and_then(process::cpu_us);
    let own_cpu0 = process::cpu_us(std::process::id());
    let start = Instant::now();
    phase.store(MEASURING, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    phase.store(STOPPED, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let server_cpu1 = server_pid.and_then(process::cpu_us);
    let own_cpu1 = process::cpu_us(std::process::id());
    let total1 = reception.total.load(Ordering::Relaxed);
    let wire1 = wire(fleet, ipv6);
    let rss = server_pid.and_then(process::rss_bytes);
    for t in tasks {
        let _ = t.await;
    }
    tokio::time::sleep(DRAIN).await;

    let counted_sent = sent.counted.load(Ordering::Relaxed);
    let expected = sent.expected.load(Ordering::Relaxed);
    let received = reception.counted.load(Ordering::Relaxed) - counted0;
    let forwarded = total1 - total0;
    let server_cpu = match (server_cpu0, server_cpu1) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64),
        _ => None,
    };
    let own_cpu = match (own_cpu0, own_cpu1) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64),
        _ => None,
    };
    let cost = server_cpu
        .filter(|_| forwarded > 0)
        .map(|c| c / forwarded as f64);

    // Wire figures: talkers' upstream, pure listeners' downstream and ACKs.
    let delta = |i: usize| Wire {
        tx_bytes: wire1[i].tx_bytes - wire0[i].tx_bytes,
        rx_bytes: wire1[i].rx_bytes - wire0[i].rx_bytes,
    };
    let talker_tx: u64 = (0..talkers).map(|i| delta(i).tx_bytes).sum();
    let listeners: Vec<usize> = (talkers..fleet.clients.len()).collect();
    let listener_rx: u64 = listeners.iter().map(|&i| delta(i).rx_bytes).sum();
    let listener_tx: u64 = listeners.iter().map(|&i| delta(i).tx_bytes).sum();
    let per = |bytes: u64, packets: u64| (packets > 0).then(|| bytes as f64 / packets as f64);
    let up = per(talker_tx, counted_sent);
    // Packets the pure listeners received: every forward to a non-talker.
    let listener_packets: u64 = if listeners.is_empty() {
        0
    } else {
        let in_room = |room: u32| {
            listeners
                .iter()
                .filter(|&&i| fleet.clients[i].room == room)
                .count() as u64
        };
        let per_talker = counted_sent as f64 / talkers.max(1) as f64;
        (0..talkers)
            .map(|t| (per_talker * in_room(fleet.clients[t].room) as f64) as u64)
            .sum()
    };
    let down = per(listener_rx, listener_packets);
    let ack = per(listener_tx, listener_packets);
    let stream_pps = counted_sent as f64 / talkers.max(1) as f64 / elapsed;
    let kbps = |b: Option<f64>| b.map(|b| b * 8.0 * stream_pps / 1000.0);

    Point {
        clients: fleet.clients.len(),
        talkers,
        rooms: fleet.rooms.len(),
        seconds: elapsed,
        sent_per_s: counted_sent as f64 / elapsed,
        forwarded_per_s: forwarded as f64 / elapsed,
        delivered_ratio: if expected == 0 {
            0.0
        } else {
            received as f64 / expected as f64
        },
        p50_ms: reception.latency.quantile_ms(0.5),
        p99_ms: reception.latency.quantile_ms(0.99),
        p999_ms: reception.latency.quantile_ms(0.999),
        max_ms: reception.latency.max_ms(),
        server_cpu_pct: server_cpu.map(|c| c / 1e6 / elapsed * 100.0),
        server_cpu_us_per_forwarded_packet: cost,
        capacity_per_core: cost.filter(|c| *c > 0.0).map(|c| 1e6 / c),
        generator_cpu_pct: own_cpu.map(|c| c / 1e6 / elapsed * 100.0),
        server_rss_bytes: rss,
        wire_up_bytes_per_packet: up,
        wire_down_bytes_per_packet: down,
        wire_ack_bytes_per_packet: ack,
        wire_up_kbps_per_stream: kbps(up),
        wire_down_kbps_per_stream: kbps(match (down, ack) {
            (Some(d), Some(a)) => Some(d + a),
            _ => None,
        }),
        payload_bytes_per_packet: per(sent.payload_bytes.load(Ordering::Relaxed), counted_sent)
            .unwrap_or(0.0),
    }
}

/// One talker: a packet every 20 ms in spurts, stamped just before sending,
/// until `phase` is [`STOPPED`]; `counted` gets the send time and payload
/// length of every packet sent while it is [`MEASURING`].
pub(crate) async fn talk(
    conn: quinn::Connection,
    phase: Arc<AtomicU8>,
    epoch: Instant,
    mut counted: impl FnMut(u64, usize),
) {
    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut schedule = Schedule::new(&mut rng);
    // Talkers start at random points of the 20 ms period, like real ones.
    let offset = Duration::from_micros(rng.gen_range(0..20_000));
    let period = Duration::from_millis(1000 / u64::from(traffic::PACKETS_PER_SECOND));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut payload = [0u8; 128];
    let mut datagram = Vec::with_capacity(voice::MAX_HEADER_LEN + payload.len());
    let mut seq: u32 = 0;
    loop {
        tick.tick().await;
        let now = phase.load(Ordering::Relaxed);
        if now == STOPPED {
            break;
        }
        let Slot::Packet { len, last } = schedule.next(&mut rng) else {
            continue;
        };
        let len = len.max(STAMP_LEN).min(payload.len());
        rng.fill(&mut payload[STAMP_LEN..len]);
        let measured = now == MEASURING;
        let stamp = traffic::stamp(&mut payload[..len], epoch, measured);
        let flags = if last { voice::FLAG_END_OF_BURST } else { 0 };
        voice::encode_client(&mut datagram, flags, seq, &payload[..len]);
        seq = seq.wrapping_add(1);
        if conn
            .send_datagram(bytes::Bytes::copy_from_slice(&datagram))
            .is_err()
        {
            break;
        }
        if measured {
            counted(stamp, len);
        }
    }
}
