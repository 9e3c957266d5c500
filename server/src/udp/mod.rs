//! Sending many UDP datagrams at once: `sendmmsg(2)` and a queue for it,
//! used by the QUIC loops (`crate::quic`) and the bench's quinn-proto relay.
//!
//! A voice packet fanned out to a room becomes hundreds of datagrams, one
//! per listener; a system call each was the relay's largest cost
//! (docs/perf.md, "Relay at scale"). A loop queues a round's datagrams and
//! sends them 64 a call. Nothing is lost to batching: a full socket buffer
//! keeps the rest of the queue until the socket is writable again.

mod queue;
mod sendmmsg;

/// `sendmmsg(2)`: many datagrams, each with its own destination, source
/// address and ECN mark, in one system call. [`send_batch`] sends up to
/// [`MAX_BATCH`] of them and returns how many the kernel took (a prefix);
/// [`DatagramQueue`] holds datagrams for it and sends them in batches,
/// keeping what a full socket buffer refused.
pub use queue::DatagramQueue;
pub use sendmmsg::{Datagram, MAX_BATCH, send as send_batch};

/// Datagrams a loop queues at most before it stops asking connections for
/// more (they keep theirs until the socket drains).
pub const QUEUE_LIMIT: usize = 1024;
