//! Offline echo-cancellation harness (issue 21): measures each candidate
//! canceller on a simulated echo path and prints ERLE, double-talk PESQ,
//! re-convergence after a delay jump, clock drift, added latency and CPU.
//!
//! `cargo run --release -p voice-audio --example echo`
//!
//! Far end: espeak-ng `en-us`; near end: espeak-ng `en-gb+f3`, both made at
//! run time. The capture is the far end through an echo path (a delay, an
//! attenuation and an exponentially decaying noise tail of 150 ms) plus,
//! from 12 s to 20 s, the near end (double talk) plus white noise at
//! −70 dBFS. Everything random is seeded, so runs repeat.
//!
//! With `ECHO_WAVS=DIR` it also writes the first echo path's far end,
//! near end, capture and each candidate's output to DIR for listening.

#[path = "../../tests/common/mod.rs"]
mod common;

mod aec3_rs;

use std::ops::Range;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use aec3_rs::Aec3RsCanceller;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use voice_audio::capture::AutoGain;
use voice_audio::echo::{BLOCK, EchoStage, SonoraCanceller};
use voice_audio::{FRAME_10MS, SAMPLE_RATE};

const RATE: usize = SAMPLE_RATE as usize;
const SEED: u64 = 21;
const RUN_S: usize = 30;
/// Double talk: the near end speaks from 12 s to 20 s.
const DOUBLE_TALK: Range<usize> = 12 * RATE..20 * RATE;
/// Far end only, after 2 s of convergence and around the double talk.
const FAR_ONLY: [Range<usize>; 2] = [2 * RATE..12 * RATE, 20 * RATE..RUN_S * RATE];
/// The delay jump (in its own scenario) happens here.
const JUMP_AT: usize = 22 * RATE;
/// Length of the reverberant tail of the echo path.
const TAIL_MS: usize = 150;

