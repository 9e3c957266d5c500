//! The loop: one task owns the socket, the `quinn_proto::Endpoint`, the
//! connections (by handle, in a slab) and their deadlines (one heap). Each
//! round it receives a bounded batch, fires the deadlines that are due,
//! takes the connections the application touched, hands each touched
//! connection's events to who waits on them (and its datagrams to the
//! handler), then asks each for its packets and sends the round's packets
//! together with `sendmmsg`.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Instant;

use bytes::Bytes;
use quinn::udp::UdpSocketState;
use quinn_proto::{
    ConnectionError, ConnectionHandle, DatagramEvent, EndpointConfig, Incoming, ServerConfig,
    VarInt,
};
use tokio::io::Interest;
use tokio::sync::{Notify, mpsc};

use super::conn::{ConnInner, Connecting, Connection, Shared, lock, wake_all};
use super::outbox::Outbox;
use super::recv::{Received, RecvBuffer, receive};
use super::timers::Timers;
use crate::udp::{MAX_BATCH, QUEUE_LIMIT};

/// Connections at most, handshakes included: a backstop behind the
/// application's own limits ([`Policy`]).
pub const MAX_CONNECTIONS: usize = 1 << 20;

/// What to do with a new connection's first packet.
#[derive(Debug)]
pub enum Admission<S> {
    /// Start the handshake; `S` goes with the connection to the application.
    Accept(S),
    /// Ask the peer to prove its address first (a QUIC retry).
    Retry,
    /// Refuse it at the QUIC level.
    Refuse,
}

/// Decides on new connections, in the loop, before any TLS work.
pub trait Policy: Send + 'static {
    /// What an admitted connection carries (a login slot).
    type Slot: Send + 'static;
    /// Admits, retries or refuses a connection from `remote`; `validated`
    /// when the peer has proven its address (or cannot be asked to).
    fn admit(&mut self, remote: SocketAddr, validated: bool) -> Admission<Self::Slot>;
}

/// A connection admitted by the [`Policy`], in its handshake.
#[derive(Debug)]
pub struct Accepted<S> {
    /// Resolves to the connection once the handshake is done.
    pub connecting: Connecting,
    /// What the policy gave it.
    pub slot: S,
}

/// Where a datagram came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The connection's handle in this loop (reused once it is gone).
    pub handle: usize,
    /// The connection's tag ([`Connection::set_tag`]; 0 until set).
    pub tag: u32,
}

/// Receives every connection's datagrams in the loop, instead of
/// [`Connection::read_datagram`]: what it sends with
/// [`Connection::send_datagram`] leaves in the same round.
pub trait DatagramHandler: Send + 'static {
    /// One datagram from `from`, received at `now`.
    fn datagram(&mut self, from: Origin, datagram: Bytes, now: Instant);
    /// The connection `handle` is gone (its handle may be reused after).
    fn closed(&mut self, handle: usize);
}

/// Closes a running loop and waits for it.
#[derive(Debug, Clone)]
pub struct Control {
    inner: Arc<ControlInner>,
}

#[derive(Debug, Default)]
struct ControlInner {
    shared: Arc<Shared>,
    closing: Mutex<Option<(VarInt, Bytes)>>,
    done: AtomicBool,
    finished: Notify,
}

impl Control {
    /// Closes every connection with `code` and `reason` and refuses new
    /// ones; the loop ends once every connection is drained.
    pub fn close(&self, code: VarInt, reason: &[u8]) {
        let mut closing = lock(&self.inner.closing);
        if closing.is_none() {
            *closing = Some((code, Bytes::copy_from_slice(reason)));
        }
        drop(closing);
        self.inner.shared.wake.notify_one();
    }

    /// Waits until the loop has ended.
    pub async fn wait_idle(&self) {
        loop {
            let finished = self.inner.finished.notified();
            if self.inner.done.load(Ordering::Acquire) {
                return;
            }
            finished.await;
        }
    }
}

/// A bound QUIC endpoint, not yet running.
#[derive(Debug)]
pub struct Endpoint {
    socket: std::net::UdpSocket,
    udp: UdpSocketState,
    endpoint: quinn_proto::Endpoint,
    control: Control,
}

