//! Decoders of peer input: voice datagrams, frames and envelopes round-trip,
//! and arbitrary bytes never panic nor make a decoder hold more than its limit.

mod support;

use bytes::BytesMut;
use proptest::prelude::*;
use prost::Message;
use voice_proto::frame::{self, FrameDecoder, FrameError, PREFIX_LEN};
use voice_proto::pb::wire::{ClientMsg, Ping, ServerMsg, client_msg, server_msg};
use voice_proto::voice::{self, FLAG_END_OF_BURST, VoiceError};

proptest! {
    #![proptest_config(support::proptest_cases())]

    #[test]
    fn voice_headers_round_trip(
        end in any::<bool>(),
        speaker in any::<u32>(),
        seq in any::<u32>(),
        opus in proptest::collection::vec(any::<u8>(), 1..1000),
    ) {
        let flags = if end { FLAG_END_OF_BURST } else { 0 };
        let mut buf = Vec::new();
        voice::encode_client(&mut buf, flags, seq, &opus);
        let c = voice::decode_client(&buf, voice::DEFAULT_MAX_PAYLOAD).unwrap();
        prop_assert_eq!((c.flags, c.seq, c.opus), (flags, seq, opus.as_slice()));
        let mut out = Vec::new();
        voice::relay(&mut out, speaker, &c);
        let s = voice::decode_server(&out, voice::DEFAULT_MAX_PAYLOAD).unwrap();
        prop_assert_eq!((s.flags, s.speaker, s.seq, s.opus), (flags, speaker, seq, opus.as_slice()));
        prop_assert!(out.len() - opus.len() <= voice::MAX_HEADER_LEN);
    }

    #[test]
    fn arbitrary_datagrams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        if let Ok(c) = voice::decode_client(&bytes, voice::DEFAULT_MAX_PAYLOAD) {
            prop_assert!(c.opus.len() <= voice::DEFAULT_MAX_PAYLOAD);
        }
        if let Ok(s) = voice::decode_server(&bytes, voice::DEFAULT_MAX_PAYLOAD) {
            prop_assert!(s.opus.len() <= voice::DEFAULT_MAX_PAYLOAD);
        }
    }

    #[test]
    fn arbitrary_envelopes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = frame::decode_envelope::<ClientMsg>(&bytes, |m| m.msg.is_none());
        let _ = frame::decode_envelope::<ServerMsg>(&bytes, |m| m.msg.is_none());
    }

    /// A reader that reads at most `wanted()` bytes at a time never buffers
    /// more than one frame at the limit, whatever the peer sends.
    #[test]
    fn arbitrary_streams_stay_within_the_limit(
        bytes in proptest::collection::vec(any::<u8>(), 0..20_000),
        chunk in 1usize..3000,
        max in 1usize..8192,
    ) {
        let mut decoder = FrameDecoder::new(max);
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let n = chunk.min(decoder.wanted()).min(rest.len()).max(1);
            decoder.push(&rest[..n]);
            rest = &rest[n..];
            prop_assert!(decoder.buffered() <= PREFIX_LEN + max);
            match decoder.next_frame() {
                Ok(Some(frame)) => prop_assert!(frame.len() <= max),
                Ok(None) => {}
                Err(FrameError::TooLarge { len, .. }) => {
                    prop_assert!(len > max);
                    break;
                }
                Err(e) => return Err(TestCaseError::fail(format!("unexpected {e}"))),
            }
        }
    }

    /// Frames split at any points reassemble to the same messages.
    #[test]
    fn frames_reassemble_across_any_split(
        stamps in proptest::collection::vec(any::<u64>(), 1..20),
        chunk in 1usize..64,
    ) {
        let mut wire = BytesMut::new();
        for t in &stamps {
            let msg = ClientMsg { msg: Some(client_msg::Msg::Ping(Ping { timestamp_us: *t })) };
            frame::encode(&msg, frame::CLIENT_MAX_FRAME, &mut wire).unwrap();
        }
        let mut decoder = FrameDecoder::new(frame::CLIENT_MAX_FRAME);
        let mut got = Vec::new();
        for piece in wire.chunks(chunk) {
            decoder.push(piece);
            while let Some(f) = decoder.next_frame().unwrap() {
                let msg = frame::decode_envelope::<ClientMsg>(&f, |m| m.msg.is_none()).unwrap();
                let Some(client_msg::Msg::Ping(p)) = msg.msg else { panic!("not a ping") };
                got.push(p.timestamp_us);
            }
        }
        prop_assert_eq!(got, stamps);
    }
}

