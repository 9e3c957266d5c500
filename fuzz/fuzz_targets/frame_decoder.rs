//! The stream frame reader as the server runs it on a client's control
//! stream: bytes arrive in arbitrary pieces, frames come out in order, the
//! buffer never holds more than one frame beyond the limit, and every frame
//! goes to the envelope decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voice_proto::frame::{self, FrameDecoder, PREFIX_LEN};
use voice_proto::pb::wire::ClientMsg;

/// A small limit so that the fuzzer reaches it.
const MAX: usize = 512;

fuzz_target!(|data: &[u8]| {
    let Some((&pieces, data)) = data.split_first() else {
        return;
    };
    let piece = usize::from(pieces % 64) + 1;
    let mut decoder = FrameDecoder::new(MAX);
    for chunk in data.chunks(piece) {
        decoder.push(chunk);
        assert!(
            decoder.buffered() <= PREFIX_LEN + MAX + piece,
            "buffer past the limit"
        );
        loop {
            match decoder.next_frame() {
                Ok(Some(f)) => {
                    assert!(f.len() <= MAX);
                    let _ = frame::decode::<ClientMsg>(&f);
                }
                Ok(None) => break,
                // An error is final: the stream is closed.
                Err(_) => return,
            }
        }
    }
});
