//! Persistence in sled behind a small typed API: meta (schema version,
//! password, admin token), users, rooms (with their ACLs), roles and bans.
//! Records are protobuf messages of `voice-proto`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prost::Message;
use voice_proto::pb::admin::{Ban, User};
use voice_proto::pb::wire::{Role, Room};

/// The schema this code reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// A storage problem.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("{}", db_reason(.0))]
    Db(#[from] sled::Error),
    /// A record cannot be decoded.
    #[error("corrupt record in {tree}: {reason}")]
    Corrupt {
        /// The tree.
        tree: &'static str,
        /// Why.
        reason: String,
    },
    /// The flush task failed.
    #[error("database flush failed: {0}")]
    Flush(String),
    /// The database was written by another version.
    #[error("database schema {found} is not supported (this server uses {SCHEMA_VERSION})")]
    Schema {
        /// The version found.
        found: u32,
    },
}

/// What a database error means for whoever runs the server: a full disk
/// and a read-only data dir said as such.
fn db_reason(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
            "the server's disk is full; its administrator must free space".to_owned()
        }
        sled::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            format!(
                "the server's data directory cannot be written ({io}); its administrator must fix it"
            )
        }
        other => format!("database: {other}"),
    }
}

/// The server's database.
#[derive(Clone, Debug)]
pub struct Store {
    db: sled::Db,
    flushes: Arc<FlushGroup>,
    meta: sled::Tree,
    users: sled::Tree,
    rooms: sled::Tree,
    roles: sled::Tree,
    bans: sled::Tree,
    creators: sled::Tree,
}

/// Flush tickets: `requested` counts callers, `done` is the highest ticket
/// a finished flush covers; `turn` lets one flush run at a time.
#[derive(Debug, Default)]
struct FlushGroup {
    requested: AtomicU64,
    done: AtomicU64,
    turn: tokio::sync::Mutex<()>,
}

fn decode<M: Message + Default>(tree: &'static str, bytes: &[u8]) -> Result<M, StoreError> {
    M::decode(bytes).map_err(|e| StoreError::Corrupt {
        tree,
        reason: e.to_string(),
    })
}

