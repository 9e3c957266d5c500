//! Real speech through Opus, a seeded lossy link, the jitter buffer and
//! the decoder, scored with wideband PESQ.

mod common;

use std::time::Duration;

use voice_audio::codec::OpusSettings;
use voice_netsim::Impairment;

fn score(loss: f64, jitter_ms: u64, reported: f32) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = common::speech_48k(dir.path(), common::SPEECH).expect("speech");
    let opus = OpusSettings::default();
    let imp = Impairment {
        jitter: Duration::from_millis(jitter_ms),
        ..Impairment::random_loss(42, loss)
    };
    let leg = common::codec_loop(&speech, opus, reported, imp.clone()).expect("loop");
    let limit = common::codec_limit(&speech, opus, reported, imp).expect("limit");
    let system = common::pesq_wb(dir.path(), &speech, &leg.output).expect("pesq");
    let reference = common::pesq_wb(dir.path(), &speech, &limit).expect("pesq");
    println!(
        "loss {:.0} % jitter {jitter_ms} ms: dropped {}/{} packets, receiver lost {} frames; \
         PESQ-WB {system:.2} (codec limit {reference:.2})",
        loss * 100.0,
        leg.dropped,
        leg.sent,
        leg.lost_frames
    );
    assert!(
        system >= 0.95 * reference,
        "PESQ {system:.2} is more than 5 % below the codec's own {reference:.2}"
    );
    (system, reference)
}

#[test]
fn clean_link() {
    let (system, _) = score(0.0, 0, 0.0);
    assert!(system >= 3.9, "PESQ {system:.2} < 3.9");
}

#[test]
fn five_percent_random_loss() {
    let (system, _) = score(0.05, 0, 5.0);
    assert!(system >= 3.1, "PESQ {system:.2} < 3.1");
}

#[test]
fn ten_percent_loss_with_40ms_jitter() {
    let (system, _) = score(0.10, 40, 10.0);
    assert!(system >= 2.6, "PESQ {system:.2} < 2.6");
}
