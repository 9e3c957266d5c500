//! The chat voiced keeps, in memory only: what it saw, bounded in messages
//! and bytes (a server or its users cannot grow voiced's memory by
//! chatting), with each room's unbroken run of the room's chain, which is
//! what it may serve to members asking for history; and the history it
//! fetched from other members, shown above the live chat.

use std::collections::{HashMap, VecDeque};

use voice_proto::history::{self, Chain};
use voice_proto::pb::wire::{ChatMessage, HistoryLine};

/// Chat messages kept by default (config.toml `history_messages`): 5000.
pub const CHAT_HISTORY: usize = 5000;

/// Bytes of chat kept by default (config.toml `history_bytes`): 4 MiB,
/// counting each message's text, sender name and [`MESSAGE_OVERHEAD`]. The
/// oldest go first; a single message larger than this is shown to watchers
/// but not kept. Fetched history has a budget of the same size.
pub const CHAT_HISTORY_BYTES: usize = 4 << 20;

/// What a kept message costs beyond its text and sender name (its fixed
/// fields, key, chain and the queue's slot), in bytes: 160.
pub const MESSAGE_OVERHEAD: usize = 160;

/// A room's chat as this daemon saw it without a break: every message from
/// `first_seq` through `last_seq`, each chained to the one before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// The first message of the run.
    pub first_seq: u64,
    /// The last message seen.
    pub last_seq: u64,
    /// The room's chain after it.
    pub chain: Chain,
}

/// The kept chat, oldest first, within its message and byte budgets.
#[derive(Debug)]
pub struct ChatLog {
    max_messages: usize,
    max_bytes: usize,
    messages: VecDeque<ChatMessage>,
    bytes: usize,
    runs: HashMap<u32, Run>,
    /// Fetched history per room, in sequence order, with its bytes.
    fetched: HashMap<u32, (Vec<ChatMessage>, usize)>,
}

impl Default for ChatLog {
    fn default() -> Self {
        Self::with_limits(CHAT_HISTORY, CHAT_HISTORY_BYTES)
    }
}

fn cost(message: &ChatMessage) -> usize {
    message.text.len() + message.sender_name.len() + MESSAGE_OVERHEAD
}

impl ChatLog {
    /// A log keeping at most `max_messages` and `max_bytes`.
    pub fn with_limits(max_messages: usize, max_bytes: usize) -> Self {
        Self {
            max_messages: max_messages.max(1),
            max_bytes: max_bytes.max(1),
            messages: VecDeque::new(),
            bytes: 0,
            runs: HashMap::new(),
            fetched: HashMap::new(),
        }
    }

    /// Keeps a live `message`, dropping the oldest to stay within both
    /// budgets, and follows its room's chain.
    pub fn push(&mut self, mut message: ChatMessage) {
        message.history = false;
        self.follow(&message);
        let size = cost(&message);
        if size > self.max_bytes {
            tracing::debug!(bytes = size, "chat message too large to keep");
            // Not kept: the run cannot be served past this gap.
            self.runs.remove(&message.room);
            return;
        }
        self.bytes += size;
        self.messages.push_back(message);
        while self.messages.len() > self.max_messages || self.bytes > self.max_bytes {
            match self.messages.pop_front() {
                Some(old) => self.bytes -= cost(&old),
                None => break,
            }
        }
    }

    /// Extends the room's run when `message` follows its chain, else starts
    /// a new one at it (a message was missed, or the server restarted).
    fn follow(&mut self, message: &ChatMessage) {
        let Some(prev) = history::chain_from(&message.prev_chain) else {
            self.runs.remove(&message.room);
            return;
        };
        let chain = history::chain_next(&prev, &history::line(message));
        let run = self.runs.entry(message.room).or_insert(Run {
            first_seq: message.seq,
            last_seq: message.seq,
            chain,
        });
        if !(run.chain == prev && message.seq > run.last_seq) {
            run.first_seq = message.seq;
        }
        run.last_seq = message.seq;
        run.chain = chain;
    }

