//! voice-net against a scripted voice/1 server on loopback: the login, a
//! refusal, frames and their limits, and a certificate policy.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use voice_net::frames::{self, FrameReader, ReadError};
use voice_net::login::{Login, LoginError, login};
use voice_net::tls::{ServerCert, client_config, fingerprint};
use voice_proto::frame::{CLIENT_MAX_FRAME, FrameError, PRE_AUTH_MAX_FRAME, encode_to_bytes};
use voice_proto::pb::wire::{
    Challenge, ClientMsg, Ping, ServerMsg, StreamKind, Welcome, client_msg, server_msg,
};
use voice_proto::{PROTOCOL_VERSION, auth};

const WAIT: Duration = Duration::from_secs(20);

/// A server endpoint on loopback and the fingerprint of its certificate.
fn server() -> (quinn::Endpoint, String) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(generated.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let fp = fingerprint(&cert);
    let mut tls = rustls::ServerConfig::builder_with_provider(voice_net::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    tls.alpn_protocols = vec![voice_proto::ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls).unwrap();
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
    config.transport_config(Arc::new(voice_net::transport::server()));
    let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap();
    (endpoint, fp)
}

async fn connect(addr: SocketAddr, pin: &str) -> Result<quinn::Connection, quinn::ConnectionError> {
    let policy = Arc::new(ServerCert::Pinned(pin.to_owned()));
    let config = client_config(policy, voice_net::transport::client()).unwrap();
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(config);
    endpoint.connect(addr, "localhost").unwrap().await
}

fn server_frame(msg: server_msg::Msg) -> bytes::Bytes {
    encode_to_bytes(&ServerMsg { msg: Some(msg) }, usize::MAX).unwrap()
}

/// The server side of the login, as `voice-server` runs it; `refuse`
/// closes the connection instead of welcoming.
async fn serve_login(
    conn: &quinn::Connection,
    refuse: bool,
) -> (quinn::SendStream, FrameReader<ClientMsg>) {
    let (mut send, recv) = conn.accept_bi().await.unwrap();
    let mut reader = FrameReader::<ClientMsg>::new(recv, PRE_AUTH_MAX_FRAME);
    let Some(client_msg::Msg::Hello(hello)) = reader.next().await.unwrap().unwrap().msg else {
        panic!("no Hello");
    };
    assert_eq!(hello.kind, StreamKind::Control as i32);
    assert_eq!(hello.client, "net-test");
    let nonce = [9u8; auth::NONCE_LEN];
    send.write_all(&server_frame(server_msg::Msg::Challenge(Challenge {
        protocol_version: PROTOCOL_VERSION,
        nonce: nonce.to_vec(),
        server_name: "test".into(),
    })))
    .await
    .unwrap();
    let Some(client_msg::Msg::Authenticate(a)) = reader.next().await.unwrap().unwrap().msg else {
        panic!("no Authenticate");
    };
    let mut exporter = [0u8; auth::EXPORTER_LEN];
    conn.export_keying_material(&mut exporter, auth::EXPORTER_LABEL, b"")
        .unwrap();
    auth::verify(&a.public_key, &a.signature, &nonce, &exporter).expect("signature verifies");
    assert_eq!(a.password, "pw");
    assert_eq!(a.display_name, "ada");
    if refuse {
        drop(send);
        conn.close(4003u32.into(), b"you are banned from this server");
        return std::future::pending().await;
    }
    send.write_all(&server_frame(server_msg::Msg::Welcome(Welcome {
        session_id: 7,
        ..Default::default()
    })))
    .await
    .unwrap();
    reader.set_max(CLIENT_MAX_FRAME);
    (send, reader)
}

fn ada(key: &SigningKey) -> Login<'_> {
    Login {
        key,
        password: "pw",
        display_name: "ada",
        admin_token: "",
        room: 0,
        client: "net-test",
        share_history: false,
    }
}

