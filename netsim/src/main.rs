//! `voice-impair`: a seeded UDP proxy that impairs traffic both ways.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use voice_netsim::{GilbertElliott, Impairment, UdpProxy};

/// Forwards UDP between one client and an upstream with loss, burst loss,
/// delay, jitter, reordering, duplication and blackouts (same seed, same pattern).
#[derive(Debug, Parser)]
#[command(name = "voice-impair", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Address to forward to.
    #[arg(long)]
    upstream: SocketAddr,
    /// Seed of the random pattern.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Random loss in percent.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Burst loss: probability (percent) per packet of entering the bad state.
    #[arg(long, default_value_t = 0.0)]
    burst_enter: f64,
    /// Burst loss: probability (percent) per packet of leaving the bad state.
    #[arg(long, default_value_t = 30.0)]
    burst_leave: f64,
    /// One-way delay in ms.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Jitter (uniform extra delay) in ms.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Reordering probability in percent (held back by --reorder-ms).
    #[arg(long, default_value_t = 0.0)]
    reorder: f64,
    /// Extra delay of a reordered packet in ms.
    #[arg(long, default_value_t = 40)]
    reorder_ms: u64,
    /// Duplication probability in percent.
    #[arg(long, default_value_t = 0.0)]
    duplicate: f64,
    /// A blackout every this many ms (0: none).
    #[arg(long, default_value_t = 0)]
    blackout_every_ms: u64,
    /// Blackout length in ms.
    #[arg(long, default_value_t = 0)]
    blackout_ms: u64,
}

fn impairment(a: &Args, seed: u64) -> Impairment {
    Impairment {
        seed,
        loss: a.loss / 100.0,
        burst: (a.burst_enter > 0.0).then_some(GilbertElliott {
            p_enter_bad: a.burst_enter / 100.0,
            p_leave_bad: a.burst_leave / 100.0,
            loss_in_bad: 1.0,
        }),
        delay: Duration::from_millis(a.delay_ms),
        jitter: Duration::from_millis(a.jitter_ms),
        reorder: a.reorder / 100.0,
        reorder_by: Duration::from_millis(a.reorder_ms),
        duplicate: a.duplicate / 100.0,
        blackout: (a.blackout_every_ms > 0).then_some((
            Duration::from_millis(a.blackout_every_ms),
            Duration::from_millis(a.blackout_ms),
        )),
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().init();
    let args = Args::parse();
    let proxy = UdpProxy::start(
        args.listen,
        args.upstream,
        impairment(&args, args.seed),
        impairment(&args, args.seed.wrapping_add(1)),
    )?;
    println!("{}", proxy.local_addr());
    loop {
        std::thread::park();
    }
}