    /// The room's unbroken run, if any.
    pub fn run(&self, room: u32) -> Option<Run> {
        self.runs.get(&room).copied()
    }

    /// The first line of `room` this log can serve in a history through
    /// `last_seq`: every kept message from it on is unbroken through
    /// `last_seq`. `None` when the run does not reach `last_seq`.
    pub fn held_from(&self, room: u32, last_seq: u64) -> Option<u64> {
        let run = self.run(room)?;
        if run.last_seq < last_seq {
            return None;
        }
        self.messages
            .iter()
            .filter(|m| m.room == room && m.seq >= run.first_seq)
            .map(|m| m.seq)
            .next()
            .filter(|first| *first <= last_seq)
    }

    /// The lines of `room` from `first_seq` through `last_seq` with the
    /// chain before them, when this log holds all of them unbroken.
    pub fn lines(
        &self,
        room: u32,
        first_seq: u64,
        last_seq: u64,
    ) -> Option<(Chain, Vec<HistoryLine>)> {
        let run = self.run(room)?;
        if first_seq < run.first_seq || last_seq > run.last_seq || first_seq > last_seq {
            return None;
        }
        let picked: Vec<&ChatMessage> = self
            .messages
            .iter()
            .filter(|m| m.room == room && (first_seq..=last_seq).contains(&m.seq))
            .collect();
        let first = picked.first()?;
        let before = history::chain_from(&first.prev_chain)?;
        if first.seq != first_seq || picked.last()?.seq != last_seq {
            return None;
        }
        let mut chain = before;
        let mut lines = Vec::with_capacity(picked.len());
        for m in picked {
            if m.prev_chain != chain {
                return None;
            }
            let line = history::line(m);
            chain = history::chain_next(&chain, &line);
            lines.push(line);
        }
        Some((before, lines))
    }

    /// Keeps the history fetched for `room` (replacing an earlier fetch),
    /// within the byte budget: other rooms' fetched history goes first,
    /// then this one's oldest lines.
    pub fn set_fetched(&mut self, room: u32, mut messages: Vec<ChatMessage>) {
        self.fetched.remove(&room);
        let mut bytes: usize = messages.iter().map(cost).sum();
        while bytes > self.max_bytes && !messages.is_empty() {
            bytes -= cost(&messages.remove(0));
        }
        let mut others: usize = self.fetched.values().map(|(_, b)| *b).sum();
        while others + bytes > self.max_bytes {
            let Some(other) = self.fetched.keys().next().copied() else {
                break;
            };
            if let Some((_, b)) = self.fetched.remove(&other) {
                others -= b;
            }
        }
        self.fetched.insert(room, (messages, bytes));
    }

    /// The kept chat of `room` (every room when `None`), oldest first:
    /// fetched history (lines not also seen live) before the live chat.
    pub fn messages(&self, room: Option<u32>) -> Vec<ChatMessage> {
        let mut rooms: Vec<u32> = self
            .fetched
            .keys()
            .copied()
            .filter(|r| room.is_none_or(|want| want == *r))
            .collect();
        rooms.sort_unstable();
        let mut out = Vec::new();
        for r in rooms {
            let live_first = self
                .messages
                .iter()
                .filter(|m| m.room == r && m.seq != 0)
                .map(|m| m.seq)
                .min()
                .unwrap_or(u64::MAX);
            if let Some((lines, _)) = self.fetched.get(&r) {
                out.extend(lines.iter().filter(|m| m.seq < live_first).cloned());
            }
        }
        out.extend(
            self.messages
                .iter()
                .filter(|m| room.is_none_or(|want| want == m.room))
                .cloned(),
        );
        out
    }

    /// How many live messages are kept.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether no live message is kept.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The bytes of live chat kept, as the budget counts them.
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

    /// What a server sends: numbered and chained per room.
    struct Room {
        id: u32,
        seq: u64,
        chain: Chain,
    }

