//! The capture chain's echo and gain stages on real speech (espeak-ng):
//! the far end's echo removed while it plays, the microphone untouched
//! (only delayed by the canceller's latency) while nothing plays, and the
//! gain controller lifting a quiet microphone without clipping a loud one.

#![allow(clippy::unwrap_used)]

mod common;

use voice_audio::FRAME_10MS;
use voice_audio::capture::AutoGain;
use voice_audio::echo::{EchoStage, LATENCY};

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum()
}

fn db(ratio: f64) -> f64 {
    10.0 * ratio.max(1e-20).log10()
}

/// `far` played and `near` captured, block by block, through one stage.
fn run(stage: &mut EchoStage, far: &[f32], near: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(near.len());
    for (f, n) in far
        .chunks_exact(FRAME_10MS)
        .zip(near.chunks_exact(FRAME_10MS))
    {
        stage.render(f.try_into().unwrap());
        let mut block: [f32; FRAME_10MS] = n.try_into().unwrap();
        stage.capture(&mut block);
        out.extend_from_slice(&block);
    }
    out
}

/// A room's echo of `far`: 60 ms late, −10 dB, with a short decaying tail.
fn echo_of(far: &[f32]) -> Vec<f32> {
    let delay = 48 * 60;
    let taps: Vec<(usize, f32)> = vec![(0, 0.316), (96, 0.1), (240, 0.05), (480, 0.02)];
    (0..far.len())
        .map(|i| {
            taps.iter()
                .filter_map(|&(k, h)| i.checked_sub(delay + k).map(|j| far[j] * h))
                .sum()
        })
        .collect()
}

fn whole_blocks(mut x: Vec<f32>) -> Vec<f32> {
    x.truncate(x.len() / FRAME_10MS * FRAME_10MS);
    x
}

#[test]
fn with_nothing_played_the_microphone_passes_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let near = whole_blocks(
        common::speech_48k(dir.path(), "Nothing is playing, so nothing can echo.").unwrap(),
    );
    let silence = vec![0.0; near.len()];
    let mut stage = EchoStage::new();
    let out = run(&mut stage, &silence, &near);
    assert!(stage.bypassing());
    // Exactly the input, later by the canceller's latency.
    assert_eq!(&out[..LATENCY], &vec![0.0; LATENCY][..]);
    assert_eq!(&out[LATENCY..], &near[..near.len() - LATENCY]);
}

#[test]
fn the_far_ends_echo_is_removed_and_the_near_end_returns_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut far = common::speech_48k(
        dir.path(),
        "The far end talks for a while so that the canceller can find the echo and learn the room it is in.",
    )
    .unwrap();
    far.extend(
        common::speech_48k(dir.path(), "And then it keeps on talking a little longer.").unwrap(),
    );
    let far = whole_blocks(far);
    let near_talk = whole_blocks(
        common::speech_48k(
            dir.path(),
            "Now only the near end speaks, and it must come through whole.",
        )
        .unwrap(),
    );
    // Far-end speech echoing, then one second of quiet, then the near end alone.
    let quiet = 48_000;
    let mut played = far.clone();
    played.extend(vec![0.0; quiet + near_talk.len()]);
    // The echo of the far end, its tail falling in the quiet, then the near end.
    let mut captured = echo_of(&played[..far.len() + quiet]);
    captured.extend_from_slice(&near_talk);
    let mut stage = EchoStage::new();
    let out = run(&mut stage, &played, &captured);

    // Echo return loss enhancement over the far end's last two seconds.
    let end = far.len();
    let span = end - 2 * 48_000..end;
    let erle = db(energy(&captured[span.clone()]) / energy(&out[span.clone()]));
    eprintln!("ERLE over the far end's last 2 s: {erle:.1} dB");
    assert!(erle > 20.0, "echo reduced by only {erle:.1} dB");

    // The near end after the quiet: the microphone itself, delayed.
    let start = far.len() + quiet;
    assert!(stage.bypassing());
    let got = &out[start + LATENCY..];
    let want = &near_talk[..near_talk.len() - LATENCY];
    assert_eq!(got, want, "the near end alone passes untouched");
}

/// Speech at `peak` (linear) through the gain controller for its length
/// three times over; the input and output of the last pass.
fn through_agc(dir: &std::path::Path, peak: f32) -> (Vec<f32>, Vec<f32>) {
    let speech = whole_blocks(
        common::speech_48k(
            dir,
            "A microphone set far too low or far too high, said three times over.",
        )
        .unwrap(),
    );
    let scale = peak / 0.7;
    let input: Vec<f32> = speech.iter().map(|x| x * scale).collect();
    let mut agc = AutoGain::new();
    let mut out = Vec::new();
    for _ in 0..3 {
        out.clear();
        for block in input.chunks_exact(FRAME_10MS) {
            let mut b: [f32; FRAME_10MS] = block.try_into().unwrap();
            agc.process(&mut b, false);
            out.extend_from_slice(&b);
        }
    }
    (input, out)
}

#[test]
fn gain_control_lifts_a_quiet_microphone_and_does_not_clip_a_loud_one() {
    let dir = tempfile::tempdir().unwrap();
    // −40 dBFS peaks: lifted by at least 10 dB once the controller has measured it.
    let (input, out) = through_agc(dir.path(), 0.01);
    let lift = db(energy(&out) / energy(&input));
    eprintln!("quiet microphone lifted by {lift:.1} dB");
    assert!(lift > 10.0, "lifted by only {lift:.1} dB");
    // −1 dBFS peaks: nothing clips, and it is not made louder than it was.
    let (input, out) = through_agc(dir.path(), 0.89);
    let change = db(energy(&out) / energy(&input));
    let peak = out.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    eprintln!("loud microphone changed by {change:.1} dB, peak {peak:.3}");
    assert!(peak <= 1.0, "clipped: peak {peak}");
    assert!(change < 1.0, "a loud microphone made {change:.1} dB louder");
}

#[test]
fn gain_control_holds_its_gain_while_the_far_end_plays() {
    let dir = tempfile::tempdir().unwrap();
    // A faint residue (−50 dBFS peaks) for three passes: adapting, the
    // controller lifts it; held, it stays as it was (no near end spoke).
    let (input, lifted) = through_agc(dir.path(), 0.00316);
    let lift = db(energy(&lifted) / energy(&input));
    let mut agc = AutoGain::new();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.clear();
        for block in input.chunks_exact(FRAME_10MS) {
            let mut b: [f32; FRAME_10MS] = block.try_into().unwrap();
            agc.process(&mut b, true);
            held.extend_from_slice(&b);
        }
    }
    let kept = db(energy(&held) / energy(&input));
    eprintln!("a faint residue: lifted {lift:.1} dB adapting, {kept:.1} dB held");
    assert!(lift > 10.0, "{lift:.1}");
    assert!(kept.abs() < 0.1, "held at the starting gain: {kept:.2} dB");
}
