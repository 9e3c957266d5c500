//! A login must prove possession of a real key: a small-order public key
//! (here the identity point) with a signature that "verifies" for every
//! message under the lax ed25519 check is refused (issue 16, low items).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;
use voice_proto::close;
use voice_proto::pb::wire::{Authenticate, Hello, StreamKind, client_msg, server_msg::Msg};

/// The compressed identity point (y = 1): a key of order 1.
fn identity() -> Vec<u8> {
    let mut p = vec![0u8; 32];
    p[0] = 1;
    p
}

#[tokio::test]
async fn a_small_order_key_with_a_universal_signature_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let conn = quic_connect(&server).await;
    let (send, recv) = conn.open_bi().await.unwrap();
    let mut s = Stream::new(send, recv);
    s.send(client_msg::Msg::Hello(Hello {
        protocol_version: 1,
        kind: StreamKind::Control as i32,
        client: "test".into(),
    }))
    .await;
    let Some(Msg::Challenge(_)) = s.next().await else {
        panic!("challenge")
    };
    // R = identity, s = 0: [s]B = R + [k]A holds for any transcript when A
    // is the identity, without knowing any secret.
    let mut signature = identity();
    signature.extend_from_slice(&[0u8; 32]);
    s.send(client_msg::Msg::Authenticate(Authenticate {
        protocol_version: 1,
        public_key: identity(),
        signature,
        password: server.password.clone(),
        display_name: "nobody".into(),
        ..Authenticate::default()
    }))
    .await;
    let (code, reason) = close_of(&conn).await;
    assert_eq!(code, close::AUTH_FAILED, "{reason}");
    server.stop().await;
}
