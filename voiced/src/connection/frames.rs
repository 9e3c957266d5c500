//! Frames on QUIC streams: write one envelope, read the next.

use prost::Message;
use voice_proto::frame::{self, FrameDecoder};
use voice_proto::pb::wire::{ClientMsg, ServerMsg, client_msg};

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
    Frame(#[from] frame::FrameError),
}

/// Writes one client envelope.
pub async fn write(send: &mut quinn::SendStream, msg: client_msg::Msg) -> Result<(), StreamError> {
    let bytes = frame::encode_to_bytes(&ClientMsg { msg: Some(msg) }, frame::CLIENT_MAX_FRAME)?;
    send.write_all(&bytes).await?;
    Ok(())
}

/// Reads server envelopes from a stream.
pub struct FrameReader {
    recv: quinn::RecvStream,
    decoder: FrameDecoder,
    buf: Vec<u8>,
}

impl FrameReader {
    /// A reader of `recv` with the server frame limit.
    pub fn new(recv: quinn::RecvStream) -> Self {
        Self {
            recv,
            decoder: FrameDecoder::new(frame::SERVER_MAX_FRAME),
            buf: vec![0; 64 * 1024],
        }
    }

    /// The next envelope.
    pub async fn next(&mut self) -> Result<ServerMsg, StreamError> {
        loop {
            if let Some(f) = self.decoder.next_frame()? {
                return Ok(frame::decode_envelope(&f, |m: &ServerMsg| m.msg.is_none())?);
            }
            let want = self.decoder.wanted().clamp(1, self.buf.len());
            match self.recv.read(&mut self.buf[..want]).await? {
                Some(n) => self.decoder.push(&self.buf[..n]),
                None => return Err(StreamError::Finished),
            }
        }
    }
}

/// Size of an envelope, for logs.
pub fn encoded_len(msg: &ServerMsg) -> usize {
    msg.encoded_len()
}
