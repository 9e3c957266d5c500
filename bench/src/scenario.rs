//! The named load points of issue 25 (`--scenario`), their scaled-down
//! versions (`--scale`) and the result block one prints.

use serde_json::{Value, json};

use crate::fleet::Relay;
use crate::point::Point;

/// A named load point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// 100 clients, 10 of them talking, one room.
    Small,
    /// One talker and 500 listeners in one room.
    BigRoom,
    /// 1,000 clients in 100 rooms, one talker in each.
    ManyRooms,
}

/// Clients, talkers and rooms of a load point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Clients connected, talkers included.
    pub clients: usize,
    /// Clients talking (clients 0 … talkers - 1, so with as many talkers as
    /// rooms each room has one).
    pub talkers: usize,
    /// Rooms the clients are spread over, round-robin.
    pub rooms: usize,
}

/// Clients a scaled scenario may ask for (each is a QUIC connection and a
/// UDP socket of this one process).
pub const MAX_SCALED_CLIENTS: usize = 100_000;

/// A `--scale` that cannot scale anything, or asks for too many clients.
#[derive(Debug, thiserror::Error)]
#[error("--scale must be a positive number giving at most {MAX_SCALED_CLIENTS} clients, not {0}")]
pub struct BadScale(pub f64);

impl Scenario {
    /// The name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Small => "small",
            Self::BigRoom => "big-room",
            Self::ManyRooms => "many-rooms",
        }
    }

    /// The load point at full size.
    pub fn shape(self) -> Shape {
        let (clients, talkers, rooms) = match self {
            Self::Small => (100, 10, 1),
            Self::BigRoom => (501, 1, 1),
            Self::ManyRooms => (1000, 100, 100),
        };
        Shape {
            clients,
            talkers,
            rooms,
        }
    }
}

impl Shape {
    /// Clients, talkers and rooms multiplied by `factor` and rounded,
    /// keeping at least one talker, one room and two clients per room (so
    /// that every talker has a listener).
    pub fn scaled(self, factor: f64) -> Result<Self, BadScale> {
        if !(factor.is_finite() && factor > 0.0)
            || self.clients as f64 * factor > MAX_SCALED_CLIENTS as f64
        {
            return Err(BadScale(factor));
        }
        let times = |n: usize| (n as f64 * factor).round() as usize;
        let rooms = times(self.rooms).max(1);
        let talkers = times(self.talkers).max(1);
        Ok(Self {
            clients: times(self.clients).max(2 * rooms).max(talkers),
            talkers,
            rooms,
        })
    }
}

/// What a scenario run measured: the point and the server's memory per
/// idle session.
#[derive(Debug)]
pub struct Outcome<'a> {
    /// The scenario.
    pub scenario: Scenario,
    /// The relay measured.
    pub relay: Relay,
    /// The measured point.
    pub point: &'a Point,
    /// Server RSS added per connected client before the talkers started,
    /// bytes.
    pub rss_per_session_bytes: Option<f64>,
}

/// "1 room", "5 rooms".
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn opt(v: Option<f64>, precision: usize) -> String {
    v.map_or("-".to_owned(), |v| format!("{v:.precision$}"))
}

impl Outcome<'_> {
    /// The result block, one line at a time.
    pub fn block(&self) -> Vec<String> {
        let p = self.point;
        vec![
            format!(
                "scenario {} against {}: {}, {}, {}, {:.1} s measured",
                self.scenario.name(),
                self.relay.name(),
                count(p.clients, "client"),
                count(p.talkers, "talker"),
                count(p.rooms, "room"),
                p.seconds
            ),
            format!(
                "  server CPU per forwarded packet  {} µs",
                opt(p.server_cpu_us_per_forwarded_packet, 2)
            ),
            format!(
                "  relay latency p50 / p99 / p99.9  {} / {} / {} ms",
                opt(p.p50_ms, 3),
                opt(p.p99_ms, 3),
                opt(p.p999_ms, 3)
            ),
            format!(
                "  delivered                        {:.5}",
                p.delivered_ratio
            ),
            format!(
                "  server CPU                       {} % of a core",
                opt(p.server_cpu_pct, 1)
            ),
            format!(
                "  server RSS                       {} MB ({} kB per session)",
                opt(self.rss_mb(), 1),
                opt(self.rss_per_session_bytes.map(|b| b / 1e3), 1)
            ),
            format!(
                "  forwarded                        {:.0} datagrams/s",
                p.forwarded_per_s
            ),
            format!(
                "  generator CPU                    {} % of a core",
                opt(p.generator_cpu_pct, 1)
            ),
        ]
    }

    /// The block's figures as JSON keys, added to the point's own
    /// (`p50_ms`, `p99_ms`, `p999_ms`, `server_cpu_pct`, `forwarded_per_s`
    /// are already there under these names).
    pub fn keys(&self) -> Value {
        let p = self.point;
        json!({
            "scenario": self.scenario.name(),
            "relay": self.relay.name(),
            "us_per_fwd": p.server_cpu_us_per_forwarded_packet,
            "delivered": p.delivered_ratio,
            "rss_mb": self.rss_mb(),
            "rss_per_session_kb": self.rss_per_session_bytes.map(|b| b / 1e3),
        })
    }

    fn rss_mb(&self) -> Option<f64> {
        self.point.server_rss_bytes.map(|b| b as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(clients: usize, talkers: usize, rooms: usize) -> Shape {
        Shape {
            clients,
            talkers,
            rooms,
        }
    }

    #[test]
    fn full_size_scenarios_are_those_of_the_issue() {
        assert_eq!(Scenario::Small.shape(), shape(100, 10, 1));
        assert_eq!(Scenario::BigRoom.shape(), shape(501, 1, 1));
        assert_eq!(Scenario::ManyRooms.shape(), shape(1000, 100, 100));
    }

    #[test]
    fn scaling_keeps_a_talker_and_two_clients_per_room() {
        let at = |s: Scenario, f: f64| s.shape().scaled(f).unwrap();
        assert_eq!(at(Scenario::Small, 0.05), shape(5, 1, 1));
        assert_eq!(at(Scenario::BigRoom, 0.05), shape(25, 1, 1));
        assert_eq!(at(Scenario::ManyRooms, 0.05), shape(50, 5, 5));
        assert_eq!(at(Scenario::ManyRooms, 0.001), shape(2, 1, 1));
        assert_eq!(at(Scenario::ManyRooms, 0.012), shape(12, 1, 1));
        // Scaled up, each room keeps its shape: two rooms of 100 with 10 talkers.
        assert_eq!(at(Scenario::Small, 2.0), shape(200, 20, 2));
        assert_eq!(shape(3, 1, 10).scaled(1.0).unwrap(), shape(20, 1, 10));
    }

    #[test]
    fn a_scale_must_be_positive_and_bounded() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e30] {
            assert!(Scenario::Small.shape().scaled(bad).is_err(), "{bad}");
        }
    }
}
