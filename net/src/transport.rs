//! The quinn transport settings of docs/protocol.md.

use std::time::Duration;

/// How often an idle connection sends a keep-alive (so NAT bindings hold
/// and quiet rooms do not time out).
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// How long a silent connection lives.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The datagram buffers: a few tens of KB, as stale voice must be dropped,
/// not queued for seconds (quinn's default of about 1 MiB holds minutes).
pub const DATAGRAM_BUFFER: usize = 64 * 1024;

/// What every voice/1 endpoint uses: keep-alive, idle timeout and a small
/// datagram send buffer. This is the client's transport.
pub fn client() -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(KEEP_ALIVE));
    t.max_idle_timeout(quinn::IdleTimeout::try_from(IDLE_TIMEOUT).ok());
    t.datagram_send_buffer_size(DATAGRAM_BUFFER);
    // Voice comes back as soon as a blackout ends (crate::congestion).
    t.congestion_controller_factory(std::sync::Arc::new(
        crate::congestion::FloorCubicConfig::default(),
    ));
    t
}

/// Bytes a client may send on one stream before the server reads them.
pub const STREAM_WINDOW: u32 = 256 * 1024;
/// Relayed file connections a session may hold by default (the server's
/// `max_relay_streams_per_session`).
pub const DEFAULT_RELAY_STREAMS: u32 = 4;

/// The server's transport with the default relay stream budget.
pub fn server() -> quinn::TransportConfig {
    server_for(DEFAULT_RELAY_STREAMS)
}

/// The server's transport: [`client`] plus a small datagram receive
/// buffer, bounded stream windows, rarer acknowledgements of voice, no
/// segmentation offload and few streams per connection: control, chat and
/// `relay_streams` relayed file connections.
///
/// The connection's receive window holds every stream's window at once, so
/// relayed data waiting for its budget can never leave the control and chat
/// streams without credit: a relay can slow only itself.
pub fn server_for(relay_streams: u32) -> quinn::TransportConfig {
    let mut t = client();
    t.datagram_receive_buffer_size(Some(DATAGRAM_BUFFER));
    t.stream_receive_window(quinn::VarInt::from_u32(STREAM_WINDOW));
    let streams = 2 + relay_streams.min(64);
    t.receive_window(quinn::VarInt::from_u32(
        (streams * STREAM_WINDOW).max(1024 * 1024),
    ));
    t.send_window(8 * 1024 * 1024);
    // Listeners acknowledge every 2nd voice datagram by default: at 50
    // packets/s per speaker that is one ACK packet the server must receive,
    // decrypt and process per two forwarded datagrams. Ask peers that support
    // the ACK frequency extension (quinn does) to acknowledge every 10th
    // packet or after 25 ms instead; voice is never retransmitted, and 25 ms
    // is the standard delay, so loss detection barely changes.
    let mut ack = quinn::AckFrequencyConfig::default();
    ack.ack_eliciting_threshold(quinn::VarInt::from_u32(9))
        .max_ack_delay(Some(Duration::from_millis(25)));
    t.ack_frequency_config(Some(ack));
    // Without GSO each connection's transmit buffer stays one packet
    // (~1.5 KB) instead of growing to several (about 14 KB per session
    // measured with massif); voice never fills more than a packet at a time,
    // only the Welcome snapshot would benefit.
    t.enable_segmentation_offload(false);
    // Control, chat and relays, plus a little slack (a relay stream the
    // client just finished may not be retired yet).
    t.max_concurrent_bidi_streams(quinn::VarInt::from_u32(streams + 2));
    t.max_concurrent_uni_streams(quinn::VarInt::from_u32(0));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_build_and_the_idle_timeout_is_valid() {
        // The timeout must convert, or quinn would fall back to none at all.
        assert!(quinn::IdleTimeout::try_from(IDLE_TIMEOUT).is_ok());
        assert!(KEEP_ALIVE < IDLE_TIMEOUT);
        let _ = client();
        let _ = server();
        let _ = server_for(u32::MAX);
    }
}
