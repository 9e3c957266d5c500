//! The way every action reaches the server: proposals to the shared state
//! (with the automatic retry of a stale one) and requests that wait for an
//! answer.

use std::sync::Arc;
use std::time::Duration;

use voice_proto::acl::Permissions;
use voice_proto::pb::wire::{Change, Propose, change::Kind, client_msg, rejected};
use voice_proto::{State, StateHash};

use crate::engine::Engine;
use crate::engine::link::{Link, Reply};
use crate::error::Error;

/// How long a request may wait for the server.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stale proposal waits to catch up before its retry.
const CATCH_UP: Duration = Duration::from_secs(5);
/// Tries of one proposal while the state changes under it.
const STALE_ATTEMPTS: u32 = 8;

/// A permission's one name (`voice_proto::acl::Permissions::name`).
fn permission_name(p: i32) -> String {
    Permissions::name_of(p)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("permission {p}"))
}

impl Engine {
    pub(super) fn link(&self) -> Result<Arc<Link>, Error> {
        self.lock().link.clone().ok_or(Error::NotConnected)
    }

    /// Runs `f` on the mirrored state and our session id.
    pub fn with_state<T>(
        &self,
        f: impl FnOnce(&State, u32) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let st = self.lock();
        let (Some(m), Some(l)) = (&st.mirror, &st.link) else {
            return Err(Error::NotConnected);
        };
        f(m.state(), l.session_id)
    }

    pub(super) async fn request(
        &self,
        link: &Link,
        id: u64,
        msg: client_msg::Msg,
    ) -> Result<Reply, Error> {
        self.request_within(link, id, msg, REPLY_TIMEOUT).await
    }

    /// [`Engine::request`] for requests the server answers later than
    /// usual (it asks other members first).
    pub(super) async fn request_within(
        &self,
        link: &Link,
        id: u64,
        msg: client_msg::Msg,
        within: Duration,
    ) -> Result<Reply, Error> {
        let rx = link.register_request(id);
        if let Err(e) = link.send_control(msg).await {
            link.forget(id);
            return Err(Error::Failed(format!("connection lost: {e}")));
        }
        match tokio::time::timeout(within, rx).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(_)) => Err(Error::Failed(
                "the connection was lost before the server answered; try again once reconnected"
                    .into(),
            )),
            Err(_) => {
                link.forget(id);
                Err(Error::Failed(format!(
                    "the server did not answer within {} s",
                    within.as_secs()
                )))
            }
        }
    }

    /// Proposes the change that `make` builds from the current state. A
    /// stale proposal is rebuilt and retried after catching up, up to
    /// [`STALE_ATTEMPTS`] times (after a server restart every client
    /// rejoins and restores its flags at once, and two tries were not
    /// always enough); the caller sees only real refusals. Returns the
    /// assigned id.
    pub async fn propose(
        &self,
        make: impl Fn(&State, u32) -> Result<Kind, Error>,
    ) -> Result<u32, Error> {
        let _one_at_a_time = self.inner.proposing.lock().await;
        for attempt in 0..STALE_ATTEMPTS {
            let (link, kind, hash) = {
                let st = self.lock();
                let (Some(m), Some(l)) = (&st.mirror, &st.link) else {
                    return Err(Error::NotConnected);
                };
                (l.clone(), make(m.state(), l.session_id)?, m.state().hash())
            };
            let id = link.next_id();
            let msg = client_msg::Msg::Propose(Propose {
                request_id: id,
                expected_hash: hash.to_vec(),
                change: Some(Change { kind: Some(kind) }),
            });
            match self.request(&link, id, msg).await? {
                Reply::Accepted(a) => {
                    // The updates come before `Accepted`: our mirror has them.
                    return Ok(a.assigned_id);
                }
                Reply::Rejected(r) => match rejected::Reason::try_from(r.reason) {
                    Ok(rejected::Reason::Stale) if attempt + 1 < STALE_ATTEMPTS => {
                        tracing::debug!("stale proposal; catching up to retry");
                        self.catch_up(&r.current_hash).await;
                    }
                    Ok(rejected::Reason::Stale) => {
                        return Err(Error::Failed(
                            "the state kept changing under this request; try again".into(),
                        ));
                    }
                    Ok(rejected::Reason::Denied) => {
                        let why = if r.message.is_empty() {
                            format!("you lack {}", permission_name(r.permission))
                        } else {
                            r.message
                        };
                        return Err(Error::Denied(format!(
                            "permission denied: {why}; `voicectl explain ROOM` shows why"
                        )));
                    }
                    Ok(rejected::Reason::RateLimited) => {
                        return Err(Error::Failed(
                            "rate limited by the server; wait a moment".into(),
                        ));
                    }
                    _ => return Err(Error::Invalid(format!("refused: {}", r.message))),
                },
                Reply::Failed(m) => return Err(Error::Failed(m)),
                Reply::Explain(_)
                | Reply::TorrentInfo(_)
                | Reply::Peers(_)
                | Reply::Scrape(_)
                | Reply::History(_)
                | Reply::Bans(_) => {
                    return Err(Error::Failed("unexpected answer".into()));
                }
            }
        }
        Err(Error::Failed("the state kept changing; try again".into()))
    }

    /// Waits until the mirror has reached (or passed) the server's
    /// `current` hash, i.e. has every update the stale proposal missed.
    async fn catch_up(&self, current: &[u8]) {
        let Some(want) = StateHash::from_slice(current) else {
            return;
        };
        let mut rx = self.inner.hash.subscribe();
        let _ = tokio::time::timeout(CATCH_UP, async {
            loop {
                if self.passed(&want) || rx.borrow_and_update().is_none() {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }
}
