//! The shared state: room tree, sessions, roles and shared files.
//!
//! [`State`] keeps every collection in ordered maps, so its canonical form (a
//! [`StateSnapshot`] with every repeated field sorted by key) falls out of
//! iteration order. [`State::hash`] is the only place that hashes state: BLAKE3
//! over exactly the bytes that `StateSnapshot::encode` would produce, without
//! building the snapshot.

mod apply;
mod error;
mod proposal;
mod tree;

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint};

use crate::Limits;
use crate::acl::default_root_acl;
use crate::hash::StateHash;
use crate::pb::wire::{Role, Room, Session, SharedFile, StateSnapshot};

pub use error::StateError;
pub use proposal::{Actor, Applied, Rejection};

/// Identifier of a room; the root is [`ROOT`].
pub type RoomId = u32;
/// Identifier of a connected session, assigned by the server.
pub type SessionId = u32;
/// Identifier of a shared file, assigned by the server.
pub type FileId = u32;

/// The root room's id.
pub const ROOT: RoomId = 0;
/// The role every session has implicitly.
pub const ROLE_EVERYONE: &str = "everyone";
/// The role of registered users.
pub const ROLE_KNOWN: &str = "known";
/// The role that holds every permission and cannot be locked out.
pub const ROLE_ADMIN: &str = "admin";
/// The roles that always exist and cannot be removed.
pub const BUILTIN_ROLES: [&str; 3] = [ROLE_ADMIN, ROLE_EVERYONE, ROLE_KNOWN];

/// The shared state, kept canonical at all times.
#[derive(Clone, Debug)]
pub struct State {
    rooms: BTreeMap<RoomId, Room>,
    sessions: BTreeMap<SessionId, Session>,
    roles: BTreeMap<String, Role>,
    files: BTreeMap<FileId, SharedFile>,
    /// Derived index: the children of each room.
    children: BTreeMap<RoomId, BTreeSet<RoomId>>,
    limits: Limits,
    hash: StateHash,
    /// Encoded size of the canonical snapshot, kept with the hash.
    encoded_len: usize,
}

impl State {
    /// A new server's state: a root room named `root_name` carrying the default
    /// ACL (DESIGN §5), and the built-in roles.
    pub fn new(root_name: &str, limits: Limits) -> Self {
        let root = Room {
            id: ROOT,
            parent: ROOT,
            name: root_name.to_owned(),
            description: String::new(),
            position: 0,
            inherit_acl: true,
            acl: default_root_acl(),
        };
        let mut state = Self::empty(limits);
        state.rooms.insert(ROOT, root);
        for name in BUILTIN_ROLES {
            state.roles.insert(
                name.to_owned(),
                Role {
                    name: name.to_owned(),
                    description: String::new(),
                },
            );
        }
        state.rehash();
        state
    }

    fn empty(limits: Limits) -> Self {
        Self {
            rooms: BTreeMap::new(),
            sessions: BTreeMap::new(),
            roles: BTreeMap::new(),
            files: BTreeMap::new(),
            children: BTreeMap::new(),
            limits,
            hash: StateHash::default(),
            encoded_len: 0,
        }
    }

