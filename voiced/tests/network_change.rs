//! Fault 4 of issue 20: a client whose address changes keeps its call.
//! Two daemons in network namespaces of their own (made by the test, see
//! `support::netns`) talk through the server in a third; A's address is
//! changed under its running connection again and again (the old address
//! removed, a new one added, the default route again: what a DHCP renewal
//! or a move between networks does). After each move A's chat reaches B on
//! the same session (QUIC connection migration, no reconnection), and
//! voiced says what happened: a `network` event and `status`. Then the
//! server restarts while the address changes: the connection cannot move,
//! voiced connects again from the new address and says so.
//!
//! Real parts: namespaces and veth pairs, the voice-server, two voiced
//! processes started with `ip netns exec`, gRPC over their Unix sockets.
//! `VOICE_MOVE_CYCLES` sets the number of moves (default 5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use voice_proto::pb::control::{self as c, event};

#[path = "support/netns.rs"]
mod netns;
mod support;
use netns::{Topology, alice_and_bob};
use support::{Client, TestServer};

type Events = tonic::Streaming<c::Event>;

/// The local address a status names.
fn local(status: &c::StatusReply) -> &str {
    status
        .network
        .as_ref()
        .map_or("", |n| n.local_address.as_str())
}

async fn events(client: &mut Client) -> Events {
    client
        .watch(c::WatchRequest { levels: false })
        .await
        .unwrap()
        .into_inner()
}

/// The first event `pick` takes, within 10 s (a liveness bound).
async fn next<T>(
    events: &mut Events,
    what: &str,
    mut pick: impl FnMut(event::Kind) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let e = events
                .message()
                .await
                .unwrap()
                .expect("the event stream goes on");
            if let Some(t) = e.kind.and_then(&mut pick) {
                return t;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} within 10 s"))
}

#[test]
fn a_client_whose_address_changes_keeps_its_call_and_says_so() {
    let cycles: u32 = std::env::var("VOICE_MOVE_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let net = Topology::new("vmove", true);
    net.enter_server();
    // Built after setns: the server's sockets are in the server's namespace.
    let runtime = voice_testkit::runtime();
    runtime.block_on(async {
        let server = TestServer::start_with(|c| c.listen = "0.0.0.0:0".parse().unwrap()).await;
        let dir = tempfile::tempdir().unwrap();
        let (a, b, mut ca, mut cb) = alice_and_bob(&net, &server, dir.path()).await;
        let first = ca.status(c::Empty {}).await.unwrap().into_inner();
        assert_eq!(local(&first), "10.77.1.2", "{first:?}");
        let mut a_events = events(&mut ca).await;
        let mut b_events = events(&mut cb).await;

        let mut host = 2u8;
        let mut delivered_ms = Vec::new();
        let mut answered_ms = Vec::new();
        for i in 0..cycles {
            let to = if host == 2 { 3 } else { 2 };
            net.readdress(&net.a, 1, host, to);
            let moved = Instant::now();
            host = to;
            let text = format!("after move {i}");
            ca.send_chat(c::SendChatRequest {
                text: text.clone(),
                room: String::new(),
            })
            .await
            .expect("chat is sent on the moved connection");
            next(&mut b_events, "chat at B", |k| match k {
                event::Kind::Chat(m) if m.text == text => Some(()),
                _ => None,
            })
            .await;
            delivered_ms.push(moved.elapsed().as_millis());
            let change = next(&mut a_events, "network event at A", |k| match k {
                event::Kind::Network(n) if n.to == format!("10.77.1.{to}") => Some(n),
                _ => None,
            })
            .await;
            assert!(
                change.migrated,
                "the connection moved with the address, no reconnection: {change:?}"
            );
            assert_eq!(
                change.from,
                format!("10.77.1.{}", if to == 2 { 3 } else { 2 })
            );
            answered_ms.push(change.took_ms);
            let status = ca.status(c::Empty {}).await.unwrap().into_inner();
            assert_eq!(
                (status.state(), status.session_id),
                (c::ConnectionState::Connected, first.session_id),
                "the same session, never reconnected: {status:?}"
            );
            assert_eq!(local(&status), format!("10.77.1.{to}"));
            assert_eq!(
                status.network.as_ref().and_then(|n| n.last_change.as_ref()),
                Some(&change)
            );
        }
        eprintln!(
            "{cycles} address changes: 0 reconnections; chat from the moved client at the other \
             client after {delivered_ms:?} ms; the server answered on the new path {answered_ms:?} \
             ms after voiced noticed the change"
        );

        // The other story: the server restarts while A's address changes,
        // so the connection cannot move; A connects again from its new
        // address and says that is what happened.
        let (data, addr) = server.stop().await;
        let to = if host == 2 { 3 } else { 2 };
        net.readdress(&net.a, 1, host, to);
        let server = TestServer::start_in(data, addr).await;
        let change = next(
            &mut a_events,
            "network event after the restart",
            |k| match k {
                event::Kind::Network(n) if !n.migrated => Some(n),
                _ => None,
            },
        )
        .await;
        assert_eq!(
            (change.from.as_str(), change.to.as_str()),
            (
                format!("10.77.1.{host}").as_str(),
                format!("10.77.1.{to}").as_str()
            ),
            "{change:?}"
        );
        let status = ca.status(c::Empty {}).await.unwrap().into_inner();
        assert_eq!(status.state(), c::ConnectionState::Connected);
        assert_eq!(local(&status), format!("10.77.1.{to}"));
        eprintln!(
            "server restarted during an address change: reconnected from the new address, \
             {} ms from the loss to the new connection",
            change.took_ms
        );
        drop((ca, cb));
        drop(server);
        drop((a, b));
    });
}
