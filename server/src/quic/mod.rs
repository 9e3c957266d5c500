//! QUIC on our own I/O loop (issue 25's second design, on its way into the
//! server): `quinn-proto`'s state machines driven by one task that owns
//! the socket, with quinn-like handles for the application's tasks.
//!
//! quinn drives each connection on a task of its own, hands it every
//! received packet through a channel and gives it a timer of its own; a
//! voice packet fanned out to a room of 500 wakes 500 tasks. Here one loop
//! ([`Endpoint::run`]) receives a batch of datagrams with `recvmmsg`,
//! feeds them to their connections, hands each connection's datagrams to a
//! [`DatagramHandler`] *in the loop* (a relay forwards them right there,
//! with [`Connection::send_datagram`] on the listeners), asks every
//! connection touched for its packets and sends them all with `sendmmsg`.
//! Deadlines live in one heap ([`Timers`]). The application's tasks hold
//! [`Connection`], [`SendStream`] and [`RecvStream`] handles with quinn's
//! methods and semantics (streams, datagrams, close, the TLS exporter):
//! an operation changes the connection under its lock and puts it on the
//! loop's list; the loop wakes the tasks that wait on what its events
//! report.
//!
//! New connections pass a [`Policy`] in the loop, before any TLS work
//! (admit with a slot, ask for a QUIC retry, or refuse), as the server's
//! login slots do today on quinn's `Incoming`.
//!
//! One loop runs on one core. The server runs several on one port
//! ([`bind_group`]): each owns its connections, the kernel steers every
//! packet to its connection's loop by the connection ID, and a loop's
//! datagram handler forwarding to a connection of another loop only
//! queues the datagram and wakes that loop, which encrypts and sends it.
//!
//! Linux only for now: sending uses the server's `sendmmsg`
//! ([`crate::udp`]).

mod conn;
mod endpoint;
mod outbox;
mod recv;
mod shard;
mod streams;
mod timers;

pub use conn::{Connecting, Connection};
pub use endpoint::{
    Accepted, Admission, Control, DatagramHandler, Endpoint, MAX_CONNECTIONS, Origin, Policy,
};
pub use outbox::Outbox;
pub use quinn_proto::{Chunk, ClosedStream, ConnectionError, VarInt};
pub use recv::{RECEIVE_BOUND, Received, RecvBuffer, receive};
pub use shard::{MAX_SHARDS, bind_group};
pub use streams::{RecvStream, SendStream};
pub use timers::Timers;

/// Why a write failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The peer stopped the stream, with this code.
    #[error("the peer stopped the stream (code {0})")]
    Stopped(VarInt),
    /// The connection ended.
    #[error("the connection ended: {0}")]
    ConnectionLost(ConnectionError),
    /// The stream was already finished or reset.
    #[error("the stream was already finished or reset")]
    ClosedStream,
}

/// Why a read failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The peer abandoned the stream, with this code.
    #[error("the peer reset the stream (code {0})")]
    Reset(VarInt),
    /// The connection ended.
    #[error("the connection ended: {0}")]
    ConnectionLost(ConnectionError),
    /// The stream was already stopped or read to its end.
    #[error("the stream was already stopped or read to its end")]
    ClosedStream,
}

/// Why a datagram could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendDatagramError {
    /// The peer does not take datagrams.
    #[error("the peer does not accept datagrams")]
    UnsupportedByPeer,
    /// Datagrams are disabled on this endpoint.
    #[error("datagrams are disabled")]
    Disabled,
    /// Larger than the peer or the path takes.
    #[error("the datagram is too large for the connection")]
    TooLarge,
    /// The connection ended.
    #[error("the connection ended: {0}")]
    ConnectionLost(ConnectionError),
}

impl From<quinn_proto::SendDatagramError> for SendDatagramError {
    fn from(e: quinn_proto::SendDatagramError) -> Self {
        match e {
            quinn_proto::SendDatagramError::UnsupportedByPeer => Self::UnsupportedByPeer,
            quinn_proto::SendDatagramError::Disabled => Self::Disabled,
            quinn_proto::SendDatagramError::TooLarge => Self::TooLarge,
            // Only without dropping the oldest, which `send_datagram` does.
            quinn_proto::SendDatagramError::Blocked(_) => Self::TooLarge,
        }
    }
}

/// The TLS session cannot export keying material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the TLS session cannot export keying material")]
pub struct ExportKeyingMaterialError;
