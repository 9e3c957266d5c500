//! The chat of every room, in order, without duplicates (history and live
//! events overlap), bounded in memory.

use std::collections::BTreeSet;

use voice_proto::pb::wire::ChatMessage;

/// Messages kept in memory at most (older ones are dropped).
pub const MAX_MESSAGES: usize = 5000;

/// Chat messages of all rooms, ordered by (time, id).
#[derive(Clone, Debug, Default)]
pub struct ChatLog {
    messages: Vec<ChatMessage>,
    ids: BTreeSet<u64>,
}

impl ChatLog {
    /// Adds a message unless it is already there (history and live events overlap).
    pub fn push(&mut self, message: ChatMessage) {
        if !self.ids.insert(message.id) {
            return;
        }
        let key = (message.time_ms, message.id);
        let at = self.messages.partition_point(|m| (m.time_ms, m.id) <= key);
        self.messages.insert(at, message);
        if self.messages.len() > MAX_MESSAGES {
            let old = self.messages.remove(0);
            self.ids.remove(&old.id);
        }
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
