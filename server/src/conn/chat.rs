//! The chat stream: opened by the client after `Welcome` with `Hello { CHAT }`.

use std::sync::Arc;

use voice_proto::pb::wire::{ChatRejected, StreamKind, client_msg::Msg as In, server_msg::Msg};
use voice_proto::state::SessionId;
use voice_proto::{close, frame};

use super::{FrameReader, read_failure};
use crate::hub::{Hub, encode};
use crate::throttle::TokenBucket;

/// Accepts the chat stream and serves it, then every later stream as a
/// relayed file connection (`relay`); returns a close for a protocol error,
/// `None` when the connection ends.
pub async fn accept(
    hub: Arc<Hub>,
    conn: crate::quic::Connection,
    id: SessionId,
) -> Option<(u32, String)> {
    let (send, recv) = match conn.accept_bi().await {
        Ok(streams) => streams,
        Err(_) => return None,
    };
    let mut serving = tokio::spawn(serve(hub.clone(), send, recv, id));
    // Dropped with this task (the session's end): every relay goes with it.
    let mut relays = tokio::task::JoinSet::new();
    let mut chat_done = false;
    loop {
        tokio::select! {
            r = &mut serving, if !chat_done => match r {
                Ok(Some(close)) => {
                    relays.abort_all();
                    return Some(close);
                }
                _ => chat_done = true,
            },
            r = conn.accept_bi() => match r {
                Ok((send, recv)) => {
                    relays.spawn(super::relay::serve(hub.clone(), id, send, recv));
                }
                Err(_) => {
                    serving.abort();
                    return None;
                }
            },
            Some(r) = relays.join_next() => {
                if let Ok(Some(close)) = r {
                    serving.abort();
                    return Some(close);
                }
            }
        }
    }
}

async fn serve(
    hub: Arc<Hub>,
    send: crate::quic::SendStream,
    recv: crate::quic::RecvStream,
    id: SessionId,
) -> Option<(u32, String)> {
    let mut reader = FrameReader::new(recv, frame::CLIENT_MAX_FRAME);
    match reader.next().await {
        Ok(Some(msg)) => match msg.msg {
            Some(In::Hello(h)) if h.kind == StreamKind::Chat as i32 => {}
            _ => {
                return Some((
                    close::PROTOCOL_ERROR,
                    "a second stream must start with Hello { kind: CHAT }".to_owned(),
                ));
            }
        },
        Ok(None) => return None,
        Err(e) => return read_failure(e),
    }
    let _ = send.set_priority(0);
    let (tx, rx) = hub.take_chat(id).await?;
    let writer = tokio::spawn(rx.write_to(send));
    let mut bucket = TokenBucket::new(hub.config.chat_rate, hub.config.chat_burst);
    let outcome = loop {
        let msg = match reader.next().await {
            Ok(Some(msg)) => msg,
            Ok(None) => break None,
            Err(e) => break read_failure(e),
        };
        let Some(In::Chat(send)) = msg.msg else {
            break Some((
                close::PROTOCOL_ERROR,
                "only ChatSend is allowed on the chat stream".to_owned(),
            ));
        };
        let result = if bucket.take() {
            hub.chat(id, &send).await
        } else {
            Err("you are sending messages too fast".to_owned())
        };
        if let Err(message) = result {
            let _ = tx.push(encode(Msg::ChatRejected(ChatRejected {
                client_id: send.client_id,
                message,
            })));
        }
    };
    writer.abort();
    outcome
}
