//! Relayed file connections: a client stream that starts with
//! `Hello { RELAY }` and `RelayOpen` is joined to a stream the server opens
//! to the target session, once the hub admits it and the target accepts.
//! The bytes between them are BitTorrent's, carried unchanged at the lowest
//! priority and paced by the relay's budgets (`crate::relay`).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use voice_proto::pb::wire::{
    RelayAnswer, RelayIncoming, RelayOpen, StreamKind, client_msg::Msg as In, server_msg::Msg,
};
use voice_proto::state::SessionId;
use voice_proto::{close, frame};

use super::{FrameReader, read_failure};
use crate::hub::{Hub, encode};
use crate::relay::{Relays, Ticket};

/// Time to send `Hello` and `RelayOpen`.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for the target to take the stream and answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// A relay that carries nothing either way for this long is closed
/// (BitTorrent peers send keep-alives every two minutes).
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest piece carried at once.
const CHUNK: usize = 32 * 1024;
/// Below chat (0) and control (10): voice datagrams and the session's own
/// messages always go first.
pub const PRIORITY: i32 = -10;

/// A refused stream ends with this application error code.
const REFUSED: u32 = 1;

/// The header frames of a relay stream (what a client sends first).
async fn header(reader: &mut FrameReader) -> Result<Option<In>, Option<(u32, String)>> {
    match tokio::time::timeout(HEADER_TIMEOUT, reader.next()).await {
        Ok(Ok(Some(msg))) => Ok(msg.msg),
        Ok(Ok(None)) | Err(_) => Err(None),
        Ok(Err(e)) => Err(read_failure(e)),
    }
}

/// Serves one client-opened stream after the chat stream: a relay, or a
/// protocol error (returned) for anything else.
pub async fn serve(
    hub: Arc<Hub>,
    id: SessionId,
    mut send: crate::quic::SendStream,
    recv: crate::quic::RecvStream,
) -> Option<(u32, String)> {
    let mut reader = FrameReader::new(recv, frame::PRE_AUTH_MAX_FRAME);
    match header(&mut reader).await {
        Ok(Some(In::Hello(h))) if h.kind == StreamKind::Relay as i32 => {}
        Ok(Some(In::Hello(h))) if h.kind == StreamKind::Chat as i32 => {
            return Some((
                close::PROTOCOL_ERROR,
                "only one chat stream is allowed".to_owned(),
            ));
        }
        Ok(_) => {
            return Some((
                close::PROTOCOL_ERROR,
                "a stream after the chat stream must start with Hello { kind: RELAY }".to_owned(),
            ));
        }
        Err(close) => return close,
    }
    let open = match header(&mut reader).await {
        Ok(Some(In::RelayOpen(open))) => open,
        Ok(_) => {
            return Some((
                close::PROTOCOL_ERROR,
                "a relay stream must send RelayOpen after Hello".to_owned(),
            ));
        }
        Err(close) => return close,
    };
    let _ = send.set_priority(PRIORITY);
    let (target_conn, ticket) = match hub.relay_admit(id, &open).await {
        Ok(admitted) => admitted,
        Err(reason) => {
            refuse(&hub.relays, &mut send, reason).await;
            return None;
        }
    };
    let target = match tokio::time::timeout(ANSWER_TIMEOUT, reach(&target_conn, id, &open)).await {
        Ok(Ok(target)) => target,
        Ok(Err(reason)) => {
            let reason = format!("session {} refused the relay: {reason}", open.target);
            refuse(&hub.relays, &mut send, reason).await;
            return None;
        }
        Err(_) => {
            let reason = format!("session {} did not answer the relay in time", open.target);
            refuse(&hub.relays, &mut send, reason).await;
            return None;
        }
    };
    if answer(&mut send, true, String::new()).await.is_err() {
        return None;
    }
    hub.relays.count_opened();
    tracing::debug!(from = id, to = open.target, "relay open");
    let (target_send, target_recv) = target;
    pipe(
        &hub.relays,
        ticket,
        (send, reader.into_inner()),
        (target_send, target_recv),
    )
    .await;
    tracing::debug!(from = id, to = open.target, "relay closed");
    None
}

