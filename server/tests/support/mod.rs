//! A small voice/1 test client and an in-process server fixture.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use ed25519_dalek::SigningKey;
use voice_bench::client::{self, Credentials, Framed, ServerCert};
use voice_proto::pb::wire::{
    Change, ChatMessage, ChatSend, Hello, Propose, StreamKind, client_msg, server_msg::Msg,
};
use voice_proto::{Limits, State, StateHash};
use voice_server::{Config, Running, Server};

/// Generous wait for anything the server should do.
pub const WAIT: Duration = Duration::from_secs(30);

/// A server running in this process on 127.0.0.1, port 0.
pub struct TestServer {
    pub addr: SocketAddr,
    pub fingerprint: String,
    pub password: String,
    pub admin_token: Option<String>,
    pub admin_socket: PathBuf,
    /// The plugin TCP listener, when `plugin_listen` is set.
    pub plugin_addr: Option<SocketAddr>,
    pub hub: Arc<voice_server::hub::Hub>,
    /// The reloadable certificate (`files` and `self-signed` mode).
    pub file_cert: Option<Arc<voice_server::cert_reload::FileCert>>,
    running: Option<Running>,
}

/// The test configuration: loopback, fixed password, the given data dir.
pub fn config(dir: &Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: Some(dir.to_owned()),
        password: Some("secret".to_owned()),
        ..Config::default()
    }
}

impl TestServer {
    pub async fn start(config: Config) -> Self {
        let password = config.password.clone().unwrap_or_default();
        let running = Server::bind(config).await.expect("server starts").spawn();
        let banner = running.banner().clone();
        Self {
            addr: banner.listening,
            fingerprint: banner.fingerprint,
            password: banner.generated_password.unwrap_or(password),
            admin_token: banner.admin_token,
            admin_socket: banner.admin_socket,
            plugin_addr: banner.plugin_listening,
            hub: running.hub(),
            file_cert: running.file_cert(),
            running: Some(running),
        }
    }

    pub async fn in_dir(dir: &Path) -> Self {
        Self::start(config(dir)).await
    }

    /// Stops the server and waits until it has flushed and released the dir.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            tokio::time::timeout(WAIT, running.stop())
                .await
                .expect("server stops in time")
                .expect("server ran cleanly");
        }
    }

    pub fn login(&self, name: &str) -> Login {
        Login {
            key: SigningKey::generate(&mut rand::rngs::OsRng),
            password: self.password.clone(),
            name: name.to_owned(),
            admin_token: String::new(),
            room: 0,
            share_history: true,
        }
    }

    pub async fn join(&self, name: &str) -> Client {
        Client::connect(self, self.login(name))
            .await
            .expect("login succeeds")
    }
}

/// An administrator: logs in with the server's admin token.
pub async fn admin(server: &TestServer, name: &str) -> Client {
    let mut login = server.login(name);
    login.admin_token = server.admin_token.clone().unwrap();
    Client::connect(server, login).await.unwrap()
}

/// The acceptance of a proposal (a rejection fails the test).
pub fn accepted(reply: Reply) -> voice_proto::pb::wire::Accepted {
    match reply {
        Reply::Accepted(a) => a,
        Reply::Rejected(r) => panic!("rejected: {r:?}"),
    }
}

/// The rejection of a proposal (an acceptance fails the test).
pub fn rejected(reply: Reply) -> voice_proto::pb::wire::Rejected {
    match reply {
        Reply::Rejected(r) => r,
        Reply::Accepted(a) => panic!("accepted: {a:?}"),
    }
}

/// What a client logs in with.
#[derive(Clone)]
pub struct Login {
    pub key: SigningKey,
    pub password: String,
    pub name: String,
    pub admin_token: String,
    pub room: u32,
    pub share_history: bool,
}

/// A QUIC connection to the server (no voice/1 handshake yet), pinning its
/// certificate.
pub async fn quic_connect(server: &TestServer) -> quinn::Connection {
    quic_connect_to(server.addr, &server.fingerprint)
        .await
        .expect("QUIC connects")
}

/// A QUIC connection to `addr` accepting only the certificate `fingerprint`.
pub async fn quic_connect_to(
    addr: SocketAddr,
    fingerprint: &str,
) -> Result<quinn::Connection, client::ClientError> {
    let config = client::client_config(
        ServerCert::Pinned(fingerprint.to_owned()),
        voice_server::tls::transport(),
    )?;
    let endpoint = client::endpoint(addr, config)?;
    tokio::time::timeout(WAIT, client::connect(&endpoint, addr))
        .await
        .expect("QUIC connects in time")
}

/// Frames on one stream, client side (the shared client's [`Framed`] with
/// the test's deadline).
pub struct Stream(Framed);

impl std::ops::Deref for Stream {
    type Target = Framed;
    fn deref(&self) -> &Framed {
        &self.0
    }
}

