//! The server's own QUIC loop (`voice_server::quic`) against real quinn
//! clients on loopback: handshakes, streams both ways under flow control,
//! datagrams read by tasks or forwarded in the loop, retries and refusals
//! by policy, closes from either side and by timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use voice_bench::client;
use voice_server::quic::{
    Accepted, Admission, Connection, ConnectionError, Control, DatagramHandler, Endpoint, Origin,
    Policy, VarInt,
};

const WAIT: Duration = Duration::from_secs(10);

/// Admits everyone (validated or not), counting what it saw.
#[derive(Clone, Default)]
struct Open {
    seen: Arc<Mutex<Vec<bool>>>,
}

impl Policy for Open {
    type Slot = ();
    fn admit(&mut self, _: SocketAddr, validated: bool) -> Admission<()> {
        self.seen.lock().unwrap().push(validated);
        Admission::Accept(())
    }
}

/// Asks unvalidated peers for a retry, admits validated ones.
struct RetryFirst(Arc<Mutex<Vec<bool>>>);

impl Policy for RetryFirst {
    type Slot = ();
    fn admit(&mut self, _: SocketAddr, validated: bool) -> Admission<()> {
        self.0.lock().unwrap().push(validated);
        if validated {
            Admission::Accept(())
        } else {
            Admission::Retry
        }
    }
}

struct RefuseAll;

impl Policy for RefuseAll {
    type Slot = ();
    fn admit(&mut self, _: SocketAddr, _: bool) -> Admission<()> {
        Admission::Refuse
    }
}

/// A running loop: its address, its control and what it admitted.
struct Running<S> {
    addr: SocketAddr,
    control: Control,
    accepted: mpsc::UnboundedReceiver<Accepted<S>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

fn start<P: Policy>(
    policy: P,
    handler: Option<Box<dyn DatagramHandler>>,
    transport: quinn::TransportConfig,
) -> Running<P::Slot> {
    let mut server = voice_bench::naive::server_config().unwrap();
    server.transport_config(Arc::new(transport));
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let endpoint = Endpoint::new(socket, quinn::EndpointConfig::default(), server).unwrap();
    let addr = endpoint.local_addr().unwrap();
    let control = endpoint.control();
    let (tx, accepted) = mpsc::unbounded_channel();
    let task = tokio::spawn(endpoint.run(policy, handler, tx));
    Running {
        addr,
        control,
        accepted,
        task,
    }
}

impl<S> Running<S> {
    /// The next admitted connection, its handshake done.
    async fn next(&mut self) -> Connection {
        let accepted = tokio::time::timeout(WAIT, self.accepted.recv())
            .await
            .expect("a connection in time")
            .expect("the loop runs");
        tokio::time::timeout(WAIT, accepted.connecting)
            .await
            .expect("a handshake in time")
            .expect("a handshake")
    }

