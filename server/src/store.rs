//! Persistence in sled behind a small typed API: meta (schema version,
//! password, admin token), users, rooms (with their ACLs), roles, bans and
//! plugin tokens (their hashes).
//! Records are protobuf messages of `voice-proto`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use prost::Message;
use voice_proto::pb::admin::{Ban, StoredPluginToken, User};
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
    /// The database was opened again (after an error) between a change's
    /// writes and its flush: the writes may be gone.
    #[error("{}; the database was opened again before the change was saved", db_reason(.0))]
    Reopened(sled::Error),
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
///
/// sled 0.34 stays failed after an I/O error (a full disk, a data dir
/// turned read-only): every later call returns that error. The store then
/// drops the database and opens it again, at most once a second and only
/// when nothing else holds it, so the server recovers by itself when the
/// disk does. A write is acknowledged only by a flush of the same opened
/// database ([`Epoch`]): writes made to the one before a reopen and never
/// flushed are gone, and no flush of the new one may claim them.
#[derive(Clone, Debug)]
pub struct Store {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    /// The open database; `None` after a reopen that failed.
    trees: RwLock<Option<Arc<Trees>>>,
    /// Counts reopens.
    epoch: AtomicU64,
    /// The error that broke the database, while it is broken.
    outage: Mutex<Outage>,
    flushes: FlushGroup,
}

#[derive(Debug, Default)]
struct Outage {
    error: Option<sled::Error>,
    /// The error that made the last reopen.
    cause: Option<sled::Error>,
    last_try: Option<Instant>,
    reopens: u64,
}

/// The trees of one opened database.
#[derive(Debug)]
struct Trees {
    db: sled::Db,
    /// sled's log file, for `fsync` (see [`Trees::sync`]).
    log: std::fs::File,
    meta: sled::Tree,
    users: sled::Tree,
    rooms: sled::Tree,
    roles: sled::Tree,
    bans: sled::Tree,
    creators: sled::Tree,
    plugin_tokens: sled::Tree,
}

/// Which opened database writes went to: take it before writing, and
/// acknowledge the writes with [`Store::flush`] of the same epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch(u64);

/// How long a broken database is left alone before it is opened again.
const REOPEN_INTERVAL: Duration = Duration::from_secs(1);

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

/// Whether an error leaves sled failed for good (until it is reopened).
fn breaks(e: &StoreError) -> Option<&sled::Error> {
    match e {
        StoreError::Db(e @ (sled::Error::Io(_) | sled::Error::ReportableBug(_))) => Some(e),
        _ => None,
    }
}

impl Trees {
    fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(dir).open()?;
        let trees = Self {
            meta: db.open_tree("meta")?,
            users: db.open_tree("users")?,
            rooms: db.open_tree("rooms")?,
            roles: db.open_tree("roles")?,
            bans: db.open_tree("bans")?,
            creators: db.open_tree("room_creators")?,
            plugin_tokens: db.open_tree("plugin_tokens")?,
            log: std::fs::File::open(dir.join("db")).map_err(sled::Error::from)?,
            db,
        };
        match trees.meta.get("schema")? {
            None => {
                trees.meta.insert("schema", &SCHEMA_VERSION.to_be_bytes())?;
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
        trees.sync()?;
        // The files sled made, and their names, last too.
        for path in [dir.join("conf"), dir.to_owned()] {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(sled::Error::from)?;
        }
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::File::open(parent)
                .and_then(|f| f.sync_all())
                .map_err(sled::Error::from)?;
        }
        Ok(trees)
    }

    /// Makes everything written so far last, through a power loss too.
    ///
    /// sled 0.34's flush makes its log writes durable with
    /// `sync_file_range`, which leaves the file's size and block map to its
    /// flusher thread's `fsync` every 500 ms: a crash of the machine (or a
    /// filesystem error, which aborts the ext4 journal) before that loses
    /// writes a flush returned for, as the read-only test showed (the whole
    /// log file came back empty). An `fsync` of the log after the flush
    /// closes that.
    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        self.log.sync_all().map_err(sled::Error::from)?;
        Ok(())
    }
}

