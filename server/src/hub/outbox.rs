//! A session's outgoing control queue, budgeted in bytes: what waits for a
//! reader that does not read is bounded by `max_queue_bytes`, and at most
//! one full snapshot (`Welcome` or `Snapshot`) waits at a time.
//!
//! The queue holds no memory while it is empty: an idle session's two
//! queues (control and chat) cost their shared header only, where a tokio
//! channel would keep a block of 32 slots (and often a second one) for
//! each, several kB per session.
//!
//! The reader coalesces like Nagle's rule: a frame that finds the stream
//! quiet is written at once, but frames that come within
//! [`Coalesce::window`] of the last write wait for the window's end (or for
//! [`Coalesce::bytes`] to queue) and are written together, so a burst of
//! updates (a login storm sends every session one per login) leaves in a few
//! QUIC packets instead of one packet, one ACK and one wakeup per frame.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::{Duration, Instant};

/// Bytes counted per queued frame beyond its own length (the queue's node
/// and the frame's handle), so that many tiny frames are bounded too.
pub const FRAME_OVERHEAD: usize = 64;

/// How a reader groups frames while its stream is busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coalesce {
    /// A frame that comes within this long of the last write waits for the
    /// window to end; one after a quiet spell goes at once.
    pub window: Duration,
    /// Bytes waiting (as the budget counts them) that end the wait early:
    /// a few packets' worth fill packets anyway, and a large frame (a
    /// snapshot) never waits.
    pub bytes: usize,
}

impl Default for Coalesce {
    /// 10 ms: at most that much added latency, and only while the stream
    /// is busy; 16 KiB: about a dozen full packets.
    fn default() -> Self {
        Self {
            window: Duration::from_millis(10),
            bytes: 16 * 1024,
        }
    }
}

/// One queued frame.
#[derive(Debug)]
struct Out {
    frame: Bytes,
    snapshot: bool,
}

#[derive(Debug, Default)]
struct Queue {
    /// Frames waiting, oldest first; unallocated while empty.
    frames: VecDeque<Out>,
    /// Live [`Outbox`] handles: the reader ends when the last is dropped
    /// and nothing waits.
    senders: usize,
    /// The reader is gone: frames are dropped at once.
    closed: bool,
}

#[derive(Debug)]
struct Shared {
    bytes: AtomicUsize,
    snapshot_pending: AtomicBool,
    budget: usize,
    coalesce: Coalesce,
    queue: Mutex<Queue>,
    /// Wakes the reader (a frame, or the last sender gone).
    ready: Notify,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A panic while the short critical sections run leaves the queue
        // consistent: take it anyway.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending half, kept in the session's `Link`.
#[derive(Debug)]
pub struct Outbox {
    shared: Arc<Shared>,
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.shared.queue().senders += 1;
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let last = {
            let mut q = self.shared.queue();
            q.senders -= 1;
            q.senders == 0
        };
        if last {
            self.shared.ready.notify_one();
        }
    }
}

/// The receiving half, drained by the session's writer task.
#[derive(Debug)]
pub struct OutboxReader {
    shared: Arc<Shared>,
}

impl Drop for OutboxReader {
    fn drop(&mut self) {
        let dropped = {
            let mut q = self.shared.queue();
            q.closed = true;
            std::mem::take(&mut q.frames)
        };
        let cost: usize = dropped.iter().map(|o| o.frame.len() + FRAME_OVERHEAD).sum();
        self.shared.bytes.fetch_sub(cost, Ordering::AcqRel);
    }
}

/// The frame would pass the session's byte budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow {
    /// Bytes waiting.
    pub queued: usize,
    /// The budget.
    pub budget: usize,
}

/// What became of a snapshot request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotQueued {
    /// Queued.
    Queued,
    /// One is waiting already; the updates after it bring the reader to
    /// the same state, so none is added.
    Coalesced,
}

/// A new queue with a budget of `budget` bytes.
pub fn outbox(budget: usize) -> (Outbox, OutboxReader) {
    outbox_coalescing(budget, Coalesce::default())
}

/// A new queue with a budget of `budget` bytes whose reader groups frames
/// by `coalesce`.
pub fn outbox_coalescing(budget: usize, coalesce: Coalesce) -> (Outbox, OutboxReader) {
    let shared = Arc::new(Shared {
        bytes: AtomicUsize::new(0),
        snapshot_pending: AtomicBool::new(false),
        budget,
        coalesce,
        queue: Mutex::new(Queue {
            senders: 1,
            ..Queue::default()
        }),
        ready: Notify::new(),
    });
    (
        Outbox {
            shared: shared.clone(),
        },
        OutboxReader { shared },
    )
}

