//! Voice relay: one datagram in, one `Bytes` out, shared by every receiver.
//!
//! Per forwarded datagram the relay only clones a `Bytes` (a reference
//! count) and hands it to quinn; the outgoing datagrams are written into
//! one reused buffer, the route is looked up again only when the routing
//! table changed, and the state lock is never taken.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::BytesMut;
use voice_proto::voice;

use crate::hub::{Hub, Route, Routes};
use crate::throttle::TokenBucket;

/// Bytes of outgoing datagrams written before the buffer is replaced
/// (about a hundred voice packets; allocated on the first packet to
/// forward, so listeners that never speak hold none).
const OUT_BUFFER: usize = 16 * 1024;

/// Reads the connection's datagrams and forwards those of an authenticated
/// session that may speak to the other sessions of its room.
pub async fn relay_loop(hub: Arc<Hub>, conn: quinn::Connection, session: Arc<AtomicU32>) {
    let max_payload = hub.config.max_voice_payload;
    let mut bucket = TokenBucket::new(hub.config.voice_rate, hub.config.voice_rate / 2.0);
    let bytes_per_second = hub.config.voice_bytes_per_second;
    let mut bytes = TokenBucket::new(bytes_per_second, bytes_per_second / 2.0);
    let mut out = BytesMut::new();
    let mut datagram_out = Vec::new();
    // Made on the first datagram to forward: a cache holds the routing
    // table it last saw, and one made at connect would keep that table (of
    // every session then connected) alive for as long as the client stays
    // silent, a copy per listener.
    let mut routes = None;
    // The route of (session, table) last looked up.
    let mut cached: Option<(u32, Arc<Routes>, Option<Route>)> = None;
    while let Ok(datagram) = conn.read_datagram().await {
        // Unauthenticated: dropped before any other work.
        let id = session.load(Ordering::Acquire);
        if id == 0 {
            continue;
        }
        let Ok(packet) = voice::decode_client(&datagram, max_payload) else {
            continue;
        };
        let now = std::time::Instant::now();
        if !bucket.take_at(now, 1.0) || !bytes.take_at(now, packet.opus.len() as f64) {
            continue;
        }
        let table = routes.get_or_insert_with(|| hub.routes_cache()).load();
        let fresh = matches!(&cached, Some((s, t, _)) if *s == id && Arc::ptr_eq(t, table));
        if !fresh {
            cached = Some((id, table.clone(), table.by_session.get(&id).cloned()));
        }
        let Some((_, _, Some(route))) = &cached else {
            continue;
        };
        if !route.speak || route.listeners.len() <= 1 {
            continue;
        }
        voice::relay(&mut datagram_out, id, &packet);
        if out.capacity() - out.len() < datagram_out.len() {
            out = BytesMut::with_capacity(OUT_BUFFER);
        }
        out.extend_from_slice(&datagram_out);
        let forwarded = out.split().freeze();
        for listener in route.listeners.iter() {
            if listener.id != id {
                // A receiver whose buffer is full loses this packet only.
                let _ = listener.conn.send_datagram(forwarded.clone());
            }
        }
    }
}