const FAR_TEXT: &str = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. \
It is easy to tell the depth of a well. These days a chicken leg is a rare dish. \
Rice is often served in round bowls. The juice of lemons makes fine punch. \
The box was thrown beside the parked truck. The hogs were fed chopped corn and garbage. \
Four hours of steady work faced us. A large size in stockings is hard to sell. \
The boy was there when the sun rose. A rod is used to catch pink salmon. \
The source of the huge river is the clear spring. Kick the ball straight and follow through.";
const NEAR_TEXT: &str = "Help the woman get back to her feet. A pot of tea helps to pass the evening. \
Smoky fires lack flame and heat. The soft cushion broke the man's fall.";

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let far_speech = speak(dir.path(), "en-us", FAR_TEXT, 0.7)?;
    let near_speech = speak(dir.path(), "en-gb+f3", NEAR_TEXT, 0.5)?;
    let far: Vec<f32> = far_speech
        .iter()
        .copied()
        .cycle()
        .take(RUN_S * RATE)
        .collect();
    let mut near = vec![0.0f32; RUN_S * RATE];
    for (n, s) in near[DOUBLE_TALK].iter_mut().zip(&near_speech) {
        *n = *s;
    }
    let room = Room::new(&far, TAIL_MS);
    let dry = Room::new(&far, 0);
    println!(
        "far end {:.1} s of espeak-ng en-us looped to {RUN_S} s; near end en-gb+f3 {:.1}–{:.1} s; \
         tail {TAIL_MS} ms; noise −70 dBFS; seed {SEED}",
        far_speech.len() as f64 / RATE as f64,
        DOUBLE_TALK.start as f64 / RATE as f64,
        DOUBLE_TALK.end as f64 / RATE as f64,
    );
    println!(
        "ERLE on far-end-only audio after 2 s (2–12 s and 20–30 s); PESQ-WB of the double talk (12–20 s) against the clean near end"
    );

    let candidates = [Candidate::Sonora, Candidate::Stage, Candidate::Aec3Rs];
    println!("\n== Echo paths (fixed delay)");
    println!(
        "{:<8} {:>6} {:>6} {:>6}  {:>8} {:>8}  {:>8} {:>8} {:>8}  {:>9}",
        "crate", "delay", "gain", "tail", "ERLE", "ERLE", "PESQ", "PESQ", "PESQ", "CPU"
    );
    println!(
        "{:<8} {:>6} {:>6} {:>6}  {:>8} {:>8}  {:>8} {:>8} {:>8}  {:>9}",
        "", "ms", "dB", "ms", "2-12 s", "20-30 s", "out", "no AEC", "ceiling", "ms per s"
    );
    // The last row has no echo at all: what the canceller alone does to
    // the near end while the far end plays (a headset).
    for (row, (delay_ms, gain_db, tail_ms)) in [
        (60, -10.0, TAIL_MS),
        (40, -6.0, TAIL_MS),
        (120, -20.0, TAIL_MS),
        (60, -10.0, 0),
        (60, -120.0, 0),
    ]
    .into_iter()
    .enumerate()
    {
        let room = if tail_ms == 0 { &dry } else { &room };
        let scene = Scene::build(room, &near, delay_ms, delay_ms, gain_db, 0.0);
        let no_aec = common::pesq_wb(
            dir.path(),
            &scene.near[DOUBLE_TALK],
            &scene.mic[DOUBLE_TALK],
        )?;
        let ceiling = common::pesq_wb(
            dir.path(),
            &scene.near[DOUBLE_TALK],
            &scene.near_noisy[DOUBLE_TALK],
        )?;
        let wavs = std::env::var_os("ECHO_WAVS").filter(|_| row == 0);
        if let Some(wavs) = &wavs {
            let wavs = Path::new(wavs);
            common::write_wav(&wavs.join("far.wav"), &far, SAMPLE_RATE)?;
            common::write_wav(&wavs.join("near.wav"), &scene.near, SAMPLE_RATE)?;
            common::write_wav(&wavs.join("mic.wav"), &scene.mic, SAMPLE_RATE)?;
        }
        for c in candidates {
            let run = c.run(&far, &scene.mic)?;
            if let Some(wavs) = &wavs {
                let name = format!("out-{}.wav", c.name());
                common::write_wav(&Path::new(wavs).join(name), &run.out, SAMPLE_RATE)?;
            }
            let pesq =
                common::pesq_wb(dir.path(), &scene.near[DOUBLE_TALK], &run.out[DOUBLE_TALK])?;
            println!(
                "{:<8} {delay_ms:>6} {gain_db:>6.0} {tail_ms:>6}  {:>8.1} {:>8.1}  {pesq:>8.2} {no_aec:>8.2} {ceiling:>8.2}  {:>9.1}",
                c.name(),
                erle(&scene.mic, &run.out, FAR_ONLY[0].clone()),
                erle(&scene.mic, &run.out, FAR_ONLY[1].clone()),
                run.cpu_ms_per_s(),
            );
        }
    }

    println!("\n== Delay jump 60 → 100 ms at 22 s (−10 dB)");
    println!(
        "ERLE over 500 ms windows stepped by 50 ms (only windows whose echo is above −45 dBFS);"
    );
    println!(
        "re-converged = from the jump to the end of the last such window in the 3 s after it below 25 dB"
    );
    println!(
        "{:<8} {:>10} {:>10} {:>12} {:>12} {:>12}",
        "crate", "before dB", "worst dB", "0-1 s after", "1-3 s after", "re-converged"
    );
    let scene = Scene::build(&room, &near, 60, 100, -10.0, 0.0);
    for c in candidates {
        let run = c.run(&far, &scene.mic)?;
        let before = erle(&scene.mic, &run.out, JUMP_AT - 2 * RATE..JUMP_AT);
        let windows = window_erle(&scene, &run.out, JUMP_AT..JUMP_AT + 3 * RATE);
        let worst = windows.iter().map(|w| w.1).fold(f64::INFINITY, f64::min);
        let settled = windows
            .iter()
            .filter(|w| w.1 < 25.0)
            .map(|w| w.0 + WINDOW - JUMP_AT)
            .max()
            .unwrap_or(0);
        println!(
            "{:<8} {before:>10.1} {worst:>10.1} {:>12.1} {:>12.1} {:>10.2} s",
            c.name(),
            erle(&scene.mic, &run.out, JUMP_AT..JUMP_AT + RATE),
            erle(&scene.mic, &run.out, JUMP_AT + RATE..JUMP_AT + 3 * RATE),
            settled as f64 / RATE as f64,
        );
    }

    println!("\n== Clock drift between far and near (60 ms, −10 dB; the capture's clock is off)");
    println!(
        "{:<8} {:>8} {:>8} {:>8} {:>8}",
        "crate", "ppm", "2-12 s", "20-30 s", "PESQ"
    );
    for ppm in [100.0, -100.0] {
        let scene = Scene::build(&room, &near, 60, 60, -10.0, ppm);
        for c in candidates {
            let run = c.run(&far, &scene.mic)?;
            let pesq =
                common::pesq_wb(dir.path(), &scene.near[DOUBLE_TALK], &run.out[DOUBLE_TALK])?;
            println!(
                "{:<8} {ppm:>+8.0} {:>8.1} {:>8.1} {pesq:>8.2}",
                c.name(),
                erle(&scene.mic, &run.out, FAR_ONLY[0].clone()),
                erle(&scene.mic, &run.out, FAR_ONLY[1].clone()),
            );
        }
    }

    println!(
        "\n== Turn-taking: the far end is silent from 11 s to 21 s while the near end talks (60 ms, −10 dB)"
    );
    println!(
        "{:<8} {:>8} {:>8} {:>8} {:>8}",
        "crate", "ERLE", "PESQ", "PESQ", "PESQ"
    );
    println!(
        "{:<8} {:>8} {:>8} {:>8} {:>8}",
        "", "2-11 s", "out", "no AEC", "ceiling"
    );
    let mut paused = far.clone();
    paused[11 * RATE..21 * RATE].fill(0.0);
    let paused_room = Room::new(&paused, TAIL_MS);
    let scene = Scene::build(&paused_room, &near, 60, 60, -10.0, 0.0);
    let no_aec = common::pesq_wb(
        dir.path(),
        &scene.near[DOUBLE_TALK],
        &scene.mic[DOUBLE_TALK],
    )?;
    let ceiling = common::pesq_wb(
        dir.path(),
        &scene.near[DOUBLE_TALK],
        &scene.near_noisy[DOUBLE_TALK],
    )?;
    for c in candidates {
        let run = c.run(&paused, &scene.mic)?;
        let pesq = common::pesq_wb(dir.path(), &scene.near[DOUBLE_TALK], &run.out[DOUBLE_TALK])?;
        println!(
            "{:<8} {:>8.1} {pesq:>8.2} {no_aec:>8.2} {ceiling:>8.2}",
            c.name(),
            erle(&scene.mic, &run.out, 2 * RATE..11 * RATE),
        );
    }

    println!("\n== Gain control (AGC2 adaptive digital) on the near end's speech, −30 dBFS peaks");
    let quiet: Vec<f32> = near_speech
        .iter()
        .cycle()
        .take(RUN_S * RATE)
        .map(|x| x * 0.0316 / 0.5)
        .collect();
    let mut agc = AutoGain::new();
    let mut busy = std::time::Duration::ZERO;
    let mut lifted = Vec::with_capacity(quiet.len());
    for block in quiet.chunks_exact(FRAME_10MS) {
        let mut b: [f32; FRAME_10MS] = block.try_into()?;
        let t = Instant::now();
        agc.process(&mut b, false);
        busy += t.elapsed();
        lifted.extend_from_slice(&b);
    }
    let last = (RUN_S - 10) * RATE..RUN_S * RATE;
    println!(
        "lifted by {:.1} dB over the last 10 s; {:.1} ms of CPU per s of audio",
        10.0 * (energy(&lifted[last.clone()]) / energy(&quiet[last]).max(1e-20)).log10(),
        busy.as_secs_f64() * 1000.0 / RUN_S as f64
    );

    println!(
        "\n== Added latency (lag of the output's best match with the clean near end in double talk)"
    );
    let scene = Scene::build(&room, &near, 60, 60, -10.0, 0.0);
    for c in candidates {
        let run = c.run(&far, &scene.mic)?;
        let lag = best_lag(&scene.near[DOUBLE_TALK], &run.out[DOUBLE_TALK], RATE / 100);
        println!(
            "{:<8} {:+.2} ms (blocks of 10 ms in and out)",
            c.name(),
            lag as f64 * 1000.0 / RATE as f64
        );
    }
    Ok(())
}

