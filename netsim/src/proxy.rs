//! A UDP proxy applying an [`Impairment`] in each direction (one client).

use std::collections::BinaryHeap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{Impairer, Impairment};

/// How often blocked receives check for shutdown.
const POLL: Duration = Duration::from_millis(50);

/// Packet counts of a proxy.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Datagrams received from the client.
    pub up_in: AtomicU64,
    /// Datagrams forwarded to the upstream.
    pub up_out: AtomicU64,
    /// Datagrams received from the upstream.
    pub down_in: AtomicU64,
    /// Datagrams forwarded to the client.
    pub down_out: AtomicU64,
}

struct Pending {
    due: Instant,
    order: u64,
    up: bool,
    data: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        self.due == o.due && self.order == o.order
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        // Earliest first in a max-heap.
        o.due.cmp(&self.due).then(o.order.cmp(&self.order))
    }
}

struct Shared {
    queue: Mutex<BinaryHeap<Pending>>,
    wake: Condvar,
    stop: AtomicBool,
    client: Mutex<Option<SocketAddr>>,
    stats: ProxyStats,
}

/// A running proxy: clients send to [`UdpProxy::local_addr`], datagrams
/// go to the upstream and back, impaired. Dropping it stops it.
pub struct UdpProxy {
    local: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for UdpProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpProxy")
            .field("local", &self.local)
            .finish()
    }
}

impl UdpProxy {
    /// Binds `listen` (port 0 for any) and forwards to `upstream`, with
    /// `up` applied client → upstream and `down` upstream → client.
    pub fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        up: Impairment,
        down: Impairment,
    ) -> std::io::Result<Self> {
        let front = UdpSocket::bind(listen)?;
        let unspecified: SocketAddr = if upstream.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let back = UdpSocket::bind(unspecified)?;
        back.connect(upstream)?;
        front.set_read_timeout(Some(POLL))?;
        back.set_read_timeout(Some(POLL))?;
        let local = front.local_addr()?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(BinaryHeap::new()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            client: Mutex::new(None),
            stats: ProxyStats::default(),
        });
        let start = Instant::now();
        let order = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        {
            let (front, shared, order) = (front.try_clone()?, shared.clone(), order.clone());
            let mut imp = Impairer::new(up);
            threads.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while !shared.stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = front.recv_from(&mut buf) else {
                        continue;
                    };
                    shared.stats.up_in.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut c) = shared.client.lock() {
                        *c = Some(from);
                    }
                    schedule(&shared, &order, &mut imp, start, true, &buf[..n]);
                }
            }));
        }
        {
            let (back, shared, order) = (back.try_clone()?, shared.clone(), order.clone());
            let mut imp = Impairer::new(down);
            threads.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while !shared.stop.load(Ordering::Relaxed) {
                    let Ok(n) = back.recv(&mut buf) else {
                        continue;
                    };
                    shared.stats.down_in.fetch_add(1, Ordering::Relaxed);
                    schedule(&shared, &order, &mut imp, start, false, &buf[..n]);
                }
            }));
        }
        {
            let shared = shared.clone();
            threads.push(std::thread::spawn(move || deliver(&shared, &front, &back)));
        }
        Ok(Self {
            local,
            shared,
            threads,
        })
    }

    /// The address clients send to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Packet counts so far.
    pub fn stats(&self) -> &ProxyStats {
        &self.shared.stats
    }
}

fn schedule(
    shared: &Shared,
    order: &AtomicU64,
    imp: &mut Impairer,
    start: Instant,
    up: bool,
    data: &[u8],
) {
    let now = Instant::now();
    let delays = imp.decide(now - start);
    let Ok(mut q) = shared.queue.lock() else {
        return;
    };
    for d in delays {
        q.push(Pending {
            due: now + d,
            order: order.fetch_add(1, Ordering::Relaxed),
            up,
            data: data.to_vec(),
        });
    }
    shared.wake.notify_one();
}

fn deliver(shared: &Shared, front: &UdpSocket, back: &UdpSocket) {
    let Ok(mut q) = shared.queue.lock() else {
        return;
    };
    while !shared.stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = match q.peek() {
            Some(p) if p.due <= now => Duration::ZERO,
            Some(p) => (p.due - now).min(POLL),
            None => POLL,
        };
        if !wait.is_zero() {
            q = match shared.wake.wait_timeout(q, wait) {
                Ok((q, _)) => q,
                Err(_) => return,
            };
            continue;
        }
        let Some(p) = q.pop() else { continue };
        drop(q);
        if p.up {
            if back.send(&p.data).is_ok() {
                shared.stats.up_out.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            let client = shared.client.lock().ok().and_then(|c| *c);
            if let Some(c) = client
                && front.send_to(&p.data, c).is_ok()
            {
                shared.stats.down_out.fetch_add(1, Ordering::Relaxed);
            }
        }
        q = match shared.queue.lock() {
            Ok(q) => q,
            Err(_) => return,
        };
    }
}

impl Drop for UdpProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.wake.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