    /// Closes the loop and waits for it to end.
    async fn stop(self) {
        self.control.close(VarInt::from_u32(9), b"stopping");
        tokio::time::timeout(WAIT, self.control.wait_idle())
            .await
            .expect("the loop ends");
        self.task.await.unwrap().unwrap();
    }
}

fn client_transport() -> quinn::TransportConfig {
    voice_net::transport::client()
}

async fn connect(addr: SocketAddr) -> (quinn::Endpoint, quinn::Connection) {
    let config = client::client_config(client::ServerCert::Any, client_transport()).unwrap();
    let endpoint = client::endpoint(addr, config).unwrap();
    let conn = tokio::time::timeout(WAIT, endpoint.connect(addr, "localhost").unwrap())
        .await
        .expect("connected in time")
        .expect("connected");
    (endpoint, conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_datagrams_exporter_and_close_work_as_on_quinn() {
    let policy = Open::default();
    let seen = policy.seen.clone();
    let mut server = start(policy, None, voice_net::transport::server());
    let (client_ep, client) = connect(server.addr).await;
    let conn = server.next().await;
    assert_eq!(
        *seen.lock().unwrap(),
        [false],
        "one new connection, not validated"
    );
    assert_eq!(conn.remote_address(), client_ep.local_addr().unwrap());

    // A stream opened by the client: read to its end, answered, finished.
    let (mut csend, mut crecv) = client.open_bi().await.unwrap();
    csend.write_all(b"hello loop").await.unwrap();
    csend.finish().unwrap();
    let (mut send, mut recv) = conn.accept_bi().await.unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = recv.read_chunk(4, true).await.unwrap() {
        assert!(chunk.bytes.len() <= 4);
        got.extend_from_slice(&chunk.bytes);
    }
    assert_eq!(got, b"hello loop");
    send.write_all(b"HELLO CLIENT").await.unwrap();
    send.finish().unwrap();
    let answer = crecv.read_to_end(1024).await.unwrap();
    assert_eq!(answer, b"HELLO CLIENT");

    // A stream opened by the server.
    let (mut ssend, _srecv) = conn.open_bi().await.unwrap();
    ssend
        .write_chunk(Bytes::from_static(b"from the server"))
        .await
        .unwrap();
    ssend.finish().unwrap();
    let (_c2send, mut c2recv) = client.accept_bi().await.unwrap();
    assert_eq!(c2recv.read_to_end(1024).await.unwrap(), b"from the server");

    // Datagrams both ways, read by a task (no handler).
    client.send_datagram(Bytes::from_static(b"ping")).unwrap();
    let d = tokio::time::timeout(WAIT, conn.read_datagram())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&d[..], b"ping");
    conn.send_datagram(Bytes::from_static(b"pong")).unwrap();
    let d = tokio::time::timeout(WAIT, client.read_datagram())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&d[..], b"pong");
    assert!(conn.max_datagram_size().is_some_and(|n| n >= 1000));

    // The same TLS exporter on both ends (what the login signs).
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    conn.export_keying_material(&mut a, b"label", b"ctx")
        .unwrap();
    client
        .export_keying_material(&mut b, b"label", b"ctx")
        .unwrap();
    assert_eq!(a, b);
    assert_ne!(a, [0u8; 32]);

    // Closed by the server: the client sees the code and the reason.
    conn.close(VarInt::from_u32(7), b"bye now");
    match tokio::time::timeout(WAIT, client.closed()).await.unwrap() {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code, quinn::VarInt::from_u32(7));
            assert_eq!(&c.reason[..], b"bye now");
        }
        other => panic!("closed otherwise: {other:?}"),
    }
    assert_eq!(conn.close_reason(), Some(ConnectionError::LocallyClosed));
    assert!(send.write_all(b"late").await.is_err());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn megabytes_pass_both_ways_through_small_stream_windows() {
    // The server's transport bounds stream windows far below 4 MiB: the
    // writers wait for credit and are woken when it comes.
    let mut server = start(Open::default(), None, voice_net::transport::server());
    let (_client_ep, client) = connect(server.addr).await;
    let conn = server.next().await;
    const SIZE: usize = 4 * 1024 * 1024;
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let upload = data.clone();
    let client_side = tokio::spawn(async move {
        let (mut send, mut recv) = client.open_bi().await.unwrap();
        send.write_all(&upload).await.unwrap();
        send.finish().unwrap();
        let back = recv.read_to_end(SIZE + 1).await.unwrap();
        (client, back)
    });
    let (mut send, mut recv) = conn.accept_bi().await.unwrap();
    let mut got = Vec::with_capacity(SIZE);
    let mut buf = [0u8; 3000];
    while let Some(n) = tokio::time::timeout(WAIT, recv.read(&mut buf))
        .await
        .unwrap()
        .unwrap()
    {
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got == data, "the upload arrived whole and in order");
    send.write_all(&got).await.unwrap();
    send.finish().unwrap();
    let (_client, back) = tokio::time::timeout(WAIT * 3, client_side)
        .await
        .unwrap()
        .unwrap();
    assert!(back == data, "the download arrived whole and in order");
    server.stop().await;
}

/// Forwards every tagged connection's datagrams to every other tagged
/// connection, as the relay does to a room.
struct Fanout {
    members: Arc<Mutex<HashMap<u32, Connection>>>,
    dropped: Arc<Mutex<usize>>,
    closed: Arc<Mutex<Vec<usize>>>,
}

impl DatagramHandler for Fanout {
    fn datagram(&mut self, from: Origin, datagram: Bytes, _now: Instant) {
        if from.tag == 0 {
            *self.dropped.lock().unwrap() += 1;
            return;
        }
        for (tag, conn) in self.members.lock().unwrap().iter() {
            if *tag != from.tag {
                conn.send_datagram(datagram.clone()).unwrap();
            }
        }
    }

