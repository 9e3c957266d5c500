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
