//! Durable changes. A change that lasts (rooms, ACLs, roles, renames) is
//! confirmed only once it is on disk: it is applied to find its steps,
//! written to the database, taken back out of the state, flushed without
//! the hub lock, and only then applied again and broadcast. A failed write
//! or flush takes the database writes back too, and the proposer gets an
//! error; no session ever sees a change that did not last.
//!
//! Every change of the state (and every `Welcome`) happens under the
//! writer lock, so nothing moves between the flush and the re-apply; chat,
//! pings, voice routes and snapshots only take the hub lock, which is never
//! held across a disk sync.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use voice_proto::StateHash;
use voice_proto::pb::wire::{Change, change::Kind};
use voice_proto::state::{Actor, Applied, Rejection, SessionId};

use super::{Hub, Inner};
use crate::store::StoreError;
use crate::throttle::TokenBucket;

/// Why a change was not committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The state refused it.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// A server limit refused it; the text says which.
    #[error("{0}")]
    Limit(String),
    /// The proposer's budget of lasting changes is spent for now.
    #[error("{0}")]
    RateLimited(String),
    /// It could not be made durable; nothing changed.
    #[error("the change could not be saved ({0}); nothing changed, try again later")]
    Store(#[from] StoreError),
}

/// Whether a step is written to the database.
pub(super) fn lasting(kind: Option<&Kind>) -> bool {
    matches!(
        kind,
        Some(
            Kind::AddRoom(_)
                | Kind::EditRoom(_)
                | Kind::MoveRoom(_)
                | Kind::SetRoomAcl(_)
                | Kind::RemoveRoom(_)
                | Kind::AddRole(_)
                | Kind::RemoveRole(_)
                | Kind::SetSessionRoles(_)
                | Kind::RenameSession(_)
        )
    )
}

/// Per-key budgets of lasting changes (`persist_rate`, `persist_burst`).
#[derive(Debug, Default)]
pub(super) struct WriteBudgets {
    buckets: HashMap<Vec<u8>, (TokenBucket, Instant)>,
}

impl WriteBudgets {
    /// Takes one lasting change from a key's budget.
    fn take(&mut self, key: &[u8], rate: f64, burst: f64) -> bool {
        let now = Instant::now();
        // A bucket idle long enough to be full again is the same as none:
        // forget those, so the table only holds keys that wrote lately.
        let refill = Duration::from_secs_f64((burst.max(1.0) / rate.max(1e-6)).min(86_400.0));
        if self.buckets.len() >= 1024 {
            self.buckets
                .retain(|_, (_, last)| now.duration_since(*last) < refill);
        }
        let (bucket, last) = self
            .buckets
            .entry(key.to_vec())
            .or_insert_with(|| (TokenBucket::new(rate, burst), now));
        *last = now;
        bucket.take()
    }
}

