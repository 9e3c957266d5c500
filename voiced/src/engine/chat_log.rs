//! The chat voiced keeps for `ChatHistory`, bounded in messages and bytes:
//! a server (or its users) cannot grow voiced's memory by chatting.

use std::collections::VecDeque;

use voice_proto::pb::wire::ChatMessage;

/// Chat messages kept for `ChatHistory`: 1000.
pub const CHAT_HISTORY: usize = 1000;

/// Bytes of chat kept for `ChatHistory`: 1 MiB, counting each message's
/// text, sender name and [`MESSAGE_OVERHEAD`]. The oldest go first; a
/// single message larger than this is shown to watchers but not kept.
pub const CHAT_HISTORY_BYTES: usize = 1 << 20;

/// What a kept message costs beyond its text and sender name (its fixed
/// fields and the queue's slot), in bytes: 64.
pub const MESSAGE_OVERHEAD: usize = 64;

/// The kept chat, oldest first, within [`CHAT_HISTORY`] messages and
/// [`CHAT_HISTORY_BYTES`] bytes.
#[derive(Debug, Default)]
pub struct ChatLog {
    messages: VecDeque<ChatMessage>,
    bytes: usize,
}

fn cost(message: &ChatMessage) -> usize {
    message.text.len() + message.sender_name.len() + MESSAGE_OVERHEAD
}

impl ChatLog {
    /// Keeps `message`, dropping the oldest to stay within both budgets.
    pub fn push(&mut self, message: ChatMessage) {
        let size = cost(&message);
        if size > CHAT_HISTORY_BYTES {
            tracing::debug!(bytes = size, "chat message too large to keep");
            return;
        }
        self.bytes += size;
        self.messages.push_back(message);
        while self.messages.len() > CHAT_HISTORY || self.bytes > CHAT_HISTORY_BYTES {
            match self.messages.pop_front() {
                Some(old) => self.bytes -= cost(&old),
                None => break,
            }
        }
    }

    /// The kept messages, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &ChatMessage> + '_ {
        self.messages.iter()
    }

    /// How many messages are kept.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The bytes kept, as the budget counts them.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: u64, text_len: usize) -> ChatMessage {
        ChatMessage {
            id,
            sender_name: "Eve".into(),
            text: "x".repeat(text_len),
            ..ChatMessage::default()
        }
    }

    #[test]
    fn big_messages_are_bounded_in_bytes() {
        let mut log = ChatLog::default();
        // 1000 messages of 64 KiB would be 64 MiB.
        for id in 0..1000 {
            log.push(message(id, 64 * 1024));
            assert!(log.bytes() <= CHAT_HISTORY_BYTES, "{}", log.bytes());
        }
        assert_eq!(log.len(), 15);
        assert_eq!(log.iter().last().map(|m| m.id), Some(999));
        // One message over the whole budget is not kept.
        log.push(message(1000, CHAT_HISTORY_BYTES));
        assert_eq!(log.iter().last().map(|m| m.id), Some(999));
    }

    #[test]
    fn small_messages_are_bounded_in_count() {
        let mut log = ChatLog::default();
        for id in 0..5000 {
            log.push(message(id, 10));
        }
        assert_eq!(log.len(), CHAT_HISTORY);
        assert_eq!(log.iter().next().map(|m| m.id), Some(4000));
        assert_eq!(log.bytes(), CHAT_HISTORY * (13 + MESSAGE_OVERHEAD));
    }
}
