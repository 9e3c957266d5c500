//! Receiving for an I/O loop: a bounded number of datagrams per round with
//! quinn-udp (`recvmmsg`, and GRO where the kernel has it), each handed on
//! as quinn-proto wants it.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};

use bytes::BytesMut;
use quinn::udp::{BATCH_SIZE, RecvMeta, UdpSocketState};
use quinn_proto::EcnCodepoint;
use tokio::io::Interest;

/// Datagrams received per round at most, so that a flood cannot hold back
/// the round's sends (quinn's endpoint driver stops at 160).
pub const RECEIVE_BOUND: usize = 4 * BATCH_SIZE;

/// One received datagram.
#[derive(Debug)]
pub struct Received {
    /// Who sent it.
    pub remote: SocketAddr,
    /// The local address it was sent to, where the kernel tells.
    pub local_ip: Option<IpAddr>,
    /// Its ECN mark.
    pub ecn: Option<EcnCodepoint>,
    /// Its bytes.
    pub data: BytesMut,
}

/// A loop's receive buffer: room for a full batch of GRO'd datagrams.
#[derive(Debug)]
pub struct RecvBuffer {
    buf: Vec<u8>,
    slot: usize,
}

impl RecvBuffer {
    /// A buffer for datagrams of at most `max_payload` bytes on `udp`.
    pub fn new(udp: &UdpSocketState, max_payload: u64) -> Self {
        // As quinn's endpoint: room for a full GRO batch in each slot.
        let payload = usize::try_from(max_payload.min(64 * 1024)).unwrap_or(64 * 1024);
        let slot = payload * udp.gro_segments();
        Self {
            buf: vec![0u8; slot * BATCH_SIZE],
            slot,
        }
    }
}

/// Receives up to [`RECEIVE_BOUND`] datagrams and hands each to `on`;
/// returns whether more may be waiting. A reset (an ICMP error reported by
/// the kernel) is ignored: it is undefined in QUIC and may be forged.
pub fn receive(
    socket: &tokio::net::UdpSocket,
    udp: &UdpSocketState,
    buffer: &mut RecvBuffer,
    mut on: impl FnMut(Received),
) -> io::Result<bool> {
    let mut received = 0;
    // Built once a round, on the stack (`buffer` holds BATCH_SIZE slots).
    let mut slots = buffer.buf.chunks_mut(buffer.slot);
    let mut iovs: [IoSliceMut<'_>; BATCH_SIZE] =
        std::array::from_fn(|_| IoSliceMut::new(slots.next().unwrap_or_default()));
    let mut metas = [RecvMeta::default(); BATCH_SIZE];
    while received < RECEIVE_BOUND {
        let n = match socket.try_io(Interest::READABLE, || {
            udp.recv(socket.into(), &mut iovs, &mut metas)
        }) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => continue,
            Err(e) => return Err(e),
        };
        received += n.max(1);
        for (meta, buf) in metas.iter().zip(iovs.iter()).take(n) {
            let mut data = BytesMut::from(&buf[..meta.len.min(buf.len())]);
            while !data.is_empty() {
                let datagram = data.split_to(meta.stride.clamp(1, data.len()));
                on(Received {
                    remote: meta.addr,
                    local_ip: meta.dst_ip,
                    ecn: meta.ecn.and_then(|e| EcnCodepoint::from_bits(e as u8)),
                    data: datagram,
                });
            }
        }
    }
    Ok(true)
}
