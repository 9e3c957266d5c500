//! The network under the connection: which local address voiced reaches
//! the server from, and what happened when it changed (a laptop moving
//! between networks, a DHCP renewal, a VPN coming up).
//!
//! The connection's socket is bound to the unspecified address, so the
//! kernel picks the source address of each packet; when that address
//! changes, quinn's next packets leave from the new one and the server
//! follows (QUIC connection migration). voiced notices the change by asking
//! the kernel which source address it would use for the server (a
//! connected UDP socket sends nothing), and says what happened: the
//! connection moved with it (the server answered on the new path) or it
//! was lost and voiced connected again.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use voice_proto::pb::control::{NetworkChange, event};
use voice_proto::pb::wire::{Ping, client_msg};

use super::Engine;
use super::link::Link;
use crate::trust;

/// How often the source address is looked up.
const POLL: Duration = Duration::from_millis(200);
/// How long a moved connection may take to hear from the server on its
/// new path before voiced stops waiting (the connection's own idle timeout
/// then decides).
const CONFIRM_WITHIN: Duration = Duration::from_secs(5);

/// What the engine knows of the network under its connection.
#[derive(Debug, Default)]
pub(crate) struct NetworkStatus {
    /// The source address toward the server, while connected.
    pub(crate) local: Option<IpAddr>,
    /// The address of the connection that was lost, and when: a new
    /// connection from another address is a reconnection after a change.
    lost: Option<(IpAddr, Instant)>,
    /// The last change and what happened.
    pub(crate) last_change: Option<NetworkChange>,
}

/// The source address the kernel picks for packets to `server` now, or
/// `None` without a route (an address just removed, no network).
pub(crate) fn source_toward(server: SocketAddr) -> Option<IpAddr> {
    let any: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(any).ok()?;
    socket.connect(server).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

impl Engine {
    /// A connection was installed: notes its address, and reports a
    /// reconnection when the one before was lost from another address.
    pub(crate) fn path_connected(&self, link: &Link) {
        let local = source_toward(link.conn.remote_address());
        let change = {
            let mut st = self.lock();
            st.network.local = local;
            let change = match (st.network.lost.take(), local) {
                (Some((from, lost_at)), Some(to)) if from != to => Some(NetworkChange {
                    from: from.to_string(),
                    to: to.to_string(),
                    migrated: false,
                    took_ms: millis(lost_at.elapsed()),
                    at_ms: trust::now_ms(),
                }),
                _ => None,
            };
            if let Some(c) = &change {
                st.network.last_change = Some(c.clone());
            }
            change
        };
        if let Some(change) = change {
            self.network_changed(change);
        }
    }

    /// The connection was lost: remembers from where.
    pub(crate) fn path_lost(&self) {
        let mut st = self.lock();
        if let Some(local) = st.network.local.take() {
            st.network.lost = Some((local, Instant::now()));
        }
    }

    /// Watches the source address toward the server while `link` lives;
    /// never returns (the caller drops it with the connection).
    pub(crate) async fn watch_path(&self, link: &Link) -> std::convert::Infallible {
        let server = link.conn.remote_address();
        let mut local = source_toward(server);
        loop {
            tokio::time::sleep(POLL).await;
            let now = match source_toward(server) {
                // No route for the moment (the old address is gone and the
                // new one not there yet): keep looking.
                None => continue,
                Some(now) if Some(now) == local => continue,
                Some(now) => now,
            };
            let Some(from) = local.replace(now) else {
                self.lock().network.local = Some(now);
                continue;
            };
            let noticed = Instant::now();
            tracing::info!(%from, to = %now, "the network changed under the connection");
            let received = link.conn.stats().udp_rx.datagrams;
            // A ping the server answers: its packets leave from the new
            // address, and the old address is gone from this host, so what
            // arrives now was sent to the new one: the server followed.
            let ping = client_msg::Msg::Ping(Ping {
                timestamp_us: trust::now_ms().saturating_mul(1000),
            });
            if let Err(e) = link.send_control(ping).await {
                tracing::debug!(error = %e, "no ping on the moved connection");
            }
            let moved = loop {
                if link.conn.stats().udp_rx.datagrams > received {
                    break true;
                }
                if noticed.elapsed() > CONFIRM_WITHIN || link.conn.close_reason().is_some() {
                    break false;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            if !moved {
                // Lost or silent: the connection manager reconnects, and
                // `path_connected` tells that story.
                continue;
            }
            let change = NetworkChange {
                from: from.to_string(),
                to: now.to_string(),
                migrated: true,
                took_ms: millis(noticed.elapsed()),
                at_ms: trust::now_ms(),
            };
            {
                let mut st = self.lock();
                st.network.local = Some(now);
                st.network.last_change = Some(change.clone());
            }
            self.network_changed(change);
        }
    }

    fn network_changed(&self, change: NetworkChange) {
        let message = voiced_client::status::network_change(&change);
        tracing::info!("{message}");
        self.emit(event::Kind::Network(change));
        self.emit_status();
    }
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}
