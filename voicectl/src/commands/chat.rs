//! Chat: `say` (and `chat send`), `chat [history]`, `chat --follow`.

use std::collections::HashSet;
use std::io::Write;

use serde_json::{Value, json};
use voice_proto::pb::control as c;
use voice_proto::pb::wire::ChatMessage;

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
    let text: String = h
        .messages
        .iter()
        .map(|m| render::chat_text(m) + "\n")
        .collect();
    Ok(out(
        text,
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
    let print = |m: &ChatMessage| -> bool {
        let line = if json {
            render::json_line(&render::chat_json(m))
        } else {
            render::chat_text(m)
        };
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .is_ok()
    };
    for m in &h.messages {
        seen.insert(m.id);
        if !print(m) {
            return Ok(out(String::new(), Value::Null));
        }
    }
    while let Some(e) = stream.message().await? {
        if let Some(c::event::Kind::Chat(m)) = e.kind
            && seen.insert(m.id)
            && !print(&m)
        {
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