impl Outbox {
    /// Queues a frame, or says it would pass the budget (then nothing is queued).
    pub fn push(&self, frame: Bytes) -> Result<(), Overflow> {
        self.push_out(Out {
            frame,
            snapshot: false,
        })
    }

    /// Queues a full snapshot unless one is waiting; `make` builds it only
    /// when it is queued.
    pub fn push_snapshot(&self, make: impl FnOnce() -> Bytes) -> Result<SnapshotQueued, Overflow> {
        if self.shared.snapshot_pending.swap(true, Ordering::AcqRel) {
            return Ok(SnapshotQueued::Coalesced);
        }
        let out = Out {
            frame: make(),
            snapshot: true,
        };
        match self.push_out(out) {
            Ok(()) => Ok(SnapshotQueued::Queued),
            Err(e) => {
                self.shared.snapshot_pending.store(false, Ordering::Release);
                Err(e)
            }
        }
    }

    /// Bytes waiting to be written (frames and their overhead).
    pub fn queued_bytes(&self) -> usize {
        self.shared.bytes.load(Ordering::Acquire)
    }

    fn push_out(&self, out: Out) -> Result<(), Overflow> {
        let cost = out.frame.len() + FRAME_OVERHEAD;
        let budget = self.shared.budget;
        let reserved =
            self.shared
                .bytes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                    let after = queued.checked_add(cost)?;
                    (after <= budget).then_some(after)
                });
        let before = match reserved {
            Ok(before) => before,
            Err(queued) => return Err(Overflow { queued, budget }),
        };
        let queued = {
            let mut q = self.shared.queue();
            if q.closed {
                None
            } else {
                let was_empty = q.frames.is_empty();
                q.frames.push_back(out);
                Some(was_empty)
            }
        };
        if let Some(was_empty) = queued {
            // A reader waits for a first frame, or holds frames until
            // enough bytes wait; otherwise it is writing and looks again
            // after: no wakeup per frame.
            if was_empty || before + cost >= self.shared.coalesce.bytes {
                self.shared.ready.notify_one();
            }
        } else {
            // The writer is gone: nothing waits.
            self.shared.bytes.fetch_sub(cost, Ordering::AcqRel);
        }
        Ok(())
    }
}

impl OutboxReader {
    /// Writes queued frames to the stream until the queue closes or the
    /// stream fails, grouped by the queue's `Coalesce` rule; each frame
    /// leaves the budget once written.
    pub async fn write_to(self, mut send: quinn::SendStream) {
        let mut last_write = None;
        while let Some(mut batch) = self.next_batch(last_write).await {
            let written = batch.write(&mut send).await;
            last_write = Some(Instant::now());
            if !written {
                break;
            }
        }
    }

    /// Every frame waiting, oldest first, once the rule lets them go:
    /// at once after a quiet spell (`last_write` older than the window),
    /// else at the window's end or when enough bytes wait. `None` once
    /// every sender is gone and nothing waits.
    async fn next_batch(&self, last_write: Option<Instant>) -> Option<Batch<'_>> {
        loop {
            {
                let q = self.shared.queue();
                if !q.frames.is_empty() {
                    break;
                }
                if q.senders == 0 {
                    return None;
                }
            }
            // A frame pushed (or the last sender dropped) after the check
            // above left a permit: this returns at once.
            self.shared.ready.notified().await;
        }
        let rule = self.shared.coalesce;
        if let Some(until) = last_write.map(|t| t + rule.window)
            && Instant::now() < until
        {
            let window = tokio::time::sleep_until(until);
            tokio::pin!(window);
            while self.shared.bytes.load(Ordering::Acquire) < rule.bytes
                && self.shared.queue().senders > 0
            {
                tokio::select! {
                    () = &mut window => break,
                    () = self.shared.ready.notified() => {}
                }
            }
        }
        let frames = std::mem::take(&mut self.shared.queue().frames);
        Some(Batch::new(&self.shared, frames))
    }
}

/// Frames taken from the queue to be written together; each leaves the
/// budget once written, and what was not written (the stream failed, or
/// the writer was stopped) leaves it when the batch is dropped.
struct Batch<'a> {
    shared: &'a Shared,
    frames: Vec<Bytes>,
    /// Per frame: its cost in the budget and whether it is a snapshot.
    meta: Vec<(usize, bool)>,
    /// Frames written so far.
    done: usize,
}

