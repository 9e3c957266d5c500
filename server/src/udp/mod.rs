//! The server's UDP socket for quinn: datagrams of many connections leave
//! together in one `sendmmsg` instead of one `sendmsg` each.
//!
//! quinn drives each connection on its own task, and each task hands its
//! packets to the socket one at a time. When a voice packet fans out to a
//! room, hundreds of connection tasks each send one datagram in a row: the
//! system call per datagram was the relay's largest cost (docs/perf.md).
//! `BatchSocket` (Linux) queues what the tasks send and a flusher sends the queue
//! in batches of up to 64 datagrams once the tasks that are ready have run
//! (it yields to them first), or at once when 64 are queued. Receiving is
//! quinn-udp's, unchanged.
//!
//! Nothing is lost to batching: a full socket buffer keeps the queue until
//! the socket is writable again, and a full queue ([`QUEUE_LIMIT`]) makes
//! quinn wait exactly as a full socket buffer would.

#[cfg(target_os = "linux")]
mod batch;
#[cfg(target_os = "linux")]
mod queue;
#[cfg(target_os = "linux")]
mod sendmmsg;

use std::sync::Arc;

/// `sendmmsg(2)` for other I/O loops (the bench's quinn-proto relay): many
/// datagrams, each with its own destination, source address and ECN mark,
/// in one system call. [`send_batch`] sends up to [`MAX_BATCH`] of them and
/// returns how many the kernel took (a prefix); [`DatagramQueue`] holds
/// datagrams for it and sends them in batches, keeping what a full socket
/// buffer refused, as `BatchSocket` does.
#[cfg(target_os = "linux")]
pub use queue::DatagramQueue;
#[cfg(target_os = "linux")]
pub use sendmmsg::{Datagram, MAX_BATCH, send as send_batch};

/// Datagrams queued at most before senders are told to wait.
pub const QUEUE_LIMIT: usize = 1024;

/// Wraps a bound UDP socket for quinn: batched sends on Linux, quinn's own
/// socket elsewhere. `batched` false always gives quinn's own (one system
/// call per datagram), for comparison and as a way out.
pub fn wrap(
    socket: std::net::UdpSocket,
    batched: bool,
) -> std::io::Result<Arc<dyn quinn::AsyncUdpSocket>> {
    #[cfg(target_os = "linux")]
    if batched {
        return Ok(batch::BatchSocket::new(socket)?);
    }
    let _ = batched;
    quinn::Runtime::wrap_udp_socket(&quinn::TokioRuntime, socket)
}
