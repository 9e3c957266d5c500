//! The table printed per load point.

use crate::point::Point;

fn opt(v: Option<f64>, width: usize, precision: usize) -> String {
    match v {
        Some(v) => format!("{v:>width$.precision$}"),
        None => format!("{:>width$}", "-"),
    }
}

/// The table header.
pub fn header() -> String {
    format!(
        "{:>7} {:>7} {:>5} {:>8} {:>9} {:>9} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>10} {:>7} {:>7} {:>6} {:>6} {:>6}",
        "clients",
        "talkers",
        "rooms",
        "sent/s",
        "fwd/s",
        "delivered",
        "p50ms",
        "p99ms",
        "p999ms",
        "srv%",
        "us/fwd",
        "gen%",
        "fwd/s/core",
        "rssMB",
        "upB",
        "downB",
        "ackB",
        "kbps"
    )
}

/// One table line.
pub fn line(p: &Point) -> String {
    format!(
        "{:>7} {:>7} {:>5} {:>8.0} {:>9.0} {:>9.5} {} {} {} {} {} {} {} {} {} {} {} {}",
        p.clients,
        p.talkers,
        p.rooms,
        p.sent_per_s,
        p.forwarded_per_s,
        p.delivered_ratio,
        opt(p.p50_ms, 7, 3),
        opt(p.p99_ms, 7, 3),
        opt(p.p999_ms, 7, 3),
        opt(p.server_cpu_pct, 7, 1),
        opt(p.server_cpu_us_per_forwarded_packet, 7, 2),
        opt(p.generator_cpu_pct, 7, 1),
        opt(p.capacity_per_core, 10, 0),
        opt(p.server_rss_bytes.map(|b| b as f64 / 1e6), 7, 1),
        opt(p.wire_up_bytes_per_packet, 6, 0),
        opt(p.wire_down_bytes_per_packet, 6, 0),
        opt(p.wire_ack_bytes_per_packet, 6, 0),
        opt(p.wire_down_kbps_per_stream, 6, 1),
    )
}
