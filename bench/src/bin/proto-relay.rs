//! `proto-relay`: the naive relay's protocol on quinn-proto with its own
//! I/O loop (`voice_bench::proto_relay`), measured beside `voice-server`
//! and `naive-relay`. Prints `listening: ADDR` and relays on one thread
//! until interrupted.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use voice_bench::proto_relay::{ProtoRelay, Transport};

/// The naive relay's protocol (voice-bench's `--relay naive`) on
/// quinn-proto: one thread, one socket, batched receives and sends.
#[derive(Debug, Parser)]
#[command(name = "proto-relay", version, about)]
struct Args {
    /// UDP address to listen on (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Transport settings: quinn's defaults (as naive-relay) or
    /// voice-server's.
    #[arg(long, value_enum, default_value_t = Transport::QuinnDefault)]
    transport: Transport,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let relay = ProtoRelay::bind(args.listen, args.transport)?;
        let addr = relay
            .local_addr()
            .context("the relay's socket has no address")?;
        voice_bench::naive::announce(addr)?;
        relay
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the relay's socket failed")
    })
}
