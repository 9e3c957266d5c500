//! Issue 16, hole 13: a server that sends voice for 10,000 speaker ids gets
//! at most `MAX_SPEAKERS` decoders in the mixer, and mixing stays bounded.

use std::time::{Duration, Instant};

use voice_audio::IncomingPacket;
use voice_audio::playback::{JitterSettings, MAX_SPEAKERS, Mixer};

#[test]
fn ten_thousand_speaker_ids_get_at_most_the_budgeted_decoders() {
    let mut mixer = Mixer::new(JitterSettings::default());
    let start = Instant::now();
    let opus = [0xF8u8, 0xFF, 0xFE]; // a valid 20 ms CELT silence frame
    let mut out = [0.0f32; voice_audio::FRAME_10MS];
    let mut events = Vec::new();
    for speaker in 1..=10_000u32 {
        let now = start + Duration::from_micros(u64::from(speaker) * 10);
        mixer.receive(
            IncomingPacket {
                speaker,
                seq: 0,
                end_of_burst: false,
                opus: &opus,
            },
            now,
        );
        assert!(
            mixer.speaker_count() <= MAX_SPEAKERS,
            "{}",
            mixer.speaker_count()
        );
        if speaker % 500 == 0 {
            mixer.render(&mut out, now, &mut events);
        }
    }
    assert!(mixer.speaker_count() <= MAX_SPEAKERS);
    assert!(out.iter().all(|x| x.is_finite()));
}
