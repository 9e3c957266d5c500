//! One client connection: login under a deadline, then the control stream,
//! the chat stream and the voice datagrams, each in its own task.

mod chat;
mod handshake;
mod relay;
mod voice;

use std::sync::Arc;

use bytes::Bytes;

use voice_proto::close;
use voice_proto::pb::wire::{
    ClientMsg, Pong, RequestFailed, client_msg::Msg as In, server_msg::Msg as Out,
};
use voice_proto::state::SessionId;

pub use voice::Relay;

/// Why a client's stream could not be read.
pub type ReadError = voice_net::ReadError<crate::quic::ReadError>;

/// A client's envelopes on one stream, never buffering more than the
/// current frame limit.
pub type FrameReader = voice_net::FrameReader<ClientMsg, crate::quic::RecvStream>;

impl voice_net::ChunkRead for crate::quic::RecvStream {
    type Error = crate::quic::ReadError;

    async fn read_chunk(&mut self, max: usize) -> Result<Option<Bytes>, Self::Error> {
        Ok(crate::quic::RecvStream::read_chunk(self, max, true)
            .await?
            .map(|chunk| chunk.bytes))
    }
}

use crate::hub::{Hub, encode};
use crate::throttle::TokenBucket;

/// Serves one incoming connection until it ends. Its voice datagrams are
/// the loop's ([`Relay`]): dropped until the login is done, then relayed
/// by the session id the connection is tagged with.
pub async fn serve(
    hub: Arc<Hub>,
    connecting: crate::quic::Connecting,
    login_slot: crate::pending::LoginSlot,
) {
    let remote = connecting.remote_address();
    let deadline = tokio::time::Instant::now() + hub.config.handshake_timeout();
    let conn = match tokio::time::timeout_at(deadline, connecting).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            tracing::debug!(%remote, error = %e, "QUIC handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%remote, "QUIC handshake timed out");
            return;
        }
    };
    if hub.throttle.is_refused(remote.ip()) {
        conn.close(
            close::THROTTLED.into(),
            b"too many failed logins from your address; try again in a few minutes",
        );
        return;
    }
    // The login and the leaving are boxed: their state (the largest of the
    // connection's task) is then held while they run, not by every idle
    // session's task for its whole life.
    let login = Box::pin(handshake::handshake(&hub, &conn));
    let joined = match tokio::time::timeout_at(deadline, login).await {
        Ok(Ok(joined)) => joined,
        Ok(Err(refusal)) => {
            if refusal.counts && hub.throttle.record_failure(remote.ip()) {
                tracing::warn!(%remote, "address throttled after repeated failed logins");
            }
            tracing::info!(%remote, reason = %refusal.reason, "login refused");
            conn.close(refusal.code.into(), refusal.reason.as_bytes());
            return;
        }
        Err(_) => {
            conn.close(
                close::AUTH_TIMEOUT.into(),
                b"the login was not finished in time",
            );
            return;
        }
    };
    drop(login_slot);
    let id = joined.id;
    conn.set_tag(id);
    tracing::info!(%remote, session = id, "session joined");
    let reason = run_session(&hub, &conn, joined).await;
    if let Some((code, reason)) = reason {
        tracing::info!(session = id, %reason, "closing session");
        conn.close(code.into(), reason.as_bytes());
    }
    Box::pin(hub.leave(id)).await;
    conn.set_tag(0);
    tracing::info!(session = id, "session left");
}

/// Runs an authenticated session; returns a close code and reason when the
/// server ends it.
async fn run_session(
    hub: &Arc<Hub>,
    conn: &crate::quic::Connection,
    joined: handshake::Joined,
) -> Option<(u32, String)> {
    let handshake::Joined {
        id,
        send,
        mut reader,
        queue,
    } = joined;
    // State first, chat after.
    let _ = send.set_priority(10);
    let mut writer = tokio::spawn(queue.write_to(send));
    let chat_hub = hub.clone();
    let chat_conn = conn.clone();
    let mut chat = tokio::spawn(async move { chat::accept(chat_hub, chat_conn, id).await });
    let control = control_loop(hub, id, &mut reader);
    tokio::pin!(control);
    let mut chat_done = false;
    // A chat stream that ends cleanly leaves the session running.
    let outcome = loop {
        tokio::select! {
            r = &mut control => break r,
            r = &mut chat, if !chat_done => match r {
                Ok(Some(close)) => break Some(close),
                _ => chat_done = true,
            },
            _ = &mut writer => break None,
        }
    };
    writer.abort();
    chat.abort();
    outcome
}

/// Closing reason for a read failure (`None` when the peer just went away).
fn read_failure(e: ReadError) -> Option<(u32, String)> {
    match e {
        ReadError::Stream(_) => None,
        other => Some((close::PROTOCOL_ERROR, other.to_string())),
    }
}

