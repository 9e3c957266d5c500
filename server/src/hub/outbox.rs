//! A session's outgoing control queue, budgeted in bytes: what waits for a
//! reader that does not read is bounded by `max_queue_bytes`, and at most
//! one full snapshot (`Welcome` or `Snapshot`) waits at a time.
//!
//! The queue holds no memory while it is empty: an idle session's two
//! queues (control and chat) cost their shared header only, where a tokio
//! channel would keep a block of 32 slots (and often a second one) for
//! each, several kB per session.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

/// Bytes counted per queued frame beyond its own length (the queue's node
/// and the frame's handle), so that many tiny frames are bounded too.
pub const FRAME_OVERHEAD: usize = 64;

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
    let shared = Arc::new(Shared {
        bytes: AtomicUsize::new(0),
        snapshot_pending: AtomicBool::new(false),
        budget,
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
        if let Err(queued) = reserved {
            return Err(Overflow { queued, budget });
        }
        let queued = {
            let mut q = self.shared.queue();
            if q.closed {
                false
            } else {
                q.frames.push_back(out);
                true
            }
        };
        if queued {
            self.shared.ready.notify_one();
        } else {
            // The writer is gone: nothing waits.
            self.shared.bytes.fetch_sub(cost, Ordering::AcqRel);
        }
        Ok(())
    }
}

impl OutboxReader {
    /// Writes queued frames to the stream until the queue closes or the
    /// stream fails; each frame leaves the budget once written.
    pub async fn write_to(self, mut send: crate::quic::SendStream) {
        while let Some(out) = self.next().await {
            let cost = out.frame.len() + FRAME_OVERHEAD;
            let written = send.write_chunk(out.frame).await;
            self.shared.bytes.fetch_sub(cost, Ordering::AcqRel);
            if out.snapshot {
                self.shared.snapshot_pending.store(false, Ordering::Release);
            }
            if written.is_err() {
                break;
            }
        }
    }

    /// The oldest frame; `None` once every sender is gone and nothing waits.
    async fn next(&self) -> Option<Out> {
        loop {
            {
                let mut q = self.shared.queue();
                if let Some(out) = q.frames.pop_front() {
                    if q.frames.is_empty() {
                        // Drained: give the buffer back, an idle session
                        // keeps none.
                        q.frames = VecDeque::new();
                    }
                    return Some(out);
                }
                if q.senders == 0 {
                    return None;
                }
            }
            // A frame pushed (or the last sender dropped) after the check
            // above left a permit: this returns at once.
            self.shared.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn capacity(reader: &OutboxReader) -> usize {
        reader.shared.queue().frames.capacity()
    }

    #[tokio::test]
    async fn an_idle_queue_holds_no_buffer() {
        let (tx, rx) = outbox(1 << 20);
        assert_eq!(capacity(&rx), 0, "a new queue allocates nothing");
        for i in 0..100u8 {
            tx.push(Bytes::from(vec![i; 10])).unwrap();
        }
        assert!(capacity(&rx) >= 100);
        for i in 0..100u8 {
            assert_eq!(rx.next().await.unwrap().frame[0], i, "in order");
        }
        assert_eq!(capacity(&rx), 0, "a drained queue gives its buffer back");
    }

    #[tokio::test]
    async fn the_reader_ends_with_the_last_sender() {
        let (tx, rx) = outbox(1024);
        let other = tx.clone();
        tx.push(Bytes::from_static(b"a")).unwrap();
        drop(tx);
        assert!(rx.next().await.is_some(), "what was queued is read");
        let wait = tokio::time::timeout(Duration::from_millis(50), rx.next()).await;
        assert!(wait.is_err(), "a sender is left: the reader waits");
        drop(other);
        assert!(rx.next().await.is_none());
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_a_push() {
        let (tx, rx) = outbox(1024);
        let reader = tokio::spawn(async move { rx.next().await.map(|o| o.frame) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.push(Bytes::from_static(b"x")).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), reader).await;
        assert_eq!(got.unwrap().unwrap(), Some(Bytes::from_static(b"x")));
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
}
