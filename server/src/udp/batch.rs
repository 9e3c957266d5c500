//! [`BatchSocket`]: quinn's transmits queued and sent with `sendmmsg`.

use std::fmt;
use std::future::Future;
use std::io;
use std::mem;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use quinn::udp::{RecvMeta, Transmit, UdpSocketState};
use tokio::io::Interest;
use tokio::sync::Notify;

use super::QUEUE_LIMIT;
use super::queue::DatagramQueue as Queue;
use super::sendmmsg::{self, Datagram, MAX_BATCH};

/// Times the flusher takes the queue before it lets other tasks run; what
/// is left wakes it again (`Inner::release`) and is sent on its next turn.
const FLUSH_ROUNDS: usize = 8;
/// Send failures other than a full buffer are logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// A UDP socket whose sends are queued and leave in batches.
pub struct BatchSocket {
    inner: Arc<Inner>,
}

/// What the socket and its flusher task share.
struct Inner {
    io: tokio::net::UdpSocket,
    state: UdpSocketState,
    /// The socket is IPv6 (IPv4 peers are IPv4-mapped).
    v6: bool,
    /// Datagrams waiting to be sent, in the order they were given.
    queue: Mutex<Queue>,
    /// `queue.len()`, read without the lock.
    queued: AtomicUsize,
    /// A second queue, swapped with `queue` by whoever sends: the queue
    /// keeps filling while a batch is in the kernel.
    spare: Mutex<Queue>,
    /// Someone is sending: only one at a time, so datagrams leave in order.
    sending: AtomicBool,
    /// Wakes the flusher: the queue was empty and is not, a sender let go
    /// with datagrams left, or the socket was dropped.
    wake: Notify,
    /// Queued datagrams left: a sender waiting for room may go on.
    room: Notify,
    /// The socket was dropped: the flusher sends what is left and ends.
    closed: AtomicBool,
    /// When a send failure was last logged.
    warned: Mutex<Option<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl BatchSocket {
    /// Wraps a bound socket and starts its flusher on the current tokio
    /// runtime.
    pub fn new(socket: std::net::UdpSocket) -> io::Result<Arc<Self>> {
        socket.set_nonblocking(true)?;
        let state = UdpSocketState::new((&socket).into())?;
        let v6 = socket.local_addr()?.is_ipv6();
        let inner = Arc::new(Inner {
            io: tokio::net::UdpSocket::from_std(socket)?,
            state,
            v6,
            queue: Mutex::default(),
            queued: AtomicUsize::new(0),
            spare: Mutex::default(),
            sending: AtomicBool::new(false),
            wake: Notify::new(),
            room: Notify::new(),
            closed: AtomicBool::new(false),
            warned: Mutex::new(None),
        });
        tokio::spawn(flusher(inner.clone()));
        Ok(Arc::new(Self { inner }))
    }
}

impl Drop for BatchSocket {
    fn drop(&mut self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.wake.notify_one();
    }
}

/// Sends the queue whenever it fills from empty, after letting the tasks
/// that are ready to run add to it.
async fn flusher(inner: Arc<Inner>) {
    loop {
        inner.wake.notified().await;
        // quinn's connection tasks woken with this one (a packet fanned out
        // to a room) run before it: their datagrams join the batch.
        tokio::task::yield_now().await;
        inner.drain().await;
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
    }
}

impl Inner {
    /// Sends what is queued ([`FLUSH_ROUNDS`] batches at most), waiting for
    /// the socket when it is full.
    async fn drain(&self) {
        loop {
            if self
                .sending
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // The sender hands what is left to this task when it lets
                // go (`release`).
                return;
            }
            let result = self.send_queued(FLUSH_ROUNDS);
            self.release();
            match result {
                Ok(()) => return,
                Err(_) => {
                    let _ = self.io.writable().await;
                }
            }
        }
    }

    /// Lets go of `sending`. Datagrams queued meanwhile may have woken the
    /// flusher while this sender still held it (the flusher then gave up),
    /// so whatever is queued now is handed to the flusher: nothing waits in
    /// the queue with no one to send it.
    fn release(&self) {
        self.sending.store(false, Ordering::Release);
        if !lock(&self.queue).is_empty() {
            self.wake.notify_one();
        }
    }