async fn control_loop(
    hub: &Arc<Hub>,
    id: SessionId,
    reader: &mut FrameReader,
) -> Option<(u32, String)> {
    let mut bucket = TokenBucket::new(hub.config.control_rate, hub.config.control_burst);
    // Tracker requests cost more (an info dictionary, a peer list): their
    // own, smaller budget; past it they are refused, the session goes on.
    let mut tracker = TokenBucket::new(hub.config.tracker_rate, hub.config.tracker_burst);
    // A history request sets up to 16 other members building and seeding a
    // snapshot: the smallest budget of all.
    let mut history = TokenBucket::new(hub.config.history_rate, hub.config.history_burst);
    loop {
        let msg = match reader.next().await {
            Ok(Some(msg)) => msg,
            Ok(None) => return Some((close::NORMAL, "control stream finished".to_owned())),
            Err(e) => return read_failure(e),
        };
        if !bucket.take() {
            return Some((
                close::RATE_LIMITED,
                "too many requests on the control stream".to_owned(),
            ));
        }
        if let Some(request_id) = tracker_request(&msg.msg)
            && !tracker.take()
        {
            let refusal = Out::Failed(RequestFailed {
                request_id,
                message: format!(
                    "too many tracker requests: the limit is {} at once and {} per second \
                     (tracker_rate); wait a moment and try again",
                    hub.config.tracker_burst, hub.config.tracker_rate
                ),
            });
            hub.send_to(id, encode(refusal)).await;
            continue;
        }
        if let Some(In::HistoryRequest(req)) = &msg.msg
            && !history.take()
        {
            let refusal = Out::Failed(RequestFailed {
                request_id: req.request_id,
                message: format!(
                    "too many history requests: the limit is {} at once and one each {:.0} s \
                     (history_rate); the history already fetched stays shown, try again later",
                    hub.config.history_burst,
                    1.0 / hub.config.history_rate
                ),
            });
            hub.send_to(id, encode(refusal)).await;
            continue;
        }
        // Boxed: the requests' states (the largest of the session's task)
        // exist while one runs, not for the whole life of an idle session.
        if let Some(close) = Box::pin(dispatch(hub, id, msg.msg)).await {
            return Some(close);
        }
    }
}

/// Serves one request of the control stream; a close for a message that
/// does not belong there.
async fn dispatch(hub: &Arc<Hub>, id: SessionId, msg: Option<In>) -> Option<(u32, String)> {
    match msg {
        Some(In::TorrentPublish(req)) => hub.torrent_publish(id, req).await,
        Some(In::TorrentFetch(req)) => hub.torrent_fetch(id, req).await,
        Some(In::Announce(req)) => hub.announce(id, req).await,
        Some(In::Scrape(req)) => hub.scrape(id, req).await,
        Some(In::Propose(p)) => hub.propose(id, p).await,
        Some(In::SnapshotRequest(_)) => hub.send_snapshot(id).await,
        Some(In::Ping(p)) => {
            hub.send_to(
                id,
                encode(Out::Pong(Pong {
                    timestamp_us: p.timestamp_us,
                })),
            )
            .await
        }
        Some(In::Explain(req)) => hub.explain(id, req).await,
        Some(In::Kick(mut req)) => {
            // The reason reaches the victim's terminal (and the ban record).
            req.reason = voice_proto::text::strip_controls(&req.reason);
            hub.kick(id, req).await
        }
        Some(In::Register(req)) => hub.register(id, req).await,
        Some(In::Bans(req)) => hub.bans(id, req).await,
        Some(In::Unban(req)) => hub.unban(id, req).await,
        Some(In::Reception(report)) => hub.reception(id, report).await,
        Some(In::HistoryRequest(req)) => hub.history_request(id, req).await,
        Some(In::HistoryOffer(offer)) => hub.history_offer(id, offer).await,
        Some(In::HistoryServe(serve)) => hub.history_serve(id, serve).await,
        Some(In::Authenticate(_))
        | Some(In::Hello(_))
        | Some(In::Chat(_))
        | Some(In::RelayOpen(_))
        | Some(In::RelayAnswer(_))
        | None => {
            return Some((
                close::PROTOCOL_ERROR,
                "unexpected message on the control stream".to_owned(),
            ));
        }
    }
    None
}

/// The request id of a tracker request.
fn tracker_request(msg: &Option<In>) -> Option<u64> {
    match msg {
        Some(In::TorrentPublish(r)) => Some(r.request_id),
        Some(In::TorrentFetch(r)) => Some(r.request_id),
        Some(In::Announce(r)) => Some(r.request_id),
        Some(In::Scrape(r)) => Some(r.request_id),
        Some(In::HistoryRequest(r)) => Some(r.request_id),
        _ => None,
    }
}
