//! Length-prefixed frames on QUIC streams: a `u32` big-endian length, then
//! that many bytes of one protobuf envelope.
//!
//! The decoder checks the announced length against its limit before it
//! buffers anything, so a peer cannot make it reserve more than the limit;
//! reassembly appends each read once (no copy of the whole buffer per read).

use bytes::{Buf, Bytes, BytesMut};
use prost::Message;

use crate::pb::wire::{ClientMsg, ServerMsg};

/// Bytes of the length prefix.
pub const PREFIX_LEN: usize = 4;
/// Frame limit before authentication (a `ClientMsg::Authenticate` fits easily).
pub const PRE_AUTH_MAX_FRAME: usize = 4 * 1024;
/// Default limit for frames a client sends once authenticated.
pub const CLIENT_MAX_FRAME: usize = 64 * 1024;
/// Default limit for frames a server sends (full snapshots of large servers).
pub const SERVER_MAX_FRAME: usize = 16 * 1024 * 1024;

/// A frame that cannot be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The announced or actual length exceeds the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The payload is not a valid protobuf envelope.
    #[error("frame is not a valid message: {0}")]
    Malformed(String),
    /// The envelope has no content (unknown or missing variant).
    #[error("frame holds no known message")]
    Unknown,
}

/// Appends one frame holding `msg`; fails (writing nothing) above `max`.
pub fn encode<M: Message>(msg: &M, max: usize, buf: &mut BytesMut) -> Result<(), FrameError> {
    let len = msg.encoded_len();
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    buf.reserve(PREFIX_LEN + len);
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    // BytesMut grows as needed, so encoding cannot run out of space.
    msg.encode(buf)
        .map_err(|e| FrameError::Malformed(e.to_string()))
}

/// One frame as bytes, ready to write.
pub fn encode_to_bytes<M: Message>(msg: &M, max: usize) -> Result<Bytes, FrameError> {
    let mut buf = BytesMut::new();
    encode(msg, max, &mut buf)?;
    Ok(buf.freeze())
}

/// Splits a byte stream into frames.
#[derive(Debug)]
pub struct FrameDecoder {
    max: usize,
    buf: BytesMut,
}

impl FrameDecoder {
    /// A decoder that refuses frames longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            buf: BytesMut::new(),
        }
    }

    /// Changes the limit (for example after authentication).
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// The current limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Bytes held but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// How many more bytes may be read without exceeding the current frame;
    /// a reader can read at most this much so the buffer stays bounded.
    pub fn wanted(&self) -> usize {
        if self.buf.len() < PREFIX_LEN {
            return PREFIX_LEN - self.buf.len();
        }
        let len = self.announced();
        (PREFIX_LEN + len.min(self.max)).saturating_sub(self.buf.len())
    }

    fn announced(&self) -> usize {
        u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize
    }

    /// Adds bytes read from the stream. Check [`FrameDecoder::next_frame`] after.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if one is buffered. An error is final: the
    /// stream is out of step and must be closed.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        if self.buf.len() < PREFIX_LEN {
            return Ok(None);
        }
        let len = self.announced();
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        if self.buf.len() < PREFIX_LEN + len {
            // Reserve what this frame still needs, never more than the limit.
            self.buf.reserve(PREFIX_LEN + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(PREFIX_LEN);
        Ok(Some(self.buf.split_to(len).freeze()))
    }
}

/// Decodes one envelope; `is_empty` tells whether it carried no known variant.
pub fn decode_envelope<M: Message + Default>(
    frame: &[u8],
    is_empty: impl FnOnce(&M) -> bool,
) -> Result<M, FrameError> {
    let msg = M::decode(frame).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if is_empty(&msg) {
        return Err(FrameError::Unknown);
    }
    Ok(msg)
}

/// A protobuf envelope of the wire protocol: one `oneof` that must be set.
pub trait Envelope: Message + Default {
    /// Whether the envelope carries no known message (missing or unknown
    /// variant), which a reader refuses.
    fn is_empty(&self) -> bool;
}

impl Envelope for ClientMsg {
    fn is_empty(&self) -> bool {
        self.msg.is_none()
    }
}

impl Envelope for ServerMsg {
    fn is_empty(&self) -> bool {
        self.msg.is_none()
    }
}

/// Decodes one [`Envelope`], refusing an empty one ([`FrameError::Unknown`]).
pub fn decode<M: Envelope>(frame: &[u8]) -> Result<M, FrameError> {
    decode_envelope(frame, M::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::wire::{Ping, client_msg};

    #[test]
    fn envelopes_decode_and_empty_ones_are_refused() {
        let msg = ClientMsg {
            msg: Some(client_msg::Msg::Ping(Ping { timestamp_us: 7 })),
        };
        let bytes = msg.encode_to_vec();
        assert_eq!(decode::<ClientMsg>(&bytes), Ok(msg));
        assert_eq!(decode::<ServerMsg>(&[]), Err(FrameError::Unknown));
        assert!(matches!(
            decode::<ClientMsg>(b"\xff\xff"),
            Err(FrameError::Malformed(_))
        ));
    }
}