    /// Sends from the queue until it is empty, taking it `rounds` times at
    /// most; the caller holds `sending` and calls [`Inner::release`] after.
    /// A full socket buffer leaves the rest queued, first in line.
    fn send_queued(&self, rounds: usize) -> io::Result<()> {
        let mut spare = lock(&self.spare);
        for _ in 0..rounds {
            {
                let mut queue = lock(&self.queue);
                if queue.is_empty() {
                    return Ok(());
                }
                mem::swap(&mut *queue, &mut *spare);
                self.queued.store(0, Ordering::Release);
            }
            let (sent, result) = self.send_all(&spare);
            self.room.notify_waiters();
            if let Err(e) = result {
                let mut queue = lock(&self.queue);
                spare.prepend_to(sent, &mut queue);
                self.queued.store(queue.len(), Ordering::Release);
                spare.clear();
                return Err(e);
            }
            spare.clear();
        }
        Ok(())
    }

    /// Sends `batch` in calls of up to [`MAX_BATCH`] datagrams; returns how
    /// many were handled and the error that stopped it (only `WouldBlock`:
    /// a datagram the kernel refuses for any other reason is dropped, as
    /// quinn-udp drops it).
    fn send_all(&self, batch: &Queue) -> (usize, io::Result<()>) {
        batch.send(
            0,
            1,
            |datagrams| {
                self.io.try_io(Interest::WRITABLE, || {
                    sendmmsg::send(self.io.as_fd(), self.v6, datagrams)
                })
            },
            |e, d| self.warn(e, d),
        )
    }

    fn warn(&self, e: &io::Error, d: &Datagram<'_>) {
        // EMSGSIZE is expected for MTU probes (quinn-udp ignores it too).
        if e.raw_os_error() == Some(libc::EMSGSIZE) {
            return;
        }
        let mut warned = lock(&self.warned);
        if warned.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            *warned = Some(Instant::now());
            tracing::warn!(error = %e, destination = %d.destination, src_ip = ?d.src_ip,
                "cannot send a UDP datagram (logged once a minute)");
        }
    }
}

impl quinn::AsyncUdpSocket for BatchSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn quinn::UdpPoller>> {
        Box::pin(Poller {
            inner: self.inner.clone(),
            wait: None,
        })
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        let inner = &*self.inner;
        if transmit
            .segment_size
            .is_some_and(|s| s < transmit.contents.len())
        {
            // Segmentation offload (not enabled by the server's transport):
            // one call, as quinn would make it.
            return inner.io.try_io(Interest::WRITABLE, || {
                inner.state.send((&inner.io).into(), transmit)
            });
        }
        let (first, full) = {
            let mut queue = lock(&inner.queue);
            if queue.len() >= QUEUE_LIMIT {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            queue.push(Datagram {
                destination: transmit.destination,
                src_ip: transmit.src_ip,
                ecn: transmit.ecn.map_or(0, |e| e as u8),
                contents: transmit.contents,
            });
            let n = queue.len();
            inner.queued.store(n, Ordering::Release);
            (n == 1, n >= MAX_BATCH)
        };
        if first {
            inner.wake.notify_one();
        }
        if full
            && inner
                .sending
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // One round: a connection task sends its share, never the
            // whole stream of another thread's datagrams.
            // A full socket leaves the rest queued: release() hands it to
            // the flusher, which waits for the socket.
            let _ = inner.send_queued(1);
            inner.release();
        }
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let inner = &*self.inner;
        loop {
            std::task::ready!(inner.io.poll_recv_ready(cx))?;
            if let Ok(n) = inner.io.try_io(Interest::READABLE, || {
                inner.state.recv((&inner.io).into(), bufs, meta)
            }) {
                return Poll::Ready(Ok(n));
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io.local_addr()
    }

    fn may_fragment(&self) -> bool {
        self.inner.state.may_fragment()
    }

    fn max_transmit_segments(&self) -> usize {
        1
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.state.gro_segments()
    }
}

/// Tells quinn whether it may send: while the queue has room (the socket
/// itself is waited for by the flusher).
struct Poller {
    inner: Arc<Inner>,
    wait: Option<Pin<Box<dyn Future<Output = ()> + Send + Sync>>>,
}

impl quinn::UdpPoller for Poller {
    fn poll_writable(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.wait.is_none() && this.inner.queued.load(Ordering::Acquire) < QUEUE_LIMIT {
            return Poll::Ready(Ok(()));
        }
        let inner = this.inner.clone();
        let wait = this.wait.get_or_insert_with(|| Box::pin(room(inner)));
        match wait.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.wait = None;
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Resolves once the queue has room.
async fn room(inner: Arc<Inner>) {
    loop {
        let notified = inner.room.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if inner.queued.load(Ordering::Acquire) < QUEUE_LIMIT {
            return;
        }
        notified.await;
    }
}

impl fmt::Debug for BatchSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchSocket")
            .field("local", &self.inner.io.local_addr().ok())
            .field("queued", &self.inner.queued.load(Ordering::Relaxed))
            .finish()
    }
}

impl fmt::Debug for Poller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poller").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};