impl Hub {
    /// Judges, persists and publishes one change; the caller holds the
    /// writer lock. `Ok` carries the steps and the sequence number of the
    /// last update sent.
    pub(super) async fn commit(
        &self,
        actor: Actor,
        expected: &StateHash,
        change: &Change,
    ) -> Result<(Vec<Applied>, u64), CommitError> {
        let mut inner = self.inner.lock().await;
        let proposer: SessionId = match actor {
            Actor::Session(id) => id,
            Actor::Server => 0,
        };
        if let Actor::Session(id) = actor
            && lasting(change.kind.as_ref())
        {
            self.take_write_budget(&mut inner, id)?;
        }
        let before = inner.state.encoded_len();
        let applied = inner.state.propose(actor, expected, change)?;
        if let Err(e) = self.check_budgets(&inner, actor, before, &applied) {
            undo(&mut inner, &applied);
            return Err(e);
        }
        if !applied.iter().any(|a| lasting(a.change.kind.as_ref())) {
            return Ok(self.publish(&mut inner, applied, proposer));
        }
        let creators = creator_changes(&inner, actor, &applied);
        let since = self.store.epoch();
        let written = self
            .persist_locked(&inner, &applied)
            .and_then(|()| self.write_creators(&creators));
        // Out of the state until it is durable: nobody may see it before.
        undo(&mut inner, &applied);
        drop(inner);
        let durable = match written {
            Ok(()) => self.store.flush(since).await,
            Err(e) => Err(e),
        };
        let mut inner = self.inner.lock().await;
        if let Err(e) = durable {
            tracing::error!(error = %e, "a change could not be saved; refused");
            // The database holds the writes in memory: take them back, so a
            // later flush cannot make them last.
            let back = self.unpersist_locked(&inner, &applied).and_then(|()| {
                for (id, _) in &creators.added {
                    self.store.remove_room_creator(*id)?;
                }
                for id in &creators.removed {
                    if let Some(key) = inner.creators.get(id) {
                        self.store.put_room_creator(*id, key)?;
                    }
                }
                Ok(())
            });
            if let Err(e) = back {
                tracing::error!(error = %e, "cannot take back the writes of a refused change");
            }
            return Err(e.into());
        }
        for step in &applied {
            // The same steps on the same state (the writer lock kept it):
            // they apply again, to the same hashes.
            if let Err(e) = inner.state.apply(&step.change) {
                tracing::error!(error = %e, "a saved change no longer applies");
            }
        }
        for id in &creators.removed {
            inner.creators.remove(id);
        }
        inner.creators.extend(creators.added);
        Ok(self.publish(&mut inner, applied, proposer))
    }

    fn write_creators(&self, creators: &CreatorChanges) -> Result<(), StoreError> {
        for (id, key) in &creators.added {
            self.store.put_room_creator(*id, key)?;
        }
        for id in &creators.removed {
            self.store.remove_room_creator(*id)?;
        }
        Ok(())
    }

    fn take_write_budget(&self, inner: &mut Inner, id: SessionId) -> Result<(), CommitError> {
        let Some(link) = inner.links.get(&id) else {
            return Ok(());
        };
        let key = link.key.clone();
        let (rate, burst) = (self.config.persist_rate, self.config.persist_burst);
        if inner.write_budgets.take(&key, rate, burst) {
            Ok(())
        } else {
            Err(CommitError::RateLimited(format!(
                "too many lasting changes (rooms, ACLs, roles, names): the limit is \
                 {burst} at once and {rate} per second (persist_rate); wait a moment and try again"
            )))
        }
    }

    /// Routes, then the updates to everyone.
    fn publish(
        &self,
        inner: &mut Inner,
        applied: Vec<Applied>,
        proposer: SessionId,
    ) -> (Vec<Applied>, u64) {
        for step in &applied {
            if let Some(Kind::AddFile(file)) = &step.change.kind
                && let Ok(hash) = <[u8; 20]>::try_from(file.info_hash.as_slice())
            {
                inner.tracker.attach_file(&(file.room, hash), file.id);
            }
        }
        self.rebuild_routes(inner);
        self.broadcast_locked(inner, &applied, proposer);
        (applied, inner.seq)
    }
}

/// Who created or lost which rooms in a change.
#[derive(Debug, Default)]
struct CreatorChanges {
    added: Vec<(u32, Vec<u8>)>,
    removed: Vec<u32>,
}

