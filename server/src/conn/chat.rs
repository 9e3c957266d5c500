//! The chat stream: opened by the client after `Welcome` with `Hello { CHAT }`.

use std::sync::Arc;

use voice_proto::pb::wire::{ChatRejected, StreamKind, client_msg::Msg as In, server_msg::Msg};
use voice_proto::state::SessionId;
use voice_proto::{close, frame};

use super::{FrameReader, read_failure};
use crate::hub::{Hub, encode, outbox};
use crate::throttle::TokenBucket;

/// Bytes of chat queued for one reader (1 MiB, about fifty of the longest
/// messages); past it, messages to that reader are dropped.
pub const CHAT_QUEUE_BYTES: usize = 1 << 20;

/// Accepts the chat stream and serves it; a second one is a protocol error.
pub async fn accept(
    hub: Arc<Hub>,
    conn: quinn::Connection,
    id: SessionId,
) -> Option<(u32, String)> {
    let (send, recv) = match conn.accept_bi().await {
        Ok(streams) => streams,
        Err(_) => return None,
    };
    let extra = conn.clone();
    let mut serving = tokio::spawn(serve(hub, send, recv, id));
    tokio::select! {
        r = &mut serving => r.unwrap_or(None),
        r = extra.accept_bi() => {
            serving.abort();
            match r {
                Ok(_) => Some((close::PROTOCOL_ERROR, "only one chat stream is allowed".to_owned())),
                Err(_) => None,
            }
        }
    }
}

async fn serve(
    hub: Arc<Hub>,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
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
    let (tx, rx) = outbox(CHAT_QUEUE_BYTES);
    if !hub.attach_chat(id, tx.clone()).await {
        return None;
    }
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
