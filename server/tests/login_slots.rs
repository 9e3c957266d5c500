//! Per-address limits before login (issue 16, items 5 and 6): peers from one
//! address can neither hold every login slot nor get another address
//! throttled. The server listens dual-stack, so IPv4 peers reach it as
//! `::ffff:a.b.c.d` and must still count one address each (not as one
//! IPv6 /64). 127.0.0.2 is on the loopback interface on Linux.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::{IpAddr, SocketAddr};

use support::*;
use voice_bench::client::{self, ServerCert};
use voice_proto::close;

/// A client endpoint bound to `ip` that pins the server's certificate.
fn endpoint_on(ip: &str, server: &TestServer) -> quinn::Endpoint {
    let config = client::client_config(
        ServerCert::Pinned(server.fingerprint.clone()),
        voice_server::tls::transport(),
    )
    .unwrap();
    let ip: IpAddr = ip.parse().unwrap();
    let mut endpoint = quinn::Endpoint::client(SocketAddr::new(ip, 0)).unwrap();
    endpoint.set_default_client_config(config);
    endpoint
}

/// The server's IPv4 loopback address (it listens on the wildcard).
fn v4(server: &TestServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.addr.port()))
}

async fn dual_stack_server(
    dir: &std::path::Path,
    tune: impl FnOnce(&mut voice_server::Config),
) -> TestServer {
    let mut config = config(dir);
    config.listen = "[::]:0".parse().unwrap();
    tune(&mut config);
    TestServer::start(config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_handshakes_from_one_address_do_not_lock_out_another() {
    let dir = tempfile::tempdir().unwrap();
    // Stalled peers keep their slots for the whole test.
    let server = dual_stack_server(dir.path(), |c| c.handshake_timeout_ms = 300_000).await;
    let attacker = endpoint_on("127.0.0.2", &server);
    let addr = v4(&server);
    // 1,024 connections (every login slot) from 127.0.0.2 that finish QUIC
    // and never send Hello.
    let attempts: Vec<_> = (0..1024)
        .map(|_| {
            let attacker = attacker.clone();
            tokio::spawn(async move {
                tokio::time::timeout(WAIT, client::connect(&attacker, addr))
                    .await
                    .expect("the server answers in time")
            })
        })
        .collect();
    let mut stalled = Vec::new();
    let mut refused = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(conn) => stalled.push(conn),
            Err(_) => refused += 1,
        }
    }
    assert!(
        !stalled.is_empty(),
        "the attacker's first connections get in"
    );
    assert!(refused > 0, "the attacker cannot take every slot");
    // A user from 127.0.0.1 logs in meanwhile.
    let user = endpoint_on("127.0.0.1", &server);
    let conn = tokio::time::timeout(WAIT, client::connect(&user, addr))
        .await
        .expect("QUIC answers in time")
        .expect("a user from another address is not refused");
    let alice = Client::handshake(conn, server.login("alice"))
        .await
        .expect("the user logs in");
    assert!(alice.id > 0);
    assert!(
        stalled.iter().all(|c| c.close_reason().is_none()),
        "the stalled peers still hold their slots"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_throttle_their_address_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let server = dual_stack_server(dir.path(), |c| c.throttle_failures = 3).await;
    let addr = v4(&server);
    let guesser = endpoint_on("127.0.0.2", &server);
    let attempt = |password: &str| {
        let mut login = server.login("mallory");
        login.password = password.to_owned();
        let guesser = guesser.clone();
        async move {
            let conn = client::connect(&guesser, addr)
                .await
                .expect("QUIC connects");
            match Client::handshake(conn.clone(), login).await {
                Some(_) => panic!("logged in"),
                None => close_of(&conn).await,
            }
        }
    };
    for _ in 0..3 {
        assert_eq!(attempt("guess").await.0, close::AUTH_FAILED);
    }
    let (code, reason) = attempt(&server.password.clone()).await;
    assert_eq!(code, close::THROTTLED, "{reason}");
    // Another IPv4 address is not in the guesser's /64.
    let user = endpoint_on("127.0.0.1", &server);
    let conn = client::connect(&user, addr).await.expect("QUIC connects");
    Client::handshake(conn, server.login("alice"))
        .await
        .expect("another address still logs in");
    server.stop().await;
}