/// Synthesises `text` with espeak-ng `voice` at 48 kHz, peak-normalised.
fn speak(dir: &Path, voice: &str, text: &str, peak: f32) -> anyhow::Result<Vec<f32>> {
    let wav = dir.join(format!("{voice}.wav"));
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .map_err(|e| anyhow::anyhow!("espeak-ng is needed: {e}"))?;
    anyhow::ensure!(status.success(), "espeak-ng -v {voice} failed");
    let (s, rate) = common::read_wav(&wav)?;
    let mut s = common::resample(&s, rate, SAMPLE_RATE);
    let max = s.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(1e-6);
    for x in &mut s {
        *x *= peak / max;
    }
    Ok(s)
}

/// The far end through the room, before delay and attenuation: a direct
/// path plus an exponentially decaying noise tail.
struct Room {
    reverberant: Vec<f32>,
}

impl Room {
    fn new(far: &[f32], tail_ms: usize) -> Self {
        let mut rng = fastrand::Rng::with_seed(SEED);
        let taps = (tail_ms * RATE / 1000).max(1);
        let mut ir = vec![0.0f32; taps];
        ir[0] = 1.0;
        // Tail from 2 ms, amplitude time constant 30 ms, about −8 dB of
        // the direct path's energy in all.
        let start = (2 * RATE / 1000).min(taps);
        let tau = 0.030 * RATE as f32;
        let mut tail_energy = 0.0f32;
        for (i, h) in ir.iter_mut().enumerate().skip(start) {
            *h = (rng.f32() * 2.0 - 1.0) * (-((i - start) as f32) / tau).exp();
            tail_energy += *h * *h;
        }
        let scale = (10f32.powf(-0.8) / tail_energy.max(1e-12)).sqrt();
        for h in ir.iter_mut().skip(start) {
            *h *= scale;
        }
        Self {
            reverberant: convolve(far, &ir),
        }
    }
}

