//! Voice end to end: two daemons on the file backend talk through a real
//! voice-server (in-process, real QUIC on loopback), the speaker's uplink
//! optionally through the seeded impairment proxy. What B hears (its
//! OUT.wav, on a wall-clock timeline) is scored with PESQ-WB against the
//! speech A said (espeak-ng, made at test time), beside the codec's own
//! limit for the same settings and a loss pattern from the same seed.

#[path = "../audio/tests/common/mod.rs"]
mod audio_common;
mod support;

use std::path::Path;
use std::time::Duration;

use support::{Audio, TestDaemon, TestServer, WAIT};
use voice_audio::SAMPLE_RATE;
use voice_audio::codec::OpusSettings;
use voice_netsim::{Impairment, UdpProxy};
use voice_proto::pb::control::{self as c, event};

/// About nine seconds of speech.
const TEXT: &str = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. \
It is easy to tell the depth of a well. These days a chicken leg is a rare dish.";

/// Silence before the speech: the file plays from the daemon's start, and
/// the call must be up before the first word.
const LEAD: Duration = Duration::from_millis(2500);

/// A daemon on the file backend (the kit's: the engine's default 20 ms
/// playback queue; with 10 ms, what `voiced --audio-backend file` uses for
/// latency figures, a stall of the busy test machine longer than two 5 ms
/// ticks plays a few milliseconds of silence mid-speech: on 2026-11-29 one
/// 3.6 ms gap took a clean call from 3.93 to 3.78. The latency example
/// measures the 10 ms queue).
async fn file_daemon(input: Option<&Path>, output: Option<&Path>) -> TestDaemon {
    TestDaemon::start_with_audio(Audio::Files {
        input: input.map(Path::to_owned),
        output: output.map(Path::to_owned),
    })
    .await
}

/// Connects to `server` through `via` (its address, or a proxy's).
async fn connect_to(
    client: &mut support::Client,
    server: &TestServer,
    via: &str,
    name: &str,
) -> u32 {
    let s = client
        .connect(c::ConnectRequest {
            server: via.into(),
            ..server.connect_request(name)
        })
        .await
        .expect("connects")
        .into_inner();
    assert_eq!(s.state, c::ConnectionState::Connected as i32, "{s:?}");
    s.session_id
}

struct CallResult {
    pesq: f64,
    limit: f64,
    packets_dropped: u64,
}

