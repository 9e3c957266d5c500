//! Command-line arguments of `voice-bench`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::fleet::Relay;
use crate::scenario::Scenario;

/// Load generator for the voice relay: simulated clients that log in for
/// real, talkers sending Opus-sized datagrams, listeners timing them.
///
/// With --clients and --talkers it measures that one point; without --talkers
/// it sweeps the number of talkers until loss exceeds 0.1 % or p99 exceeds
/// 20 ms. With --storm it only measures how fast N clients get in. With
/// --churn every client but the talkers moves between --rooms rooms at that
/// many moves per second for --seconds, sampling the server's memory.
/// With --scenario it measures one of the named points of docs/bench.md.
#[derive(Debug, Clone, Parser)]
#[command(name = "voice-bench", version, about)]
pub struct Cli {
    /// The server's UDP address.
    #[arg(long)]
    pub server: SocketAddr,
    /// The server password ("" for an open server).
    #[arg(long, default_value = "")]
    pub password: String,
    /// Clients that log in (talkers included); the sweep uses 100 when unset.
    #[arg(long)]
    pub clients: Option<usize>,
    /// Clients among them that talk; unset = sweep.
    #[arg(long)]
    pub talkers: Option<usize>,
    /// Seconds measured per load point (after one second of warm-up).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Spread the clients over this many rooms (1 = everyone in the root room;
    /// more creates rooms named bench-N under the root).
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// The server's process id: CPU time and memory are read from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Connection storm: this many clients connect and log in at once;
    /// prints the time until all are in (no voice).
    #[arg(long, conflicts_with_all = ["talkers"])]
    pub storm: Option<usize>,
    /// Pin the server's certificate (SHA-256 hex from its banner);
    /// unset = accept any certificate.
    #[arg(long)]
    pub fingerprint: Option<String>,
    /// Do not pin the server and the generator to separate cores.
    #[arg(long)]
    pub no_pin: bool,
    /// Logins in flight at once while the clients connect (not in --storm).
    #[arg(long, default_value_t = 32)]
    pub login_concurrency: usize,
    /// Spread the clients over this many source addresses, 127.0.0.1 and up
    /// (the server must listen on 127.0.0.1): its limits per address then see
    /// many users, as from the internet.
    #[arg(long, default_value_t = 1)]
    pub source_addresses: u32,
    /// Churn: the clients that do not talk move between the rooms, this many
    /// moves per second in all, for --seconds.
    #[arg(long, conflicts_with_all = ["storm"])]
    pub churn: Option<f64>,
    /// With --churn: seconds after which the server's memory should be flat.
    #[arg(long, default_value_t = 60.0)]
    pub warm_up: f64,
    /// With --churn: seconds between samples of the server's memory and CPU.
    #[arg(long, default_value_t = 10.0)]
    pub sample_every: f64,
    /// A named load point, measured once with a result block at the end:
    /// small = 100 clients, 10 talkers, 1 room; big-room = 1 talker and 500
    /// listeners in 1 room; many-rooms = 1,000 clients in 100 rooms, one
    /// talker each. It sets --clients, --talkers and --rooms (use --scale
    /// to change them).
    #[arg(long, value_enum, conflicts_with_all = ["clients", "talkers", "rooms", "storm", "churn"])]
    pub scenario: Option<Scenario>,
    /// With --scenario: multiply its clients, talkers and rooms by this
    /// (rounded; at least one talker and two clients per room), e.g. 0.05
    /// for a quick check.
    #[arg(long, requires = "scenario")]
    pub scale: Option<f64>,
    /// The relay at --server: voice-server (voice/1 logins) or naive (the
    /// bench's naive-relay binary: a join stream, no login; not with
    /// --storm or --churn).
    #[arg(long, value_enum, default_value = "voice-server")]
    pub relay: Relay,
}
