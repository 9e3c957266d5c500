//! The client's copy of the shared state (docs/protocol.md "Shared state"):
//! built from a snapshot, moved by `StateUpdate`s, checked against the
//! server's hash after every change.

use voice_proto::pb::wire::{StateSnapshot, StateUpdate};
use voice_proto::{Limits, State, StateHash};

/// A snapshot that cannot be mirrored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MirrorError {
    /// The snapshot does not validate.
    #[error("the server's state is invalid: {0}")]
    Invalid(String),
    /// The snapshot does not hash to what the server said.
    #[error("the server's state hash {expected} does not match its snapshot ({actual})")]
    HashMismatch {
        /// What the server sent.
        expected: String,
        /// What the snapshot hashes to.
        actual: String,
    },
}

/// What happened to one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Applied; the hashes agree.
    Applied,
    /// Ignored while waiting for a snapshot (or already covered by one).
    Skipped,
    /// The mirror is out of step: ask for a snapshot.
    NeedSnapshot(String),
}

/// The mirrored state.
#[derive(Debug, Clone)]
pub struct Mirror {
    state: State,
    seq: u64,
    limits: Limits,
    resyncing: bool,
}

fn check(snapshot: &StateSnapshot, hash: &[u8], limits: &Limits) -> Result<State, MirrorError> {
    let state = State::from_snapshot(snapshot, limits.clone())
        .map_err(|e| MirrorError::Invalid(e.to_string()))?;
    if StateHash::from_slice(hash) != Some(state.hash()) {
        return Err(MirrorError::HashMismatch {
            expected: voice_proto::hash::hex(hash),
            actual: state.hash().to_string(),
        });
    }
    Ok(state)
}

impl Mirror {
    /// A mirror of a snapshot (from `Welcome`), checked against its hash.
    pub fn new(
        snapshot: &StateSnapshot,
        hash: &[u8],
        seq: u64,
        limits: Limits,
    ) -> Result<Self, MirrorError> {
        let state = check(snapshot, hash, &limits)?;
        Ok(Self {
            state,
            seq,
            limits,
            resyncing: false,
        })
    }

    /// The state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The sequence number of the last update applied.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether a snapshot was asked for and has not arrived.
    pub fn resyncing(&self) -> bool {
        self.resyncing
    }

    /// Applies one update and checks the hash. On `NeedSnapshot` the caller
    /// sends a `SnapshotRequest`; later updates are skipped until
    /// [`Mirror::replace`].
    pub fn apply(&mut self, update: &StateUpdate) -> UpdateOutcome {
        if self.resyncing || (update.seq != 0 && update.seq <= self.seq) {
            return UpdateOutcome::Skipped;
        }
        self.seq = update.seq;
        let Some(change) = update.change.as_ref() else {
            self.resyncing = true;
            return UpdateOutcome::NeedSnapshot("an update without a change".into());
        };
        if let Err(e) = self.state.apply(change) {
            self.resyncing = true;
            return UpdateOutcome::NeedSnapshot(format!(
                "update {} does not apply: {e}",
                update.seq
            ));
        }
        if StateHash::from_slice(&update.resulting_hash) != Some(self.state.hash()) {
            self.resyncing = true;
            return UpdateOutcome::NeedSnapshot(format!(
                "after update {} the hash is {}, the server says {}",
                update.seq,
                self.state.hash().short(),
                voice_proto::hash::hex(&update.resulting_hash)
            ));
        }
        UpdateOutcome::Applied
    }

    /// Replaces the state with a full snapshot.
    pub fn replace(
        &mut self,
        snapshot: &StateSnapshot,
        hash: &[u8],
        seq: u64,
    ) -> Result<(), MirrorError> {
        self.state = check(snapshot, hash, &self.limits)?;
        self.seq = seq;
        self.resyncing = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voice_proto::pb::wire::{Change, Room, change::Kind};

    fn add_room(id: u32, name: &str) -> Change {
        Change {
            kind: Some(Kind::AddRoom(Room {
                id,
                parent: 0,
                name: name.into(),
                inherit_acl: true,
                ..Default::default()
            })),
        }
    }

    #[test]
    fn follows_updates_and_detects_a_wrong_hash() {
        let mut server = State::new("Root", Limits::default());
        let mut m = Mirror::new(
            &server.snapshot(),
            &server.hash().to_vec(),
            1,
            Limits::default(),
        )
        .unwrap();
        let c = add_room(1, "Lobby");
        server.apply(&c).unwrap();
        let u = StateUpdate {
            seq: 2,
            change: Some(c),
            resulting_hash: server.hash().to_vec(),
            actor: 0,
        };
        assert_eq!(m.apply(&u), UpdateOutcome::Applied);
        assert_eq!(m.state().hash(), server.hash());
        // A replayed update is skipped.
        assert_eq!(m.apply(&u), UpdateOutcome::Skipped);

        let c = add_room(2, "Games");
        server.apply(&c).unwrap();
        let bad = StateUpdate {
            seq: 3,
            change: Some(c),
            resulting_hash: vec![7; 32],
            actor: 0,
        };
        assert!(matches!(m.apply(&bad), UpdateOutcome::NeedSnapshot(_)));
        assert!(m.resyncing());
        // Nothing applies until the snapshot arrives.
        let c = add_room(3, "Music");
        server.apply(&c).unwrap();
        let later = StateUpdate {
            seq: 4,
            change: Some(c),
            resulting_hash: server.hash().to_vec(),
            actor: 0,
        };
        assert_eq!(m.apply(&later), UpdateOutcome::Skipped);
        m.replace(&server.snapshot(), &server.hash().to_vec(), 4)
            .unwrap();
        assert_eq!(m.state().hash(), server.hash());
        assert!(!m.resyncing());
    }

    #[test]
    fn a_snapshot_with_the_wrong_hash_is_refused() {
        let server = State::new("Root", Limits::default());
        let err = Mirror::new(&server.snapshot(), &[1; 32], 1, Limits::default()).unwrap_err();
        assert!(matches!(err, MirrorError::HashMismatch { .. }));
    }
}
