//! The chat of every room, in order, without duplicates (history and live
//! events overlap), bounded in memory.

use std::collections::BTreeSet;

use voice_proto::pb::wire::ChatMessage;

/// Messages kept in memory at most (older ones are dropped).
pub const MAX_MESSAGES: usize = 5000;

/// Bytes of chat kept in memory at most (older messages are dropped first;
/// a daemon talking to a hostile server passes on what it is sent).
pub const MAX_BYTES: usize = 4 << 20;

/// Bytes counted per message beyond its text and sender name.
const MESSAGE_OVERHEAD: usize = 64;

/// Chat messages of all rooms, ordered by (time, id).
#[derive(Clone, Debug, Default)]
pub struct ChatLog {
    messages: Vec<ChatMessage>,
    ids: BTreeSet<u64>,
    bytes: usize,
}

fn cost(message: &ChatMessage) -> usize {
    message.text.len() + message.sender_name.len() + MESSAGE_OVERHEAD
}

impl ChatLog {
    /// Adds a message unless it is already there (history and live events overlap).
    pub fn push(&mut self, message: ChatMessage) {
        if !self.ids.insert(message.id) {
            return;
        }
        let key = (message.time_ms, message.id);
        let at = self.messages.partition_point(|m| (m.time_ms, m.id) <= key);
        self.bytes += cost(&message);
        self.messages.insert(at, message);
        while self.messages.len() > MAX_MESSAGES || self.bytes > MAX_BYTES {
            let old = self.messages.remove(0);
            self.bytes -= cost(&old);
            self.ids.remove(&old.id);
        }
    }

    /// Bytes held (text, names and a fixed cost per message).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds many messages.
    pub fn extend(&mut self, messages: impl IntoIterator<Item = ChatMessage>) {
        for m in messages {
            self.push(m);
        }
    }

    /// The messages of one room, oldest first.
    pub fn in_room(&self, room: u32) -> impl DoubleEndedIterator<Item = &ChatMessage> + '_ {
        self.messages.iter().filter(move |m| m.room == room)
    }

    /// Every message.
    pub fn all(&self) -> &[ChatMessage] {
        &self.messages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: u64, text: String) -> ChatMessage {
        ChatMessage {
            id,
            time_ms: id,
            room: 0,
            sender: 1,
            sender_name: "x".into(),
            text,
        }
    }

    #[test]
    fn big_messages_are_bounded_in_bytes_not_only_in_count() {
        let mut log = ChatLog::default();
        for id in 0..100 {
            log.push(message(id, "y".repeat(256 * 1024)));
            assert!(log.bytes() <= MAX_BYTES, "{} bytes held", log.bytes());
        }
        // 4 MiB of 256 KiB messages: the 15 newest are kept.
        assert_eq!(log.all().len(), 15);
        assert_eq!(log.all().last().unwrap().id, 99);
        let many: Vec<_> = (1000..1000 + MAX_MESSAGES as u64 + 10)
            .map(|id| message(id, "hi".into()))
            .collect();
        log.extend(many);
        assert_eq!(log.all().len(), MAX_MESSAGES);
    }
}
