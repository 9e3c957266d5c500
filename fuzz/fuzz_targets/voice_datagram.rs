//! Voice datagrams as the server and voiced read them: decoding never
//! panics, a decoded client packet relays to a server packet that decodes
//! to the same fields, and a payload is never larger than allowed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voice_proto::voice::{self, DEFAULT_MAX_PAYLOAD};

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = voice::decode_client(data, DEFAULT_MAX_PAYLOAD) {
        assert!(packet.opus.len() <= DEFAULT_MAX_PAYLOAD);
        let mut relayed = Vec::new();
        voice::relay(&mut relayed, 7, &packet);
        let back =
            voice::decode_server(&relayed, DEFAULT_MAX_PAYLOAD).expect("relayed packet decodes");
        assert_eq!(
            (back.flags, back.speaker, back.seq, back.opus),
            (packet.flags, 7, packet.seq, packet.opus)
        );
    }
    if let Ok(packet) = voice::decode_server(data, DEFAULT_MAX_PAYLOAD) {
        assert!(packet.opus.len() <= DEFAULT_MAX_PAYLOAD);
        let mut again = Vec::new();
        voice::encode_server(
            &mut again,
            packet.flags,
            packet.speaker,
            packet.seq,
            packet.opus,
        );
        assert_eq!(again.as_slice(), data, "varints are canonical");
    }
});
