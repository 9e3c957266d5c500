//! Reading length-prefixed `ClientMsg` frames from a QUIC stream, never
//! buffering more than the current frame limit.

use voice_proto::frame::{FrameDecoder, FrameError, decode_envelope};
use voice_proto::pb::wire::ClientMsg;

/// Why a stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The peer sent something invalid.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The stream ended in the middle of a frame.
    #[error("the stream ended in the middle of a frame")]
    Truncated,
    /// The stream or connection failed.
    #[error(transparent)]
    Stream(#[from] quinn::ReadError),
}

/// Frames from one receive stream.
#[derive(Debug)]
pub struct FrameReader {
    recv: quinn::RecvStream,
    decoder: FrameDecoder,
}

impl FrameReader {
    /// Reads frames of at most `max` bytes.
    pub fn new(recv: quinn::RecvStream, max: usize) -> Self {
        Self {
            recv,
            decoder: FrameDecoder::new(max),
        }
    }

    /// Changes the limit (after authentication).
    pub fn set_max(&mut self, max: usize) {
        self.decoder.set_max(max);
    }

    /// The next message; `None` when the peer finished the stream cleanly.
    pub async fn next(&mut self) -> Result<Option<ClientMsg>, ReadError> {
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                let msg = decode_envelope(&frame, |m: &ClientMsg| m.msg.is_none())?;
                return Ok(Some(msg));
            }
            let wanted = self.decoder.wanted().max(1);
            match self.recv.read_chunk(wanted, true).await? {
                Some(chunk) => self.decoder.push(&chunk.bytes),
                None if self.decoder.buffered() == 0 => return Ok(None),
                None => return Err(ReadError::Truncated),
            }
        }
    }
}
