//! The two halves of a stream on the loop, with quinn's semantics: a send
//! half dropped unfinished is finished, a receive half dropped before its
//! end is stopped with code 0.

use std::task::Poll;

use bytes::Bytes;
use quinn_proto::{Chunk, ClosedStream, FinishError, StreamId, VarInt};

use super::conn::Connection;
use super::{ReadError, WriteError};

/// The sending half of a stream.
#[derive(Debug)]
pub struct SendStream {
    conn: Connection,
    id: StreamId,
    /// Finished or reset: nothing to do when dropped.
    done: bool,
}

impl SendStream {
    pub(crate) fn new(conn: Connection, id: StreamId) -> Self {
        Self {
            conn,
            id,
            done: false,
        }
    }

    /// Writes some of `buf`, waiting while flow control allows nothing;
    /// returns how much was taken.
    pub async fn write(&mut self, buf: &[u8]) -> Result<usize, WriteError> {
        let id = self.id;
        std::future::poll_fn(|cx| {
            let written = {
                let mut state = self.conn.state();
                if let Some(e) = &state.error {
                    return Poll::Ready(Err(WriteError::ConnectionLost(e.clone())));
                }
                match state.conn.send_stream(id).write(buf) {
                    Ok(n) => n,
                    Err(quinn_proto::WriteError::Blocked) => {
                        state.wait_writer(id, cx.waker());
                        return Poll::Pending;
                    }
                    Err(quinn_proto::WriteError::Stopped(code)) => {
                        return Poll::Ready(Err(WriteError::Stopped(code)));
                    }
                    Err(quinn_proto::WriteError::ClosedStream) => {
                        return Poll::Ready(Err(WriteError::ClosedStream));
                    }
                }
            };
            self.conn.inner.shared.touch(&self.conn.inner);
            Poll::Ready(Ok(written))
        })
        .await
    }

    /// Writes all of `buf`.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> Result<(), WriteError> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Writes all of `chunk` without copying it.
    pub async fn write_chunk(&mut self, chunk: Bytes) -> Result<(), WriteError> {
        let id = self.id;
        let mut chunks = [chunk];
        std::future::poll_fn(|cx| {
            {
                let mut state = self.conn.state();
                if let Some(e) = &state.error {
                    return Poll::Ready(Err(WriteError::ConnectionLost(e.clone())));
                }
                loop {
                    if chunks[0].is_empty() {
                        break;
                    }
                    match state.conn.send_stream(id).write_chunks(&mut chunks) {
                        Ok(_) => {}
                        Err(quinn_proto::WriteError::Blocked) => {
                            state.wait_writer(id, cx.waker());
                            break;
                        }
                        Err(quinn_proto::WriteError::Stopped(code)) => {
                            return Poll::Ready(Err(WriteError::Stopped(code)));
                        }
                        Err(quinn_proto::WriteError::ClosedStream) => {
                            return Poll::Ready(Err(WriteError::ClosedStream));
                        }
                    }
                }
            }
            self.conn.inner.shared.touch(&self.conn.inner);
            if chunks[0].is_empty() {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// Ends the stream once everything written is delivered.
    pub fn finish(&mut self) -> Result<(), ClosedStream> {
        self.done = true;
        let result = self.conn.update(|state, _| {
            if state.error.is_some() {
                return Ok(());
            }
            state.conn.send_stream(self.id).finish()
        });
        match result {
            Ok(()) => Ok(()),
            // Stopped by the peer: the stream is over either way.
            Err(FinishError::Stopped(_)) => Ok(()),
            Err(FinishError::ClosedStream) => Err(ClosedStream::default()),
        }
    }

    /// Abandons the stream with `code`.
    pub fn reset(&mut self, code: VarInt) -> Result<(), ClosedStream> {
        self.done = true;
        self.conn.update(|state, _| {
            if state.error.is_some() {
                return Ok(());
            }
            state.conn.send_stream(self.id).reset(code)
        })
    }

    /// Higher priorities are sent first among the connection's streams.
    pub fn set_priority(&self, priority: i32) -> Result<(), ClosedStream> {
        let mut state = self.conn.state();
        state.conn.send_stream(self.id).set_priority(priority)
    }
}

impl Drop for SendStream {
    fn drop(&mut self) {
        let done = self.done;
        let id = self.id;
        self.conn.update(|state, _| {
            state.forget_writer(id);
            if done || state.error.is_some() {
                return;
            }
            if let Err(FinishError::Stopped(code)) = state.conn.send_stream(id).finish() {
                let _ = state.conn.send_stream(id).reset(code);
            }
        });
    }
}

/// The receiving half of a stream.
#[derive(Debug)]
pub struct RecvStream {
    conn: Connection,
    id: StreamId,
    /// Read to its end, stopped or reset: nothing to do when dropped.
    done: bool,
}

impl RecvStream {
    pub(crate) fn new(conn: Connection, id: StreamId) -> Self {
        Self {
            conn,
            id,
            done: false,
        }
    }

    /// The next chunk of at most `max` bytes, in order when `ordered`;
    /// `None` at the stream's end.
    pub async fn read_chunk(
        &mut self,
        max: usize,
        ordered: bool,
    ) -> Result<Option<Chunk>, ReadError> {
        let id = self.id;
        let outcome = std::future::poll_fn(|cx| {
            let (outcome, transmit) = {
                let mut state = self.conn.state();
                if let Some(e) = &state.error {
                    return Poll::Ready(Err(ReadError::ConnectionLost(e.clone())));
                }
                let mut stream = state.conn.recv_stream(id);
                let mut chunks = match stream.read(ordered) {
                    Ok(chunks) => chunks,
                    Err(_) => return Poll::Ready(Err(ReadError::ClosedStream)),
                };
                let outcome = chunks.next(max.max(1));
                let transmit = chunks.finalize().should_transmit();
                match outcome {
                    Ok(Some(chunk)) => (Poll::Ready(Ok(Some(chunk))), transmit),
                    Ok(None) => (Poll::Ready(Ok(None)), transmit),
                    Err(quinn_proto::ReadError::Reset(code)) => {
                        (Poll::Ready(Err(ReadError::Reset(code))), transmit)
                    }
                    Err(quinn_proto::ReadError::Blocked) => {
                        state.wait_reader(id, cx.waker());
                        (Poll::Pending, transmit)
                    }
                }
            };
            if transmit {
                // The peer gets more credit.
                self.conn.inner.shared.touch(&self.conn.inner);
            }
            outcome
        })
        .await;
        match &outcome {
            Ok(None) | Err(ReadError::Reset(_)) => self.done = true,
            _ => {}
        }
        outcome
    }

    /// Reads into `buf`; `None` at the stream's end.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ReadError> {
        Ok(self.read_chunk(buf.len(), true).await?.map(|chunk| {
            buf[..chunk.bytes.len()].copy_from_slice(&chunk.bytes);
            chunk.bytes.len()
        }))
    }

    /// Tells the peer to stop sending, with `code`.
    pub fn stop(&mut self, code: VarInt) -> Result<(), ClosedStream> {
        self.done = true;
        self.conn.update(|state, _| {
            if state.error.is_some() {
                return Ok(());
            }
            state.conn.recv_stream(self.id).stop(code)
        })
    }
}

impl Drop for RecvStream {
    fn drop(&mut self) {
        let done = self.done;
        let id = self.id;
        self.conn.update(|state, _| {
            state.forget_reader(id);
            if done || state.error.is_some() {
                return;
            }
            let _ = state.conn.recv_stream(id).stop(VarInt::from_u32(0));
        });
    }
}
