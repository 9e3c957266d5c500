//! Room history from peers: the chain the server threads through a room's
//! chat, and the canonical `RoomHistory` snapshot members serve over
//! BitTorrent (docs/protocol.md, "Room history").
//!
//! The server stamps every chat message with the room's chain before it
//! (`prev_chain`); chain(n) is a BLAKE3 derived-key hash of chain(n-1) and
//! the message's `HistoryLine` encoding. A member knows its run of a room's
//! chat is unbroken while each message's `prev_chain` is the chain after the
//! one before; an asker checks a snapshot by folding it to the chain the
//! server gives it, so no member can add, drop, change or reorder a line.

use prost::Message;

use crate::pb::wire::{ChatMessage, HistoryLine, RoomHistory};

/// The `RoomHistory.version` this build writes and reads.
pub const VERSION: u32 = 1;

/// The BLAKE3 derive-key context of the chat chain.
pub const CHAIN_CONTEXT: &str = "voice/1 room chat chain";

/// A room's chat chain value.
pub type Chain = [u8; 32];

/// The piece length of a snapshot's torrent: 16 KiB, so that members
/// serving the same bytes make the same info dictionary and even a small
/// history spreads over several of them.
pub const PIECE_LENGTH: usize = 16 << 10;

/// The chain before a room's first message since the server started.
pub const CHAIN_START: Chain = [0; 32];

/// The line a chat message is hashed and kept as.
pub fn line(message: &ChatMessage) -> HistoryLine {
    HistoryLine {
        seq: message.seq,
        time_ms: message.time_ms,
        sender: message.sender,
        sender_key: message.sender_key.clone(),
        sender_name: message.sender_name.clone(),
        text: message.text.clone(),
    }
}

/// A line shown as a chat message of `room`, marked as history.
pub fn message(room: u32, line: &HistoryLine) -> ChatMessage {
    ChatMessage {
        id: 0,
        time_ms: line.time_ms,
        room,
        sender: line.sender,
        sender_name: line.sender_name.clone(),
        text: line.text.clone(),
        seq: line.seq,
        sender_key: line.sender_key.clone(),
        prev_chain: Vec::new(),
        history: true,
    }
}

/// The chain after `line`, given the chain before it.
pub fn chain_next(prev: &Chain, line: &HistoryLine) -> Chain {
    let mut hasher = blake3::Hasher::new_derive_key(CHAIN_CONTEXT);
    hasher.update(prev);
    hasher.update(&line.encode_to_vec());
    *hasher.finalize().as_bytes()
}

/// The chain after every line, from `before`.
pub fn fold<'a>(before: &Chain, lines: impl IntoIterator<Item = &'a HistoryLine>) -> Chain {
    lines
        .into_iter()
        .fold(*before, |chain, line| chain_next(&chain, line))
}

/// A chain value received from a peer; `None` unless exactly 32 bytes.
pub fn chain_from(bytes: &[u8]) -> Option<Chain> {
    bytes.try_into().ok()
}

/// The canonical bytes of a snapshot (prost writes fields in number order
/// and repeated fields in the order given; `RoomHistory` has no maps).
pub fn encode(history: &RoomHistory) -> Vec<u8> {
    history.encode_to_vec()
}

/// The file name a snapshot is seeded under: the same for every member
/// serving the same range, so their info dictionaries are identical.
pub fn file_name(room: u32, first_seq: u64, last_seq: u64) -> String {
    format!("room-{room}-history-{first_seq}-{last_seq}.pb")
}

/// Why a snapshot was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// Larger than the asker accepts.
    #[error("the history snapshot has {0} bytes, more than the {1} accepted")]
    TooLarge(usize, usize),
    /// Not a `RoomHistory`.
    #[error("the history snapshot does not decode: {0}")]
    Decode(String),
    /// Decodes, but is not the one canonical encoding.
    #[error("the history snapshot is not in its canonical encoding")]
    NotCanonical,
    /// Another layout version.
    #[error("the history snapshot has version {0}; this build reads version {VERSION}")]
    Version(u32),
    /// Another room or range than settled.
    #[error("the history snapshot covers {0}, not the settled {1}")]
    Range(String, String),
    /// Lines out of order or missing.
    #[error("the history snapshot's lines are not in sequence order: {0}")]
    Order(String),
    /// The lines do not fold to the server's chain.
    #[error("the history snapshot does not match the server's chain of the room's chat")]
    Chain,
    /// Files unsorted or from another room.
    #[error("the history snapshot's files are not the room's, sorted by id")]
    Files,
}