#[test]
fn oversize_length_prefix_is_refused_before_buffering() {
    let mut decoder = FrameDecoder::new(1024);
    decoder.push(&u32::MAX.to_be_bytes());
    assert_eq!(
        decoder.next_frame(),
        Err(FrameError::TooLarge {
            len: u32::MAX as usize,
            max: 1024
        })
    );
}

#[test]
fn encoding_refuses_frames_over_the_limit() {
    let msg = ServerMsg {
        msg: Some(server_msg::Msg::Failed(
            voice_proto::pb::wire::RequestFailed {
                request_id: 1,
                message: "x".repeat(100),
            },
        )),
    };
    let mut buf = BytesMut::new();
    assert!(matches!(
        frame::encode(&msg, 50, &mut buf),
        Err(FrameError::TooLarge { .. })
    ));
    assert!(buf.is_empty());
    assert_eq!(msg.encoded_len() + PREFIX_LEN, {
        frame::encode(&msg, 1000, &mut buf).unwrap();
        buf.len()
    });
}

#[test]
fn empty_envelopes_are_unknown() {
    assert_eq!(
        frame::decode_envelope::<ClientMsg>(&[], |m| m.msg.is_none()),
        Err(FrameError::Unknown)
    );
}

#[test]
fn voice_decoder_refuses_malformed_datagrams() {
    let max = voice::DEFAULT_MAX_PAYLOAD;
    assert_eq!(voice::decode_client(&[], max), Err(VoiceError::Truncated));
    assert_eq!(voice::decode_client(&[0, 1], max), Err(VoiceError::Empty));
    assert!(voice::decode_client(&[FLAG_END_OF_BURST, 1], max).is_ok());
    assert_eq!(
        voice::decode_client(&[0x80, 1, 9], max),
        Err(VoiceError::UnknownFlags(0x80))
    );
    // Overlong varint (zero continuation) and one beyond u32.
    assert_eq!(
        voice::decode_client(&[0, 0x81, 0x00, 9], max),
        Err(VoiceError::BadVarint)
    );
    assert_eq!(
        voice::decode_client(&[0, 0xff, 0xff, 0xff, 0xff, 0x7f, 9], max),
        Err(VoiceError::BadVarint)
    );
    assert_eq!(
        voice::decode_client(&[0, 0x80, 0x80], max),
        Err(VoiceError::Truncated)
    );
    let mut big = vec![0, 1];
    big.extend(std::iter::repeat_n(7, max + 1));
    assert_eq!(
        voice::decode_client(&big, max),
        Err(VoiceError::TooLarge { len: max + 1, max })
    );
}

#[test]
fn auth_signature_is_bound_to_nonce_and_exporter() {
    use ed25519_dalek::SigningKey;
    use voice_proto::auth;
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key().to_bytes();
    let sig = auth::sign(&key, &[1; 32], &[2; 32]).to_bytes();
    assert!(auth::verify(&public, &sig, &[1; 32], &[2; 32]).is_ok());
    assert_eq!(
        auth::verify(&public, &sig, &[1; 32], &[3; 32]),
        Err(auth::AuthError::BadSignature)
    );
    assert_eq!(
        auth::verify(&public, &sig, &[9; 32], &[2; 32]),
        Err(auth::AuthError::BadSignature)
    );
    assert_eq!(
        auth::verify(&public[..31], &sig, &[1; 32], &[2; 32]),
        Err(auth::AuthError::BadKey)
    );
    assert!(auth::password_matches("secret", "secret"));
    assert!(!auth::password_matches("secret", "Secret"));
}