#[tokio::test]
async fn a_client_logs_in_and_frames_flow_both_ways() {
    let (endpoint, fp) = server();
    let addr = endpoint.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let conn = endpoint.accept().await.unwrap().await.unwrap();
        let (mut send, mut reader) = serve_login(&conn, false).await;
        let ping = reader.next().await.unwrap().unwrap();
        assert!(matches!(
            ping.msg,
            Some(client_msg::Msg::Ping(Ping { timestamp_us: 42 }))
        ));
        // A clean end of the stream is `None`, not an error.
        assert!(reader.next().await.unwrap().is_none());
        send.write_all(&server_frame(server_msg::Msg::Pong(Default::default())))
            .await
            .unwrap();
        send.finish().unwrap();
        conn.closed().await;
    });
    let conn = connect(addr, &fp).await.unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let mut logged = tokio::time::timeout(WAIT, login(&conn, &ada(&key)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(logged.welcome.session_id, 7);
    frames::write(
        &mut logged.send,
        client_msg::Msg::Ping(Ping { timestamp_us: 42 }),
    )
    .await
    .unwrap();
    logged.send.finish().unwrap();
    let pong = tokio::time::timeout(WAIT, logged.reader.next())
        .await
        .unwrap();
    assert!(matches!(
        pong,
        Ok(Some(ServerMsg {
            msg: Some(server_msg::Msg::Pong(_))
        }))
    ));
    assert!(logged.reader.next().await.unwrap().is_none());
    conn.close(0u32.into(), b"done");
    tokio::time::timeout(WAIT, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_refused_login_reports_the_servers_code_and_reason() {
    let (endpoint, fp) = server();
    let addr = endpoint.local_addr().unwrap();
    let _server = tokio::spawn(async move {
        let conn = endpoint.accept().await.unwrap().await.unwrap();
        serve_login(&conn, true).await;
    });
    let conn = connect(addr, &fp).await.unwrap();
    let key = SigningKey::from_bytes(&[2; 32]);
    let err = tokio::time::timeout(WAIT, login(&conn, &ada(&key)))
        .await
        .unwrap()
        .unwrap_err();
    match err {
        LoginError::Closed(quinn::ConnectionError::ApplicationClosed(c)) => {
            assert_eq!(c.error_code, 4003u32.into());
            assert_eq!(&c.reason[..], b"you are banned from this server");
        }
        other => panic!("not the server's close: {other:?}"),
    }
}

#[tokio::test]
async fn readers_refuse_oversize_truncated_and_empty_frames() {
    let (endpoint, fp) = server();
    let addr = endpoint.local_addr().unwrap();
    let client = tokio::spawn(async move {
        let conn = connect(addr, &fp).await.unwrap();
        for raw in [
            // Announces more than the limit: refused before anything is buffered.
            (u32::MAX).to_be_bytes().to_vec(),
            // Ends in the middle of a frame.
            [&10u32.to_be_bytes()[..], b"abc"].concat(),
            // An envelope with no known message.
            [&3u32.to_be_bytes()[..], &[0x98, 0x06, 0x01]].concat(),
        ] {
            // The server transport allows no unidirectional streams.
            let (mut send, _recv) = conn.open_bi().await.unwrap();
            send.write_all(&raw).await.unwrap();
            send.finish().unwrap();
        }
        conn.closed().await;
    });
    let conn = tokio::time::timeout(WAIT, async { endpoint.accept().await.unwrap().await })
        .await
        .unwrap()
        .unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let (_send, recv) = tokio::time::timeout(WAIT, conn.accept_bi())
            .await
            .unwrap()
            .unwrap();
        let mut reader = FrameReader::<ClientMsg>::new(recv, CLIENT_MAX_FRAME);
        outcomes.push(tokio::time::timeout(WAIT, reader.next()).await.unwrap());
    }
    assert!(matches!(
        outcomes[0],
        Err(ReadError::Frame(FrameError::TooLarge {
            max: CLIENT_MAX_FRAME,
            ..
        }))
    ));
    assert!(matches!(outcomes[1], Err(ReadError::Truncated)));
    assert!(matches!(
        outcomes[2],
        Err(ReadError::Frame(FrameError::Unknown))
    ));
    conn.close(0u32.into(), b"done");
    tokio::time::timeout(WAIT, client).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_policy_refuses_a_certificate_it_does_not_know() {
    let (endpoint, _) = server();
    let addr = endpoint.local_addr().unwrap();
    let _server = tokio::spawn(async move {
        if let Some(incoming) = endpoint.accept().await {
            let _ = incoming.await;
        }
    });
    let err = connect(addr, &"0".repeat(64)).await.unwrap_err();
    assert!(
        matches!(err, quinn::ConnectionError::TransportError(_)),
        "{err:?}"
    );
}
