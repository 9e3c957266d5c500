//! What of the state lasts: rooms, roles and users' roles and names.

use voice_proto::pb::admin::User;
use voice_proto::pb::wire::change::Kind;
use voice_proto::state::{Applied, ROLE_ADMIN, ROLE_EVERYONE, ROLE_KNOWN};

use super::{Hub, Inner, JoinError, Login, now_ms};
use crate::config::Registration;
use crate::store::StoreError;

/// How fresh a user's stored `last_seen_ms` is kept (an hour): a login
/// within that time of the last one writes nothing.
pub const LAST_SEEN_GRANULARITY_MS: u64 = 3_600_000;

/// Meta key of the one-time admin token.
pub const META_ADMIN_TOKEN: &str = "admin_token";

impl Hub {
    /// The roles a key holds at login; records first logins and claims the
    /// admin token. Flushed before the session exists.
    pub(super) async fn login_roles(&self, login: &Login) -> Result<Vec<String>, JoinError> {
        let since = self.store.epoch();
        let existing = self.store.user(&login.key)?;
        let mut changed = false;
        let mut user = match existing {
            Some(user) => user,
            None => {
                changed = self.config.registration == Registration::Open;
                User {
                    public_key: voice_proto::hash::hex(&login.key),
                    name: login.name.clone(),
                    roles: if changed {
                        vec![ROLE_KNOWN.to_owned()]
                    } else {
                        Vec::new()
                    },
                    registered_ms: if changed { now_ms() } else { 0 },
                    last_seen_ms: 0,
                }
            }
        };
        if !login.admin_token.is_empty()
            && let Some(token) = self.store.meta_text(META_ADMIN_TOKEN)?
            && voice_proto::auth::password_matches(&login.admin_token, &token)
        {
            if !user.roles.iter().any(|r| r == ROLE_ADMIN) {
                user.roles.push(ROLE_ADMIN.to_owned());
            }
            self.store.remove_meta(META_ADMIN_TOKEN)?;
            tracing::info!(key = %user.public_key, "admin token claimed");
            changed = true;
        }
        let known_user = changed || !user.roles.is_empty() || user.registered_ms != 0;
        // Last seen is kept to the hour: logging in again and again costs a
        // disk sync at most once an hour per key, not once per login.
        let now = now_ms();
        let stale = now.saturating_sub(user.last_seen_ms) >= LAST_SEEN_GRANULARITY_MS;
        if known_user && (changed || stale) {
            user.last_seen_ms = now;
            self.store.put_user(&login.key, &user)?;
            self.store.flush(since).await?;
        }
        let inner = self.inner.lock().await;
        let mut roles: Vec<String> = user
            .roles
            .into_iter()
            .filter(|r| r != ROLE_EVERYONE && inner.state.roles().contains_key(r))
            .collect();
        roles.sort();
        roles.dedup();
        Ok(roles)
    }

    /// Stores what the applied steps changed (not flushed).
    pub(super) fn persist_locked(
        &self,
        inner: &Inner,
        applied: &[Applied],
    ) -> Result<(), StoreError> {
        for step in applied {
            self.persist_step(inner, &step.change, &step.inverse)?;
        }
        Ok(())
    }

    /// Stores the state's present form of what the steps were about: after
    /// a change, what it wrote; after the inverse of a change (the state
    /// rolled back), what was there before.
    pub(super) fn unpersist_locked(
        &self,
        inner: &Inner,
        applied: &[Applied],
    ) -> Result<(), StoreError> {
        for step in applied.iter().rev() {
            for inverse in &step.inverse {
                self.persist_step(inner, inverse, std::slice::from_ref(&step.change))?;
            }
        }
        Ok(())
    }

    /// Stores what one change changed; `inverse` names the rooms a room
    /// removal took with it.
    fn persist_step(
        &self,
        inner: &Inner,
        change: &voice_proto::pb::wire::Change,
        inverse: &[voice_proto::pb::wire::Change],
    ) -> Result<(), StoreError> {
        let state = &inner.state;
        {
            let Some(kind) = &change.kind else {
                return Ok(());
            };
            match kind {
                Kind::AddRoom(r) => self.put_room(inner, r.id)?,
                Kind::EditRoom(e) => self.put_room(inner, e.id)?,
                Kind::MoveRoom(m) => self.put_room(inner, m.id)?,
                Kind::SetRoomAcl(a) => self.put_room(inner, a.room)?,
                Kind::RemoveRoom(r) => {
                    self.store.remove_room(r.id)?;
                    for undo in inverse {
                        if let Some(Kind::AddRoom(room)) = &undo.kind {
                            self.store.remove_room(room.id)?;
                        }
                    }
                }
                Kind::AddRole(r) => self.store.put_role(r)?,
                Kind::RemoveRole(r) => {
                    self.store.remove_role(&r.name)?;
                    self.store.strip_role(&r.name)?;
                }
                Kind::SetSessionRoles(s) => {
                    if let Some(session) = state.session(s.session) {
                        let mut user = self.store.user(&session.public_key)?.unwrap_or(User {
                            public_key: voice_proto::hash::hex(&session.public_key),
                            name: session.name.clone(),
                            ..User::default()
                        });
                        user.roles = session.roles.clone();
                        if user.registered_ms == 0 && user.roles.iter().any(|r| r == ROLE_KNOWN) {
                            user.registered_ms = now_ms();
                        }
                        self.store.put_user(&session.public_key, &user)?;
                    }
                }
                Kind::RenameSession(r) => {
                    if let Some(session) = state.session(r.session)
                        && let Some(mut user) = self.store.user(&session.public_key)?
                    {
                        user.name = session.name.clone();
                        self.store.put_user(&session.public_key, &user)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn put_room(&self, inner: &Inner, id: u32) -> Result<(), StoreError> {
        match inner.state.room(id) {
            Some(room) => self.store.put_room(room),
            None => Ok(()),
        }
    }
}
