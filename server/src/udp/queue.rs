//! [`DatagramQueue`]: datagrams back to back in one buffer, sent with
//! `sendmmsg` in batches: the queue of the QUIC loops (`crate::quic`) and
//! of the bench's quinn-proto relay.

use std::io;
use std::net::{IpAddr, SocketAddr};

use super::sendmmsg::{Datagram, MAX_BATCH};

/// Queue bytes kept between bursts; a larger buffer left by a burst is freed.
const KEEP_BYTES: usize = 64 * 1024;

/// Datagrams back to back in one buffer, oldest first.
#[derive(Debug, Default)]
pub struct DatagramQueue {
    data: Vec<u8>,
    items: Vec<Item>,
}

/// One queued datagram: its bytes end at `end` in `DatagramQueue::data`
/// and start where the one before it ends.
#[derive(Debug, Clone, Copy)]
struct Item {
    destination: SocketAddr,
    src_ip: Option<IpAddr>,
    ecn: u8,
    end: usize,
}

impl DatagramQueue {
    /// Queues a copy of `d`.
    pub fn push(&mut self, d: Datagram<'_>) {
        self.data.extend_from_slice(d.contents);
        self.items.push(Item {
            destination: d.destination,
            src_ip: d.src_ip,
            ecn: d.ecn,
            end: self.data.len(),
        });
    }

    /// Datagrams queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.items[i - 1].end }
    }

    /// The `i`th datagram queued.
    pub fn datagram(&self, i: usize) -> Datagram<'_> {
        let item = self.items[i];
        Datagram {
            destination: item.destination,
            src_ip: item.src_ip,
            ecn: item.ecn,
            contents: &self.data[self.start(i)..item.end],
        }
    }

    /// Empties the queue, keeping its buffer unless a burst made it large.
    pub fn clear(&mut self) {
        self.items.clear();
        self.data.clear();
        if self.data.capacity() > KEEP_BYTES {
            self.data = Vec::new();
        }
    }

    /// Sends the datagrams from `from` on with `send` (one `sendmmsg` of up
    /// to [`MAX_BATCH`], returning how many the kernel took) while at least
    /// `min` are left; returns where it stopped and the error that stopped
    /// it (only `WouldBlock`: the rest stays queued). A datagram the kernel
    /// refuses for another reason is handed to `refused` and dropped, as
    /// quinn-udp drops it.
    pub fn send(
        &self,
        from: usize,
        min: usize,
        mut send: impl FnMut(&[Datagram<'_>]) -> io::Result<usize>,
        mut refused: impl FnMut(&io::Error, &Datagram<'_>),
    ) -> (usize, io::Result<()>) {
        let mut pos = from;
        let mut batch = Vec::with_capacity(MAX_BATCH.min(self.len().saturating_sub(from)));
        while self.len().saturating_sub(pos) >= min.max(1) {
            let end = (pos + MAX_BATCH).min(self.len());
            batch.clear();
            batch.extend((pos..end).map(|i| self.datagram(i)));
            match send(&batch) {
                Ok(n) => pos += n.max(1),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (pos, Err(e)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    refused(&e, &batch[0]);
                    pos += 1;
                }
            }
        }
        (pos, Ok(()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::{Ipv4Addr, Ipv6Addr, UdpSocket};
    use std::os::fd::AsFd;
    use std::time::Duration;

    use super::*;
    use crate::udp::send_batch;

    fn receiver() -> UdpSocket {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        socket
    }

    fn datagram(destination: SocketAddr, contents: &[u8]) -> Datagram<'_> {
        Datagram {
            destination,
            src_ip: None,
            ecn: 0,
            contents,
        }
    }

    #[test]
    fn datagrams_to_many_peers_arrive_whole_and_in_order() {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let peers: Vec<UdpSocket> = (0..5).map(|_| receiver()).collect();
        let mut queue = DatagramQueue::default();
        // 200 datagrams: several sendmmsg calls of up to MAX_BATCH.
        let bodies: Vec<Vec<u8>> = (0..200u32)
            .map(|i| i.to_be_bytes().repeat(i as usize % 7 + 1))
            .collect();
        for (i, body) in bodies.iter().enumerate() {
            queue.push(datagram(peers[i % 5].local_addr().unwrap(), body));
        }
        let (sent, result) = queue.send(
            0,
            1,
            |batch| send_batch(socket.as_fd(), false, batch),
            |e, _| panic!("refused: {e}"),
        );
        result.unwrap();
        assert_eq!(sent, 200);
        let mut buf = [0u8; 64];
        for (i, body) in bodies.iter().enumerate() {
            let (n, from) = peers[i % 5].recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], &body[..], "datagram {i}");
            assert_eq!(from, socket.local_addr().unwrap());
        }
    }

    #[test]
    fn a_dual_stack_socket_sends_from_the_address_asked_for() {
        // Bound to [::]: IPv4 peers are reached through IPv4-mapped
        // addresses, and each datagram leaves from its own source address
        // (IP_PKTINFO), with an ECN mark (IP_TOS) as quinn gives it.
        let Ok(socket) = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)) else {
            eprintln!("no IPv6 on this machine: skipped");
            return;
        };
        let peer = receiver();
        let destination = peer.local_addr().unwrap();
        let mut queue = DatagramQueue::default();
        for (src, ecn) in [([127, 0, 0, 2], 2u8), ([127, 0, 0, 3], 0)] {
            queue.push(Datagram {
                src_ip: Some(IpAddr::from(src)),
                ecn,
                ..datagram(destination, b"from")
            });
        }
        let (sent, result) = queue.send(
            0,
            1,
            |batch| send_batch(socket.as_fd(), true, batch),
            |e, _| panic!("refused: {e}"),
        );
        result.unwrap();
        assert_eq!(sent, 2);
        let mut buf = [0u8; 16];
        for src in [[127, 0, 0, 2], [127, 0, 0, 3]] {
            let (n, from) = peer.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"from");
            assert_eq!(
                from.ip(),
                IpAddr::from(src),
                "the source address was not applied"
            );
        }
    }
}
