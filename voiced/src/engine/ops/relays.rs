//! Relayed peer connections over the server connection: opening one when
//! a direct connection failed (for the SOCKS5 endpoint of
//! `files::socks`), and taking those the server opens to us to our own
//! BitTorrent listener.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use voice_proto::frame;
use voice_proto::pb::wire::{
    RelayAnswer, RelayIncoming, RelayOpen, ServerMsg, StreamKind, client_msg, server_msg,
};

use crate::engine::link::Link;
use crate::engine::{Engine, Inner};
use crate::files::relay::{self, HANDSHAKE_LEN, PeerRef, RelayMode, Streams};

/// Time for the server and the peer to take a relay.
const OPEN_TIMEOUT: Duration = Duration::from_secs(8);
/// Time for the server to introduce a relay it opened to us.
const INCOMING_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for the dialer's BitTorrent handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time to reach our own listener.
const LOCAL_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest frame on a relay stream before the raw bytes.
const HEADER_MAX: usize = frame::PRE_AUTH_MAX_FRAME;

/// Opens a relay to `peer` over the current connection.
pub(super) async fn open(engine: Weak<Inner>, peer: PeerRef) -> Result<Streams, String> {
    let inner = engine.upgrade().ok_or("voiced is stopping")?;
    let link = Engine { inner }.link().map_err(|e| e.to_string())?;
    tokio::time::timeout(OPEN_TIMEOUT, open_on(&link, peer))
        .await
        .map_err(|_| "the server did not open the relay in time".to_owned())?
}

async fn open_on(link: &Link, peer: PeerRef) -> Result<Streams, String> {
    let lost = |e: &dyn std::fmt::Display| format!("connection lost: {e}");
    let (mut send, recv) = link.conn.open_bi().await.map_err(|e| lost(&e))?;
    let _ = send.set_priority(relay::PRIORITY);
    let client = crate::connection::dial::client_name();
    voice_net::frames::write(
        &mut send,
        voice_net::login::hello(StreamKind::Relay, &client),
    )
    .await
    .map_err(|e| lost(&e))?;
    let open = client_msg::Msg::RelayOpen(RelayOpen {
        room: peer.room,
        info_hash: peer.info_hash.to_vec(),
        target: peer.session,
    });
    voice_net::frames::write(&mut send, open)
        .await
        .map_err(|e| lost(&e))?;
    let mut reader = voice_net::FrameReader::<ServerMsg>::new(recv, HEADER_MAX);
    match reader.next().await {
        Ok(Some(ServerMsg {
            msg: Some(server_msg::Msg::RelayAnswer(answer)),
        })) => {
            if answer.accepted {
                Ok((send, reader.into_inner()))
            } else {
                Err(voice_proto::text::strip_controls(&answer.reason))
            }
        }
        Ok(_) => Err("the server did not answer the relay request".to_owned()),
        Err(e) => Err(lost(&e)),
    }
}

impl Engine {
    /// Takes the relays the server opens on `link` until it closes.
    pub(in crate::engine) async fn accept_relays(&self, generation: u64, link: Arc<Link>) {
        while let Ok((send, recv)) = link.conn.accept_bi().await {
            if self.lock().generation != generation {
                return;
            }
            let engine = self.clone();
            tokio::spawn(async move { engine.incoming_relay(send, recv).await });
        }
    }

    async fn incoming_relay(&self, mut send: quinn::SendStream, recv: quinn::RecvStream) {
        let _ = send.set_priority(relay::PRIORITY);
        let mut reader = voice_net::FrameReader::<ServerMsg>::new(recv, HEADER_MAX);
        let incoming = match tokio::time::timeout(INCOMING_TIMEOUT, reader.next()).await {
            Ok(Ok(Some(ServerMsg {
                msg: Some(server_msg::Msg::RelayIncoming(incoming)),
            }))) => incoming,
            _ => {
                let _ = send.reset(1u32.into());
                return;
            }
        };
        let recv = reader.into_inner();
        match self.admit_relay(&incoming).await {
            Ok((bt, port, hash)) => {
                let counters = self.inner.files.relay.torrent(hash);
                bt.spawn(async move {
                    if let Err(e) = serve_incoming(send, recv, port, hash, counters).await {
                        tracing::debug!(error = %e, "relayed peer connection refused");
                    }
                });
            }
            Err(reason) => {
                tracing::debug!(%reason, from = incoming.from, "relay refused");
                let _ = answer(&mut send, false, reason).await;
                let _ = send.finish();
            }
        }
    }

    /// Whether we take a relay: a transfer of that torrent in that room,
    /// and relaying not turned off. The session, our port and the hash.
    async fn admit_relay(
        &self,
        incoming: &RelayIncoming,
    ) -> Result<(Arc<crate::files::Bt>, u16, [u8; 20]), String> {
        if self.inner.files.relay.mode() == RelayMode::Never {
            return Err("this user does not take relayed connections (bt_relay = never)".into());
        }
        let hash: [u8; 20] = incoming
            .info_hash
            .as_slice()
            .try_into()
            .map_err(|_| "not a BitTorrent v1 info hash".to_owned())?;
        let transfer = self
            .inner
            .files
            .by_hash(&hash)
            .filter(|t| t.room == incoming.room)
            .ok_or("no transfer of this file here")?;
        if transfer.handle.is_none() {
            return Err("the transfer is not running yet".into());
        }
        let bt = self
            .inner
            .files
            .running()
            .await
            .ok_or("BitTorrent is not running")?;
        let port = bt.port();
        Ok((bt, port, hash))
    }
}

async fn answer(
    send: &mut quinn::SendStream,
    accepted: bool,
    reason: String,
) -> Result<(), String> {
    voice_net::frames::write(
        send,
        client_msg::Msg::RelayAnswer(RelayAnswer { accepted, reason }),
    )
    .await
    .map_err(|e| e.to_string())
}

/// Connects the relay to our listener, checks the dialer's handshake names
/// the torrent the relay was opened for, and carries the connection.
async fn serve_incoming(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    port: u16,
    hash: [u8; 20],
    counters: Arc<relay::TorrentRelays>,
) -> Result<(), String> {
    let local = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let tcp = match tokio::time::timeout(LOCAL_TIMEOUT, TcpStream::connect(local)).await {
        Ok(Ok(tcp)) => tcp,
        _ => {
            let why = "our BitTorrent listener did not answer".to_owned();
            let _ = answer(&mut send, false, why.clone()).await;
            let _ = send.finish();
            return Err(why);
        }
    };
    let _ = tcp.set_nodelay(true);
    answer(&mut send, true, String::new()).await?;
    let mut handshake = [0u8; HANDSHAKE_LEN];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, recv.read_exact(&mut handshake)).await {
        Ok(Ok(())) => {}
        _ => {
            let _ = send.reset(1u32.into());
            return Err("no BitTorrent handshake came".into());
        }
    }
    // The server admitted the relay for one swarm: hold the dialer to it.
    if relay::handshake_info_hash(&handshake) != Some(hash) {
        let _ = send.reset(1u32.into());
        let _ = recv.stop(1u32.into());
        return Err("the handshake names another torrent than the relay".into());
    }
    let mut tcp = tcp;
    tcp.write_all(&handshake)
        .await
        .map_err(|e| format!("our BitTorrent listener closed: {e}"))?;
    counters
        .bytes
        .fetch_add(HANDSHAKE_LEN as u64, std::sync::atomic::Ordering::Relaxed);
    relay::pipe(tcp, (send, recv), &[], counters).await;
    Ok(())
}
