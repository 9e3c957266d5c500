//! A higher scheduling priority for the engine's own real-time threads.
//!
//! The worker and the file device run on 5 ms ticks; on a busy machine a
//! tick that waits behind other threads for two or three periods plays
//! silence in the middle of speech. Like other voice and audio programs
//! (PulseAudio, Mumble), the engine asks for the highest priority of the
//! normal scheduling class (nice -20 on Linux, "time critical" on Windows);
//! without the right to do so (an ordinary user without `RLIMIT_NICE`) it
//! keeps the default priority and says so in the debug log.

use thread_priority::{ThreadPriority, set_current_thread_priority};

/// Raises the calling thread's priority if allowed; never fails.
pub(crate) fn raise_current_thread(thread: &str) {
    match set_current_thread_priority(ThreadPriority::Max) {
        Ok(()) => tracing::debug!(thread, "audio thread at the highest normal priority"),
        Err(e) => tracing::debug!(thread, error = ?e, "audio thread keeps the default priority"),
    }
}
