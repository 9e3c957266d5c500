//! Frames on QUIC streams ([`voice_net::frames`]) with the daemon's error:
//! write one envelope, read the next.

use voice_proto::frame::{self, FrameError};
use voice_proto::pb::wire::{ServerMsg, client_msg};

/// A stream failed or carried garbage.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading failed.
    #[error("read: {0}")]
    Read(#[from] quinn::ReadError),
    /// Writing failed.
    #[error("write: {0}")]
    Write(#[from] quinn::WriteError),
    /// The server closed the stream.
    #[error("the server closed the stream")]
    Finished,
    /// A frame that does not decode.
    #[error("bad frame from the server: {0}")]
    Frame(#[from] FrameError),
}

impl From<voice_net::ReadError> for StreamError {
    fn from(e: voice_net::ReadError) -> Self {
        match e {
            voice_net::ReadError::Frame(f) => Self::Frame(f),
            voice_net::ReadError::Truncated => Self::Finished,
            voice_net::ReadError::Stream(e) => Self::Read(e),
        }
    }
}

impl From<voice_net::WriteError> for StreamError {
    fn from(e: voice_net::WriteError) -> Self {
        match e {
            voice_net::WriteError::Frame(f) => Self::Frame(f),
            voice_net::WriteError::Stream(e) => Self::Write(e),
        }
    }
}

/// Writes one client envelope.
pub async fn write(send: &mut quinn::SendStream, msg: client_msg::Msg) -> Result<(), StreamError> {
    Ok(voice_net::frames::write(send, msg).await?)
}

/// Reads server envelopes from a stream.
#[derive(Debug)]
pub struct FrameReader(voice_net::FrameReader<ServerMsg>);

impl FrameReader {
    /// A reader of `recv` with the server frame limit.
    pub fn new(recv: quinn::RecvStream) -> Self {
        Self(voice_net::FrameReader::new(recv, frame::SERVER_MAX_FRAME))
    }

    /// The next envelope; the end of the stream is [`StreamError::Finished`].
    pub async fn next(&mut self) -> Result<ServerMsg, StreamError> {
        self.0.next().await?.ok_or(StreamError::Finished)
    }
}

impl From<voice_net::FrameReader<ServerMsg>> for FrameReader {
    fn from(reader: voice_net::FrameReader<ServerMsg>) -> Self {
        Self(reader)
    }
}
