//! A connection on the loop: its quinn-proto state behind one lock, and the
//! handles the application holds ([`Connection`], [`Connecting`]).
//!
//! The application never drives a connection: an operation on a handle
//! changes the quinn-proto state under the lock and marks the connection
//! touched ([`Shared::touch`]); the loop then sends what the change
//! produced. The loop wakes the tasks that wait on a connection (a stream
//! to read, credit to write, a stream to accept, the handshake, the end)
//! from the events quinn-proto reports.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;
use quinn_proto::{ConnectionError, ConnectionHandle, Dir, Event, StreamEvent, StreamId, VarInt};
use tokio::sync::Notify;

use super::streams::{RecvStream, SendStream};
use super::{ExportKeyingMaterialError, SendDatagramError};

/// Locks `m`, taking the state of a holder that panicked: every critical
/// section leaves the state consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the loop and every handle of its connections share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Connections changed by a handle since the loop last looked.
    pub(crate) dirty: Mutex<Vec<Arc<ConnInner>>>,
    /// Wakes the loop.
    pub(crate) wake: Notify,
}

impl Shared {
    /// Puts `inner` on the loop's list of connections to drive, once.
    pub(crate) fn touch(&self, inner: &Arc<ConnInner>) {
        if !inner.queued.swap(true, Ordering::AcqRel) {
            lock(&self.dirty).push(inner.clone());
            self.wake.notify_one();
        }
    }
}

/// One connection: fixed facts, and its state under a lock.
#[derive(Debug)]
pub(crate) struct ConnInner {
    pub(crate) handle: ConnectionHandle,
    pub(crate) shared: Arc<Shared>,
    /// On the loop's list already (`Shared::touch`).
    pub(crate) queued: AtomicBool,
    /// Live [`Connection`] handles (streams hold one each): the last one
    /// dropped closes the connection, as quinn does.
    handles: AtomicUsize,
    /// The application's tag (the server: the session id, 0 before login).
    tag: AtomicU32,
    pub(crate) state: Mutex<ConnState>,
}

impl ConnInner {
    pub(crate) fn new(
        handle: ConnectionHandle,
        shared: Arc<Shared>,
        conn: quinn_proto::Connection,
    ) -> Arc<Self> {
        Arc::new(Self {
            handle,
            shared,
            queued: AtomicBool::new(false),
            handles: AtomicUsize::new(0),
            tag: AtomicU32::new(0),
            state: Mutex::new(ConnState {
                conn,
                connected: false,
                error: None,
                wakers: Wakers::default(),
            }),
        })
    }

    pub(crate) fn tag(&self) -> u32 {
        self.tag.load(Ordering::Acquire)
    }
}

/// Tasks waiting on one connection.
#[derive(Debug, Default)]
struct Wakers {
    /// The handshake's end ([`Connecting`]).
    connected: Vec<Waker>,
    /// A stream to accept.
    incoming: Vec<Waker>,
    /// Room to open a stream.
    open: Vec<Waker>,
    /// A datagram to read.
    datagram: Vec<Waker>,
    /// The connection's end.
    closed: Vec<Waker>,
    readers: HashMap<StreamId, Waker>,
    writers: HashMap<StreamId, Waker>,
}

/// Adds `w` unless the same task waits already (a task polling again in a
/// `select!` loop adds no second entry).
fn wait_on(list: &mut Vec<Waker>, w: &Waker) {
    if !list.iter().any(|x| x.will_wake(w)) {
        list.push(w.clone());
    }
}

/// The quinn-proto connection and who waits on it.
#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) conn: quinn_proto::Connection,
    connected: bool,
    /// Why the connection ended (or is ending): set once, by the peer,
    /// a timeout, or [`Connection::close`].
    pub(crate) error: Option<ConnectionError>,
    wakers: Wakers,
}

impl ConnState {
    /// Handles the connection's application events: wakes who waits on
    /// them into `wake`, and moves received datagrams to `datagrams` when
    /// the loop has a handler for them (otherwise they stay for
    /// [`Connection::read_datagram`]).
    pub(crate) fn events(&mut self, wake: &mut Vec<Waker>, datagrams: Option<&mut Vec<Bytes>>) {
        while let Some(event) = self.conn.poll() {
            match event {
                Event::HandshakeDataReady => {}
                Event::Connected => {
                    self.connected = true;
                    wake.append(&mut self.wakers.connected);
                }
                Event::ConnectionLost { reason } => self.terminate(reason, wake),
                Event::Stream(StreamEvent::Opened { .. }) => wake.append(&mut self.wakers.incoming),
                Event::Stream(StreamEvent::Available { .. }) => wake.append(&mut self.wakers.open),
                Event::Stream(StreamEvent::Readable { id }) => {
                    wake.extend(self.wakers.readers.remove(&id));
                }
                Event::Stream(
                    StreamEvent::Writable { id }
                    | StreamEvent::Stopped { id, .. }
                    | StreamEvent::Finished { id },
                ) => wake.extend(self.wakers.writers.remove(&id)),
                Event::DatagramReceived => {
                    if datagrams.is_none() {
                        wake.append(&mut self.wakers.datagram);
                    }
                }
                Event::DatagramsUnblocked => {}
            }
        }
        if let Some(out) = datagrams {
            while let Some(d) = self.conn.datagrams().recv() {
                out.push(d);
            }
        }
    }

