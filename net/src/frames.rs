//! Length-prefixed protobuf envelopes on QUIC streams
//! ([`voice_proto::frame`] on quinn): a reader that never buffers more than
//! its current limit, and the writer of a client's envelope.

use std::marker::PhantomData;

use bytes::Bytes;
use voice_proto::frame::{self, Envelope, FrameDecoder, FrameError};
use voice_proto::pb::wire::{ClientMsg, client_msg};

/// Why a stream could not be read; `E` is the stream's own error (quinn's,
/// or that of the server's own QUIC loop).
#[derive(Debug, thiserror::Error)]
pub enum ReadError<E = quinn::ReadError> {
    /// The peer sent something invalid: the stream is out of step and the
    /// connection should be closed with a protocol error.
    #[error(transparent)]
    Frame(FrameError),
    /// The stream ended in the middle of a frame.
    #[error("the stream ended in the middle of a frame")]
    Truncated,
    /// The stream or the connection failed.
    #[error(transparent)]
    Stream(E),
}

impl<E> From<FrameError> for ReadError<E> {
    fn from(e: FrameError) -> Self {
        Self::Frame(e)
    }
}

impl From<quinn::ReadError> for ReadError {
    fn from(e: quinn::ReadError) -> Self {
        Self::Stream(e)
    }
}

/// The receive half of a stream that frames are read from.
pub trait ChunkRead {
    /// Why a read failed.
    type Error;
    /// The next bytes in order, at most `max`; `None` at the stream's end.
    fn read_chunk(
        &mut self,
        max: usize,
    ) -> impl Future<Output = Result<Option<Bytes>, Self::Error>> + Send;
}

impl ChunkRead for quinn::RecvStream {
    type Error = quinn::ReadError;

    async fn read_chunk(&mut self, max: usize) -> Result<Option<Bytes>, quinn::ReadError> {
        Ok(quinn::RecvStream::read_chunk(self, max, true)
            .await?
            .map(|chunk| chunk.bytes))
    }
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

/// Envelopes of type `M` from one receive stream `R`: `ClientMsg` on the
/// server, `ServerMsg` on a client.
#[derive(Debug)]
pub struct FrameReader<M, R = quinn::RecvStream> {
    recv: R,
    decoder: FrameDecoder,
    envelope: PhantomData<fn() -> M>,
}

impl<M: Envelope, R: ChunkRead> FrameReader<M, R> {
    /// Reads frames of at most `max` bytes (see the limits in
    /// [`voice_proto::frame`]: a server reads `PRE_AUTH_MAX_FRAME`, then
    /// `CLIENT_MAX_FRAME`; a client reads `SERVER_MAX_FRAME`).
    pub fn new(recv: R, max: usize) -> Self {
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
    pub async fn next_frame(&mut self) -> Result<Option<Bytes>, ReadError<R::Error>> {
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                return Ok(Some(frame));
            }
            // Never read past the current frame, so the buffer stays bounded.
            let wanted = self.decoder.wanted().max(1);
            match self
                .recv
                .read_chunk(wanted)
                .await
                .map_err(ReadError::Stream)?
            {
                Some(chunk) => self.decoder.push(&chunk),
                None if self.decoder.buffered() == 0 => return Ok(None),
                None => return Err(ReadError::Truncated),
            }
        }
    }

    /// The stream, once the frames before raw bytes are read (the reader
    /// never reads past the frame it returns, so nothing is lost).
    pub fn into_inner(self) -> R {
        self.recv
    }

    /// The next envelope; `None` when the peer finished the stream cleanly.
    /// An envelope without a known message is an error
    /// ([`FrameError::Unknown`]).
    pub async fn next(&mut self) -> Result<Option<M>, ReadError<R::Error>> {
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
