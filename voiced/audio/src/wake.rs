//! Wakes the engine's worker the moment there is work: a command, samples
//! from the microphone, or an output device that pulled audio. Driven by
//! the devices instead of a timer, the worker encodes a frame as soon as
//! its last sample arrives and tops up the output right after each pull,
//! which is what lets the output queue stay short.

use std::sync::{Arc, OnceLock};
use std::thread::Thread;

/// A handle that wakes the worker thread; cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Wake(Arc<OnceLock<Thread>>);

impl Wake {
    /// Names the thread to wake (once; the worker starts after the devices).
    pub(crate) fn set(&self, thread: Thread) {
        let _ = self.0.set(thread);
    }

    /// Wakes the worker if it is known. Safe in a device callback: an atomic
    /// swap and, only when the worker sleeps, one futex wake; no lock, no
    /// allocation.
    pub(crate) fn wake(&self) {
        if let Some(t) = self.0.get() {
            t.unpark();
        }
    }
}
