//! The join of `crate::naive`, read from quinn-proto's streams: the first
//! bidirectional stream carries the room (4 bytes, big-endian, then the
//! end of the stream), and is answered with the speaker id.

use std::time::Instant;

use quinn_proto::{Connection, Dir, ReadError, StreamId, VarInt};

use crate::naive::JOIN_LEN;

/// Where a connection is in its join.
#[derive(Debug)]
pub enum Join {
    /// No room yet: the join stream (once opened) and its bytes so far,
    /// never more than [`JOIN_LEN`] + 1.
    Waiting {
        /// The first bidirectional stream the peer opened.
        stream: Option<StreamId>,
        /// What it has sent on it.
        bytes: Vec<u8>,
    },
    /// In a room, answered.
    Joined,
    /// Refused (the connection is closing): nothing more is read.
    Refused,
}

/// What reading the join stream gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do yet.
    Pending,
    /// The peer asked for this room and has been answered.
    Joined(u32),
    /// The peer broke the protocol; the connection is being closed.
    Refused,
}

impl Join {
    /// A connection that has not asked for a room.
    pub fn new() -> Self {
        Self::Waiting {
            stream: None,
            bytes: Vec::new(),
        }
    }

    /// Accepts the streams the peer opened and reads the join; when it is
    /// complete, answers with `speaker`. Streams after the first are
    /// stopped: one join per connection, nothing else is read.
    pub fn advance(&mut self, conn: &mut Connection, speaker: u32, now: Instant) -> Step {
        while let Some(id) = conn.streams().accept(Dir::Bi) {
            match self {
                Self::Waiting {
                    stream: s @ None, ..
                } => *s = Some(id),
                _ => {
                    let _ = conn.recv_stream(id).stop(VarInt::from_u32(0));
                    let _ = conn.send_stream(id).reset(VarInt::from_u32(0));
                }
            }
        }
        let Self::Waiting {
            stream: Some(id),
            bytes,
        } = self
        else {
            return Step::Pending;
        };
        let id = *id;
        let Some(finished) = read(conn, id, bytes) else {
            return self.refuse(conn, now);
        };
        if !finished {
            return Step::Pending;
        }
        let Ok(room) = <[u8; JOIN_LEN]>::try_from(bytes.as_slice()) else {
            return self.refuse(conn, now);
        };
        let mut send = conn.send_stream(id);
        match send.write(&speaker.to_be_bytes()) {
            Ok(JOIN_LEN) if send.finish().is_ok() => {
                *self = Self::Joined;
                Step::Joined(u32::from_be_bytes(room))
            }
            // The answer fits any stream window; anything else is a peer
            // that stopped the stream.
            _ => self.refuse(conn, now),
        }
    }

    /// Closes the connection as the naive relay does a bad join.
    fn refuse(&mut self, conn: &mut Connection, now: Instant) -> Step {
        *self = Self::Refused;
        conn.close(
            now,
            VarInt::from_u32(1),
            bytes::Bytes::from_static(b"the join request is a 4-byte room number"),
        );
        Step::Refused
    }
}

/// Reads what `id` holds into `bytes` (at most [`JOIN_LEN`] + 1 in all): `Some(true)` at the end of the
/// stream, `Some(false)` if more may come, `None` if the peer sent more than
/// a join or reset the stream.
fn read(conn: &mut Connection, id: StreamId, bytes: &mut Vec<u8>) -> Option<bool> {
    let mut stream = conn.recv_stream(id);
    let mut chunks = stream.read(true).ok()?;
    let outcome = loop {
        match chunks.next(JOIN_LEN + 1 - bytes.len()) {
            Ok(Some(chunk)) => {
                bytes.extend_from_slice(&chunk.bytes);
                if bytes.len() > JOIN_LEN {
                    break None;
                }
            }
            Ok(None) => break Some(true),
            Err(ReadError::Blocked) => break Some(false),
            Err(ReadError::Reset(_)) => break None,
        }
    };
    // Whether to send flow control credit now: the loop polls every
    // touched connection for transmits anyway.
    let _ = chunks.finalize();
    outcome
}
