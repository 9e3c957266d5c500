//! Congestion control for a connection that carries live voice: quinn's
//! CUBIC with a floor under its window.
//!
//! During a blackout (a Wi-Fi handover, a tunnel) nothing is acknowledged,
//! so the packets in flight fill the window and quinn stops sending; it
//! learns that the link is back only when its next loss probe is answered,
//! and probes back off exponentially: after a 2 s blackout the next one
//! can be a second away, and voice waits for it while the link works
//! (measured: up to 990 ms of extra silence; `voiced/tests/audio.rs`).
//! Meanwhile queued voice grows stale and then plays late. With a floor of
//! [`WINDOW_FLOOR`], a few seconds of voice, voice keeps leaving during the
//! blackout (and is lost with it), and the first packets after it get
//! through at once. The floor is the size of a common initial window, so
//! bulk data (relayed files) after a loss is still held to a modest rate.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use quinn::congestion::{Controller, ControllerFactory, CubicConfig};

/// The smallest congestion window: about 2.5 s of 64 kbit/s voice with
/// its packet overhead.
pub const WINDOW_FLOOR: u64 = 24 * 1024;

/// Builds [`FloorCubic`] controllers.
#[derive(Debug, Default)]
pub struct FloorCubicConfig {
    cubic: Arc<CubicConfig>,
}

impl ControllerFactory for FloorCubicConfig {
    fn build(self: Arc<Self>, now: Instant, current_mtu: u16) -> Box<dyn Controller> {
        Box::new(FloorCubic {
            inner: self.cubic.clone().build(now, current_mtu),
        })
    }
}

/// CUBIC whose window never falls below [`WINDOW_FLOOR`].
struct FloorCubic {
    inner: Box<dyn Controller>,
}

impl Controller for FloorCubic {
    fn on_sent(&mut self, now: Instant, bytes: u64, last_packet_number: u64) {
        self.inner.on_sent(now, bytes, last_packet_number);
    }

    fn on_ack(
        &mut self,
        now: Instant,
        sent: Instant,
        bytes: u64,
        app_limited: bool,
        // quinn 0.11 does not re-export it; quinn-proto is its own crate.
        rtt: &quinn_proto::RttEstimator,
    ) {
        self.inner.on_ack(now, sent, bytes, app_limited, rtt);
    }

    fn on_end_acks(
        &mut self,
        now: Instant,
        in_flight: u64,
        app_limited: bool,
        largest_packet_num_acked: Option<u64>,
    ) {
        self.inner
            .on_end_acks(now, in_flight, app_limited, largest_packet_num_acked);
    }

    fn on_congestion_event(
        &mut self,
        now: Instant,
        sent: Instant,
        is_persistent_congestion: bool,
        lost_bytes: u64,
    ) {
        self.inner
            .on_congestion_event(now, sent, is_persistent_congestion, lost_bytes);
    }

    fn on_mtu_update(&mut self, new_mtu: u16) {
        self.inner.on_mtu_update(new_mtu);
    }

    fn window(&self) -> u64 {
        self.inner.window().max(WINDOW_FLOOR)
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(Self {
            inner: self.inner.clone_box(),
        })
    }

    fn initial_window(&self) -> u64 {
        self.inner.initial_window().max(WINDOW_FLOOR)
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_never_falls_below_the_floor() {
        let now = Instant::now();
        let mut c = Arc::new(FloorCubicConfig::default()).build(now, 1200);
        let start = c.window();
        assert!(start >= WINDOW_FLOOR);
        // Persistent congestion takes CUBIC to its minimum (two packets).
        c.on_congestion_event(now, now, true, 100_000);
        assert_eq!(c.window(), WINDOW_FLOOR);
    }
}