impl std::ops::DerefMut for Stream {
    fn deref_mut(&mut self) -> &mut Framed {
        &mut self.0
    }
}

impl Stream {
    pub fn new(send: quinn::SendStream, recv: quinn::RecvStream) -> Self {
        Self(Framed::new(send, recv))
    }

    pub async fn send(&mut self, msg: client_msg::Msg) {
        let _ = self.0.send(msg).await;
    }

    /// The next server message; `None` when the stream or connection ends.
    pub async fn next(&mut self) -> Option<Msg> {
        tokio::time::timeout(WAIT, self.0.next())
            .await
            .expect("the server answers in time")
            .expect("the server sends valid frames")
    }
}

/// How a connection ended.
pub async fn close_of(conn: &quinn::Connection) -> (u32, String) {
    let err = tokio::time::timeout(WAIT, conn.closed())
        .await
        .expect("the server closes the connection in time");
    match err {
        quinn::ConnectionError::ApplicationClosed(c) => (
            u32::try_from(u64::from(c.error_code)).unwrap(),
            String::from_utf8_lossy(&c.reason).into_owned(),
        ),
        other => panic!("connection ended otherwise: {other}"),
    }
}

/// A logged-in client mirroring the state.
pub struct Client {
    pub conn: quinn::Connection,
    pub control: Stream,
    pub chat: Option<Stream>,
    pub id: u32,
    pub state: State,
    pub seq: u64,
    pub key: SigningKey,
    next_request: u64,
}

/// The reply to a proposal.
#[derive(Debug)]
pub enum Reply {
    Accepted(voice_proto::pb::wire::Accepted),
    Rejected(voice_proto::pb::wire::Rejected),
}

impl Client {
    /// Logs in; `Err` carries the close code and reason.
    pub async fn connect(server: &TestServer, login: Login) -> Result<Client, (u32, String)> {
        let conn = quic_connect(server).await;
        match Self::handshake(conn.clone(), login).await {
            Some(client) => Ok(client),
            None => Err(close_of(&conn).await),
        }
    }

    pub async fn handshake(conn: quinn::Connection, login: Login) -> Option<Client> {
        let creds = Credentials {
            key: login.key.clone(),
            password: login.password,
            name: login.name,
            admin_token: login.admin_token,
            room: login.room,
            share_history: login.share_history,
        };
        let logged = client::login(&conn, creds).await.ok()?;
        let control = Stream(logged.control);
        let welcome = logged.welcome;
        let state = State::from_snapshot(&welcome.snapshot.unwrap(), Limits::default()).unwrap();
        assert_eq!(state.hash().to_vec(), welcome.hash, "welcome hash");
        Some(Client {
            conn,
            control,
            chat: None,
            id: welcome.session_id,
            state,
            seq: welcome.seq,
            key: login.key,
            next_request: 1,
        })
    }

    pub fn hash(&self) -> StateHash {
        self.state.hash()
    }

    /// Applies an update, checking sequence and hash.
    fn apply(&mut self, update: voice_proto::pb::wire::StateUpdate) {
        assert_eq!(update.seq, self.seq + 1, "updates arrive in order");
        self.seq = update.seq;
        self.state.apply(&update.change.unwrap()).unwrap();
        assert_eq!(
            self.state.hash().to_vec(),
            update.resulting_hash,
            "hash after update {}",
            update.seq
        );
    }

    /// The next non-update message, applying updates on the way.
    pub async fn next_reply(&mut self) -> Option<Msg> {
        loop {
            match self.control.next().await? {
                Msg::Update(u) => self.apply(u),
                other => return Some(other),
            }
        }
    }

