//! [`DatagramQueue`]: datagrams back to back in one buffer, sent with
//! `sendmmsg` in batches. The batched socket's queue, and the one of any
//! other I/O loop that sends many datagrams at once (the bench's quinn-proto
//! relay).

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

    /// Puts the datagrams of `self` from `from` on before those of `later`.
    pub fn prepend_to(&self, from: usize, later: &mut DatagramQueue) {
        let mut merged = DatagramQueue::default();
        for i in from..self.len() {
            merged.push(self.datagram(i));
        }
        for i in 0..later.len() {
            merged.push(later.datagram(i));
        }
        *later = merged;
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
