//! Voice relay: one datagram in, one `Bytes` out, shared by every receiver.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use voice_proto::voice;

use crate::hub::Hub;
use crate::throttle::TokenBucket;

/// Reads the connection's datagrams and forwards those of an authenticated
/// session that may speak to the other sessions of its room.
pub async fn relay_loop(hub: Arc<Hub>, conn: quinn::Connection, session: Arc<AtomicU32>) {
    let max_payload = hub.config.max_voice_payload;
    let mut bucket = TokenBucket::new(hub.config.voice_rate, hub.config.voice_rate / 2.0);
    let mut out = Vec::with_capacity(voice::MAX_HEADER_LEN + max_payload);
    while let Ok(datagram) = conn.read_datagram().await {
        // Unauthenticated: dropped before any other work.
        let id = session.load(Ordering::Acquire);
        if id == 0 {
            continue;
        }
        let Ok(packet) = voice::decode_client(&datagram, max_payload) else {
            continue;
        };
        if !bucket.take() {
            continue;
        }
        let routes = hub.routes();
        let Some(route) = routes.by_session.get(&id) else {
            continue;
        };
        if !route.speak || route.targets.is_empty() {
            continue;
        }
        voice::relay(&mut out, id, &packet);
        let forwarded = Bytes::copy_from_slice(&out);
        for target in &route.targets {
            // A receiver whose buffer is full loses this packet only.
            let _ = target.send_datagram(forwarded.clone());
        }
    }
}
