//! A higher scheduling priority for the engine's own real-time threads.
//!
//! The worker and the file device wake every few milliseconds; on a busy
//! machine a wake-up that waits behind other threads plays silence in the
//! middle of speech, or makes the output queue grow to cover it. Like other voice and audio programs
//! (PulseAudio, Mumble), the engine asks for the highest priority of the
//! normal scheduling class (nice -20 on Linux, "time critical" on Windows);
//! without the right to do so (an ordinary user without `RLIMIT_NICE`) it
//! keeps the default priority and says so in the debug log. Real-time
//! scheduling (`SCHED_FIFO`) was tried on the test machine and did not
//! shorten the stalls there (they come from the virtual machine).

use thread_priority::{ThreadPriority, set_current_thread_priority};

/// Raises the calling thread's priority if allowed; never fails.
pub(crate) fn raise_current_thread(thread: &str) {
    match set_current_thread_priority(ThreadPriority::Max) {
        Ok(()) => tracing::debug!(thread, "audio thread at the highest normal priority"),
        Err(e) => tracing::debug!(thread, error = ?e, "audio thread keeps the default priority"),
    }
}
