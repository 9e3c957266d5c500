//! The output queue's target on a simulated device.

use std::time::{Duration, Instant};

use voice_audio::playback::OutputQueue;

const RATE: u32 = 48_000;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn the_period_is_the_usual_pull_not_a_rare_late_one() {
    let t0 = Instant::now();
    let mut q = OutputQueue::new(RATE, ms(5), t0);
    // 5 ms pulls, one in a hundred 15 ms late.
    for i in 0..1000u64 {
        let pull = if i % 100 == 50 { 960 } else { 240 };
        q.observe(t0 + ms(5 * i), pull, 0);
    }
    assert_eq!(q.period(), ms(5));
    assert_eq!(q.want(), 240, "the margin alone");
    assert_eq!(q.stall_bound(), 240 * 2 + 480);
}

#[test]
fn repeated_underruns_grow_the_margin_and_a_calm_output_gives_it_back() {
    let t0 = Instant::now();
    let mut q = OutputQueue::new(RATE, ms(5), t0);
    q.observe(t0 + ms(5), 240, 0);
    // A lone stall: a gap, but no lasting delay for it.
    q.observe(t0 + ms(10), 240, 17);
    assert_eq!(q.margin(), ms(5));
    // The same stall seen in the next pull counts once.
    q.observe(t0 + ms(15), 240, 3);
    assert_eq!(q.margin(), ms(5));
    assert_eq!(q.underruns(), 2);
    // Another stall within 10 s: the margin grows.
    q.observe(t0 + ms(4_000), 240, 5);
    assert_eq!(q.margin(), ms(7));
    q.observe(t0 + ms(8_000), 240, 5);
    assert_eq!(q.margin(), ms(9));
    // Calm: 1 ms back every 5 s, never below the configured margin.
    let mut t = ms(8_000);
    while t < ms(60_000) {
        t += ms(5);
        q.observe(t0 + t, 240, 0);
    }
    assert_eq!(q.margin(), ms(5));
    // A stall long after the last one is lone again.
    q.observe(t0 + ms(60_005), 240, 5);
    assert_eq!(q.margin(), ms(5));
}

#[test]
fn the_margin_is_bounded() {
    let t0 = Instant::now();
    let mut q = OutputQueue::new(RATE, ms(5), t0);
    for i in 0..100u64 {
        q.observe(t0 + ms(300 * i), 240, 100);
    }
    assert_eq!(q.margin(), ms(40));
}
