//! The whole engine on the file backend: IN.wav is the microphone in real
//! time, the packets come back as a remote speaker, OUT.wav is written on
//! the wall clock.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use voice_audio::backend::BackendConfig;
use voice_audio::capture::CaptureMode;
use voice_audio::{AudioEvent, Engine, EngineConfig, IncomingPacket, SAMPLE_RATE, Speaker};

#[test]
fn speech_goes_round_the_engine_in_real_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = common::speech_48k(
        dir.path(),
        "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.",
    )
    .expect("speech");
    let mut signal = vec![0.0; SAMPLE_RATE as usize];
    signal.extend_from_slice(&speech);
    let input = dir.path().join("in.wav");
    let output = dir.path().join("out.wav");
    common::write_wav(&input, &signal, SAMPLE_RATE).expect("wav");

    let (ptx, prx) = mpsc::channel();
    let (etx, erx) = mpsc::channel();
    let engine = Engine::start(
        EngineConfig {
            backend: BackendConfig::File {
                input: Some(input),
                output: Some(output.clone()),
            },
            mode: CaptureMode::VoiceActivity,
            ..EngineConfig::default()
        },
        move |p| {
            let _ = ptx.send(p);
        },
        move |e| {
            let _ = etx.send(e);
        },
    )
    .expect("engine");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    let mut events = Vec::new();
    let mut packets = 0;
    'run: loop {
        while let Ok(p) = prx.try_recv() {
            packets += 1;
            engine
                .receive(IncomingPacket {
                    speaker: 1,
                    seq: p.seq,
                    end_of_burst: p.end_of_burst,
                    opus: &p.opus,
                })
                .expect("receive");
        }
        while let Ok(e) = erx.try_recv() {
            let done = e == AudioEvent::InputFinished;
            events.push(e);
            if done {
                break 'run;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the input did not finish in 120 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    // Let the hangover and the playout finish.
    std::thread::sleep(Duration::from_millis(800));
    while let Ok(p) = prx.try_recv() {
        packets += 1;
        let _ = engine.receive(IncomingPacket {
            speaker: 1,
            seq: p.seq,
            end_of_burst: p.end_of_burst,
            opus: &p.opus,
        });
    }
    std::thread::sleep(Duration::from_millis(500));
    let elapsed = started.elapsed();
    engine.stop();
    events.extend(erx.try_iter());

    for speaker in [Speaker::Local, Speaker::Remote(1)] {
        assert!(
            events.contains(&AudioEvent::Talking {
                speaker,
                talking: true
            }),
            "{speaker:?} never talked"
        );
    }
    let (out, rate) = common::read_wav(&output).expect("output");
    assert_eq!(rate, SAMPLE_RATE);
    let out_secs = out.len() as f64 / f64::from(SAMPLE_RATE);
    // Wall-clock timeline: the file is as long as the run, silence included.
    assert!(
        out_secs > signal.len() as f64 / f64::from(SAMPLE_RATE),
        "output {out_secs:.1} s shorter than the input"
    );
    assert!(out_secs <= elapsed.as_secs_f64() + 0.1);
    // The leading second of silence was not sent nor played.
    let lead = out[..SAMPLE_RATE as usize / 2]
        .iter()
        .fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(lead < 0.01, "sound during the leading silence: {lead}");
    let pesq = common::pesq_wb(dir.path(), &signal, &out).expect("pesq");
    println!("{packets} packets; output {out_secs:.1} s; PESQ-WB {pesq:.2}");
    // Real threads on a shared, loaded machine: a stalled worker leaves gaps
    // in the wall-clock output, so the floor here is lower than the
    // simulated-clock floors of `loss_loop`.
    assert!(pesq > 2.5, "PESQ {pesq:.2}");
}
