//! Opus settings and adaptive FEC.

use voice_audio::codec::{OpusSettings, VoiceDecoder, VoiceEncoder, expected_loss_for};

#[test]
fn fec_follows_the_reported_loss() {
    assert_eq!(expected_loss_for(0.0), None);
    assert_eq!(expected_loss_for(0.3), None);
    assert_eq!(expected_loss_for(f32::NAN), None);
    assert_eq!(expected_loss_for(1.0), Some(10));
    assert_eq!(expected_loss_for(5.0), Some(15));
    assert_eq!(expected_loss_for(50.0), Some(30));
    let mut enc = VoiceEncoder::new(OpusSettings::default()).expect("encoder");
    assert_eq!(enc.fec_expected_loss(), None, "a clean link has no FEC");
    enc.set_reported_loss(5.0).expect("loss");
    assert_eq!(enc.fec_expected_loss(), Some(15));
    enc.set_reported_loss(0.0).expect("loss");
    assert_eq!(enc.fec_expected_loss(), None);
}

#[test]
fn settings_are_checked() {
    for frame_ms in [5, 30, 120] {
        let s = OpusSettings {
            frame_ms,
            ..OpusSettings::default()
        };
        assert!(VoiceEncoder::new(s).is_err(), "{frame_ms} ms accepted");
    }
    for bitrate in [5_999, 128_001] {
        let s = OpusSettings {
            bitrate,
            ..OpusSettings::default()
        };
        assert!(VoiceEncoder::new(s).is_err(), "{bitrate} b/s accepted");
    }
}

#[test]
fn every_frame_size_round_trips() {
    for frame_ms in [10, 20, 40, 60] {
        let s = OpusSettings {
            frame_ms,
            ..OpusSettings::default()
        };
        let mut enc = VoiceEncoder::new(s).expect("encoder");
        let n = enc.frame_samples();
        let tone: Vec<f32> = (0..n)
            .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin() * 0.3)
            .collect();
        let packet = enc.encode(&tone).expect("encode").to_vec();
        let mut dec = VoiceDecoder::new().expect("decoder");
        assert_eq!(dec.packet_samples(&packet).expect("samples"), n);
        let mut out = vec![0.0; 5760];
        assert_eq!(dec.decode(&packet, &mut out).expect("decode"), n);
        assert_eq!(dec.conceal(n, &mut out).expect("plc"), n);
    }
}

#[test]
fn garbage_packets_are_errors_not_panics() {
    let mut dec = VoiceDecoder::new().expect("decoder");
    let mut out = vec![0.0; 5760];
    let mut rng = fastrand::Rng::with_seed(11);
    for len in 1..200 {
        let junk: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        let _ = dec.decode(&junk, &mut out);
    }
}
