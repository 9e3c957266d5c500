//! The chat of every room, in order, without duplicates (the kept chat, live
//! events and fetched history overlap), bounded in memory. A room's history
//! lines (taken from a snapshot its members served) come first, in sequence
//! order; its live chat follows in time order.

use std::collections::BTreeSet;

use voice_proto::pb::wire::ChatMessage;

/// Messages kept in memory at most (older ones are dropped).
pub const MAX_MESSAGES: usize = 5000;

/// Bytes of chat kept in memory at most (older messages are dropped first;
/// a daemon talking to a hostile server passes on what it is sent).
pub const MAX_BYTES: usize = 4 << 20;

/// Bytes counted per message beyond its text and sender name.
const MESSAGE_OVERHEAD: usize = 64;

/// Whether `message` was sent by the server itself (its operator, or a bot
/// through the admin API's `SendChat`) rather than by a member: such
/// messages carry sender 0, which no member's session has, and no key. A
/// front end marks them so that a bot named like a member cannot pass for
/// one.
pub fn from_server(message: &ChatMessage) -> bool {
    message.sender == 0
}

/// The tag every front end puts after the name of a message
/// [`from_server`]: `Greeter (server): …`.
pub const SERVER_TAG: &str = "server";

/// What the tag means, for a tooltip.
pub const SERVER_TAG_HINT: &str = "Sent by the server's operator or a bot, not by a member";

/// What makes a chat message the same message wherever it came from: its
/// room's sequence number when it has one (history lines carry no server
/// id), else its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageKey {
    /// `(room, seq)` of a message with a room sequence number.
    Seq(u32, u64),
    /// The id of a message without one (an older server's).
    Id(u64),
}

impl MessageKey {
    /// The key of `message`.
    pub fn of(message: &ChatMessage) -> Self {
        if message.seq != 0 {
            Self::Seq(message.room, message.seq)
        } else {
            Self::Id(message.id)
        }
    }
}

/// Chat messages of all rooms: history lines first (by room sequence), then
/// live ones (by time, then id).
#[derive(Clone, Debug, Default)]
pub struct ChatLog {
    messages: Vec<ChatMessage>,
    /// Keys of the messages held.
    keys: BTreeSet<MessageKey>,
    /// Ids of the live messages held (a message repeated without its
    /// sequence number is still the same message).
    ids: BTreeSet<u64>,
    bytes: usize,
}

fn cost(message: &ChatMessage) -> usize {
    message.text.len() + message.sender_name.len() + MESSAGE_OVERHEAD
}

/// Where a message goes: history before live; history by sequence, live by
/// time and id.
fn order(message: &ChatMessage) -> (bool, u64, u64) {
    if message.history {
        (false, message.seq, message.time_ms)
    } else {
        (true, message.time_ms, message.id)
    }
}

impl ChatLog {
    /// Adds a message unless it is already there (by [`MessageKey`], or by
    /// id for live messages): the kept chat, live events and history overlap.
    pub fn push(&mut self, message: ChatMessage) {
        let key = MessageKey::of(&message);
        let live_id = (!message.history).then_some(message.id);
        if self.keys.contains(&key) || live_id.is_some_and(|id| self.ids.contains(&id)) {
            return;
        }
        self.keys.insert(key);
        if let Some(id) = live_id {
            self.ids.insert(id);
        }
        let at = order(&message);
        let at = self.messages.partition_point(|m| order(m) <= at);
        self.bytes += cost(&message);
        self.messages.insert(at, message);
        while self.messages.len() > MAX_MESSAGES || self.bytes > MAX_BYTES {
            let old = self.messages.remove(0);
            self.bytes -= cost(&old);
            self.keys.remove(&MessageKey::of(&old));
            if !old.history {
                self.ids.remove(&old.id);
            }
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

    /// The messages of one room, oldest first: its history lines, then its
    /// live chat.
    pub fn in_room(&self, room: u32) -> impl DoubleEndedIterator<Item = &ChatMessage> + '_ {
        self.messages.iter().filter(move |m| m.room == room)
    }

    /// Whether some of `room`'s chat came from a history snapshot.
    pub fn has_history(&self, room: u32) -> bool {
        self.in_room(room).any(|m| m.history)
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
            ..ChatMessage::default()
        }
    }

    /// A message of `room` with its room sequence number, from history or live.
    fn numbered(room: u32, seq: u64, history: bool, text: &str) -> ChatMessage {
        ChatMessage {
            // History lines carry no server id.
            id: if history { 0 } else { 1000 + seq },
            time_ms: 1_000_000 + seq * 1000,
            room,
            seq,
            history,
            sender_name: "x".into(),
            text: text.into(),
            ..ChatMessage::default()
        }
    }

    fn texts(log: &ChatLog, room: u32) -> Vec<&str> {
        log.in_room(room).map(|m| m.text.as_str()).collect()
    }

    #[test]
    fn only_sender_zero_is_the_server() {
        let bot = ChatMessage {
            sender: 0,
            sender_name: "Greeter".into(),
            text: "Welcome, ada!".into(),
            ..ChatMessage::default()
        };
        assert!(from_server(&bot));
        // A member named like a bot, with a session and a key, is a member.
        let member = ChatMessage {
            sender: 7,
            sender_key: vec![7; 32],
            ..bot.clone()
        };
        assert!(!from_server(&member));
        // A history line keeps its sender: a bot's stays the server's.
        let old = ChatMessage {
            history: true,
            seq: 3,
            ..bot
        };
        assert!(from_server(&old));
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

    #[test]
    fn history_goes_above_live_chat_by_sequence_without_duplicates() {
        let mut log = ChatLog::default();
        // Live chat seen since joining, and another room's.
        log.push(numbered(3, 11, false, "live 11"));
        log.push(numbered(3, 12, false, "live 12"));
        log.push(numbered(4, 2, false, "elsewhere"));
        // The history arrives out of order, overlapping what was seen live,
        // and twice (the call's answer and the event).
        let history: Vec<_> = [9, 7, 11, 8, 10]
            .into_iter()
            .map(|seq| numbered(3, seq, true, &format!("old {seq}")))
            .collect();
        log.extend(history.clone());
        log.extend(history);
        assert_eq!(
            texts(&log, 3),
            ["old 7", "old 8", "old 9", "old 10", "live 11", "live 12"]
        );
        assert!(log.has_history(3));
        assert!(!log.has_history(4));
        // The live copy of a message stays live; a repeat of a live event
        // (same id) is dropped too.
        assert!(log.in_room(3).any(|m| m.seq == 11 && !m.history));
        log.push(numbered(3, 12, false, "live 12 again"));
        assert_eq!(log.in_room(3).count(), 6);
        // Another room's sequence numbers are its own.
        log.push(numbered(4, 7, true, "elsewhere old 7"));
        assert_eq!(texts(&log, 4), ["elsewhere old 7", "elsewhere"]);
    }

    #[test]
    fn messages_without_a_sequence_are_told_apart_by_id() {
        let mut log = ChatLog::default();
        log.push(message(1, "a".into()));
        log.push(message(1, "a again".into()));
        log.push(message(2, "b".into()));
        assert_eq!(texts(&log, 0), ["a", "b"]);
        // Old history lines are dropped first when the log is full.
        let mut log = ChatLog::default();
        log.push(numbered(0, 1, true, "oldest"));
        log.extend((0..MAX_MESSAGES as u64).map(|id| message(5000 + id, "hi".into())));
        assert!(!log.has_history(0));
        assert_eq!(log.all().len(), MAX_MESSAGES);
    }
}