    fn closed(&mut self, handle: usize) {
        self.closed.lock().unwrap().push(handle);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_forwards_datagrams_within_the_loop() {
    let members = Arc::new(Mutex::new(HashMap::new()));
    let dropped = Arc::new(Mutex::new(0));
    let closed = Arc::new(Mutex::new(Vec::new()));
    let handler = Fanout {
        members: members.clone(),
        dropped: dropped.clone(),
        closed: closed.clone(),
    };
    let mut server = start(
        Open::default(),
        Some(Box::new(handler)),
        voice_net::transport::server(),
    );
    let mut clients = Vec::new();
    for tag in 1..=3u32 {
        let (ep, client) = connect(server.addr).await;
        let conn = server.next().await;
        conn.set_tag(tag);
        members.lock().unwrap().insert(tag, conn);
        clients.push((ep, client));
    }
    // An untagged (not logged in) connection: its datagrams go nowhere.
    let (_ep4, stranger) = connect(server.addr).await;
    let stranger_conn = server.next().await;
    for i in 0..5u8 {
        stranger.send_datagram(Bytes::from(vec![0xee, i])).unwrap();
    }
    const EACH: u8 = 20;
    for (n, (_, client)) in clients.iter().enumerate() {
        for i in 0..EACH {
            client.send_datagram(Bytes::from(vec![n as u8, i])).unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    for (n, (_, client)) in clients.iter().enumerate() {
        let mut heard: HashMap<u8, Vec<u8>> = HashMap::new();
        for _ in 0..2 * EACH as usize {
            let d = tokio::time::timeout(WAIT, client.read_datagram())
                .await
                .expect("every forwarded datagram in time")
                .unwrap();
            assert_ne!(
                d[0], 0xee,
                "a datagram of the untagged connection was forwarded"
            );
            assert_ne!(d[0], n as u8, "a client heard itself");
            heard.entry(d[0]).or_default().push(d[1]);
        }
        assert_eq!(heard.len(), 2, "client {n} heard both others");
        for seq in heard.values() {
            assert_eq!(seq, &(0..EACH).collect::<Vec<_>>(), "in order, none lost");
        }
    }
    assert_eq!(*dropped.lock().unwrap(), 5);
    // Gone connections are reported to the handler once drained.
    stranger.close(quinn::VarInt::from_u32(0), b"");
    tokio::time::timeout(WAIT, stranger_conn.closed())
        .await
        .unwrap();
    drop(stranger_conn);
    let deadline = Instant::now() + WAIT;
    while closed.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the drained connection was not reported"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    members.lock().unwrap().clear();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_retries_and_refuses_before_any_tls() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut server = start(
        RetryFirst(seen.clone()),
        None,
        voice_net::transport::server(),
    );
    let (_ep, client) = connect(server.addr).await;
    let conn = server.next().await;
    assert_eq!(
        *seen.lock().unwrap(),
        [false, true],
        "a retry, then admitted"
    );
    // The connection after a retry works.
    client
        .send_datagram(Bytes::from_static(b"after retry"))
        .unwrap();
    let d = tokio::time::timeout(WAIT, conn.read_datagram())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&d[..], b"after retry");
    drop(conn);
    server.stop().await;

    let server = start(RefuseAll, None, voice_net::transport::server());
    let config = client::client_config(client::ServerCert::Any, client_transport()).unwrap();
    let endpoint = client::endpoint(server.addr, config).unwrap();
    let refused = tokio::time::timeout(WAIT, endpoint.connect(server.addr, "localhost").unwrap())
        .await
        .expect("an answer in time");
    match refused {
        Err(quinn::ConnectionError::ConnectionClosed(c)) => {
            assert_eq!(c.error_code, quinn::TransportErrorCode::CONNECTION_REFUSED);
        }
        other => panic!("not refused: {other:?}"),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_end_when_dropped_when_the_peer_vanishes_and_at_shutdown() {
    let mut transport = voice_net::transport::server();
    transport.max_idle_timeout(Some(Duration::from_millis(800).try_into().unwrap()));
    transport.keep_alive_interval(None);
    let mut server = start(Open::default(), None, transport);

    // Every handle dropped: closed with code 0, as quinn does.
    let (_ep1, client1) = connect(server.addr).await;
    let conn1 = server.next().await;
    drop(conn1);
    match tokio::time::timeout(WAIT, client1.closed()).await.unwrap() {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code, quinn::VarInt::from_u32(0));
        }
        other => panic!("closed otherwise: {other:?}"),
    }

    // A peer that vanishes without a word (its packets stop at a relay
    // that is then stopped): the idle timeout ends it.
    let (relay_addr, relay) = udp_relay(server.addr).await;
    let (_ep2, _client2) = connect(relay_addr).await;
    let conn2 = server.next().await;
    relay.abort();
    let started = Instant::now();
    let why = tokio::time::timeout(WAIT, conn2.closed()).await.unwrap();
    assert_eq!(why, ConnectionError::TimedOut);
    let after = started.elapsed();
    eprintln!("vanished peer: ended after {after:?}");
    assert!(
        after >= Duration::from_millis(500),
        "ended before the idle timeout: {after:?}"
    );

    // Shutdown: every connection gets the endpoint's code.
    let (_ep3, client3) = connect(server.addr).await;
    let conn3 = server.next().await;
    server.stop().await;
    match tokio::time::timeout(WAIT, client3.closed()).await.unwrap() {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code, quinn::VarInt::from_u32(9));
            assert_eq!(&c.reason[..], b"stopping");
        }
        other => panic!("closed otherwise: {other:?}"),
    }
    assert!(conn3.close_reason().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_at_once_each_get_their_echo() {
    let mut server = start(Open::default(), None, voice_net::transport::server());
    let addr = server.addr;
    let clients: Vec<_> = (0..50u32)
        .map(|i| {
            tokio::spawn(async move {
                let (ep, conn) = connect(addr).await;
                let (mut send, mut recv) = conn.open_bi().await.unwrap();
                let msg = format!("client {i}");
                send.write_all(msg.as_bytes()).await.unwrap();
                send.finish().unwrap();
                let back = recv.read_to_end(1024).await.unwrap();
                assert_eq!(back, msg.to_uppercase().into_bytes());
                (ep, conn)
            })
        })
        .collect();
    let mut served = Vec::new();
    for _ in 0..50 {
        let conn = server.next().await;
        served.push(tokio::spawn(async move {
            let (mut send, mut recv) = conn.accept_bi().await.unwrap();
            let mut got = Vec::new();
            while let Some(chunk) = recv.read_chunk(1024, true).await.unwrap() {
                got.extend_from_slice(&chunk.bytes);
            }
            send.write_all(&got.to_ascii_uppercase()).await.unwrap();
            send.finish().unwrap();
            conn
        }));
    }
    let mut kept = Vec::new();
    for c in clients {
        kept.push(tokio::time::timeout(WAIT * 2, c).await.unwrap().unwrap());
    }
    for s in served {
        s.await.unwrap();
    }
    server.stop().await;
}

/// A UDP relay between one client and `server`, to cut the path by
/// aborting its task.
async fn udp_relay(server: SocketAddr) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut client = None;
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let to = if from == server {
                match client {
                    Some(c) => c,
                    None => continue,
                }
            } else {
                client = Some(from);
                server
            };
            let _ = socket.send_to(&buf[..n], to).await;
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_loops_share_a_port_and_keep_their_connections_when_clients_move() {
    let sockets = voice_server::quic::bind_group("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let addr = sockets[0].local_addr().unwrap();
    assert_eq!(sockets[1].local_addr().unwrap(), addr, "one port");
    let mut loops = Vec::new();
    for (shard, socket) in (0u8..).zip(sockets) {
        let mut server = voice_bench::naive::server_config().unwrap();
        server.transport_config(Arc::new(voice_net::transport::server()));
        let mut config = quinn::EndpointConfig::default();
        config.cid_generator(move || Box::new(voice_server::cid::Generator::for_shard(shard, 2)));
        let endpoint = Endpoint::new(socket, config, server).unwrap();
        let control = endpoint.control();
        let (tx, accepted) = mpsc::unbounded_channel();
        let task = tokio::spawn(endpoint.run(Open::default(), None, tx));
        loops.push(Running {
            addr,
            control,
            accepted,
            task,
        });
    }
    let (first, second) = loops.split_at_mut(1);
    let (a, b) = (&mut first[0], &mut second[0]);
    let mut served = [0usize; 2];
    let mut pairs = Vec::new();
    for _ in 0..16 {
        let (ep, client) = connect(addr).await;
        let (conn, shard) = tokio::select! {
            Some(x) = a.accepted.recv() => (x, 0),
            Some(x) = b.accepted.recv() => (x, 1),
        };
        served[shard] += 1;
        let conn = tokio::time::timeout(WAIT, conn.connecting)
            .await
            .unwrap()
            .unwrap();
        pairs.push((ep, client, conn));
    }
    assert!(
        served[0] > 0 && served[1] > 0,
        "both loops serve: {served:?}"
    );
    for round in 0..2 {
        for (ep, client, conn) in &pairs {
            if round == 1 {
                // A new source port (as after a NAT rebinding): the kernel
                // would hash the new addresses to either socket; the
                // connection ID still names the loop.
                ep.rebind(std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
                    .unwrap();
            }
            let (mut send, mut recv) = client.open_bi().await.unwrap();
            send.write_all(b"where am I").await.unwrap();
            send.finish().unwrap();
            let (mut ssend, mut srecv) = tokio::time::timeout(WAIT, conn.accept_bi())
                .await
                .expect("the stream reached the connection's loop")
                .unwrap();
            let mut got = Vec::new();
            while let Some(chunk) = srecv.read_chunk(64, true).await.unwrap() {
                got.extend_from_slice(&chunk.bytes);
            }
            assert_eq!(got, b"where am I");
            ssend.write_all(b"here").await.unwrap();
            ssend.finish().unwrap();
            let back = tokio::time::timeout(WAIT, recv.read_to_end(64))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(back, b"here");
            if round == 1 {
                assert_eq!(
                    conn.remote_address(),
                    ep.local_addr().unwrap(),
                    "the server saw the move"
                );
            }
        }
    }
    drop(pairs);
    for running in loops {
        running.stop().await;
    }
}