    impl Room {
        fn new(id: u32) -> Self {
            Self {
                id,
                seq: 100,
                chain: history::CHAIN_START,
            }
        }

        fn next(&mut self, text: &str) -> ChatMessage {
            self.seq += 1;
            let mut m = ChatMessage {
                id: self.seq,
                room: self.id,
                seq: self.seq,
                sender_name: "Ana".into(),
                text: text.into(),
                prev_chain: self.chain.to_vec(),
                ..ChatMessage::default()
            };
            self.chain = history::chain_next(&self.chain, &history::line(&m));
            m.id = self.seq;
            m
        }
    }

    #[test]
    fn big_messages_are_bounded_in_bytes() {
        let mut log = ChatLog::with_limits(1000, 1 << 20);
        // 1000 messages of 64 KiB would be 64 MiB.
        for id in 0..1000 {
            log.push(message(id, 64 * 1024));
            assert!(log.bytes() <= 1 << 20, "{}", log.bytes());
        }
        assert_eq!(log.len(), 15);
        assert_eq!(log.messages(None).last().map(|m| m.id), Some(999));
        // One message over the whole budget is not kept.
        log.push(message(1000, 1 << 20));
        assert_eq!(log.messages(None).last().map(|m| m.id), Some(999));
    }

    #[test]
    fn small_messages_are_bounded_in_count() {
        let mut log = ChatLog::with_limits(1000, 1 << 20);
        for id in 0..5000 {
            log.push(message(id, 10));
        }
        assert_eq!(log.len(), 1000);
        assert_eq!(log.messages(None).first().map(|m| m.id), Some(4000));
        assert_eq!(log.bytes(), 1000 * (13 + MESSAGE_OVERHEAD));
    }

    #[test]
    fn an_unbroken_run_is_served_and_a_gap_starts_a_new_one() {
        let mut room = Room::new(3);
        let mut log = ChatLog::default();
        for i in 0..10 {
            log.push(room.next(&format!("line {i}")));
        }
        assert_eq!(log.held_from(3, 110), Some(101));
        assert_eq!(log.held_from(3, 111), None, "not seen yet");
        let (before, lines) = log.lines(3, 101, 110).unwrap();
        assert_eq!(before, history::CHAIN_START);
        assert_eq!(lines.len(), 10);
        assert_eq!(history::fold(&before, &lines), room.chain);
        // Two messages missed: the run starts again after them.
        room.next("missed");
        room.next("missed too");
        log.push(room.next("back"));
        assert_eq!(log.held_from(3, 113), Some(113));
        assert!(log.lines(3, 101, 113).is_none());
        assert_eq!(log.lines(3, 113, 113).unwrap().1.len(), 1);
    }

    #[test]
    fn eviction_moves_the_start_of_what_is_held() {
        let mut room = Room::new(1);
        let mut log = ChatLog::with_limits(5, 1 << 20);
        for i in 0..8 {
            log.push(room.next(&format!("line {i}")));
        }
        assert_eq!(log.held_from(1, 108), Some(104));
        assert!(log.lines(1, 104, 108).is_some());
        assert!(log.lines(1, 103, 108).is_none());
    }

    #[test]
    fn fetched_history_goes_above_live_chat_once() {
        let mut room = Room::new(2);
        let earlier: Vec<ChatMessage> = (0..5)
            .map(|i| {
                let m = room.next(&format!("early {i}"));
                history::message(2, &history::line(&m))
            })
            .collect();
        let mut log = ChatLog::default();
        let live = room.next("live");
        log.push(live.clone());
        // The fetch overlaps what was seen live: shown once.
        let mut fetched = earlier.clone();
        fetched.push(history::message(2, &history::line(&live)));
        log.set_fetched(2, fetched);
        let shown = log.messages(Some(2));
        assert_eq!(shown.len(), 6);
        assert!(shown[..5].iter().all(|m| m.history));
        assert!(!shown[5].history);
        assert_eq!(shown[5].text, "live");
        assert!(log.messages(Some(9)).is_empty());
    }
}