/// One call: A speaks, B listens, A's uplink through `uplink` if given.
async fn call(name: &str, uplink: Option<Impairment>, reported_loss: f32) -> CallResult {
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = audio_common::speech_48k(dir.path(), TEXT).expect("speech");
    let mut signal = vec![0.0; (LEAD.as_secs_f64() * f64::from(SAMPLE_RATE)) as usize];
    signal.extend_from_slice(&speech);
    let input = dir.path().join("in.wav");
    let output = dir.path().join("out.wav");
    audio_common::write_wav(&input, &signal, SAMPLE_RATE).expect("wav");

    let server = TestServer::start().await;
    let proxy = uplink.clone().map(|imp| {
        UdpProxy::start(
            "127.0.0.1:0".parse().expect("addr"),
            server.addr,
            imp,
            Impairment::clean(1),
        )
        .expect("proxy")
    });
    let a_server = proxy
        .as_ref()
        .map_or_else(|| server.server(), |p| p.local_addr().to_string());

    let b = file_daemon(None, Some(&output)).await;
    let mut bc = b.client().await;
    connect_to(&mut bc, &server, &server.server(), "listener").await;
    let mut b_events = bc
        .watch(c::WatchRequest { levels: false })
        .await
        .expect("watch")
        .into_inner();
    let b_watch = tokio::spawn(async move {
        let mut talking = Vec::new();
        while let Ok(Some(e)) = b_events.message().await {
            if let Some(event::Kind::Talking(t)) = e.kind {
                talking.push(t);
            }
        }
        talking
    });

    let a = file_daemon(Some(&input), None).await;
    let mut ac = a.client().await;
    let mut a_events = ac
        .watch(c::WatchRequest { levels: true })
        .await
        .expect("watch")
        .into_inner();
    ac.set_voice_mode(c::VoiceModeRequest {
        mode: c::VoiceMode::Continuous as i32,
    })
    .await
    .expect("continuous");
    let a_id = connect_to(&mut ac, &server, &a_server, "speaker").await;

    // A's file plays to its end; meanwhile A reports its own talking and
    // levels.
    let (mut local_talking, mut levels) = (false, 0);
    tokio::time::timeout(WAIT * 2, async {
        while let Some(e) = a_events.message().await.expect("events") {
            match e.kind {
                // Continuous mode transmits from the start, before A has a
                // session id (0).
                Some(event::Kind::Talking(t))
                    if (t.session == a_id || t.session == 0) && t.talking =>
                {
                    local_talking = true;
                }
                Some(event::Kind::Level(_)) => levels += 1,
                Some(event::Kind::Device(d)) if d.message.contains("to its end") => return,
                _ => {}
            }
        }
    })
    .await
    .expect("the input file ends");
    // The jitter buffer's playout, then B's file is finished by its stop.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let status = ac.status(c::Empty {}).await.expect("status").into_inner();
    b.stop().await;
    let heard = tokio::time::timeout(WAIT, b_watch)
        .await
        .expect("B's watch ends with B")
        .expect("watch task");
    let heard_talking = heard.iter().any(|t| t.session == a_id && t.talking);
    assert!(local_talking, "A never reported talking");
    assert!(levels > 10, "A sent {levels} level events");
    assert!(heard_talking, "B never saw A talking");
    assert_eq!(status.state, c::ConnectionState::Connected as i32);

    let (out, rate) = audio_common::read_wav(&output).expect("B's output");
    assert_eq!(rate, SAMPLE_RATE);
    let margin = SAMPLE_RATE as usize / 4;
    let (reference, degraded) = audio_common::align(&speech, &out, margin);
    let pesq = audio_common::pesq_wb(dir.path(), &reference, &degraded).expect("pesq");
    let limit_audio = audio_common::codec_limit(
        &speech,
        OpusSettings::default(),
        reported_loss,
        uplink.clone().unwrap_or_else(|| Impairment::clean(1)),
    )
    .expect("codec limit");
    let (limit_ref, limit_deg) = audio_common::align(&speech, &limit_audio, margin);
    let limit = audio_common::pesq_wb(dir.path(), &limit_ref, &limit_deg).expect("pesq");
    let packets_dropped = proxy.as_ref().map_or(0, |p| {
        let s = p.stats();
        s.up_in.load(std::sync::atomic::Ordering::Relaxed)
            - s.up_out.load(std::sync::atomic::Ordering::Relaxed)
    });
    println!(
        "{name}: PESQ-WB {pesq:.2} through server and two daemons; codec limit {limit:.2} ({:.0} % of it); {packets_dropped} uplink datagrams dropped",
        pesq / limit * 100.0
    );
    drop(a);
    CallResult {
        pesq,
        limit,
        packets_dropped,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_call_sounds_good() {
    let r = call("clean", None, 0.0).await;
    assert!(r.pesq >= 3.9, "PESQ-WB {:.2} below 3.9", r.pesq);
    assert!(r.limit > 0.0);
}

// The proxy drops UDP packets, not voice frames, so which frames a call loses
// moves with the timing of the other QUIC packets, and PESQ moves with it:
// 3.19-3.31 in four runs on 2026-11-29 (docs/perf.md). The codec limit
// printed beside it uses the seed's pattern over voice frames; one run's own
// packets decoded offline with that run's own losses scored 3.35 against
// 3.24 heard. The CI profile gives this test two retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_percent_loss_is_protected() {
    let r = call("5 % loss", Some(Impairment::random_loss(5, 0.05)), 5.0).await;
    assert!(r.packets_dropped > 0, "the proxy dropped nothing");
    assert!(r.pesq >= 3.1, "PESQ-WB {:.2} below 3.1", r.pesq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_loss_and_jitter_still_intelligible() {
    let imp = Impairment {
        jitter: Duration::from_millis(40),
        ..Impairment::random_loss(10, 0.10)
    };
    let r = call("10 % loss + 40 ms jitter", Some(imp), 10.0).await;
    assert!(r.packets_dropped > 0, "the proxy dropped nothing");
    assert!(r.pesq >= 2.6, "PESQ-WB {:.2} below 2.6", r.pesq);
}

/// Between the two halves of the blackout call: 0.5 s of silence, a tone,
/// 0.5 s of silence.
const GAP: Duration = Duration::from_secs(6);
/// The blackout: the last `BLACKOUT` of every `BLACKOUT_EVERY` after the
/// proxy starts (the impairer's pattern), so from 15 s to 17 s. The tone
/// plays from about 13.9 s to 18.9 s after A starts (the speech with
/// espeak's trailing silence is about 10.9 s), and A starts within half a
/// second of the proxy: the blackout falls inside the tone with a second
/// of it on each side, once (the next would begin after the call).
const BLACKOUT: Duration = Duration::from_secs(2);
const BLACKOUT_EVERY: Duration = Duration::from_secs(17);

/// Both directions of A's link: 5 % loss with bursts (2 % random plus
/// Gilbert–Elliott bursts of about four packets, 3 % of the time bad),
/// 40 ms jitter, 1 % duplication, 1 % reordering by 30 ms, and the
/// blackout.
fn rough_link(seed: u64) -> Impairment {
    Impairment {
        seed,
        loss: 0.02,
        burst: Some(voice_netsim::GilbertElliott {
            p_enter_bad: 0.01,
            p_leave_bad: 0.25,
            loss_in_bad: 0.75,
        }),
        jitter: Duration::from_millis(40),
        reorder: 0.01,
        reorder_by: Duration::from_millis(30),
        duplicate: 0.01,
        blackout: Some((BLACKOUT_EVERY, BLACKOUT)),
        ..Impairment::default()
    }
}

/// Fault 5 of issue 20: a call over a rough link with a 2 s blackout in
/// the middle. The same speech is said before and after the blackout;
/// the call must come back on its own connection (no reconnection) within
/// 1 s of the link returning (quinn held voice back for about a second
/// before `voice_net::congestion`'s window floor). PESQ-WB before and
/// after is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackout_on_a_rough_link_and_the_call_comes_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = audio_common::speech_48k(dir.path(), TEXT).expect("speech");
    let samples = |d: Duration| (d.as_secs_f64() * f64::from(SAMPLE_RATE)) as usize;
    // Speech, then the gap: 0.5 s of silence, a 440 Hz tone through the
    // blackout (its dropout in what B hears is how long the call was
    // gone), 0.5 s of silence; then the same speech again.
    let quiet = Duration::from_millis(500);
    let mut signal = vec![0.0; samples(LEAD)];
    signal.extend_from_slice(&speech);
    signal.resize(signal.len() + samples(quiet), 0.0);
    let tone = samples(GAP - quiet * 2);
    signal.extend(
        (0..tone).map(|i| {
            0.1 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / SAMPLE_RATE as f32).sin()
        }),
    );
    signal.resize(signal.len() + samples(quiet), 0.0);
    signal.extend_from_slice(&speech);
    let input = dir.path().join("in.wav");
    let output = dir.path().join("out.wav");
    audio_common::write_wav(&input, &signal, SAMPLE_RATE).expect("wav");

    let server = TestServer::start().await;
    let b = file_daemon(None, Some(&output)).await;
    let b_started = std::time::Instant::now();
    let mut bc = b.client().await;
    connect_to(&mut bc, &server, &server.server(), "listener").await;
    let proxy = UdpProxy::start(
        "127.0.0.1:0".parse().expect("addr"),
        server.addr,
        rough_link(51),
        rough_link(52),
    )
    .expect("proxy");
    let a = file_daemon(Some(&input), None).await;
    let a_started = std::time::Instant::now();
    let mut ac = a.client().await;
    let mut a_events = ac
        .watch(c::WatchRequest { levels: false })
        .await
        .expect("watch")
        .into_inner();
    ac.set_voice_mode(c::VoiceModeRequest {
        mode: c::VoiceMode::Continuous as i32,
    })
    .await
    .expect("continuous");
    let a_id = connect_to(&mut ac, &server, &proxy.local_addr().to_string(), "speaker").await;
    let mut a_states = Vec::new();
    tokio::time::timeout(WAIT * 3, async {
        while let Some(e) = a_events.message().await.expect("events") {
            match e.kind {
                Some(event::Kind::Connection(s)) => a_states.push((s.state(), s.session_id)),
                Some(event::Kind::Device(d)) if d.message.contains("to its end") => return,
                _ => {}
            }
        }
    })
    .await
    .expect("the input file ends");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let status = ac.status(c::Empty {}).await.expect("status").into_inner();
    b.stop().await;

    // No reconnection: A stayed connected on its first session throughout.
    assert_eq!(
        (status.state(), status.session_id),
        (c::ConnectionState::Connected, a_id),
        "{status:?}"
    );
    assert!(
        a_states
            .iter()
            .skip_while(|(state, _)| *state != c::ConnectionState::Connected)
            .all(|(state, _)| *state == c::ConnectionState::Connected),
        "once connected, A's connection never left the connected state: {a_states:?}"
    );

    // The two halves of what B heard, split in the gap (B's file starts
    // with B; A's speech starts LEAD after A).
    let (out, rate) = audio_common::read_wav(&output).expect("B's output");
    assert_eq!(rate, SAMPLE_RATE);
    let a_offset = a_started.duration_since(b_started);
    let split = samples(a_offset + LEAD + GAP / 2) + speech.len();
    let margin = SAMPLE_RATE as usize / 4;
    let score = |part: &[f32]| {
        let (reference, degraded) = audio_common::align(&speech, part, margin);
        audio_common::pesq_wb(dir.path(), &reference, &degraded).expect("pesq")
    };
    let before = score(&out[..split.min(out.len())]);
    // The tone's dropout: the longest silent stretch with sound close on
    // both sides (10 ms blocks). The link was gone for BLACKOUT; the rest
    // is how long the call took to come back (give or take the jitter
    // buffer's depth, which plays on into the blackout).
    let block = SAMPLE_RATE as usize / 100;
    let rms: Vec<f32> = out
        .chunks(block)
        .map(|b| (b.iter().map(|x| x * x).sum::<f32>() / b.len() as f32).sqrt())
        .collect();
    let sound = |i: usize| rms.get(i).is_some_and(|r| *r > 0.03);
    let mut dropout = 0;
    let mut i = 0;
    while i < rms.len() {
        if rms[i] >= 0.01 {
            i += 1;
            continue;
        }
        let start = i;
        while i < rms.len() && rms[i] < 0.01 {
            i += 1;
        }
        let flanked = (start.saturating_sub(10)..start).any(sound) && (i..i + 10).any(sound);
        if flanked {
            dropout = dropout.max(i - start);
        }
    }
    // The second half of the speech: from the middle of the quiet before
    // it (by the timeline, so the tone stays out of the alignment).
    let after_from = samples(a_offset + LEAD + GAP - quiet / 2) + speech.len();
    let after = score(&out[after_from.min(out.len())..]);
    let dropout = Duration::from_millis(dropout as u64 * 10);
    assert!(
        dropout >= BLACKOUT - Duration::from_millis(200),
        "the blackout silenced the tone at B: {} ms of dropout",
        dropout.as_millis()
    );
    let resumed = dropout.saturating_sub(BLACKOUT);
    let s = proxy.stats();
    let dropped = s.up_in.load(std::sync::atomic::Ordering::Relaxed)
        - s.up_out.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "rough link + 2 s blackout: B heard A again {} ms after the link returned ({} ms of \
         dropout), no reconnection; PESQ-WB before {before:.2}, after {after:.2}; {dropped} \
         uplink datagrams dropped",
        resumed.as_millis(),
        dropout.as_millis()
    );
    assert!(
        resumed <= Duration::from_secs(1),
        "the call came back {} ms after the link (goal: 1 s)",
        resumed.as_millis()
    );
    // Not asserted: the halves differ without a blackout too (the bursty
    // loss falls differently on each), so `after` is compared with the same
    // half of a run without the blackout, in docs/perf.md (fault 5).
    drop(a);
}
