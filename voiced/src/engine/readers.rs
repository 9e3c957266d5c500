//! The tasks that read the control and chat streams of a link.

use std::sync::Arc;
use std::time::Instant;

use voice_proto::pb::control::{ErrorEvent, StateReply, event};
use voice_proto::pb::wire::{SnapshotRequest, client_msg, server_msg};

use super::Engine;
use super::link::{Link, Reply};
use super::talking::TalkBursts;
use crate::connection::frames::{FrameReader, StreamError};
use crate::connection::mirror::UpdateOutcome;

pub(super) fn spawn(
    engine: Engine,
    generation: u64,
    link: Arc<Link>,
    control: FrameReader,
    chat: FrameReader,
) {
    let (e2, l2) = (engine.clone(), link.clone());
    tokio::spawn(async move {
        let r = read_control(&engine, generation, &link, control).await;
        finish(&link, r);
    });
    let (e3, l3) = (e2.clone(), l2.clone());
    let (e4, l4) = (e2.clone(), l2.clone());
    tokio::spawn(async move {
        let r = read_chat(&e2, generation, &l2, chat).await;
        finish(&l2, r);
    });
    tokio::spawn(async move { e4.accept_relays(generation, l4).await });
    tokio::spawn(async move { read_voice(&e3, generation, &l3).await });
}

/// Voice datagrams: handed to the audio engine; talk bursts become
/// `Talking` events (the payload is never decoded here). When the
/// connection ends, whoever was talking on it stops.
async fn read_voice(engine: &Engine, generation: u64, link: &Arc<Link>) {
    let mut bursts = TalkBursts::default();
    read_bursts(engine, generation, link, &mut bursts).await;
    for speaker in bursts.end_all() {
        talking(engine, speaker, false);
    }
}

