//! The quinn-proto relay: the naive relay's protocol (`crate::naive`) on
//! `quinn-proto` with its own I/O loop, the second design of issue 25
//! ("a voice path on quinn-proto with its own I/O loop"), built to measure
//! what it costs beside `voice-server` and the naive relay.
//!
//! One task on one thread owns everything: one UDP socket, the
//! `quinn_proto::Endpoint`, the connections in a slab indexed by their
//! handle, the rooms, one min-heap of deadlines. No task per connection,
//! no channels, no locks. Each round of the loop:
//!
//! 1. receives up to [`voice_server::quic::RECEIVE_BOUND`] datagrams with quinn-udp (`recvmmsg`
//!    and GRO on Linux) and feeds each to the endpoint, which routes it to
//!    its connection (or starts one); fires the deadlines that are due;
//! 2. reads the events of every connection touched: the join stream
//!    (`join`), and voice datagrams, each rewritten (`voice::relay`) and
//!    queued on every other connection of the room;
//! 3. for every connection touched, received from or sent to: its
//!    endpoint events, then `poll_transmit` until it has nothing more, then
//!    its next deadline;
//! 4. sends the round's datagrams with `sendmmsg`, 64 per call (`outbox`,
//!    the server's `voice_server::udp::send_batch`): each full batch as soon
//!    as step 3 has queued it, so that a large room's first listeners do
//!    not wait for the last one's encryption, the rest at the end of the
//!    round; a full socket buffer keeps the rest for when the socket is
//!    writable.
//!
//! Transport settings: quinn-proto's defaults, as the naive relay, and the
//! same 4 MiB socket buffers ([`Transport::QuinnDefault`]). They differ
//! from voice-server's (net/src/transport.rs) in that listeners acknowledge
//! every 2nd voice datagram instead of every 10th (no ACK frequency
//! extension), GSO is allowed (but every transmit here is one datagram:
//! `poll_transmit` is asked for one at a time, and `sendmmsg` batches across
//! connections instead), there is no keep-alive, the datagram buffers are
//! quinn's ~1 MiB instead of 64 KiB, stream windows are quinn's, and
//! congestion control is plain Cubic instead of voice-net's floored Cubic.
//! [`Transport::VoiceServer`] uses `voice_net::transport::server()` instead.

mod join;
mod relay;

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::pin::pin;
use std::sync::Arc;
use std::time::Instant;

use quinn::udp::UdpSocketState;
use quinn_proto::{Endpoint, EndpointConfig, ServerConfig};
use tokio::io::Interest;
use voice_server::quic::{RecvBuffer, receive};

use crate::naive::{NaiveRelayError, SOCKET_BUFFER};
use relay::Relay;

/// Connections at most; more are refused.
pub const MAX_CONNECTIONS: usize = 65_536;

/// The transport settings the relay runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Transport {
    /// quinn-proto's defaults, as the naive relay.
    #[default]
    QuinnDefault,
    /// voice-server's (`voice_net::transport::server()`): rarer ACKs, no
    /// GSO, small datagram buffers, keep-alive.
    VoiceServer,
}

/// Why the relay cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ProtoRelayError {
    /// The certificate or TLS settings (as the naive relay's).
    #[error(transparent)]
    Setup(#[from] NaiveRelayError),
    /// The UDP socket could not be bound or set up.
    #[error("cannot listen on UDP {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

/// A bound quinn-proto relay, not yet serving.
#[derive(Debug)]
pub struct ProtoRelay {
    socket: std::net::UdpSocket,
    udp: UdpSocketState,
    endpoint: Endpoint,
}

impl ProtoRelay {
    /// Binds `addr` with a fresh self-signed certificate for "localhost",
    /// ALPN `voice/1` and `transport`'s settings.
    pub fn bind(addr: SocketAddr, transport: Transport) -> Result<Self, ProtoRelayError> {
        let mut config: ServerConfig = crate::naive::server_config()?;
        if transport == Transport::VoiceServer {
            config.transport_config(Arc::new(voice_net::transport::server()));
        }
        let bind = |source| ProtoRelayError::Bind { addr, source };
        let socket = std::net::UdpSocket::bind(addr).map_err(bind)?;
        socket.set_nonblocking(true).map_err(bind)?;
        let udp = UdpSocketState::new((&socket).into()).map_err(bind)?;
        // Best effort, as in the server: a smaller buffer only drops sooner.
        let _ = udp.set_recv_buffer_size((&socket).into(), SOCKET_BUFFER);
        let _ = udp.set_send_buffer_size((&socket).into(), SOCKET_BUFFER);
        let endpoint = Endpoint::new(
            Arc::new(EndpointConfig::default()),
            Some(Arc::new(config)),
            !udp.may_fragment(),
            None,
        );
        Ok(Self {
            socket,
            udp,
            endpoint,
        })
    }

    /// The address the relay listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Relays until `shutdown` completes, then closes every connection.
    /// Everything runs in this one future: run it on a single-threaded
    /// runtime to measure the relay on one core. An error is the socket's
    /// (receiving failed for another reason than a reset).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let socket = tokio::net::UdpSocket::from_std(self.socket)?;
        let v6_socket = socket.local_addr()?.is_ipv6();
        let mut buffer =
            RecvBuffer::new(&self.udp, self.endpoint.config().get_max_udp_payload_size());
        let mut relay = Relay::new(self.endpoint);
        let mut shutdown = pin!(shutdown);
        let mut sleep = pin!(tokio::time::sleep_until(tokio::time::Instant::now()));
        let result = loop {
            let now = Instant::now();
            let more = match receive(&socket, &self.udp, &mut buffer, |r| relay.datagram(now, r)) {
                Ok(more) => more,
                Err(e) => break Err(e),
            };
            relay.expire(now);
            relay.drive(now, &mut |outbox, whole| {
                let _ = socket.try_io(Interest::WRITABLE, || match whole {
                    true => outbox.flush_full(socket.as_fd(), v6_socket),
                    false => outbox.flush(socket.as_fd(), v6_socket),
                });
            });
            if relay.outbox.is_empty() && (more || !relay.round.is_empty()) {
                // Work left over from a bounded round: go on before waiting.
                tokio::task::yield_now().await;
                continue;
            }
            let deadline = relay.timers.next();
            if let Some(at) = deadline {
                sleep.as_mut().reset(tokio::time::Instant::from_std(at));
            }
            tokio::select! {
                biased;
                () = &mut shutdown => break Ok(()),
                r = socket.readable() => if let Err(e) = r { break Err(e) },
                r = socket.writable(), if !relay.outbox.is_empty() => if let Err(e) = r { break Err(e) },
                () = &mut sleep, if deadline.is_some() => {}
            }
        };
        relay.close_all(Instant::now(), &mut |outbox, _| {
            let _ = outbox.flush(socket.as_fd(), v6_socket);
        });
        result
    }
}
