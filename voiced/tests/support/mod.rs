//! Test fixtures: voice-testkit's server and daemon, and waits on what a
//! daemon sees.
#![allow(clippy::unwrap_used, dead_code, unused_imports, missing_docs)]

pub mod python;

use voice_proto::pb::control::{self as c, event};
pub use voice_testkit::{
    Audio, Client, PASSWORD, TestDaemon, TestServer, VoicedChild, WAIT, connect, connect_as_admin,
    paths_in, xdg_env,
};

/// Watches events until `pred` holds for the daemon's state (checked on
/// every event, and at once).
pub async fn wait_state(
    client: &mut Client,
    mut pred: impl FnMut(&c::StatusReply, Option<&c::StateReply>) -> bool,
) {
    let mut events = client
        .watch(c::WatchRequest { levels: false })
        .await
        .unwrap()
        .into_inner();
    let mut probe = client.clone();
    let check = |probe: &mut Client| {
        let mut probe = probe.clone();
        async move {
            let s = probe.status(c::Empty {}).await.unwrap().into_inner();
            let st = probe.state(c::Empty {}).await.ok().map(|r| r.into_inner());
            (s, st)
        }
    };
    tokio::time::timeout(WAIT, async {
        loop {
            let (s, st) = check(&mut probe).await;
            if pred(&s, st.as_ref()) {
                return;
            }
            match events.message().await.unwrap() {
                Some(e) => {
                    if let Some(event::Kind::Error(e)) = e.kind {
                        eprintln!("event: error {}", e.message);
                    }
                }
                None => panic!("watch ended"),
            }
        }
    })
    .await
    .expect("condition reached in time");
}

/// Waits until the daemon's chat history holds at least `n` messages.
pub async fn wait_chat(client: &mut Client, n: usize) -> Vec<voice_proto::pb::wire::ChatMessage> {
    let mut events = client
        .watch(c::WatchRequest { levels: false })
        .await
        .unwrap()
        .into_inner();
    tokio::time::timeout(WAIT, async {
        loop {
            let h = client
                .chat_history(c::ChatHistoryRequest::default())
                .await
                .unwrap()
                .into_inner();
            if h.messages.len() >= n {
                return h.messages;
            }
            if events.message().await.unwrap().is_none() {
                panic!("watch ended");
            }
        }
    })
    .await
    .expect("chat arrived in time")
}