    use quinn::AsyncUdpSocket;
    use quinn::udp::EcnCodepoint;

    use super::*;

    fn receiver() -> UdpSocket {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        socket
    }

    fn transmit(destination: SocketAddr, contents: &[u8]) -> Transmit<'_> {
        Transmit {
            destination,
            ecn: None,
            contents,
            segment_size: None,
            src_ip: None,
        }
    }

    /// Lets the flusher run (it sends what the inline batches left).
    async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    #[tokio::test]
    async fn datagrams_to_many_peers_arrive_whole_and_in_order() {
        let socket = BatchSocket::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap()).unwrap();
        let peers: Vec<UdpSocket> = (0..10).map(|_| receiver()).collect();
        let per_peer = 70u16;
        for seq in 0..per_peer {
            for (i, peer) in peers.iter().enumerate() {
                // Lengths from 3 to ~1,200 bytes, so datagrams of different
                // sizes share a batch.
                let len = 3 + (usize::from(seq) * 17 + i * 31) % 1200;
                let mut contents = vec![i as u8; len];
                contents[1..3].copy_from_slice(&seq.to_be_bytes());
                let destination = peer.local_addr().unwrap();
                socket.try_send(&transmit(destination, &contents)).unwrap();
            }
        }
        settle().await;
        let mut buf = [0u8; 2048];
        for (i, peer) in peers.iter().enumerate() {
            for seq in 0..per_peer {
                let n = peer.recv(&mut buf).unwrap();
                let len = 3 + (usize::from(seq) * 17 + i * 31) % 1200;
                assert_eq!(n, len, "peer {i}, datagram {seq}: wrong length");
                assert_eq!(
                    u16::from_be_bytes([buf[1], buf[2]]),
                    seq,
                    "peer {i}: out of order"
                );
                assert!(
                    buf[3..n].iter().all(|&b| b == i as u8),
                    "peer {i}: bytes changed"
                );
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn senders_on_two_threads_lose_and_reorder_nothing() {
        use std::sync::atomic::AtomicU32;
        let socket = BatchSocket::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap()).unwrap();
        let count = 5_000u32;
        // Each sender stays at most WINDOW datagrams ahead of its reader, so
        // a loss here is the socket's, never a receive buffer overflowing;
        // a window just above a batch makes both the inline sends and the
        // flusher send, and races them across the two threads.
        const WINDOW: u32 = 70;
        let peers: Vec<_> = (0..2)
            .map(|_| {
                let peer = receiver();
                let addr = peer.local_addr().unwrap();
                let progress = Arc::new(AtomicU32::new(0));
                let read = progress.clone();
                let reader = std::thread::spawn(move || {
                    let mut buf = [0u8; 8];
                    let mut got = Vec::new();
                    while got.len() < count as usize {
                        let Ok(n) = peer.recv(&mut buf) else { break };
                        got.push(u32::from_be_bytes(buf[..n].try_into().unwrap()));
                        read.store(got.len() as u32, Ordering::Release);
                    }
                    got
                });
                (addr, progress, reader)
            })
            .collect();
        let senders: Vec<_> = peers
            .iter()
            .map(|(addr, progress, _)| {
                let (socket, addr, progress) = (socket.clone(), *addr, progress.clone());
                tokio::spawn(async move {
                    for i in 0..count {
                        let waiting = Instant::now();
                        while i >= progress.load(Ordering::Acquire) + WINDOW {
                            assert!(
                                waiting.elapsed() < Duration::from_secs(5),
                                "datagrams left in the queue with no one to send them"
                            );
                            tokio::task::yield_now().await;
                        }
                        socket.try_send(&transmit(addr, &i.to_be_bytes())).unwrap();
                    }
                })
            })
            .collect();
        for sender in senders {
            sender.await.unwrap();
        }
        for (_, _, reader) in peers {
            let got = tokio::task::spawn_blocking(move || reader.join().unwrap())
                .await
                .unwrap();
            assert_eq!(got.len(), count as usize, "datagrams were lost");
            assert!(got.iter().copied().eq(0..count), "datagrams were reordered");
        }
    }

    #[tokio::test]
    async fn a_datagram_queued_while_another_sender_holds_the_socket_is_not_stranded() {
        // The interleaving that stalled a storm: a connection task sends a
        // batch inline; meanwhile a datagram is queued, its wake-up reaches
        // the flusher, which finds the socket taken and gives up. Letting
        // go must hand the datagram to the flusher.
        let socket = BatchSocket::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap()).unwrap();
        let peer = receiver();
        let inner = &socket.inner;
        assert!(
            inner
                .sending
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        );
        socket
            .try_send(&transmit(peer.local_addr().unwrap(), b"late"))
            .unwrap();
        settle().await;
        assert_eq!(inner.queued.load(Ordering::Acquire), 1, "sent while taken");
        inner.release();
        settle().await;
        let mut buf = [0u8; 8];
        let n = peer
            .recv(&mut buf)
            .expect("the datagram was stranded in the queue");
        assert_eq!(&buf[..n], b"late");
    }

    #[tokio::test]
    async fn a_lone_datagram_is_sent_without_waiting_for_a_batch() {
        let socket = BatchSocket::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap()).unwrap();
        let peer = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        socket
            .try_send(&transmit(peer.local_addr().unwrap(), b"one"))
            .unwrap();
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(5), peer.recv(&mut buf))
            .await
            .expect("a single queued datagram was never sent")
            .unwrap();
        assert_eq!(&buf[..n], b"one");
    }

    #[tokio::test]
    async fn a_dual_stack_socket_sends_from_the_address_asked_for() {
        // Bound to [::]: IPv4 peers are reached through IPv4-mapped
        // addresses, and each datagram leaves from its own source address
        // (IP_PKTINFO), with an ECN mark (IP_TOS) as quinn gives it.
        let Ok(bound) = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)) else {
            eprintln!("no IPv6 on this machine: skipped");
            return;
        };
        let socket = BatchSocket::new(bound).unwrap();
        let peer = receiver();
        let destination = peer.local_addr().unwrap();
        for (src, ecn) in [
            ([127, 0, 0, 2], Some(EcnCodepoint::Ect0)),
            ([127, 0, 0, 3], None),
        ] {
            socket
                .try_send(&Transmit {
                    src_ip: Some(IpAddr::from(src)),
                    ecn,
                    ..transmit(destination, b"from")
                })
                .unwrap();
        }
        settle().await;
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

    #[tokio::test]
    async fn what_is_queued_when_the_socket_is_dropped_is_still_sent() {
        let socket = BatchSocket::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap()).unwrap();
        let peer = receiver();
        for i in 0..3u8 {
            socket
                .try_send(&transmit(peer.local_addr().unwrap(), &[i]))
                .unwrap();
        }
        let queued = Arc::downgrade(&socket.inner);
        drop(socket);
        settle().await;
        let mut buf = [0u8; 4];
        for i in 0..3u8 {
            let n = peer.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[i]);
        }
        assert!(
            queued.upgrade().is_none(),
            "the flusher kept the socket open"
        );
    }
}
