//! The chosen canceller on a short synthetic echo: seeded noise played,
//! a delayed, attenuated copy with a decaying tail captured.

use super::{BLOCK, EchoCanceller, EchoError};
use crate::SAMPLE_RATE;

const RATE: usize = SAMPLE_RATE as usize;

/// Far end (seeded noise bursts) and the capture of its echo: 50 ms
/// delay, −10 dB, a 20 ms decaying tail, and faint noise.
fn far_and_capture(seconds: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = fastrand::Rng::with_seed(21);
    let n = seconds * RATE;
    // Noise in 300 ms bursts with 100 ms gaps, like speech with pauses.
    let far: Vec<f32> = (0..n)
        .map(|i| {
            if i % (RATE * 2 / 5) < RATE * 3 / 10 {
                (rng.f32() * 2.0 - 1.0) * 0.3
            } else {
                0.0
            }
        })
        .collect();
    let delay = RATE / 20;
    let tail: Vec<f32> = (0..RATE / 50)
        .map(|k| 0.316 * (-(k as f32) / 150.0).exp() * if k == 0 { 1.0 } else { 0.1 })
        .collect();
    let capture = (0..n)
        .map(|i| {
            let echo: f32 = tail
                .iter()
                .enumerate()
                .filter_map(|(k, h)| i.checked_sub(delay + k).map(|j| far[j] * h))
                .sum();
            echo + (rng.f32() * 2.0 - 1.0) * 1e-4
        })
        .collect();
    (far, capture)
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum()
}

#[test]
fn removes_most_of_a_synthetic_echo() {
    let (far, capture) = far_and_capture(4);
    let mut aec = EchoCanceller::new();
    let mut out = vec![0.0f32; capture.len()];
    for ((f, c), o) in far
        .chunks_exact(BLOCK)
        .zip(capture.chunks_exact(BLOCK))
        .zip(out.chunks_exact_mut(BLOCK))
    {
        aec.process(f, c, o).expect("10 ms blocks");
    }
    // After 2 s to converge; with the canceller bypassed this is 0 dB.
    let tail = 2 * RATE..;
    let erle = 10.0 * (energy(&capture[tail.clone()]) / energy(&out[tail]).max(1e-12)).log10();
    assert!(erle > 20.0, "echo reduced by only {erle:.1} dB");
}

#[test]
fn leaves_the_near_end_alone_when_nothing_plays() {
    // The same noise as capture with a silent far end: a canceller that
    // muted everything would pass the test above, not this one.
    let (near, _) = far_and_capture(3);
    let far = vec![0.0f32; near.len()];
    let mut aec = EchoCanceller::new();
    let mut out = vec![0.0f32; near.len()];
    for ((f, c), o) in far
        .chunks_exact(BLOCK)
        .zip(near.chunks_exact(BLOCK))
        .zip(out.chunks_exact_mut(BLOCK))
    {
        aec.process(f, c, o).expect("10 ms blocks");
    }
    let tail = RATE..;
    let loss = 10.0 * (energy(&near[tail.clone()]) / energy(&out[tail]).max(1e-12)).log10();
    assert!(loss.abs() < 3.0, "near end changed by {loss:.1} dB");
}

#[test]
fn refuses_blocks_that_are_not_10_ms() {
    let mut aec = EchoCanceller::new();
    let mut out = [0.0f32; BLOCK];
    let err = aec.process(&[0.0; 441], &[0.0; BLOCK], &mut out);
    assert!(matches!(err, Err(EchoError::BlockSize { got: 441 })));
}

#[test]
fn can_move_to_the_capture_thread() {
    fn send<T: Send>() {}
    send::<EchoCanceller>();
}
