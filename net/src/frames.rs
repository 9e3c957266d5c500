//! Length-prefixed protobuf envelopes on QUIC streams
//! ([`voice_proto::frame`] on quinn): a reader that never buffers more than
//! its current limit, and the writer of a client's envelope.

use std::marker::PhantomData;

use bytes::Bytes;
use voice_proto::frame::{self, Envelope, FrameDecoder, FrameError};
use voice_proto::pb::wire::{ClientMsg, client_msg};

/// Why a stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The peer sent something invalid: the stream is out of step and the
    /// connection should be closed with a protocol error.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The stream ended in the middle of a frame.
    #[error("the stream ended in the middle of a frame")]
    Truncated,
    /// The stream or the connection failed.
    #[error(transparent)]
    Stream(#[from] quinn::ReadError),
}

/// Why an envelope could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The envelope exceeds the frame limit.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The stream or the connection failed.
    #[error(transparent)]
    Stream(#[from] quinn::WriteError),
}

/// Envelopes of type `M` from one receive stream: `ClientMsg` on the
/// server, `ServerMsg` on a client.
#[derive(Debug)]
pub struct FrameReader<M> {
    recv: quinn::RecvStream,
    decoder: FrameDecoder,
    envelope: PhantomData<fn() -> M>,
}

impl<M: Envelope> FrameReader<M> {
    /// Reads frames of at most `max` bytes (see the limits in
    /// [`voice_proto::frame`]: a server reads `PRE_AUTH_MAX_FRAME`, then
    /// `CLIENT_MAX_FRAME`; a client reads `SERVER_MAX_FRAME`).
    pub fn new(recv: quinn::RecvStream, max: usize) -> Self {
        Self {
            recv,
            decoder: FrameDecoder::new(max),
            envelope: PhantomData,
        }
    }

    /// Changes the limit (after authentication).
    pub fn set_max(&mut self, max: usize) {
        self.decoder.set_max(max);
    }

    /// The next frame's bytes, undecoded; `None` when the peer finished the
    /// stream cleanly (between frames).
    pub async fn next_frame(&mut self) -> Result<Option<Bytes>, ReadError> {
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                return Ok(Some(frame));
            }
            // Never read past the current frame, so the buffer stays bounded.
            let wanted = self.decoder.wanted().max(1);
            match self.recv.read_chunk(wanted, true).await? {
                Some(chunk) => self.decoder.push(&chunk.bytes),
                None if self.decoder.buffered() == 0 => return Ok(None),
                None => return Err(ReadError::Truncated),
            }
        }
    }

    /// The stream, once the frames before raw bytes are read (the reader
    /// never reads past the frame it returns, so nothing is lost).
    pub fn into_inner(self) -> quinn::RecvStream {
        self.recv
    }

    /// The next envelope; `None` when the peer finished the stream cleanly.
    /// An envelope without a known message is an error
    /// ([`FrameError::Unknown`]).
    pub async fn next(&mut self) -> Result<Option<M>, ReadError> {
        match self.next_frame().await? {
            Some(bytes) => Ok(Some(frame::decode(&bytes)?)),
            None => Ok(None),
        }
    }
}

/// Writes one client envelope holding `msg` (at most
/// [`frame::CLIENT_MAX_FRAME`] bytes, what a server accepts after login).
pub async fn write(send: &mut quinn::SendStream, msg: client_msg::Msg) -> Result<(), WriteError> {
    let bytes = frame::encode_to_bytes(&ClientMsg { msg: Some(msg) }, frame::CLIENT_MAX_FRAME)?;
    send.write_all(&bytes).await?;
    Ok(())
}