    /// Rebuilds a state from a snapshot received from a peer, validating it
    /// completely: every item goes through [`State::apply`], so a snapshot that
    /// could not have been reached by valid changes is refused.
    pub fn from_snapshot(snapshot: &StateSnapshot, limits: Limits) -> Result<Self, StateError> {
        use crate::pb::wire::change::Kind;
        let mut state = Self::empty(limits);
        let root = snapshot
            .rooms
            .iter()
            .find(|r| r.id == ROOT)
            .ok_or(StateError::UnknownRoom(ROOT))?;
        if root.parent != ROOT {
            return Err(StateError::RootImmutable);
        }
        if snapshot.rooms.iter().filter(|r| r.id == ROOT).count() > 1 {
            return Err(StateError::DuplicateId("room", ROOT));
        }
        state.check_text("room name", &root.name, state.limits.max_name_len)?;
        state.check_text(
            "room description",
            &root.description,
            state.limits.max_description_len,
        )?;
        state.rooms.insert(ROOT, root.clone());
        for role in &snapshot.roles {
            state.apply_unhashed(&Kind::AddRole(role.clone()))?;
        }
        for name in BUILTIN_ROLES {
            if !state.roles.contains_key(name) {
                return Err(StateError::UnknownRole(name.to_owned()));
            }
        }
        // Parents must come before children; ids need not be ordered that way.
        let mut pending: Vec<&Room> = snapshot.rooms.iter().filter(|r| r.id != ROOT).collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut rest = Vec::new();
            for room in pending {
                if state.rooms.contains_key(&room.parent) {
                    state.apply_unhashed(&Kind::AddRoom(room.clone()))?;
                } else {
                    rest.push(room);
                }
            }
            if rest.len() == before {
                return Err(StateError::UnknownRoom(rest[0].parent));
            }
            pending = rest;
        }
        // The root's ACL references roles, so check it now that roles exist.
        state.check_acl(&root.acl)?;
        for session in &snapshot.sessions {
            state.apply_unhashed(&Kind::AddSession(session.clone()))?;
        }
        for file in &snapshot.files {
            state.apply_unhashed(&Kind::AddFile(file.clone()))?;
        }
        state.rehash();
        Ok(state)
    }

    /// The canonical snapshot (clones every item).
    pub fn snapshot(&self) -> StateSnapshot {
        StateSnapshot {
            rooms: self.rooms.values().cloned().collect(),
            sessions: self.sessions.values().cloned().collect(),
            roles: self.roles.values().cloned().collect(),
            files: self.files.values().cloned().collect(),
        }
    }

    /// The hash of the current state.
    pub fn hash(&self) -> StateHash {
        self.hash
    }

    /// Recomputes the hash from every item (what [`State::hash`] caches);
    /// for benchmarks and checks.
    pub fn hash_from_scratch(&self) -> StateHash {
        self.compute_hash().0
    }

    /// The size in bytes of the canonical snapshot's encoding (what a
    /// `Welcome` or `Snapshot` carries), known without encoding it.
    pub fn encoded_len(&self) -> usize {
        self.encoded_len
    }

    /// The limits this state enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// All rooms by id.
    pub fn rooms(&self) -> &BTreeMap<RoomId, Room> {
        &self.rooms
    }

    /// All sessions by id.
    pub fn sessions(&self) -> &BTreeMap<SessionId, Session> {
        &self.sessions
    }

    /// All roles by name.
    pub fn roles(&self) -> &BTreeMap<String, Role> {
        &self.roles
    }

    /// All shared files by id.
    pub fn files(&self) -> &BTreeMap<FileId, SharedFile> {
        &self.files
    }

    /// One room.
    pub fn room(&self, id: RoomId) -> Option<&Room> {
        self.rooms.get(&id)
    }

    /// One session.
    pub fn session(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// The direct children of a room, in id order.
    pub fn children(&self, id: RoomId) -> impl Iterator<Item = RoomId> + '_ {
        self.children.get(&id).into_iter().flatten().copied()
    }

    /// The sessions in a room, in id order.
    pub fn sessions_in(&self, room: RoomId) -> impl Iterator<Item = &Session> + '_ {
        self.sessions.values().filter(move |s| s.room == room)
    }

    /// Recomputes the cached hash; called after every successful change.
    fn rehash(&mut self) {
        (self.hash, self.encoded_len) = self.compute_hash();
    }

    /// BLAKE3 over the prost encoding of the canonical snapshot, streamed item
    /// by item: each item is encoded exactly as a repeated message field
    /// (key, length, body), in the snapshot's field order. Also returns the
    /// number of bytes hashed: the snapshot's encoded size.
    fn compute_hash(&self) -> (StateHash, usize) {
        let mut hasher = blake3::Hasher::new();
        let mut buf = Vec::with_capacity(512);
        let mut len = 0;
        let mut put = |tag: u32, msg: &dyn EncodeDyn| {
            buf.clear();
            encode_key(tag, WireType::LengthDelimited, &mut buf);
            encode_varint(msg.len() as u64, &mut buf);
            msg.write(&mut buf);
            hasher.update(&buf);
            len += buf.len();
        };
        for room in self.rooms.values() {
            put(1, room);
        }
        for session in self.sessions.values() {
            put(2, session);
        }
        for role in self.roles.values() {
            put(3, role);
        }
        for file in self.files.values() {
            put(4, file);
        }
        (StateHash(*hasher.finalize().as_bytes()), len)
    }
}

/// Object-safe view of a prost message for the streaming hash.
trait EncodeDyn {
    fn len(&self) -> usize;
    fn write(&self, buf: &mut Vec<u8>);
}

impl<M: Message> EncodeDyn for M {
    fn len(&self) -> usize {
        self.encoded_len()
    }
    fn write(&self, buf: &mut Vec<u8>) {
        // Encoding into a Vec only fails when capacity is exhausted, which a
        // Vec never reports.
        let _ = self.encode(buf);
    }
}
