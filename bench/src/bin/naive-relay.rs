//! `naive-relay`: the naive quinn voice relay (`voice_bench::naive`), the
//! anchor `voice-server` is measured against. Prints `listening: ADDR` and
//! relays until interrupted; `TOKIO_WORKER_THREADS` sets its threads.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;

/// The naive quinn voice relay of voice-bench's `--relay naive`: a join
/// stream names the room, then every datagram goes to the room's other
/// connections.
#[derive(Debug, Parser)]
#[command(name = "naive-relay", version, about)]
struct Args {
    /// UDP address to listen on (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let relay = voice_bench::naive::NaiveRelay::bind(args.listen)?;
    let addr = relay
        .local_addr()
        .context("the relay's socket has no address")?;
    voice_bench::naive::announce(addr)?;
    relay
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