/// Decodes a snapshot and checks it is the canonical history of `room`
/// from `first_seq` through `last_seq` whose chain ends at `chain`.
pub fn verify(
    bytes: &[u8],
    max_len: usize,
    room: u32,
    first_seq: u64,
    last_seq: u64,
    chain: &Chain,
) -> Result<RoomHistory, HistoryError> {
    if bytes.len() > max_len {
        return Err(HistoryError::TooLarge(bytes.len(), max_len));
    }
    let history = RoomHistory::decode(bytes).map_err(|e| HistoryError::Decode(e.to_string()))?;
    if encode(&history) != bytes {
        return Err(HistoryError::NotCanonical);
    }
    if history.version != VERSION {
        return Err(HistoryError::Version(history.version));
    }
    let got = format!(
        "room {} lines {}..={}",
        history.room, history.first_seq, history.last_seq
    );
    let want = format!("room {room} lines {first_seq}..={last_seq}");
    if history.room != room || history.first_seq != first_seq || history.last_seq != last_seq {
        return Err(HistoryError::Range(got, want));
    }
    let (Some(first), Some(last)) = (history.lines.first(), history.lines.last()) else {
        return Err(HistoryError::Order("it holds no line".into()));
    };
    if first.seq != first_seq || last.seq != last_seq {
        return Err(HistoryError::Range(
            format!("room {room} lines {}..={}", first.seq, last.seq),
            want,
        ));
    }
    if let Some(pair) = history.lines.windows(2).find(|w| w[1].seq <= w[0].seq) {
        return Err(HistoryError::Order(format!(
            "line {} follows line {}",
            pair[1].seq, pair[0].seq
        )));
    }
    let before = chain_from(&history.chain_before).ok_or(HistoryError::Chain)?;
    if fold(&before, &history.lines) != *chain {
        return Err(HistoryError::Chain);
    }
    if history.files.iter().any(|f| f.room != room)
        || history.files.windows(2).any(|w| w[1].id <= w[0].id)
    {
        return Err(HistoryError::Files);
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::wire::SharedFile;

    fn lines(n: u64) -> Vec<HistoryLine> {
        (1..=n)
            .map(|seq| HistoryLine {
                seq,
                time_ms: 1_000 + seq,
                sender: 2,
                sender_key: vec![7; 32],
                sender_name: "Ana".into(),
                text: format!("line {seq}"),
            })
            .collect()
    }

    fn snapshot(lines: Vec<HistoryLine>) -> (Vec<u8>, Chain) {
        let end = fold(&CHAIN_START, &lines);
        let history = RoomHistory {
            version: VERSION,
            room: 3,
            first_seq: lines[0].seq,
            last_seq: lines[lines.len() - 1].seq,
            chain_before: CHAIN_START.to_vec(),
            lines,
            files: vec![SharedFile {
                id: 4,
                room: 3,
                name: "a.txt".into(),
                ..SharedFile::default()
            }],
        };
        (encode(&history), end)
    }

    #[test]
    fn a_snapshot_checks_out_against_its_chain() {
        let (bytes, end) = snapshot(lines(20));
        let history = verify(&bytes, 1 << 20, 3, 1, 20, &end).unwrap();
        assert_eq!(history.lines.len(), 20);
        // Same lines, same bytes.
        assert_eq!(snapshot(lines(20)).0, bytes);
    }

    #[test]
    fn a_changed_line_breaks_the_chain() {
        let (_, end) = snapshot(lines(20));
        let mut forged = lines(20);
        forged[7].text = "line 8, edited".into();
        let (bytes, _) = snapshot(forged);
        assert_eq!(
            verify(&bytes, 1 << 20, 3, 1, 20, &end).unwrap_err(),
            HistoryError::Chain
        );
        let mut dropped = lines(20);
        dropped.remove(7);
        let (bytes, _) = snapshot(dropped);
        assert_eq!(
            verify(&bytes, 1 << 20, 3, 1, 20, &end).unwrap_err(),
            HistoryError::Chain
        );
    }

    #[test]
    fn wrong_ranges_sizes_and_encodings_are_refused() {
        let (bytes, end) = snapshot(lines(20));
        assert!(matches!(
            verify(&bytes, 1 << 20, 3, 2, 20, &end),
            Err(HistoryError::Range(..))
        ));
        assert!(matches!(
            verify(&bytes, 1 << 20, 4, 1, 20, &end),
            Err(HistoryError::Range(..))
        ));
        assert!(matches!(
            verify(&bytes, 10, 3, 1, 20, &end),
            Err(HistoryError::TooLarge(..))
        ));
        // A field written twice decodes to the same message but is not
        // the canonical encoding.
        let mut doubled = bytes.clone();
        doubled.extend_from_slice(&[0x08, 0x01]);
        assert_eq!(
            verify(&doubled, 1 << 20, 3, 1, 20, &end).unwrap_err(),
            HistoryError::NotCanonical
        );
        assert!(matches!(
            verify(&[0xff, 0xff], 1 << 20, 3, 1, 20, &end),
            Err(HistoryError::Decode(_))
        ));
    }

    #[test]
    fn the_chain_follows_prev_chain() {
        let lines = lines(3);
        let after_one = chain_next(&CHAIN_START, &lines[0]);
        assert_ne!(after_one, CHAIN_START);
        assert_eq!(fold(&CHAIN_START, &lines[..1]), after_one);
        assert_eq!(fold(&after_one, &lines[1..]), fold(&CHAIN_START, &lines));
    }
}
