//! Voice relay: one datagram in, one `Bytes` out, shared by every receiver,
//! forwarded inside the QUIC loop ([`crate::quic::DatagramHandler`]): no
//! task is woken per packet, and the listeners' packets leave in the same
//! round as the speaker's arrived.
//!
//! Per forwarded datagram the relay only clones a `Bytes` (a reference
//! count) and queues it on the listener's connection; the outgoing
//! datagrams are written into one reused buffer, a speaker's route is
//! looked up again only when the routing table changed, and the state lock
//! is never taken.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::{ArcSwap, Cache};
use bytes::{Bytes, BytesMut};
use voice_proto::voice;

use crate::hub::{Hub, Route, Routes};
use crate::quic::{DatagramHandler, Origin};
use crate::throttle::TokenBucket;

/// Bytes of outgoing datagrams written before the buffer is replaced
/// (about a hundred voice packets).
const OUT_BUFFER: usize = 16 * 1024;

/// What the relay keeps per speaking connection: its budgets and the
/// route it last looked up.
#[derive(Debug)]
struct Speaker {
    packets: TokenBucket,
    bytes: TokenBucket,
    /// The route of (session, table) last looked up.
    cached: Option<(u32, Arc<Routes>, Option<Route>)>,
}

/// Forwards the datagrams of authenticated sessions that may speak to the
/// other sessions of their room; drops everything else unread.
pub struct Relay {
    hub: Arc<Hub>,
    routes: Cache<Arc<ArcSwap<Routes>>, Arc<Routes>>,
    /// By connection handle; made on a connection's first datagram after
    /// its login, so listeners that never speak hold nothing.
    speakers: Vec<Option<Speaker>>,
    out: BytesMut,
    datagram_out: Vec<u8>,
}

impl Relay {
    /// The relay of `hub`'s sessions.
    pub fn new(hub: Arc<Hub>) -> Self {
        Self {
            routes: hub.routes_cache(),
            hub,
            speakers: Vec::new(),
            out: BytesMut::new(),
            datagram_out: Vec::new(),
        }
    }
}

impl DatagramHandler for Relay {
    fn datagram(&mut self, from: Origin, datagram: Bytes, now: Instant) {
        // Unauthenticated: dropped before any other work.
        let id = from.tag;
        if id == 0 {
            return;
        }
        let config = &self.hub.config;
        let Ok(packet) = voice::decode_client(&datagram, config.max_voice_payload) else {
            return;
        };
        if self.speakers.len() <= from.handle {
            self.speakers.resize_with(from.handle + 1, || None);
        }
        let speaker = self.speakers[from.handle].get_or_insert_with(|| Speaker {
            packets: TokenBucket::new(config.voice_rate, config.voice_rate / 2.0),
            bytes: TokenBucket::new(
                config.voice_bytes_per_second,
                config.voice_bytes_per_second / 2.0,
            ),
            cached: None,
        });
        if !speaker.packets.take_at(now, 1.0)
            || !speaker.bytes.take_at(now, packet.opus.len() as f64)
        {
            return;
        }
        let table = self.routes.load();
        let fresh = matches!(&speaker.cached, Some((s, t, _)) if *s == id && Arc::ptr_eq(t, table));
        if !fresh {
            speaker.cached = Some((id, table.clone(), table.by_session.get(&id).cloned()));
        }
        let Some((_, _, Some(route))) = &speaker.cached else {
            return;
        };
        if !route.speak || route.listeners.len() <= 1 {
            return;
        }
        voice::relay(&mut self.datagram_out, id, &packet);
        if self.out.capacity() - self.out.len() < self.datagram_out.len() {
            self.out = BytesMut::with_capacity(OUT_BUFFER);
        }
        self.out.extend_from_slice(&self.datagram_out);
        let forwarded = self.out.split().freeze();
        for listener in route.listeners.iter() {
            if listener.id != id {
                // A receiver whose buffer is full loses its oldest packet.
                let _ = listener.conn.send_datagram(forwarded.clone());
            }
        }
    }

    fn closed(&mut self, handle: usize) {
        if let Some(slot) = self.speakers.get_mut(handle) {
            *slot = None;
        }
    }
}
