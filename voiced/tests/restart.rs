//! Fault: the server restarts (an upgrade, a reboot) again and again. Two
//! daemons in different rooms, one muted and one deafened, must come back
//! on their own into their rooms each time, with mute and deafen as they
//! were, and every other member must see them so. Prints how long after
//! the server listened again each was back (goal: 2 s, every trial).
//!
//! `VOICE_RESTART_CYCLES` sets the number of restarts (default 5;
//! `scripts/restart-loop N` runs N).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use voice_proto::pb::control::{self as c, ConnectionState};
use voice_proto::pb::wire::Session;

mod support;
use support::{Client, TestDaemon, TestServer, WAIT, connect, wait_state};

const GOAL: Duration = Duration::from_secs(2);

fn room_id(state: &c::StateReply, name: &str) -> u32 {
    let snapshot = state.state.as_ref().unwrap();
    snapshot.rooms.iter().find(|r| r.name == name).unwrap().id
}

/// The session named `name` in a daemon's view of the server.
fn session<'a>(state: Option<&'a c::StateReply>, name: &str) -> Option<&'a Session> {
    state?
        .state
        .as_ref()?
        .sessions
        .iter()
        .find(|s| s.name == name)
}

/// Polls (every 10 ms, so that the time is not that of the next event)
/// until `client` is connected, in `room`, and sees `other` with these
/// flags; the time since `since`.
async fn back(
    mut client: Client,
    room: u32,
    other: &'static str,
    (mute, deaf): (bool, bool),
    since: Instant,
) -> Duration {
    let mut last = String::new();
    let found = tokio::time::timeout(WAIT, async {
        loop {
            let s = client.status(c::Empty {}).await.unwrap().into_inner();
            let st = client.state(c::Empty {}).await.ok().map(|r| r.into_inner());
            if s.state == ConnectionState::Connected as i32
                && s.room == room
                && session(st.as_ref(), other)
                    .is_some_and(|o| o.self_mute == mute && o.self_deaf == deaf)
            {
                return since.elapsed();
            }
            last = format!(
                "state {} room {} {other}: {:?}",
                s.state,
                s.room,
                session(st.as_ref(), other).map(|o| (o.self_mute, o.self_deaf))
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| {
        panic!("back in room {room}, seeing {other} as before, within {WAIT:?}: {last}")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemons_return_to_their_rooms_with_their_flags_after_every_restart() {
    let cycles: usize = std::env::var("VOICE_RESTART_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut server = TestServer::start().await;
    let (da, db) = (TestDaemon::start().await, TestDaemon::start().await);
    let (mut a, mut b) = (da.client().await, db.client().await);
    connect(&mut a, &server, "Ada").await;
    connect(&mut b, &server, "Bob").await;
    for name in ["Red", "Blue"] {
        a.create_room(c::CreateRoomRequest {
            parent: String::new(),
            name: name.into(),
            description: String::new(),
        })
        .await
        .unwrap();
    }
    let st = a.state(c::Empty {}).await.unwrap().into_inner();
    let (red, blue) = (room_id(&st, "Red"), room_id(&st, "Blue"));
    a.join(c::RoomRef { room: "Red".into() }).await.unwrap();
    b.join(c::RoomRef {
        room: "Blue".into(),
    })
    .await
    .unwrap();
    a.set_mute(c::Toggle { on: true }).await.unwrap();
    b.set_deaf(c::Toggle { on: true }).await.unwrap();
    // Deafened is muted too (a deaf user does not talk unheard).
    let (ada_flags, bob_flags) = ((true, false), (true, true));
    back(b.clone(), blue, "Ada", ada_flags, Instant::now()).await;
    back(a.clone(), red, "Bob", bob_flags, Instant::now()).await;

    let mut times = Vec::new();
    for _ in 0..cycles {
        let (dir, addr) = server.stop().await;
        wait_state(&mut a, |s, _| s.state != ConnectionState::Connected as i32).await;
        wait_state(&mut b, |s, _| s.state != ConnectionState::Connected as i32).await;
        server = TestServer::start_in(dir, addr).await;
        let up = Instant::now();
        let ta = tokio::spawn(back(a.clone(), red, "Bob", bob_flags, up));
        let tb = tokio::spawn(back(b.clone(), blue, "Ada", ada_flags, up));
        times.push(ta.await.unwrap());
        times.push(tb.await.unwrap());
    }
    times.sort();
    let within = times.iter().filter(|t| **t <= GOAL).count();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    println!(
        "server restarts: {cycles}, daemons back in their rooms with mute/deafen kept: \
         {within} of {} within 2 s; median {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        times.len(),
        ms(&times[times.len() / 2]),
        ms(&times[times.len() * 9 / 10]),
        ms(times.last().unwrap())
    );
}