fn creator_changes(inner: &Inner, actor: Actor, applied: &[Applied]) -> CreatorChanges {
    let key = match actor {
        Actor::Session(id) => inner.links.get(&id).map(|l| l.key.clone()),
        Actor::Server => None,
    };
    let mut out = CreatorChanges::default();
    for step in applied {
        match &step.change.kind {
            Some(Kind::AddRoom(room)) => {
                if let Some(key) = &key {
                    out.added.push((room.id, key.clone()));
                }
            }
            Some(Kind::RemoveRoom(_)) => {
                for undo in &step.inverse {
                    if let Some(Kind::AddRoom(room)) = &undo.kind
                        && inner.creators.contains_key(&room.id)
                    {
                        out.removed.push(room.id);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Takes applied steps back out of the state.
fn undo(inner: &mut Inner, applied: &[Applied]) {
    for step in applied.iter().rev() {
        // The inverse of a change just applied always applies (one hash).
        let _ = inner.state.apply_all(&step.inverse);
    }
}

impl Hub {
    /// The state's byte budget (`max_state_bytes`, for changes that grow
    /// it) and the per-key quotas of a session's change.
    fn check_budgets(
        &self,
        inner: &Inner,
        actor: Actor,
        before: usize,
        applied: &[Applied],
    ) -> Result<(), CommitError> {
        let state = &inner.state;
        let after = state.encoded_len();
        let max = self.config.max_state_bytes;
        if after > max && after > before {
            return Err(CommitError::Limit(format!(
                "the server's state would be {after} bytes; its limit is {max} bytes \
                 (max_state_bytes): remove rooms, files or long descriptions first"
            )));
        }
        let Actor::Session(id) = actor else {
            return Ok(());
        };
        let Some(key) = inner.links.get(&id).map(|l| l.key.as_slice()) else {
            return Ok(());
        };
        let max_rooms = self.config.max_rooms_per_key;
        let creates = applied
            .iter()
            .any(|a| matches!(a.change.kind, Some(Kind::AddRoom(_))));
        let is_admin = state
            .session(id)
            .is_some_and(|s| s.roles.iter().any(|r| r == voice_proto::state::ROLE_ADMIN));
        if creates && max_rooms > 0 && !is_admin {
            let mine = inner.creators.values().filter(|k| *k == key).count();
            if mine >= max_rooms {
                return Err(CommitError::Limit(format!(
                    "you created {max_rooms} rooms already, the most one user may \
                     (max_rooms_per_key): remove one first"
                )));
            }
        }
        for step in applied {
            if let Some(Kind::AddFile(file)) = &step.change.kind {
                check_published(inner, key, file)?;
            }
        }
        let max_files = self.config.max_files_per_key;
        let shares = applied
            .iter()
            .any(|a| matches!(a.change.kind, Some(Kind::AddFile(_))));
        if shares && max_files > 0 {
            let mine = state
                .files()
                .values()
                .filter(|f| f.owner_key == key)
                .count();
            if mine > max_files {
                return Err(CommitError::Limit(format!(
                    "you share {max_files} files already, the most one user may \
                     (max_files_per_key): remove one first"
                )));
            }
        }
        Ok(())
    }
}

/// A file entry must name a torrent its sharer published in that room, with
/// the same name and size (so the file list tells the truth), once.
fn check_published(
    inner: &Inner,
    key: &[u8],
    file: &voice_proto::pb::wire::SharedFile,
) -> Result<(), CommitError> {
    let not_published = || {
        CommitError::Limit(format!(
            "no torrent with this info hash was published in room {}: publish the file's \
             torrent to the server's tracker first (TorrentPublish)",
            file.room
        ))
    };
    let hash: [u8; 20] = file
        .info_hash
        .as_slice()
        .try_into()
        .map_err(|_| not_published())?;
    let swarm = inner
        .tracker
        .swarm(&(file.room, hash))
        .ok_or_else(not_published)?;
    if swarm.publisher_key != key {
        return Err(CommitError::Limit(
            "this torrent was published by another user; only they can list it".to_owned(),
        ));
    }
    if swarm.file_id.is_some() {
        return Err(CommitError::Limit(
            "this torrent is listed in the room already".to_owned(),
        ));
    }
    if swarm.name != file.name || swarm.size != file.size {
        return Err(CommitError::Limit(format!(
            "the entry says {:?} of {} bytes, the torrent {:?} of {} bytes; they must match",
            file.name, file.size, swarm.name, swarm.size
        )));
    }
    Ok(())
}