    /// The connection ended: every waiter learns it.
    pub(crate) fn terminate(&mut self, reason: ConnectionError, wake: &mut Vec<Waker>) {
        if self.error.is_none() {
            self.error = Some(reason);
        }
        let w = &mut self.wakers;
        for list in [
            &mut w.connected,
            &mut w.incoming,
            &mut w.open,
            &mut w.datagram,
            &mut w.closed,
        ] {
            wake.append(list);
        }
        wake.extend(w.readers.drain().map(|(_, w)| w));
        wake.extend(w.writers.drain().map(|(_, w)| w));
    }

    /// Closes the connection (once) with `code` and `reason`.
    pub(crate) fn close(
        &mut self,
        now: Instant,
        code: VarInt,
        reason: Bytes,
        wake: &mut Vec<Waker>,
    ) {
        if self.error.is_none() {
            self.conn.close(now, code, reason);
            self.terminate(ConnectionError::LocallyClosed, wake);
        }
    }

    pub(crate) fn wait_reader(&mut self, id: StreamId, w: &Waker) {
        self.wakers.readers.insert(id, w.clone());
    }

    pub(crate) fn wait_writer(&mut self, id: StreamId, w: &Waker) {
        self.wakers.writers.insert(id, w.clone());
    }

    pub(crate) fn forget_reader(&mut self, id: StreamId) {
        self.wakers.readers.remove(&id);
    }

    pub(crate) fn forget_writer(&mut self, id: StreamId) {
        self.wakers.writers.remove(&id);
    }
}

/// Wakes every waker of `list`.
pub(crate) fn wake_all(list: &mut Vec<Waker>) {
    for w in list.drain(..) {
        w.wake();
    }
}

/// A connection on the loop: cheap to clone; the last handle (with the
/// last stream) dropped closes it with code 0, as quinn's does.
#[derive(Debug)]
pub struct Connection {
    pub(crate) inner: Arc<ConnInner>,
}

impl Clone for Connection {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.inner.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.update(|state, wake| {
                state.close(Instant::now(), VarInt::from_u32(0), Bytes::new(), wake);
            });
        }
    }
}

impl Connection {
    pub(crate) fn new(inner: Arc<ConnInner>) -> Self {
        inner.handles.fetch_add(1, Ordering::AcqRel);
        Self { inner }
    }