async fn read_bursts(engine: &Engine, generation: u64, link: &Arc<Link>, bursts: &mut TalkBursts) {
    loop {
        let expiry = bursts.next_expiry();
        let silence = async {
            match expiry {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let d = tokio::select! {
            d = link.conn.read_datagram() => match d {
                Ok(d) => d,
                Err(_) => return,
            },
            () = silence => {
                for speaker in bursts.expire(Instant::now()) {
                    talking(engine, speaker, false);
                }
                continue;
            }
        };
        if engine.lock().generation != generation {
            return;
        }
        let Ok(v) =
            voice_proto::voice::decode_server(&d, voice_proto::voice::DEFAULT_MAX_PAYLOAD * 4)
        else {
            tracing::debug!("malformed voice datagram dropped");
            continue;
        };
        engine.inner.audio.play(&v);
        if let Some(on) = bursts.packet(v.speaker, v.seq, v.end_of_burst(), Instant::now()) {
            talking(engine, v.speaker, on);
        }
    }
}

fn talking(engine: &Engine, session: u32, talking: bool) {
    engine.emit(event::Kind::Talking(voice_proto::pb::control::Talking {
        session,
        talking,
    }));
}

fn finish(link: &Link, r: Result<(), StreamError>) {
    match r {
        Err(StreamError::Frame(e)) => {
            tracing::warn!(error = %e, "server broke the protocol");
            link.conn.close(
                voice_proto::close::PROTOCOL_ERROR.into(),
                e.to_string().as_bytes(),
            );
        }
        Err(e) => tracing::debug!(error = %e, "stream ended"),
        Ok(()) => {}
    }
}

async fn read_control(
    engine: &Engine,
    generation: u64,
    link: &Arc<Link>,
    mut rx: FrameReader,
) -> Result<(), StreamError> {
    loop {
        let msg = rx.next().await?;
        match msg.msg {
            Some(server_msg::Msg::Update(u)) => {
                let mut entered = None;
                let (outcome, hash) = {
                    let mut st = engine.lock();
                    if st.generation != generation {
                        return Ok(());
                    }
                    let Some(m) = st.mirror.as_mut() else {
                        return Ok(());
                    };
                    let outcome = m.apply(&u);
                    let hash = m.state().hash();
                    let room = m.state().session(link.session_id).map(|me| me.room);
                    if outcome == UpdateOutcome::Applied
                        && let Some(room) = room
                    {
                        if room != st.last_room {
                            entered = Some(room);
                        }
                        st.last_room = room;
                    }
                    (outcome, hash)
                };
                if let Some(room) = entered.take() {
                    engine.auto_history(room);
                }
                match outcome {
                    UpdateOutcome::Applied => {
                        engine.publish_hash(Some(hash));
                        engine.emit(event::Kind::Update(u));
                    }
                    UpdateOutcome::Skipped => {}
                    UpdateOutcome::NeedSnapshot(why) => {
                        // A mismatch is a bug somewhere: log it, then resync.
                        tracing::error!(%why, "state out of step with the server; asking for a snapshot");
                        link.send_control(client_msg::Msg::SnapshotRequest(SnapshotRequest {}))
                            .await?;
                    }
                }
            }
            Some(server_msg::Msg::Snapshot(s)) => {
                let snapshot = s.snapshot.unwrap_or_default();
                let result = {
                    let mut st = engine.lock();
                    if st.generation != generation {
                        return Ok(());
                    }
                    st.mirror.as_mut().map(|m| {
                        m.replace(&snapshot, &s.hash, s.seq)
                            .map(|()| m.state().hash())
                    })
                };
                match result {
                    Some(Ok(hash)) => {
                        engine.publish_hash(Some(hash));
                        engine.emit(event::Kind::State(StateReply {
                            state: Some(snapshot),
                            hash: hash.to_vec(),
                            session_id: link.session_id,
                        }));
                    }
                    Some(Err(e)) => {
                        tracing::error!(error = %e, "bad snapshot from the server");
                        engine.emit(event::Kind::Error(ErrorEvent {
                            message: e.to_string(),
                        }));
                    }
                    None => {}
                }
            }
            Some(server_msg::Msg::Accepted(a)) => link.resolve(a.request_id, Reply::Accepted(a)),
            Some(server_msg::Msg::Rejected(r)) => link.resolve(r.request_id, Reply::Rejected(r)),
            Some(server_msg::Msg::Explain(e)) => match e.explanation {
                Some(x) => link.resolve(e.request_id, Reply::Explain(x)),
                None => link.resolve(e.request_id, Reply::Failed("empty explanation".into())),
            },
            Some(server_msg::Msg::Failed(f)) => {
                link.resolve(f.request_id, Reply::Failed(f.message))
            }
            Some(server_msg::Msg::TorrentInfo(t)) => {
                link.resolve(t.request_id, Reply::TorrentInfo(t))
            }
            Some(server_msg::Msg::Peers(p)) => link.resolve(p.request_id, Reply::Peers(p)),
            Some(server_msg::Msg::Scrape(s)) => link.resolve(s.request_id, Reply::Scrape(s)),
            Some(server_msg::Msg::HistoryFound(h)) => link.resolve(h.request_id, Reply::History(h)),
            Some(server_msg::Msg::Bans(b)) => link.resolve(b.request_id, Reply::Bans(b)),
            Some(server_msg::Msg::HistoryQuery(q)) => engine.history_query(q),
            Some(server_msg::Msg::HistorySettle(s)) => engine.history_settle(s),
            Some(server_msg::Msg::Chat(c)) => engine.receive_chat(c),
            Some(server_msg::Msg::ListenerLoss(l)) => engine.listener_loss(l.loss_permille),
            Some(other) => tracing::trace!(?other, "ignored on the control stream"),
            None => {}
        }
    }
}

async fn read_chat(
    engine: &Engine,
    generation: u64,
    _link: &Arc<Link>,
    mut rx: FrameReader,
) -> Result<(), StreamError> {
    loop {
        let msg = rx.next().await?;
        if engine.lock().generation != generation {
            return Ok(());
        }
        match msg.msg {
            Some(server_msg::Msg::Chat(c)) => engine.receive_chat(c),
            Some(server_msg::Msg::ChatRejected(r)) => engine.emit(event::Kind::Error(ErrorEvent {
                message: format!("chat message not sent: {}", r.message),
            })),
            Some(other) => tracing::trace!(?other, "ignored on the chat stream"),
            None => {}
        }
    }
}

impl Engine {
    fn receive_chat(&self, c: voice_proto::pb::wire::ChatMessage) {
        {
            self.lock().chat.push(c.clone());
        }
        self.emit(event::Kind::Chat(c));
    }
}