async fn answer(
    send: &mut crate::quic::SendStream,
    accepted: bool,
    reason: String,
) -> Result<(), ()> {
    let bytes = encode(Msg::RelayAnswer(RelayAnswer { accepted, reason }));
    send.write_all(&bytes).await.map_err(|_| ())
}

async fn refuse(relays: &Relays, send: &mut crate::quic::SendStream, reason: String) {
    relays.count_refused();
    tracing::debug!(%reason, "relay refused");
    let _ = answer(send, false, reason).await;
    let _ = send.finish();
}

/// Opens the stream to the target, introduces the dialer, and waits for
/// its answer: the target's stream, ready for bytes.
async fn reach(
    conn: &crate::quic::Connection,
    from: SessionId,
    open: &RelayOpen,
) -> Result<(crate::quic::SendStream, crate::quic::RecvStream), String> {
    let gone = |_| "it is no longer connected".to_owned();
    let (mut send, recv) = conn.open_bi().await.map_err(gone)?;
    let _ = send.set_priority(PRIORITY);
    let hello = encode(Msg::RelayIncoming(RelayIncoming {
        room: open.room,
        info_hash: open.info_hash.clone(),
        from,
    }));
    send.write_all(&hello)
        .await
        .map_err(|_| "it closed the stream".to_owned())?;
    let mut reader = FrameReader::new(recv, frame::PRE_AUTH_MAX_FRAME);
    match reader.next().await {
        Ok(Some(msg)) => match msg.msg {
            Some(In::RelayAnswer(a)) if a.accepted => Ok((send, reader.into_inner())),
            Some(In::RelayAnswer(a)) => Err(voice_proto::text::strip_controls(&a.reason)),
            _ => Err("it did not answer with RelayAnswer".to_owned()),
        },
        Ok(None) | Err(_) => Err("it closed the stream".to_owned()),
    }
}

/// Carries bytes both ways until both sides finish, either fails, the
/// relay is cancelled, or nothing moves for [`IDLE_TIMEOUT`].
async fn pipe(
    relays: &Relays,
    ticket: Ticket,
    dialer: (crate::quic::SendStream, crate::quic::RecvStream),
    target: (crate::quic::SendStream, crate::quic::RecvStream),
) {
    let stop = ticket.cancel.child_token();
    let (a, b) = (ticket.from, ticket.to);
    let up = pump(relays, (a, b), target.0, dialer.1, &stop);
    let down = pump(relays, (a, b), dialer.0, target.1, &stop);
    tokio::join!(up, down);
    drop(ticket);
}

/// One direction: `from` into `to`. Finishing `from` finishes `to`; a
/// failure on either side resets both directions.
async fn pump(
    relays: &Relays,
    ends: (SessionId, SessionId),
    mut to: crate::quic::SendStream,
    mut from: crate::quic::RecvStream,
    stop: &CancellationToken,
) {
    loop {
        let read = tokio::select! {
            _ = stop.cancelled() => None,
            r = tokio::time::timeout(IDLE_TIMEOUT, from.read_chunk(CHUNK, true)) => Some(r),
        };
        let chunk = match read {
            Some(Ok(Ok(Some(chunk)))) => chunk,
            Some(Ok(Ok(None))) => {
                let _ = to.finish();
                return;
            }
            _ => break,
        };
        let wait = relays.charge(ends.0, ends.1, chunk.bytes.len());
        if !wait.is_zero() {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        let written = tokio::select! {
            _ = stop.cancelled() => false,
            r = to.write_chunk(chunk.bytes) => r.is_ok(),
        };
        if !written {
            break;
        }
    }
    // Failed, idle or cancelled: the other direction goes too.
    stop.cancel();
    let _ = to.reset(REFUSED.into());
    let _ = from.stop(REFUSED.into());
}