/// One capture: the echo, the near end, and the microphone's sum.
struct Scene {
    /// Echo as the microphone hears it.
    echo: Vec<f32>,
    /// Clean near-end speech.
    near: Vec<f32>,
    /// Near end plus noise: what a perfect canceller would leave.
    near_noisy: Vec<f32>,
    /// What the canceller gets as capture.
    mic: Vec<f32>,
}

impl Scene {
    /// `delay_ms` until [`JUMP_AT`], `delay_after_ms` from then; the
    /// capture clock runs `ppm` fast (the echo is resampled, as the
    /// microphone samples the room on its own clock).
    fn build(
        room: &Room,
        near: &[f32],
        delay_ms: usize,
        delay_after_ms: usize,
        gain_db: f32,
        ppm: f64,
    ) -> Self {
        let n = near.len();
        let gain = 10f32.powf(gain_db / 20.0);
        let mut echo: Vec<f32> = (0..n)
            .map(|i| {
                let d = if i < JUMP_AT {
                    delay_ms
                } else {
                    delay_after_ms
                } * RATE
                    / 1000;
                i.checked_sub(d).map_or(0.0, |j| room.reverberant[j] * gain)
            })
            .collect();
        if ppm != 0.0 {
            echo = drift(&echo, ppm);
        }
        let mut rng = fastrand::Rng::with_seed(SEED + 1);
        // White noise at −70 dBFS RMS (uniform: RMS = amplitude / √3).
        let amp = 10f32.powf(-70.0 / 20.0) * 3f32.sqrt();
        let near_noisy: Vec<f32> = near
            .iter()
            .map(|s| s + (rng.f32() * 2.0 - 1.0) * amp)
            .collect();
        let mic = near_noisy.iter().zip(&echo).map(|(a, b)| a + b).collect();
        Self {
            echo,
            near: near.to_vec(),
            near_noisy,
            mic,
        }
    }
}

/// `x` as sampled by a clock `ppm` faster (cubic interpolation).
fn drift(x: &[f32], ppm: f64) -> Vec<f32> {
    let step = 1.0 / (1.0 + ppm * 1e-6);
    let at = |i: isize| -> f64 {
        usize::try_from(i)
            .ok()
            .and_then(|i| x.get(i))
            .map_or(0.0, |v| f64::from(*v))
    };
    (0..x.len())
        .map(|n| {
            let t = n as f64 * step;
            let i = t.floor() as isize;
            let f = t - t.floor();
            let (p0, p1, p2, p3) = (at(i - 1), at(i), at(i + 1), at(i + 2));
            // Catmull-Rom.
            let v = p1
                + 0.5
                    * f
                    * (p2 - p0
                        + f * (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3
                            + f * (3.0 * (p1 - p2) + p3 - p0)));
            v as f32
        })
        .collect()
}