    /// Applies updates until the mirror reaches `seq`.
    pub async fn catch_up(&mut self, seq: u64) {
        while self.seq < seq {
            match self.control.next().await.expect("update") {
                Msg::Update(u) => self.apply(u),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Sends a proposal built on the current mirror.
    pub async fn send_proposal(&mut self, change: Change) -> u64 {
        let expected = self.hash();
        self.send_proposal_at(expected, change).await
    }

    pub async fn send_proposal_at(&mut self, expected: StateHash, change: Change) -> u64 {
        let request_id = self.next_request;
        self.next_request += 1;
        self.control
            .send(client_msg::Msg::Propose(Propose {
                request_id,
                expected_hash: expected.to_vec(),
                change: Some(change),
            }))
            .await;
        request_id
    }

    /// Proposes and waits for the answer; like voiced, retries a stale
    /// proposal once caught up (the updates before a rejection arrive first,
    /// so the mirror is current when it is read).
    pub async fn propose(&mut self, change: Change) -> Reply {
        let mut attempts = 0;
        loop {
            let id = self.send_proposal(change.clone()).await;
            let reply = self.reply_to(id).await;
            match &reply {
                Reply::Rejected(r)
                    if r.reason == voice_proto::pb::wire::rejected::Reason::Stale as i32
                        && attempts < 20 =>
                {
                    assert_eq!(
                        r.current_hash,
                        self.hash().to_vec(),
                        "caught up at rejection"
                    );
                    attempts += 1;
                }
                // Under heavy contention a proposal may stay stale; the caller decides.
                _ => return reply,
            }
        }
    }

    /// Sends a request built with a fresh request id; returns the answer
    /// carrying that id (`Accepted`, `Failed`, or the request's own reply).
    pub async fn request(&mut self, make: impl FnOnce(u64) -> client_msg::Msg) -> Msg {
        let request_id = self.next_request;
        self.next_request += 1;
        self.control.send(make(request_id)).await;
        loop {
            let msg = self.next_reply().await.expect("a reply");
            let id = match &msg {
                Msg::Accepted(a) => Some(a.request_id),
                Msg::Failed(f) => Some(f.request_id),
                Msg::TorrentInfo(t) => Some(t.request_id),
                Msg::Peers(p) => Some(p.request_id),
                Msg::Scrape(s) => Some(s.request_id),
                _ => None,
            };
            if id == Some(request_id) {
                return msg;
            }
        }
    }

    pub async fn reply_to(&mut self, request_id: u64) -> Reply {
        loop {
            match self.next_reply().await.expect("a reply") {
                Msg::Accepted(a) if a.request_id == request_id => {
                    self.catch_up(a.seq).await;
                    return Reply::Accepted(a);
                }
                Msg::Rejected(r) if r.request_id == request_id => return Reply::Rejected(r),
                _ => {}
            }
        }
    }

    /// Opens the chat stream.
    pub async fn open_chat(&mut self) {
        let (send, recv) = self.conn.open_bi().await.unwrap();
        let mut chat = Stream::new(send, recv);
        chat.send(client_msg::Msg::Hello(Hello {
            protocol_version: 1,
            kind: StreamKind::Chat as i32,
            client: "test".into(),
        }))
        .await;
        self.chat = Some(chat);
    }

    pub async fn say(&mut self, client_id: u64, text: &str) {
        self.chat
            .as_mut()
            .unwrap()
            .send(client_msg::Msg::Chat(ChatSend {
                client_id,
                room: 0,
                text: text.to_owned(),
            }))
            .await;
    }

    pub async fn next_chat(&mut self) -> Option<Msg> {
        self.chat.as_mut().unwrap().next().await
    }

    pub async fn expect_chat(&mut self) -> ChatMessage {
        match self.next_chat().await {
            Some(Msg::Chat(m)) => m,
            other => panic!("expected a chat message, got {other:?}"),
        }
    }

    /// Sends one voice datagram.
    pub fn speak(&self, seq: u32, opus: &[u8]) {
        let mut buf = Vec::new();
        voice_proto::voice::encode_client(&mut buf, 0, seq, opus);
        self.conn.send_datagram(buf.into()).unwrap();
    }
}

/// A frame with an arbitrary length prefix (for hostile-input tests).
pub fn raw_frame(len: u32, body: &[u8]) -> BytesMut {
    let mut b = BytesMut::new();
    b.extend_from_slice(&len.to_be_bytes());
    b.extend_from_slice(body);
    b
}

impl TestServer {
    /// Stops the server; `Err` carries its error (a test that broke the
    /// disk on purpose expects one).
    pub async fn stop_reporting(mut self) -> Result<(), String> {
        match self.running.take() {
            Some(running) => tokio::time::timeout(WAIT, running.stop())
                .await
                .expect("server stops in time")
                .map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

/// A valid private info dictionary (piece hashes are not checked by the
/// server, which never sees the data).
pub fn torrent_info(name: &str, size: u64, private: bool) -> Vec<u8> {
    let hashes = vec![0xabu8; size.div_ceil(16384) as usize * 20];
    voice_proto::torrent::encode_single(name, size, 16384, &hashes, private)
}

impl Client {
    /// Publishes a torrent of `size` bytes named `name` in `room`, then
    /// proposes its file entry; the reply to the proposal.
    pub async fn share(&mut self, room: u32, name: &str, size: u64) -> Reply {
        let info = torrent_info(name, size, true);
        let published = self
            .request(|request_id| {
                client_msg::Msg::TorrentPublish(voice_proto::pb::wire::TorrentPublish {
                    request_id,
                    room,
                    info: info.clone(),
                })
            })
            .await;
        assert!(matches!(published, Msg::Accepted(_)), "{published:?}");
        let change = Change {
            kind: Some(voice_proto::pb::wire::change::Kind::AddFile(
                voice_proto::pb::wire::SharedFile {
                    id: 0,
                    info_hash: voice_proto::torrent::info_hash(&info).to_vec(),
                    name: name.to_owned(),
                    size,
                    room,
                    owner_key: self.key.verifying_key().to_bytes().to_vec(),
                },
            )),
        };
        self.propose(change).await
    }
}