impl Store {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let trees = Trees::open(dir)?;
        Ok(Self {
            shared: Arc::new(Shared {
                dir: dir.to_owned(),
                trees: RwLock::new(Some(Arc::new(trees))),
                epoch: AtomicU64::new(0),
                outage: Mutex::new(Outage::default()),
                flushes: FlushGroup::default(),
            }),
        })
    }

    /// The opened database writes made now go to.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.shared.epoch.load(Ordering::Acquire))
    }

    /// How many times the database was opened again after an error.
    pub fn reopens(&self) -> u64 {
        self.outage().reopens
    }

    fn outage(&self) -> std::sync::MutexGuard<'_, Outage> {
        self.shared
            .outage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the open database; an error that breaks sled marks the
    /// database for a reopen.
    fn with<T>(&self, f: impl FnOnce(&Trees) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let trees = self.trees()?;
        let result = f(&trees);
        if let Err(e) = &result {
            self.broke(e);
        }
        result
    }

    fn broke(&self, e: &StoreError) {
        if let Some(error) = breaks(e) {
            let mut outage = self.outage();
            if outage.error.is_none() {
                tracing::error!(%e, "the database failed; it is opened again when it can be");
                outage.error = Some(error.clone());
            }
        }
    }

    /// The open database, opened again first when it broke (at most once
    /// a second, and only when nothing else holds it).
    fn trees(&self) -> Result<Arc<Trees>, StoreError> {
        let broken = {
            let outage = self.outage();
            outage.error.clone().map(|e| {
                let too_soon = outage
                    .last_try
                    .is_some_and(|t| t.elapsed() < REOPEN_INTERVAL);
                (e, too_soon)
            })
        };
        match broken {
            None => {
                let trees = self
                    .shared
                    .trees
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                // Not broken means opened: a failed reopen leaves the error.
                trees
                    .clone()
                    .ok_or_else(|| StoreError::Flush("the database is not open".to_owned()))
            }
            Some((e, true)) => Err(StoreError::Db(e)),
            Some((e, false)) => self.reopen(e),
        }
    }

    fn reopen(&self, cause: sled::Error) -> Result<Arc<Trees>, StoreError> {
        let mut slot = self
            .shared
            .trees
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        {
            let mut outage = self.outage();
            match &outage.error {
                // Another caller reopened it meanwhile.
                None => return slot.clone().ok_or(StoreError::Db(cause)),
                Some(_)
                    if outage
                        .last_try
                        .is_some_and(|t| t.elapsed() < REOPEN_INTERVAL) =>
                {
                    return Err(StoreError::Db(cause));
                }
                Some(_) => outage.last_try = Some(Instant::now()),
            }
        }
        if let Some(old) = slot.take() {
            match Arc::try_unwrap(old) {
                // sled gives its file lock up with the last handle.
                Ok(old) => drop(old),
                Err(old) => {
                    // A flush still holds it: the next try.
                    *slot = Some(old);
                    return Err(StoreError::Db(cause));
                }
            }
        }
        // Writes made before this point are not acknowledged by any flush after it.
        self.shared.epoch.fetch_add(1, Ordering::AcqRel);
        match Trees::open(&self.shared.dir) {
            Ok(trees) => {
                let trees = Arc::new(trees);
                *slot = Some(trees.clone());
                let mut outage = self.outage();
                outage.cause = outage.error.take();
                outage.reopens += 1;
                tracing::info!("the database is open again after an error");
                Ok(trees)
            }
            Err(e) => {
                tracing::warn!(error = %e, "the database cannot be opened again yet");
                Err(StoreError::Db(cause))
            }
        }
    }

    /// Writes everything to disk; call before acknowledging a lasting
    /// change, with the epoch taken before its writes. Fails when the
    /// database was opened again since: those writes may be gone.
    ///
    /// sled 0.34's `flush_async` never completes when called concurrently
    /// (spacejam/sled#1308: a burst of logins hung the server), so the
    /// blocking flush runs on the blocking pool, one at a time; callers that
    /// arrive while one runs share the next (group commit: one disk sync for
    /// a burst of logins instead of one each).
    pub async fn flush(&self, since: Epoch) -> Result<(), StoreError> {
        let group = &self.shared.flushes;
        // Writes made before this point are covered by any flush that starts later.
        let ticket = group.requested.fetch_add(1, Ordering::AcqRel) + 1;
        let _turn = group.turn.lock().await;
        if group.done.load(Ordering::Acquire) < ticket {
            let covers = group.requested.load(Ordering::Acquire);
            let trees = self.trees()?;
            let flushed = tokio::task::spawn_blocking(move || trees.sync())
                .await
                .map_err(|e| StoreError::Flush(e.to_string()))?;
            if let Err(e) = flushed {
                self.broke(&e);
                return Err(e);
            }
            group.done.fetch_max(covers, Ordering::AcqRel);
        }
        self.check_epoch(since)
    }

    fn check_epoch(&self, since: Epoch) -> Result<(), StoreError> {
        if self.epoch() == since {
            return Ok(());
        }
        let outage = self.outage();
        let cause = outage.error.as_ref().or(outage.cause.as_ref());
        Err(StoreError::Reopened(cause.cloned().unwrap_or_else(|| {
            sled::Error::ReportableBug("reopened without a cause".to_owned())
        })))
    }

    /// Writes everything to disk, blocking (see [`Store::flush`]).
    pub fn flush_blocking(&self, since: Epoch) -> Result<(), StoreError> {
        self.with(Trees::sync)?;
        self.check_epoch(since)
    }

    /// Counts one more run of the server and returns the count, written
    /// to disk before it is used: chat sequence numbers of a run start
    /// above every number an earlier run gave.
    pub fn next_chat_run(&self) -> Result<u64, StoreError> {
        let since = self.epoch();
        let run = self.with(|t| {
            let run = t
                .meta
                .get("chat_run")?
                .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0)
                .saturating_add(1);
            t.meta.insert("chat_run", &run.to_be_bytes())?;
            t.sync()?;
            Ok(run)
        })?;
        self.check_epoch(since)?;
        Ok(run)
    }

    /// A text value of the meta tree.
    pub fn meta_text(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.with(|t| {
            Ok(t.meta
                .get(key)?
                .map(|v| String::from_utf8_lossy(&v).into_owned()))
        })
    }

    /// Sets a text value of the meta tree.
    pub fn set_meta_text(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.with(|t| {
            t.meta.insert(key, value.as_bytes())?;
            Ok(())
        })
    }

    /// Removes a meta value.
    pub fn remove_meta(&self, key: &str) -> Result<(), StoreError> {
        self.with(|t| {
            t.meta.remove(key)?;
            Ok(())
        })
    }

    /// Every stored room.
    pub fn rooms(&self) -> Result<Vec<Room>, StoreError> {
        self.with(|t| {
            t.rooms
                .iter()
                .values()
                .map(|v| decode("rooms", &v?))
                .collect()
        })
    }

    /// Stores a room (with its ACL).
    pub fn put_room(&self, room: &Room) -> Result<(), StoreError> {
        self.with(|t| {
            t.rooms
                .insert(room.id.to_be_bytes(), room.encode_to_vec())?;
            Ok(())
        })
    }

    /// Forgets a room.
    pub fn remove_room(&self, id: u32) -> Result<(), StoreError> {
        self.with(|t| {
            t.rooms.remove(id.to_be_bytes())?;
            Ok(())
        })
    }

    /// Every stored role.
    pub fn roles(&self) -> Result<Vec<Role>, StoreError> {
        self.with(|t| {
            t.roles
                .iter()
                .values()
                .map(|v| decode("roles", &v?))
                .collect()
        })
    }

    /// Stores a role.
    pub fn put_role(&self, role: &Role) -> Result<(), StoreError> {
        self.with(|t| {
            t.roles.insert(role.name.as_bytes(), role.encode_to_vec())?;
            Ok(())
        })
    }

    /// Forgets a role.
    pub fn remove_role(&self, name: &str) -> Result<(), StoreError> {
        self.with(|t| {
            t.roles.remove(name.as_bytes())?;
            Ok(())
        })
    }

    /// Takes a removed role from every stored user record, so that a role
    /// created again later under the same name does not come back to the
    /// offline users who held the old one.
    pub fn strip_role(&self, name: &str) -> Result<(), StoreError> {
        self.with(|t| {
            for entry in t.users.iter() {
                let (key, value) = entry?;
                let mut user: User = decode("users", &value)?;
                if user.roles.iter().any(|r| r == name) {
                    user.roles.retain(|r| r != name);
                    t.users.insert(key, user.encode_to_vec())?;
                }
            }
            Ok(())
        })
    }

    /// Renames a role in every stored user record that holds it.
    pub fn rename_role_in_users(&self, old: &str, new: &str) -> Result<(), StoreError> {
        self.with(|t| {
            for entry in t.users.iter() {
                let (key, value) = entry?;
                let mut user: User = decode("users", &value)?;
                if user.roles.iter().any(|r| r == old) {
                    for role in &mut user.roles {
                        if role == old {
                            new.clone_into(role);
                        }
                    }
                    t.users.insert(key, user.encode_to_vec())?;
                }
            }
            Ok(())
        })
    }

    /// The user record of a key.
    pub fn user(&self, key: &[u8]) -> Result<Option<User>, StoreError> {
        self.with(|t| t.users.get(key)?.map(|v| decode("users", &v)).transpose())
    }

    /// Every user record.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.with(|t| {
            t.users
                .iter()
                .values()
                .map(|v| decode("users", &v?))
                .collect()
        })
    }

    /// Stores a user record under its key.
    pub fn put_user(&self, key: &[u8], user: &User) -> Result<(), StoreError> {
        self.with(|t| {
            t.users.insert(key, user.encode_to_vec())?;
            Ok(())
        })
    }

    /// Forgets a user.
    pub fn remove_user(&self, key: &[u8]) -> Result<(), StoreError> {
        self.with(|t| {
            t.users.remove(key)?;
            Ok(())
        })
    }

    /// The ban of a key, if any (expired bans included).
    pub fn ban(&self, key: &[u8]) -> Result<Option<Ban>, StoreError> {
        self.with(|t| t.bans.get(key)?.map(|v| decode("bans", &v)).transpose())
    }

    /// Every ban.
    pub fn bans(&self) -> Result<Vec<Ban>, StoreError> {
        self.with(|t| {
            t.bans
                .iter()
                .values()
                .map(|v| decode("bans", &v?))
                .collect()
        })
    }

    /// Stores a ban under its key.
    pub fn put_ban(&self, key: &[u8], ban: &Ban) -> Result<(), StoreError> {
        self.with(|t| {
            t.bans.insert(key, ban.encode_to_vec())?;
            Ok(())
        })
    }

    /// Lifts a ban; returns whether there was one.
    pub fn remove_ban(&self, key: &[u8]) -> Result<bool, StoreError> {
        self.with(|t| Ok(t.bans.remove(key)?.is_some()))
    }

    /// Who created each room a user created (room id, key), for the
    /// per-key room quota.
    pub fn room_creators(&self) -> Result<Vec<(u32, Vec<u8>)>, StoreError> {
        self.with(|t| {
            t.creators
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
        })
    }

    /// Records who created a room.
    pub fn put_room_creator(&self, id: u32, key: &[u8]) -> Result<(), StoreError> {
        self.with(|t| {
            t.creators.insert(id.to_be_bytes(), key)?;
            Ok(())
        })
    }

    /// Forgets who created a room.
    pub fn remove_room_creator(&self, id: u32) -> Result<(), StoreError> {
        self.with(|t| {
            t.creators.remove(id.to_be_bytes())?;
            Ok(())
        })
    }

    /// Every plugin token (with its secret's hash).
    pub fn plugin_tokens(&self) -> Result<Vec<StoredPluginToken>, StoreError> {
        self.with(|t| {
            t.plugin_tokens
                .iter()
                .values()
                .map(|v| decode("plugin_tokens", &v?))
                .collect()
        })
    }

    /// Stores a plugin token under its name.
    pub fn put_plugin_token(
        &self,
        name: &str,
        token: &StoredPluginToken,
    ) -> Result<(), StoreError> {
        self.with(|t| {
            t.plugin_tokens.insert(name, token.encode_to_vec())?;
            Ok(())
        })
    }

    /// Forgets a plugin token; returns whether there was one.
    pub fn remove_plugin_token(&self, name: &str) -> Result<bool, StoreError> {
        self.with(|t| Ok(t.plugin_tokens.remove(name)?.is_some()))
    }
}
