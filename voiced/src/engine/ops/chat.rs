//! Chat: sending, and this session's history.

use voice_proto::pb::wire::{self, ChatMessage, client_msg};

use crate::engine::{Engine, resolve};
use crate::error::Error;

impl Engine {
    /// Sends a chat message to a room (empty = mine).
    pub async fn send_chat(&self, text: &str, room: &str) -> Result<(), Error> {
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            return Err(Error::Invalid("empty message".into()));
        }
        let room = self.with_state(|s, _| {
            if room.trim().is_empty() {
                Ok(0)
            } else {
                resolve::room(s, room)
            }
        })?;
        let link = self.link()?;
        let chars = text.chars().count();
        if link.max_message_len > 0 && chars > link.max_message_len as usize {
            return Err(Error::Invalid(format!(
                "message too long: {chars} characters, the server allows {}",
                link.max_message_len
            )));
        }
        let id = link.next_id();
        link.send_chat(client_msg::Msg::Chat(wire::ChatSend {
            client_id: id,
            room,
            text: text.to_owned(),
        }))
        .await
        .map_err(|e| Error::Failed(format!("connection lost: {e}")))
    }

    /// Chat of this session, oldest first, fetched history before the live
    /// chat (room empty = all; limit 0 = all).
    pub fn chat_history(&self, room: &str, limit: usize) -> Result<Vec<ChatMessage>, Error> {
        let room = if room.trim().is_empty() {
            None
        } else {
            Some(self.with_state(|s, _| resolve::room(s, room))?)
        };
        let all: Vec<ChatMessage> = self.lock().chat.messages(room);
        let skip = if limit == 0 {
            0
        } else {
            all.len().saturating_sub(limit)
        };
        Ok(all.into_iter().skip(skip).collect())
    }
}
