//! The datagrams of one round of a loop, sent together with `sendmmsg`.

use std::io;
use std::os::fd::BorrowedFd;

use crate::udp::{Datagram, DatagramQueue, MAX_BATCH, send_batch};

/// Datagrams waiting for the socket (the server's [`DatagramQueue`]). A
/// full socket buffer stops a flush and keeps the rest for the next one:
/// nothing is dropped here.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: DatagramQueue,
    /// Datagrams of `queue` the kernel has taken.
    sent: usize,
}

impl Outbox {
    /// Queues `transmit`, whose bytes are `contents`. A transmit of several
    /// segments (GSO) becomes one datagram per segment.
    pub fn push(&mut self, transmit: &quinn_proto::Transmit, contents: &[u8]) {
        let contents = &contents[..transmit.size.min(contents.len())];
        let segment = transmit.segment_size.unwrap_or(contents.len()).max(1);
        for chunk in contents.chunks(segment) {
            self.queue.push(Datagram {
                destination: transmit.destination,
                src_ip: transmit.src_ip,
                ecn: transmit.ecn.map_or(0, |e| e as u8),
                contents: chunk,
            });
        }
    }

    /// Datagrams not yet sent.
    pub fn len(&self) -> usize {
        self.queue.len() - self.sent
    }

    /// Whether everything queued has been sent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends what is queued, up to [`MAX_BATCH`] datagrams per system call,
    /// until all is sent (`Ok`) or the socket buffer is full
    /// (`WouldBlock`, the rest stays queued). A datagram the kernel refuses
    /// for another reason is dropped, as quinn-udp drops it.
    pub fn flush(&mut self, fd: BorrowedFd<'_>, v6_socket: bool) -> io::Result<()> {
        self.flush_batches(fd, v6_socket, 1)
    }

    /// Sends full batches of [`MAX_BATCH`] while there are, so that the
    /// first listeners of a large room hear a datagram before the relay
    /// has encrypted it for the last; as [`Outbox::flush`] otherwise.
    pub fn flush_full(&mut self, fd: BorrowedFd<'_>, v6_socket: bool) -> io::Result<()> {
        self.flush_batches(fd, v6_socket, MAX_BATCH)
    }

    fn flush_batches(&mut self, fd: BorrowedFd<'_>, v6_socket: bool, min: usize) -> io::Result<()> {
        let (sent, result) = self.queue.send(
            self.sent,
            min,
            |batch| send_batch(fd, v6_socket, batch),
            |e, d| tracing::debug!(destination = %d.destination, "send failed: {e}"),
        );
        self.sent = sent;
        if self.sent == self.queue.len() {
            self.queue.clear();
            self.sent = 0;
        }
        result
    }
}
