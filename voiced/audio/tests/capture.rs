//! The capture chain on real speech (espeak-ng) with noise around it.

mod common;

use voice_audio::capture::{CaptureChain, CaptureMode, GateSettings};
use voice_audio::codec::{OpusSettings, VoiceDecoder};
use voice_audio::{AudioEvent, FRAME_10MS, OutgoingPacket, Speaker};

const SILENCE_FRAMES: usize = 300;

/// 3 s of faint noise, speech, 2 s of faint noise.
fn signal(dir: &std::path::Path) -> (Vec<f32>, usize) {
    let speech = common::speech_48k(dir, "Hello there. Seven green apples.").expect("speech");
    let mut rng = fastrand::Rng::with_seed(7);
    let mut noise = |n: usize| -> Vec<f32> { (0..n).map(|_| (rng.f32() - 0.5) * 0.002).collect() };
    let mut s = noise(SILENCE_FRAMES * FRAME_10MS);
    let onset = s.len() + speech.iter().position(|x| x.abs() > 0.02).unwrap_or(0);
    s.extend(speech.iter().zip(noise(speech.len())).map(|(a, b)| a + b));
    s.extend(noise(200 * FRAME_10MS));
    (s, onset)
}

/// Runs the chain; returns packets with the frame index that produced them.
fn run(
    chain: &mut CaptureChain,
    input: &[f32],
    mut each: impl FnMut(usize, &mut CaptureChain),
) -> (Vec<(usize, OutgoingPacket)>, Vec<AudioEvent>) {
    let mut out = Vec::new();
    let mut events = Vec::new();
    let mut packets = Vec::new();
    for (i, chunk) in input.chunks_exact(FRAME_10MS).enumerate() {
        each(i, chain);
        let frame: &[f32; FRAME_10MS] = chunk.try_into().expect("frame");
        chain
            .push_frame(frame, &mut packets, &mut events)
            .expect("push");
        out.extend(packets.drain(..).map(|p| (i, p)));
    }
    (out, events)
}

fn chain() -> CaptureChain {
    CaptureChain::new(OpusSettings::default(), GateSettings::default()).expect("chain")
}

#[test]
fn voice_activity_sends_speech_with_its_onset_and_nothing_in_silence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, onset) = signal(dir.path());
    let mut c = chain();
    let (packets, events) = run(&mut c, &input, |_, _| {});
    assert!(!packets.is_empty(), "speech produced no packets");

    // Silence before the speech produced nothing.
    let (first_frame, _) = packets[0];
    assert!(
        first_frame * FRAME_10MS + FRAME_10MS > onset.saturating_sub(FRAME_10MS * 5),
        "sent during the leading silence (frame {first_frame}, onset sample {onset})"
    );
    // Nothing well after the speech ends (hangover is 300 ms).
    let speech_end = input.len() - 200 * FRAME_10MS;
    let late = packets
        .iter()
        .filter(|(i, _)| i * FRAME_10MS > speech_end + 48_000)
        .count();
    assert_eq!(late, 0, "packets sent in the trailing silence");

    // Sequence numbers are contiguous and each burst ends with the flag.
    for w in packets.windows(2) {
        assert_eq!(w[1].1.seq, w[0].1.seq.wrapping_add(1));
    }
    assert!(packets.last().is_some_and(|(_, p)| p.end_of_burst));
    let talk_events = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                AudioEvent::Talking {
                    speaker: Speaker::Local,
                    ..
                }
            )
        })
        .count();
    assert_eq!(talk_events % 2, 0);
    assert!(talk_events >= 2);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AudioEvent::InputLevel { dbfs, .. } if *dbfs > -10.0))
    );

    // The first word is not clipped: the first burst starts with the pre-roll
    // (10 frames before the opening frame), before the onset, and its first
    // 100 ms of speech carry the input's energy.
    let burst_start = (first_frame - GateSettings::default().preroll_frames) * FRAME_10MS;
    assert!(
        burst_start <= onset,
        "burst starts at {burst_start}, after the onset {onset}"
    );
    let mut dec = VoiceDecoder::new().expect("decoder");
    let mut decoded = Vec::new();
    let mut buf = vec![0.0f32; 5760];
    for (_, p) in packets.iter().take_while(|(_, p)| !p.end_of_burst) {
        let n = dec.decode(&p.opus, &mut buf).expect("decode");
        decoded.extend_from_slice(&buf[..n]);
    }
    let window = 4800;
    let energy = |s: &[f32]| s.iter().map(|x| x * x).sum::<f32>();
    let at = onset - burst_start + 312; // Opus look-ahead at 48 kHz
    let e_in = energy(&input[onset..onset + window]);
    let e_out = energy(&decoded[at..at + window]);
    println!("onset energy: input {e_in:.3}, sent {e_out:.3}");
    assert!(e_out > 0.5 * e_in, "onset clipped: {e_out} vs {e_in}");
}

#[test]
fn push_to_talk_sends_only_while_pressed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = signal(dir.path());
    let mut c = chain();
    c.set_mode(CaptureMode::PushToTalk);
    let (packets, _) = run(&mut c, &input, |i, c| {
        if i == 100 {
            c.set_push_to_talk(true);
        }
        if i == 200 {
            c.set_push_to_talk(false);
        }
    });
    assert!(packets.iter().all(|(i, _)| (100..=200).contains(i)));
    assert_eq!(
        packets.len(),
        50 + 1,
        "50 packets of 20 ms and the end marker"
    );
    assert!(packets.last().is_some_and(|(_, p)| p.end_of_burst));
}

#[test]
fn continuous_sends_everything_and_mute_sends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = signal(dir.path());
    let frames = input.len() / FRAME_10MS;
    let mut c = chain();
    c.set_mode(CaptureMode::Continuous);
    let (packets, _) = run(&mut c, &input, |_, _| {});
    assert_eq!(packets.len(), frames / 2);

    let mut c = chain();
    c.set_mode(CaptureMode::Continuous);
    c.set_muted(true);
    let (packets, _) = run(&mut c, &input, |_, _| {});
    assert!(packets.is_empty());

    // Muting during a burst ends it with the flag, then nothing.
    let mut c = chain();
    c.set_mode(CaptureMode::Continuous);
    let (packets, _) = run(&mut c, &input, |i, c| c.set_muted(i >= 101));
    assert_eq!(
        packets.last().map(|(i, p)| (*i, p.end_of_burst)),
        Some((101, true))
    );
}