impl<'a> Batch<'a> {
    fn new(shared: &'a Shared, outs: VecDeque<Out>) -> Self {
        let mut frames = Vec::with_capacity(outs.len());
        let mut meta = Vec::with_capacity(outs.len());
        for out in outs {
            meta.push((out.frame.len() + FRAME_OVERHEAD, out.snapshot));
            frames.push(out.frame);
        }
        Self {
            shared,
            frames,
            meta,
            done: 0,
        }
    }

    /// Writes every frame in order, in as few calls as the stream's flow
    /// control allows; false when the stream failed.
    async fn write(&mut self, send: &mut quinn::SendStream) -> bool {
        while self.done < self.frames.len() {
            match send.write_chunks(&mut self.frames[self.done..]).await {
                Ok(w) => self.written(w.chunks),
                Err(_) => return false,
            }
        }
        true
    }

    /// The next `n` frames are written: they leave the budget.
    fn written(&mut self, n: usize) {
        let end = self.done + n;
        let cost: usize = self.meta[self.done..end].iter().map(|m| m.0).sum();
        self.shared.bytes.fetch_sub(cost, Ordering::AcqRel);
        if self.meta[self.done..end].iter().any(|m| m.1) {
            self.shared.snapshot_pending.store(false, Ordering::Release);
        }
        self.done = end;
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        let cost: usize = self.meta[self.done..].iter().map(|m| m.0).sum();
        self.shared.bytes.fetch_sub(cost, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    fn capacity(reader: &OutboxReader) -> usize {
        reader.shared.queue().frames.capacity()
    }

    /// The first byte of each frame of a batch, which the tests use as its number.
    fn numbers(batch: &Batch<'_>) -> Vec<u8> {
        batch.frames.iter().map(|f| f[0]).collect()
    }

    /// Polls a future once: whether it is done without waiting.
    fn ready_now<F: Future>(fut: F) -> Option<F::Output> {
        let mut fut = pin!(fut);
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(out) => Some(out),
            Poll::Pending => None,
        }
    }

    /// A rule whose window is long enough that a test never races it.
    const SLOW: Coalesce = Coalesce {
        window: Duration::from_millis(300),
        bytes: 1000,
    };

    #[tokio::test]
    async fn an_idle_queue_holds_no_buffer() {
        let (tx, rx) = outbox(1 << 20);
        assert_eq!(capacity(&rx), 0, "a new queue allocates nothing");
        for i in 0..100u8 {
            tx.push(Bytes::from(vec![i; 10])).unwrap();
        }
        assert!(capacity(&rx) >= 100);
        let batch = rx.next_batch(None).await.unwrap();
        assert_eq!(numbers(&batch), (0..100).collect::<Vec<_>>(), "in order");
        assert_eq!(capacity(&rx), 0, "a drained queue gives its buffer back");
    }

    #[tokio::test]
    async fn the_reader_ends_with_the_last_sender() {
        let (tx, rx) = outbox(1024);
        let other = tx.clone();
        tx.push(Bytes::from_static(b"a")).unwrap();
        drop(tx);
        assert!(
            rx.next_batch(None).await.is_some(),
            "what was queued is read"
        );
        let wait = tokio::time::timeout(Duration::from_millis(50), rx.next_batch(None)).await;
        assert!(wait.is_err(), "a sender is left: the reader waits");
        drop(other);
        assert!(rx.next_batch(None).await.is_none());
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_a_push() {
        let (tx, rx) = outbox(1024);
        let reader =
            tokio::spawn(async move { rx.next_batch(None).await.map(|b| b.frames.clone()) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.push(Bytes::from_static(b"x")).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), reader).await;
        assert_eq!(got.unwrap().unwrap(), Some(vec![Bytes::from_static(b"x")]));
    }

    #[test]
    fn the_budget_bounds_the_queue_and_a_gone_reader_refunds_it() {
        let (tx, rx) = outbox(2 * (10 + FRAME_OVERHEAD));
        tx.push(Bytes::from(vec![0; 10])).unwrap();
        tx.push(Bytes::from(vec![0; 10])).unwrap();
        assert!(tx.push(Bytes::from(vec![0; 10])).is_err());
        drop(rx);
        assert_eq!(tx.queued_bytes(), 0, "dropped frames leave the budget");
        tx.push(Bytes::from(vec![0; 10])).unwrap();
        assert_eq!(tx.queued_bytes(), 0, "nothing waits without a reader");
    }

    #[tokio::test]
    async fn the_first_frame_after_a_quiet_spell_goes_at_once() {
        let (tx, rx) = outbox_coalescing(1 << 20, SLOW);
        tx.push(Bytes::from_static(b"\x01")).unwrap();
        let batch = ready_now(rx.next_batch(None)).expect("a first frame never waits");
        assert_eq!(numbers(&batch.unwrap()), [1]);
        tx.push(Bytes::from_static(b"\x02")).unwrap();
        let quiet = Instant::now() - SLOW.window;
        let batch = ready_now(rx.next_batch(Some(quiet))).expect("the last write is a window old");
        assert_eq!(numbers(&batch.unwrap()), [2]);
    }

    #[tokio::test]
    async fn frames_during_a_busy_window_go_together_in_order() {
        let (tx, rx) = outbox_coalescing(1 << 20, SLOW);
        let written = Instant::now();
        tx.push(Bytes::from_static(b"\x01")).unwrap();
        let mut next = pin!(rx.next_batch(Some(written)));
        assert!(
            ready_now(next.as_mut()).is_none(),
            "a frame right after a write waits"
        );
        for i in 2..=5u8 {
            tx.push(Bytes::from(vec![i; 10])).unwrap();
        }
        let batch = tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .unwrap()
            .unwrap();
        assert!(
            Instant::now() >= written + SLOW.window,
            "held until the window ends"
        );
        assert_eq!(numbers(&batch), [1, 2, 3, 4, 5], "all of them, in order");
        assert_eq!(tx.queued_bytes(), 1 + 4 * 10 + 5 * FRAME_OVERHEAD);
    }

    #[tokio::test]
    async fn enough_bytes_end_the_wait() {
        let (tx, rx) = outbox_coalescing(1 << 20, SLOW);
        let written = Instant::now();
        tx.push(Bytes::from(vec![1; 100])).unwrap();
        let mut next = pin!(rx.next_batch(Some(written)));
        assert!(ready_now(next.as_mut()).is_none());
        tx.push(Bytes::from(vec![2; SLOW.bytes])).unwrap();
        let batch = tokio::time::timeout(SLOW.window / 2, next)
            .await
            .expect("a full batch does not wait for the window")
            .unwrap();
        assert_eq!(numbers(&batch), [1, 2]);
        // A large frame alone does not wait either.
        drop(batch);
        tx.push(Bytes::from(vec![3; SLOW.bytes])).unwrap();
        let batch =
            ready_now(rx.next_batch(Some(Instant::now()))).expect("a large frame goes at once");
        assert_eq!(numbers(&batch.unwrap()), [3]);
    }

    #[tokio::test]
    async fn held_frames_count_in_the_budget_until_written() {
        let cost = 10 + FRAME_OVERHEAD;
        let (tx, rx) = outbox_coalescing(3 * cost, SLOW);
        tx.push(Bytes::from(vec![1; 10])).unwrap();
        let mut next = pin!(rx.next_batch(Some(Instant::now())));
        assert!(ready_now(next.as_mut()).is_none(), "held");
        tx.push(Bytes::from(vec![2; 10])).unwrap();
        tx.push(Bytes::from(vec![3; 10])).unwrap();
        assert!(
            tx.push(Bytes::from(vec![4; 10])).is_err(),
            "held frames fill the budget as queued ones do"
        );
        let mut batch = tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            numbers(&batch),
            [1, 2, 3],
            "the refused frame is not among them"
        );
        assert_eq!(tx.queued_bytes(), 3 * cost, "taken is not written");
        batch.written(2);
        assert_eq!(tx.queued_bytes(), cost, "written frames leave the budget");
        drop(batch);
        assert_eq!(
            tx.queued_bytes(),
            0,
            "an unwritten frame leaves it with its batch"
        );
        tx.push(Bytes::from(vec![5; 10])).unwrap();
    }

    #[tokio::test]
    async fn a_written_snapshot_lets_the_next_one_queue() {
        let (tx, rx) = outbox_coalescing(1 << 20, SLOW);
        let snap = || Bytes::from_static(b"\x09");
        assert_eq!(tx.push_snapshot(snap), Ok(SnapshotQueued::Queued));
        let mut batch = rx.next_batch(None).await.unwrap();
        assert_eq!(
            tx.push_snapshot(snap),
            Ok(SnapshotQueued::Coalesced),
            "being written"
        );
        batch.written(1);
        assert_eq!(tx.push_snapshot(snap), Ok(SnapshotQueued::Queued));
    }
}