    /// Runs `f` on the state, then wakes whom it woke and has the loop
    /// drive the connection.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut ConnState, &mut Vec<Waker>) -> R) -> R {
        let mut wake = Vec::new();
        let r = f(&mut lock(&self.inner.state), &mut wake);
        wake_all(&mut wake);
        self.inner.shared.touch(&self.inner);
        r
    }

    /// The state, for reading.
    pub(crate) fn state(&self) -> MutexGuard<'_, ConnState> {
        lock(&self.inner.state)
    }

    /// Waits for the peer to open a bidirectional stream.
    pub async fn accept_bi(&self) -> Result<(SendStream, RecvStream), ConnectionError> {
        let id = std::future::poll_fn(|cx| {
            let mut state = self.state();
            if let Some(e) = &state.error {
                return Poll::Ready(Err(e.clone()));
            }
            match state.conn.streams().accept(Dir::Bi) {
                Some(id) => Poll::Ready(Ok(id)),
                None => {
                    wait_on(&mut state.wakers.incoming, cx.waker());
                    Poll::Pending
                }
            }
        })
        .await?;
        // Accepting may give the peer credit for another stream.
        self.inner.shared.touch(&self.inner);
        Ok((
            SendStream::new(self.clone(), id),
            RecvStream::new(self.clone(), id),
        ))
    }

    /// Opens a bidirectional stream, waiting while the peer allows no more.
    pub async fn open_bi(&self) -> Result<(SendStream, RecvStream), ConnectionError> {
        let id = std::future::poll_fn(|cx| {
            let mut state = self.state();
            if let Some(e) = &state.error {
                return Poll::Ready(Err(e.clone()));
            }
            match state.conn.streams().open(Dir::Bi) {
                Some(id) => Poll::Ready(Ok(id)),
                None => {
                    wait_on(&mut state.wakers.open, cx.waker());
                    Poll::Pending
                }
            }
        })
        .await?;
        Ok((
            SendStream::new(self.clone(), id),
            RecvStream::new(self.clone(), id),
        ))
    }

    /// The next datagram from the peer (only on a loop without a datagram
    /// handler: with one, datagrams go to it).
    pub async fn read_datagram(&self) -> Result<Bytes, ConnectionError> {
        std::future::poll_fn(|cx| {
            let mut state = self.state();
            if let Some(d) = state.conn.datagrams().recv() {
                return Poll::Ready(Ok(d));
            }
            if let Some(e) = &state.error {
                return Poll::Ready(Err(e.clone()));
            }
            wait_on(&mut state.wakers.datagram, cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Queues an unreliable datagram; when the connection's buffer is full
    /// the oldest queued datagram is dropped for it, as quinn's
    /// `send_datagram` does.
    pub fn send_datagram(&self, data: Bytes) -> Result<(), SendDatagramError> {
        let result = {
            let mut state = self.state();
            if let Some(e) = &state.error {
                return Err(SendDatagramError::ConnectionLost(e.clone()));
            }
            state.conn.datagrams().send(data, true)
        };
        match result {
            Ok(()) => {
                self.inner.shared.touch(&self.inner);
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Closes the connection with `code` and `reason` (once; later calls
    /// do nothing). Streams and waits on it end with `LocallyClosed`.
    pub fn close(&self, code: VarInt, reason: &[u8]) {
        self.update(|state, wake| {
            state.close(Instant::now(), code, Bytes::copy_from_slice(reason), wake);
        });
    }

    /// Waits for the connection's end and says why.
    pub async fn closed(&self) -> ConnectionError {
        std::future::poll_fn(|cx| {
            let mut state = self.state();
            match &state.error {
                Some(e) => Poll::Ready(e.clone()),
                None => {
                    wait_on(&mut state.wakers.closed, cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Why the connection ended, if it did.
    pub fn close_reason(&self) -> Option<ConnectionError> {
        self.state().error.clone()
    }

    /// The peer's address (it can change when the peer migrates).
    pub fn remote_address(&self) -> SocketAddr {
        self.state().conn.remote_address()
    }

    /// Fills `output` with keying material exported from the TLS session
    /// (RFC 5705).
    pub fn export_keying_material(
        &self,
        output: &mut [u8],
        label: &[u8],
        context: &[u8],
    ) -> Result<(), ExportKeyingMaterialError> {
        self.state()
            .conn
            .crypto_session()
            .export_keying_material(output, label, context)
            .map_err(|_| ExportKeyingMaterialError)
    }

    /// An id unique among the live connections of this process.
    pub fn stable_id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Sets the application's tag, which the loop's datagram handler sees
    /// with each datagram ([`super::Origin::tag`]).
    pub fn set_tag(&self, tag: u32) {
        self.inner.tag.store(tag, Ordering::Release);
    }

    /// The largest datagram the peer accepts now, if it accepts any.
    pub fn max_datagram_size(&self) -> Option<usize> {
        self.state().conn.datagrams().max_size()
    }
}

/// A connection in its handshake: resolves to the [`Connection`] once the
/// handshake is done.
#[derive(Debug)]
pub struct Connecting {
    conn: Option<Connection>,
    remote: SocketAddr,
}

impl Connecting {
    pub(crate) fn new(conn: Connection, remote: SocketAddr) -> Self {
        Self {
            conn: Some(conn),
            remote,
        }
    }

    /// The peer's address as the handshake started.
    pub fn remote_address(&self) -> SocketAddr {
        self.remote
    }
}

impl Future for Connecting {
    type Output = Result<Connection, ConnectionError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(conn) = &self.conn else {
            return Poll::Ready(Err(ConnectionError::LocallyClosed));
        };
        let outcome = {
            let mut state = conn.state();
            if state.connected {
                Some(Ok(()))
            } else if let Some(e) = &state.error {
                Some(Err(e.clone()))
            } else {
                wait_on(&mut state.wakers.connected, cx.waker());
                None
            }
        };
        match outcome {
            None => Poll::Pending,
            Some(Ok(())) => Poll::Ready(self.conn.take().ok_or(ConnectionError::LocallyClosed)),
            Some(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}