impl Endpoint {
    /// A server endpoint on `socket` (bound; its buffers set as wanted).
    pub fn new(
        socket: std::net::UdpSocket,
        config: EndpointConfig,
        server: ServerConfig,
    ) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        let udp = UdpSocketState::new((&socket).into())?;
        let endpoint = quinn_proto::Endpoint::new(
            Arc::new(config),
            Some(Arc::new(server)),
            !udp.may_fragment(),
            None,
        );
        Ok(Self {
            socket,
            udp,
            endpoint,
            control: Control {
                inner: Arc::new(ControlInner::default()),
            },
        })
    }

    /// The address the endpoint listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Closes the endpoint and waits for it, from anywhere.
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Runs the loop until [`Control::close`] and every connection is
    /// drained. New connections go through `policy`; those admitted are
    /// sent on `accepted` (when nobody receives any more, new connections
    /// are refused). With a `handler`, every connection's datagrams go to
    /// it. An error is the socket's (receiving failed for another reason
    /// than a reset).
    pub async fn run<P: Policy>(
        self,
        policy: P,
        handler: Option<Box<dyn DatagramHandler>>,
        accepted: mpsc::UnboundedSender<Accepted<P::Slot>>,
    ) -> io::Result<()> {
        let control = self.control.inner.clone();
        let result = self.run_inner(policy, handler, accepted).await;
        control.done.store(true, Ordering::Release);
        control.finished.notify_waiters();
        result
    }

    async fn run_inner<P: Policy>(
        self,
        policy: P,
        handler: Option<Box<dyn DatagramHandler>>,
        accepted: mpsc::UnboundedSender<Accepted<P::Slot>>,
    ) -> io::Result<()> {
        let socket = tokio::net::UdpSocket::from_std(self.socket)?;
        let v6 = socket.local_addr()?.is_ipv6();
        let mut buffer =
            RecvBuffer::new(&self.udp, self.endpoint.config().get_max_udp_payload_size());
        let control = self.control.inner;
        let mut driver = Driver {
            endpoint: self.endpoint,
            conns: Vec::new(),
            live: 0,
            timers: Timers::default(),
            outbox: Outbox::default(),
            round: Vec::new(),
            scratch: Vec::new(),
            shared: control.shared.clone(),
            policy,
            handler,
            accepted,
            closing: None,
            wake: Vec::new(),
            datagrams: Vec::new(),
            dirty: Vec::new(),
        };
        let mut sleep = pin!(tokio::time::sleep_until(tokio::time::Instant::now()));
        loop {
            let now = Instant::now();
            let more = receive(&socket, &self.udp, &mut buffer, |r| driver.datagram(now, r))?;
            driver.expire(now);
            if driver.closing.is_none()
                && let Some(closing) = lock(&control.closing).clone()
            {
                driver.close_all(now, closing);
            }
            driver.take_dirty();
            driver.drive(now, &mut |outbox, whole| {
                let _ = socket.try_io(Interest::WRITABLE, || match whole {
                    true => outbox.flush_full(socket.as_fd(), v6),
                    false => outbox.flush(socket.as_fd(), v6),
                });
            });
            if driver.closing.is_some() && driver.live == 0 && driver.outbox.is_empty() {
                return Ok(());
            }
            if driver.outbox.is_empty() && (more || !driver.round.is_empty()) {
                // Work left over from a bounded round: go on before waiting.
                tokio::task::yield_now().await;
                continue;
            }
            let deadline = driver.timers.next();
            if let Some(at) = deadline {
                sleep.as_mut().reset(tokio::time::Instant::from_std(at));
            }
            let woken = driver.shared.wake.notified();
            tokio::select! {
                biased;
                () = woken => {}
                r = socket.readable() => r?,
                r = socket.writable(), if !driver.outbox.is_empty() => r?,
                () = &mut sleep, if deadline.is_some() => {}
            }
        }
    }
}

/// One connection as the loop keeps it.
#[derive(Debug)]
struct Slot {
    inner: Arc<ConnInner>,
    /// The deadline in the heap that is current for it.
    deadline: Option<Instant>,
    /// On this round's list.
    touched: bool,
}