fn convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    let len = (x.len() + h.len()).next_power_of_two();
    let mut planner = FftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(len);
    let inv = planner.plan_fft_inverse(len);
    let pad = |s: &[f32]| -> Vec<Complex<f32>> {
        let mut v: Vec<Complex<f32>> = s.iter().map(|r| Complex::new(*r, 0.0)).collect();
        v.resize(len, Complex::new(0.0, 0.0));
        v
    };
    let (mut a, mut b) = (pad(x), pad(h));
    fwd.process(&mut a);
    fwd.process(&mut b);
    for (p, q) in a.iter_mut().zip(&b) {
        *p *= q;
    }
    inv.process(&mut a);
    a.iter().take(x.len()).map(|c| c.re / len as f32).collect()
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum()
}

/// Echo return loss enhancement over `range`: capture energy over output
/// energy, in dB.
fn erle(mic: &[f32], out: &[f32], range: Range<usize>) -> f64 {
    10.0 * (energy(&mic[range.clone()]) / energy(&out[range]).max(1e-12)).log10()
}

/// Window of the re-convergence ERLE.
const WINDOW: usize = RATE / 2;

/// ERLE of each [`WINDOW`] starting every 50 ms in `range` whose echo is
/// above −45 dBFS, as (window start, dB).
fn window_erle(scene: &Scene, out: &[f32], range: Range<usize>) -> Vec<(usize, f64)> {
    let floor = 10f64.powf(-45.0 / 10.0) * WINDOW as f64;
    range
        .step_by(RATE / 20)
        .filter(|s| s + WINDOW <= out.len() && energy(&scene.echo[*s..s + WINDOW]) > floor)
        .map(|s| (s, erle(&scene.mic, out, s..s + WINDOW)))
        .collect()
}

/// Lag (samples, positive = `y` late) in ±`max` where `y` best matches `x`.
fn best_lag(x: &[f32], y: &[f32], max: usize) -> isize {
    let max = max as isize;
    let n = x.len().min(y.len()) as isize;
    let score = |lag: isize| -> f64 {
        (max..n - max)
            .map(|i| f64::from(x[i as usize]) * f64::from(y[(i + lag) as usize]))
            .sum()
    };
    (-max..=max)
        .map(|lag| (lag, score(lag)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|best| best.0)
        .unwrap_or(0)
}

#[derive(Clone, Copy)]
enum Candidate {
    /// sonora's AEC3 alone.
    Sonora,
    /// What the capture chain runs: sonora with the far-silence guard.
    Stage,
    Aec3Rs,
}

struct Run {
    out: Vec<f32>,
    seconds_busy: f64,
}

impl Run {
    fn cpu_ms_per_s(&self) -> f64 {
        self.seconds_busy * 1000.0 / (self.out.len() as f64 / RATE as f64)
    }
}

impl Candidate {
    fn name(self) -> &'static str {
        match self {
            Self::Sonora => "sonora",
            Self::Stage => "stage",
            Self::Aec3Rs => "aec3",
        }
    }

    /// Runs the far end and the capture through a fresh canceller in
    /// 10 ms blocks, timing only the canceller.
    fn run(self, far: &[f32], mic: &[f32]) -> anyhow::Result<Run> {
        let mut out = vec![0.0f32; mic.len()];
        let mut busy = std::time::Duration::ZERO;
        match self {
            Self::Sonora => {
                let mut aec = SonoraCanceller::new();
                for ((f, m), o) in far
                    .chunks_exact(BLOCK)
                    .zip(mic.chunks_exact(BLOCK))
                    .zip(out.chunks_exact_mut(BLOCK))
                {
                    let t = Instant::now();
                    aec.process(f, m, o)?;
                    busy += t.elapsed();
                }
            }
            Self::Stage => {
                let mut stage = EchoStage::new();
                for ((f, m), o) in far
                    .chunks_exact(BLOCK)
                    .zip(mic.chunks_exact(BLOCK))
                    .zip(out.chunks_exact_mut(BLOCK))
                {
                    let t = Instant::now();
                    stage.render(f.try_into()?);
                    let mut block: [f32; BLOCK] = m.try_into()?;
                    stage.capture(&mut block);
                    busy += t.elapsed();
                    o.copy_from_slice(&block);
                }
            }
            Self::Aec3Rs => {
                let mut aec = Aec3RsCanceller::new()?;
                for ((f, m), o) in far
                    .chunks_exact(BLOCK)
                    .zip(mic.chunks_exact(BLOCK))
                    .zip(out.chunks_exact_mut(BLOCK))
                {
                    let t = Instant::now();
                    aec.process(f, m, o)?;
                    busy += t.elapsed();
                }
            }
        }
        Ok(Run {
            out,
            seconds_busy: busy.as_secs_f64(),
        })
    }
}
