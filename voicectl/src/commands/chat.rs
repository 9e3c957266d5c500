//! Chat: `say` (and `chat send`), `chat [history]`, `chat --follow`. The
//! chat voiced kept includes a room's history fetched from its members
//! (marked, above its live chat).

use std::collections::HashSet;
use std::io::Write;

use serde_json::{Value, json};
use voice_proto::pb::control as c;
use voice_proto::pb::wire::ChatMessage;
use voiced_client::chat::MessageKey;

use super::{Client, Failure, Output, done, out};
use crate::render;

/// `voicectl say TEXT` and `voicectl chat send TEXT`: sends a chat message to my room.
pub async fn say(client: &mut Client, text: &str) -> Result<Output, Failure> {
    client
        .send_chat(c::SendChatRequest {
            text: text.to_owned(),
            room: String::new(),
        })
        .await?;
    Ok(done("sent"))
}

/// `voicectl chat [history]`: the chat of this session, of one room or
/// all, the last `limit` messages (0 = all).
pub async fn history(
    client: &mut Client,
    room: Option<&str>,
    limit: u32,
) -> Result<Output, Failure> {
    let h = fetch(client, room, limit).await?;
    Ok(out(
        render::chat_log_text(&h.messages),
        json!(h.messages.iter().map(render::chat_json).collect::<Vec<_>>()),
    ))
}

/// `voicectl chat --follow`: prints the history (of `room`, or all), then
/// every new chat message as it arrives, until the daemon ends the stream
/// or stdout closes. Prints as it goes (a JSON object a line with `json`),
/// so the returned output is empty.
pub async fn follow(
    client: &mut Client,
    json: bool,
    room: Option<&str>,
    limit: u32,
) -> Result<Output, Failure> {
    // Watch first so that no message falls between the history and the stream.
    let mut stream = client
        .watch(c::WatchRequest { levels: false })
        .await?
        .into_inner();
    let h = fetch(client, room, limit).await?;
    let mut seen = HashSet::new();
    // Prints the messages not seen yet (history lines between their markers
    // in text); false once stdout is closed.
    let mut print = |messages: Vec<ChatMessage>, then_live: bool| -> bool {
        let fresh: Vec<ChatMessage> = messages
            .into_iter()
            .filter(|m| seen.insert(MessageKey::of(m)))
            .collect();
        if fresh.is_empty() {
            return true;
        }
        let text = if json {
            fresh
                .iter()
                .map(|m| render::json_line(&render::chat_json(m)) + "\n")
                .collect()
        } else {
            let mut text = render::chat_log_text(&fresh);
            if then_live && fresh.last().is_some_and(|m| m.history) {
                text.push_str(voiced_client::history::EARLIER_END);
                text.push('\n');
            }
            text
        };
        let mut stdout = std::io::stdout().lock();
        write!(stdout, "{text}")
            .and_then(|()| stdout.flush())
            .is_ok()
    };
    if !print(h.messages, false) {
        return Ok(out(String::new(), Value::Null));
    }
    while let Some(e) = stream.message().await? {
        let open = match e.kind {
            Some(c::event::Kind::Chat(m)) => print(vec![m], false),
            // History fetched meanwhile (here or by voiced on its own).
            Some(c::event::Kind::History(h)) => {
                let room = h.room;
                let lines = h.messages.into_iter().map(|m| ChatMessage {
                    history: true,
                    room,
                    ..m
                });
                print(lines.collect(), true)
            }
            _ => true,
        };
        if !open {
            break;
        }
    }
    Ok(out(String::new(), Value::Null))
}

/// The chat voiced kept: of `room` (or all), the last `limit` (0 = all).
async fn fetch(
    client: &mut Client,
    room: Option<&str>,
    limit: u32,
) -> Result<c::ChatHistoryReply, Failure> {
    let request = c::ChatHistoryRequest {
        room: room.unwrap_or_default().to_owned(),
        limit,
    };
    Ok(client.chat_history(request).await?.into_inner())
}