/// The loop's state apart from the socket.
struct Driver<P: Policy> {
    endpoint: quinn_proto::Endpoint,
    /// Connections by `ConnectionHandle.0` (small integers: the endpoint
    /// hands them out of its own slab).
    conns: Vec<Option<Slot>>,
    live: usize,
    timers: Timers,
    outbox: Outbox,
    /// Connections to drive this round, each once (`Slot::touched`).
    round: Vec<usize>,
    /// What quinn-proto writes a packet into before the outbox copies it.
    scratch: Vec<u8>,
    shared: Arc<Shared>,
    policy: P,
    handler: Option<Box<dyn DatagramHandler>>,
    accepted: mpsc::UnboundedSender<Accepted<P::Slot>>,
    /// Set once the endpoint closes.
    closing: Option<(VarInt, Bytes)>,
    /// Reused buffers: tasks to wake, datagrams for the handler, the
    /// connections touched by handles.
    wake: Vec<Waker>,
    datagrams: Vec<Bytes>,
    dirty: Vec<Arc<ConnInner>>,
}

impl<P: Policy> Driver<P> {
    /// Hands one received datagram to the endpoint.
    fn datagram(&mut self, now: Instant, r: Received) {
        self.scratch.clear();
        match self
            .endpoint
            .handle(now, r.remote, r.local_ip, r.ecn, r.data, &mut self.scratch)
        {
            Some(DatagramEvent::ConnectionEvent(ch, event)) => {
                if let Some(slot) = slot_mut(&mut self.conns, ch.0) {
                    lock(&slot.inner.state).conn.handle_event(event);
                    touch(&mut self.round, ch.0, slot);
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => self.incoming(now, incoming),
            Some(DatagramEvent::Response(t)) => self.outbox.push(&t, &self.scratch),
            None => {}
        }
    }

    /// A new connection: admitted, retried or refused.
    fn incoming(&mut self, now: Instant, incoming: Incoming) {
        let admission = if self.closing.is_some()
            || self.accepted.is_closed()
            || self.live >= MAX_CONNECTIONS
        {
            Admission::Refuse
        } else {
            let validated = incoming.remote_address_validated() || !incoming.may_retry();
            self.policy.admit(incoming.remote_address(), validated)
        };
        self.scratch.clear();
        let admitted = match admission {
            Admission::Accept(admitted) => admitted,
            Admission::Retry => {
                let t = match self.endpoint.retry(incoming, &mut self.scratch) {
                    Ok(t) => t,
                    Err(e) => {
                        self.scratch.clear();
                        self.endpoint.refuse(e.into_incoming(), &mut self.scratch)
                    }
                };
                self.outbox.push(&t, &self.scratch);
                return;
            }
            Admission::Refuse => {
                let t = self.endpoint.refuse(incoming, &mut self.scratch);
                self.outbox.push(&t, &self.scratch);
                return;
            }
        };
        let remote = incoming.remote_address();
        match self.endpoint.accept(incoming, now, &mut self.scratch, None) {
            Ok((ch, conn)) => {
                let inner = ConnInner::new(ch, self.shared.clone(), conn);
                if self.conns.len() <= ch.0 {
                    self.conns.resize_with(ch.0 + 1, || None);
                }
                let mut slot = Slot {
                    inner: inner.clone(),
                    deadline: None,
                    touched: false,
                };
                touch(&mut self.round, ch.0, &mut slot);
                self.conns[ch.0] = Some(slot);
                self.live += 1;
                let connecting = Connecting::new(Connection::new(inner), remote);
                // Nobody to take it: dropping it closes the connection.
                let _ = self.accepted.send(Accepted {
                    connecting,
                    slot: admitted,
                });
            }
            Err(e) => {
                if let Some(t) = e.response {
                    self.outbox.push(&t, &self.scratch);
                }
            }
        }
    }

    /// Fires the deadlines due at `now`.
    fn expire(&mut self, now: Instant) {
        while let Some((at, ch)) = self.timers.pop_due(now) {
            if let Some(slot) = slot_mut(&mut self.conns, ch.0)
                && slot.deadline == Some(at)
            {
                slot.deadline = None;
                lock(&slot.inner.state).conn.handle_timeout(now);
                touch(&mut self.round, ch.0, slot);
            }
        }
        let conns = &self.conns;
        self.timers.compact(self.live, |at, ch| {
            conns
                .get(ch.0)
                .and_then(Option::as_ref)
                .is_some_and(|s| s.deadline == Some(at))
        });
    }

    /// Puts the connections touched by handles on this round's list.
    fn take_dirty(&mut self) {
        std::mem::swap(&mut self.dirty, &mut *lock(&self.shared.dirty));
        for inner in self.dirty.drain(..) {
            inner.queued.store(false, Ordering::Release);
            let i = inner.handle.0;
            if let Some(slot) = slot_mut(&mut self.conns, i)
                && Arc::ptr_eq(&slot.inner, &inner)
            {
                touch(&mut self.round, i, slot);
            }
        }
    }

    /// Closes every connection (the endpoint is closing).
    fn close_all(&mut self, now: Instant, (code, reason): (VarInt, Bytes)) {
        for (i, slot) in self.conns.iter_mut().enumerate() {
            if let Some(slot) = slot {
                lock(&slot.inner.state).close(now, code, reason.clone(), &mut self.wake);
                touch(&mut self.round, i, slot);
            }
        }
        wake_all(&mut self.wake);
        self.closing = Some((code, reason));
    }

    /// Drives every connection touched this round: events first (whose
    /// datagrams may touch more connections, by forwarding to them), then
    /// each one's packets and deadline, handing the outbox to `send`
    /// whenever it holds a full batch (`true`) and at the end (`false`:
    /// everything). Stops early when the outbox is full (the socket buffer
    /// is); the rest wait for the next round.
    fn drive(&mut self, now: Instant, send: &mut dyn FnMut(&mut Outbox, bool)) {
        let mut i = 0;
        while i < self.round.len() {
            let ch = self.round[i];
            i += 1;
            self.events(ch, now);
            if i == self.round.len() {
                self.take_dirty();
            }
        }
        let mut done = 0;
        while done < self.round.len() && self.outbox.len() < QUEUE_LIMIT {
            let ch = self.round[done];
            done += 1;
            self.transmit(ch, now);
            if self.outbox.len() >= MAX_BATCH {
                send(&mut self.outbox, true);
            }
        }
        self.round.drain(..done);
        if !self.outbox.is_empty() {
            send(&mut self.outbox, false);
        }
    }

    /// A connection's application events: wakes who waits on them, hands
    /// its datagrams to the handler.
    fn events(&mut self, ch: usize, now: Instant) {
        let Some(slot) = slot_mut(&mut self.conns, ch) else {
            return;
        };
        let inner = slot.inner.clone();
        {
            let mut state = lock(&inner.state);
            let datagrams = self.handler.as_ref().map(|_| &mut self.datagrams);
            state.events(&mut self.wake, datagrams);
        }
        wake_all(&mut self.wake);
        if let Some(handler) = &mut self.handler {
            let from = Origin {
                handle: ch,
                tag: inner.tag(),
            };
            for datagram in self.datagrams.drain(..) {
                handler.datagram(from, datagram, now);
            }
        }
    }

    /// A connection's endpoint events, packets and next deadline; forgets
    /// it once drained.
    fn transmit(&mut self, ch: usize, now: Instant) {
        let Some(slot) = slot_mut(&mut self.conns, ch) else {
            return;
        };
        slot.touched = false;
        let inner = slot.inner.clone();
        let mut state = lock(&inner.state);
        let mut again = false;
        while let Some(event) = state.conn.poll_endpoint_events() {
            if let Some(event) = self.endpoint.handle_event(ConnectionHandle(ch), event) {
                state.conn.handle_event(event);
                again = true;
            }
        }
        loop {
            self.scratch.clear();
            match state.conn.poll_transmit(now, 1, &mut self.scratch) {
                Some(t) => self.outbox.push(&t, &self.scratch),
                None => break,
            }
        }
        let next = state.conn.poll_timeout();
        let drained = state.conn.is_drained();
        if drained {
            state.terminate(ConnectionError::LocallyClosed, &mut self.wake);
        }
        drop(state);
        wake_all(&mut self.wake);
        if again && !drained {
            // Events from the endpoint: read in the next round.
            self.shared.touch(&inner);
        }
        if drained {
            self.conns[ch] = None;
            self.live -= 1;
            if let Some(handler) = &mut self.handler {
                handler.closed(ch);
            }
            return;
        }
        if next != slot.deadline {
            slot.deadline = next;
            if let Some(at) = next {
                self.timers.schedule(at, ConnectionHandle(ch));
            }
        }
    }
}

fn slot_mut(conns: &mut [Option<Slot>], i: usize) -> Option<&mut Slot> {
    conns.get_mut(i).and_then(Option::as_mut)
}

/// Puts a connection on this round's list, once.
fn touch(round: &mut Vec<usize>, i: usize, slot: &mut Slot) {
    if !slot.touched {
        slot.touched = true;
        round.push(i);
    }
}
