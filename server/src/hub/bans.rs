//! The ban list for moderators: listing and lifting bans, each needing
//! `ban` at the root (the permission that made them). Bans themselves are
//! made by a kick with `ban` set ([`Hub::kick`]).

use voice_proto::acl::{Subject, evaluate, lacking};
use voice_proto::pb::wire::{
    BanEntry, BanList, BansRequest, Permission, RequestFailed, UnbanRequest, server_msg::Msg,
};
use voice_proto::state::{ROOT, SessionId};

use super::{Hub, Inner, now_ms};

/// Bans sent in one answer, at most (the newest); the rest are counted in
/// `omitted`. Each is at most a key, two names and a reason of
/// [`MAX_REASON_CHARS`] (a few KiB), so the answer stays well inside a frame.
pub const MAX_LISTED: usize = 500;

/// Longest kick or ban reason, in characters.
pub const MAX_REASON_CHARS: usize = 512;

/// `Err` with what to do when a kick or ban reason is too long.
pub fn check_reason(reason: &str) -> Result<(), String> {
    let n = reason.chars().count();
    if n > MAX_REASON_CHARS {
        return Err(format!(
            "the reason has {n} characters; give at most {MAX_REASON_CHARS}"
        ));
    }
    Ok(())
}

/// A stored reason cut to [`MAX_REASON_CHARS`] (bans recorded before the
/// limit may be longer).
fn bounded(reason: String) -> String {
    if reason.chars().count() <= MAX_REASON_CHARS {
        return reason;
    }
    reason.chars().take(MAX_REASON_CHARS).collect()
}

impl Hub {
    /// `Ok` when session `id` holds `permission` at the root; otherwise the
    /// refusal that names the permission, the root and the deciding rule.
    pub(super) fn needs_at_root(
        inner: &Inner,
        id: SessionId,
        permission: Permission,
    ) -> Result<(), String> {
        let me = inner
            .state
            .session(id)
            .ok_or_else(|| "you are not connected".to_owned())?;
        if evaluate(&inner.state, Subject::from(me), ROOT).contains(permission) {
            Ok(())
        } else {
            Err(lacking(&inner.state, Subject::from(me), permission, ROOT))
        }
    }

    /// Answers a moderator's request for the bans in force.
    pub async fn bans(&self, id: SessionId, req: BansRequest) {
        let allowed = {
            let inner = self.inner.lock().await;
            Self::needs_at_root(&inner, id, Permission::Ban)
        };
        let listed = allowed.and_then(|()| {
            self.bans_in_force()
                .map_err(|e| format!("the bans could not be read: {e}"))
        });
        let inner = self.inner.lock().await;
        let msg = match listed {
            Ok((bans, omitted)) => Msg::Bans(BanList {
                request_id: req.request_id,
                bans,
                omitted,
            }),
            Err(message) => Msg::Failed(RequestFailed {
                request_id: req.request_id,
                message,
            }),
        };
        Self::reply(&inner, id, msg);
    }

    /// The bans in force, newest first, at most [`MAX_LISTED`]; and how
    /// many more there are.
    fn bans_in_force(&self) -> Result<(Vec<BanEntry>, u32), crate::store::StoreError> {
        let now = now_ms();
        let mut bans: Vec<BanEntry> = self
            .store
            .bans()?
            .into_iter()
            .filter(|b| b.expires_ms == 0 || b.expires_ms > now)
            .filter_map(|b| {
                Some(BanEntry {
                    public_key: voice_proto::hash::parse_hex(&b.public_key)?,
                    name: b.name,
                    reason: bounded(b.reason),
                    created_ms: b.created_ms,
                    expires_ms: b.expires_ms,
                    banned_by: b.banned_by,
                })
            })
            .collect();
        bans.sort_by_key(|b| std::cmp::Reverse(b.created_ms));
        let omitted = bans.len().saturating_sub(MAX_LISTED);
        bans.truncate(MAX_LISTED);
        Ok((bans, u32::try_from(omitted).unwrap_or(u32::MAX)))
    }

    /// Lifts a ban for a moderator.
    pub async fn unban(&self, id: SessionId, req: UnbanRequest) {
        let allowed = {
            let inner = self.inner.lock().await;
            Self::needs_at_root(&inner, id, Permission::Ban)
        };
        let outcome = match allowed {
            Err(refusal) => Err(refusal),
            Ok(()) if req.public_key.len() != 32 => {
                Err("a ban is lifted by its 32-byte key; `voicectl bans` lists them".to_owned())
            }
            Ok(()) => self.lift_ban(&req.public_key).await,
        };
        self.answer(id, req.request_id, outcome).await;
    }

    async fn lift_ban(&self, key: &[u8]) -> Result<(), String> {
        let since = self.store.epoch();
        match self.store.remove_ban(key) {
            Ok(true) => {}
            Ok(false) => return Err("that key is not banned".to_owned()),
            Err(e) => return Err(format!("the ban could not be lifted: {e}")),
        }
        self.store
            .flush(since)
            .await
            .map_err(|e| format!("the ban could not be lifted: {e}"))
    }
}
