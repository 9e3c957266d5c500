//! A session's outgoing control queue, budgeted in bytes: what waits for a
//! reader that does not read is bounded by `max_queue_bytes`, and at most
//! one full snapshot (`Welcome` or `Snapshot`) waits at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;

/// Bytes counted per queued frame beyond its own length (the queue's node
/// and the frame's handle), so that many tiny frames are bounded too.
pub const FRAME_OVERHEAD: usize = 64;

/// One queued frame.
#[derive(Debug)]
struct Out {
    frame: Bytes,
    snapshot: bool,
}

#[derive(Debug)]
struct Shared {
    bytes: AtomicUsize,
    snapshot_pending: AtomicBool,
    budget: usize,
}

/// The sending half, kept in the session's `Link`.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Out>,
    shared: Arc<Shared>,
}

/// The receiving half, drained by the session's writer task.
#[derive(Debug)]
pub struct OutboxReader {
    rx: mpsc::UnboundedReceiver<Out>,
    shared: Arc<Shared>,
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
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        bytes: AtomicUsize::new(0),
        snapshot_pending: AtomicBool::new(false),
        budget,
    });
    (
        Outbox {
            tx,
            shared: shared.clone(),
        },
        OutboxReader { rx, shared },
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
        if self.tx.send(out).is_err() {
            // The writer is gone: nothing waits.
            self.shared.bytes.fetch_sub(cost, Ordering::AcqRel);
        }
        Ok(())
    }
}

impl OutboxReader {
    /// Writes queued frames to the stream until the queue closes or the
    /// stream fails; each frame leaves the budget once written.
    pub async fn write_to(mut self, mut send: quinn::SendStream) {
        while let Some(out) = self.rx.recv().await {
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
}