impl Store {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(dir).open()?;
        let store = Self {
            meta: db.open_tree("meta")?,
            users: db.open_tree("users")?,
            rooms: db.open_tree("rooms")?,
            roles: db.open_tree("roles")?,
            bans: db.open_tree("bans")?,
            creators: db.open_tree("room_creators")?,
            db,
            flushes: Arc::new(FlushGroup::default()),
        };
        match store.meta.get("schema")? {
            None => {
                store.meta.insert("schema", &SCHEMA_VERSION.to_be_bytes())?;
            }
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .unwrap_or(0);
                if found != SCHEMA_VERSION {
                    return Err(StoreError::Schema { found });
                }
            }
        }
        Ok(store)
    }

    /// Writes everything to disk; call before acknowledging a lasting change.
    ///
    /// sled 0.34's `flush_async` never completes when called concurrently
    /// (spacejam/sled#1308: a burst of logins hung the server), so the
    /// blocking flush runs on the blocking pool, one at a time; callers that
    /// arrive while one runs share the next (group commit: one disk sync for
    /// a burst of logins instead of one each).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let group = &self.flushes;
        // Writes made before this point are covered by any flush that starts later.
        let ticket = group.requested.fetch_add(1, Ordering::AcqRel) + 1;
        let _turn = group.turn.lock().await;
        if group.done.load(Ordering::Acquire) >= ticket {
            return Ok(());
        }
        let covers = group.requested.load(Ordering::Acquire);
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::Flush(e.to_string()))??;
        group.done.fetch_max(covers, Ordering::AcqRel);
        Ok(())
    }

    /// Writes everything to disk, blocking.
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Counts one more run of the server and returns the count, written
    /// to disk before it is used: chat sequence numbers of a run start
    /// above every number an earlier run gave.
    pub fn next_chat_run(&self) -> Result<u64, StoreError> {
        let run = self
            .meta
            .get("chat_run")?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0)
            .saturating_add(1);
        self.meta.insert("chat_run", &run.to_be_bytes())?;
        self.db.flush()?;
        Ok(run)
    }

    /// A text value of the meta tree.
    pub fn meta_text(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .meta
            .get(key)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Sets a text value of the meta tree.
    pub fn set_meta_text(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.meta.insert(key, value.as_bytes())?;
        Ok(())
    }

    /// Removes a meta value.
    pub fn remove_meta(&self, key: &str) -> Result<(), StoreError> {
        self.meta.remove(key)?;
        Ok(())
    }

    /// Every stored room.
    pub fn rooms(&self) -> Result<Vec<Room>, StoreError> {
        self.rooms
            .iter()
            .values()
            .map(|v| decode("rooms", &v?))
            .collect()
    }

    /// Stores a room (with its ACL).
    pub fn put_room(&self, room: &Room) -> Result<(), StoreError> {
        self.rooms
            .insert(room.id.to_be_bytes(), room.encode_to_vec())?;
        Ok(())
    }

    /// Forgets a room.
    pub fn remove_room(&self, id: u32) -> Result<(), StoreError> {
        self.rooms.remove(id.to_be_bytes())?;
        Ok(())
    }

    /// Every stored role.
    pub fn roles(&self) -> Result<Vec<Role>, StoreError> {
        self.roles
            .iter()
            .values()
            .map(|v| decode("roles", &v?))
            .collect()
    }

    /// Stores a role.
    pub fn put_role(&self, role: &Role) -> Result<(), StoreError> {
        self.roles
            .insert(role.name.as_bytes(), role.encode_to_vec())?;
        Ok(())
    }

    /// Forgets a role.
    pub fn remove_role(&self, name: &str) -> Result<(), StoreError> {
        self.roles.remove(name.as_bytes())?;
        Ok(())
    }

    /// Takes a removed role from every stored user record, so that a role
    /// created again later under the same name does not come back to the
    /// offline users who held the old one.
    pub fn strip_role(&self, name: &str) -> Result<(), StoreError> {
        for entry in self.users.iter() {
            let (key, value) = entry?;
            let mut user: User = decode("users", &value)?;
            if user.roles.iter().any(|r| r == name) {
                user.roles.retain(|r| r != name);
                self.users.insert(key, user.encode_to_vec())?;
            }
        }
        Ok(())
    }

    /// Renames a role in every stored user record that holds it.
    pub fn rename_role_in_users(&self, old: &str, new: &str) -> Result<(), StoreError> {
        for entry in self.users.iter() {
            let (key, value) = entry?;
            let mut user: User = decode("users", &value)?;
            if user.roles.iter().any(|r| r == old) {
                for role in &mut user.roles {
                    if role == old {
                        new.clone_into(role);
                    }
                }
                self.users.insert(key, user.encode_to_vec())?;
            }
        }
        Ok(())
    }

    /// The user record of a key.
    pub fn user(&self, key: &[u8]) -> Result<Option<User>, StoreError> {
        self.users
            .get(key)?
            .map(|v| decode("users", &v))
            .transpose()
    }

    /// Every user record.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.users
            .iter()
            .values()
            .map(|v| decode("users", &v?))
            .collect()
    }

    /// Stores a user record under its key.
    pub fn put_user(&self, key: &[u8], user: &User) -> Result<(), StoreError> {
        self.users.insert(key, user.encode_to_vec())?;
        Ok(())
    }

    /// Forgets a user.
    pub fn remove_user(&self, key: &[u8]) -> Result<(), StoreError> {
        self.users.remove(key)?;
        Ok(())
    }

    /// The ban of a key, if any (expired bans included).
    pub fn ban(&self, key: &[u8]) -> Result<Option<Ban>, StoreError> {
        self.bans.get(key)?.map(|v| decode("bans", &v)).transpose()
    }

    /// Every ban.
    pub fn bans(&self) -> Result<Vec<Ban>, StoreError> {
        self.bans
            .iter()
            .values()
            .map(|v| decode("bans", &v?))
            .collect()
    }

    /// Stores a ban under its key.
    pub fn put_ban(&self, key: &[u8], ban: &Ban) -> Result<(), StoreError> {
        self.bans.insert(key, ban.encode_to_vec())?;
        Ok(())
    }

    /// Lifts a ban; returns whether there was one.
    pub fn remove_ban(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.bans.remove(key)?.is_some())
    }

    /// Who created each room a user created (room id, key), for the
    /// per-key room quota.
    pub fn room_creators(&self) -> Result<Vec<(u32, Vec<u8>)>, StoreError> {
        self.creators
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let id = <[u8; 4]>::try_from(k.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        tree: "room_creators",
                        reason: "a key is not a room id".to_owned(),
                    })?;
                Ok((id, v.to_vec()))
            })
            .collect()
    }

    /// Records who created a room.
    pub fn put_room_creator(&self, id: u32, key: &[u8]) -> Result<(), StoreError> {
        self.creators.insert(id.to_be_bytes(), key)?;
        Ok(())
    }

    /// Forgets who created a room.
    pub fn remove_room_creator(&self, id: u32) -> Result<(), StoreError> {
        self.creators.remove(id.to_be_bytes())?;
        Ok(())
    }
}
