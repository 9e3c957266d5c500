//! The voice gate: threshold, hangover and pre-roll.

use voice_audio::FRAME_10MS;
use voice_audio::capture::{Gate, GateSettings, GateStep};

fn frame(v: f32) -> [f32; FRAME_10MS] {
    [v; FRAME_10MS]
}

#[test]
fn opens_on_speech_holds_for_the_hangover_then_closes() {
    let s = GateSettings::default();
    let mut gate = Gate::new(s);
    for _ in 0..20 {
        assert_eq!(gate.push(&frame(0.0), 0.0), GateStep::Closed);
    }
    assert_eq!(gate.push(&frame(0.5), 0.9), GateStep::Opened);
    assert_eq!(gate.push(&frame(0.5), 0.9), GateStep::Open);
    for _ in 0..s.hangover_frames {
        assert_eq!(gate.push(&frame(0.0), 0.1), GateStep::Open);
    }
    assert_eq!(gate.push(&frame(0.0), 0.1), GateStep::Closing);
    assert_eq!(gate.push(&frame(0.0), 0.1), GateStep::Closed);
}

#[test]
fn speech_during_the_hangover_keeps_it_open() {
    let s = GateSettings::default();
    let mut gate = Gate::new(s);
    gate.push(&frame(0.0), 0.9);
    for i in 0..s.hangover_frames * 3 {
        let p = if i % 20 == 0 { 0.9 } else { 0.0 };
        assert_ne!(gate.push(&frame(0.0), p), GateStep::Closing, "frame {i}");
    }
}

#[test]
fn preroll_keeps_the_latest_frames_before_the_onset() {
    let s = GateSettings::default();
    let mut gate = Gate::new(s);
    for i in 0..25 {
        gate.push(&frame(i as f32), 0.0);
    }
    assert_eq!(gate.push(&frame(99.0), 0.9), GateStep::Opened);
    let pre: Vec<f32> = gate.drain_preroll().map(|f| f[0]).collect();
    let want: Vec<f32> = (25 - s.preroll_frames..25).map(|i| i as f32).collect();
    assert_eq!(pre, want);
}

#[test]
fn threshold_decides() {
    let mut gate = Gate::new(GateSettings {
        threshold: 0.8,
        ..GateSettings::default()
    });
    assert_eq!(gate.push(&frame(0.0), 0.79), GateStep::Closed);
    assert_eq!(gate.push(&frame(0.0), 0.8), GateStep::Opened);
}
