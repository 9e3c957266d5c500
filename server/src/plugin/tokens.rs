//! Plugin tokens: a name, scopes and a 256-bit random secret of which the
//! server keeps only the BLAKE3 hash (in sled, and in memory for checks).
//! A secret is checked against every token's hash in constant time; a
//! revoked token is gone at once, and its open streams are told through
//! [`TokenUse::revoked`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rand::RngCore;
use tokio_util::sync::CancellationToken;
use voice_proto::pb::admin::{PluginToken, Scope, StoredPluginToken};

use crate::plugin::scope;
use crate::store::{Store, StoreError};

/// What a secret starts with, so a leaked one is recognisable.
pub const SECRET_PREFIX: &str = "vpt_";

/// Most tokens a server keeps (each call checks them all).
pub const MAX_TOKENS: usize = 256;

/// Longest token name.
pub const MAX_NAME_LEN: usize = 64;

/// How often a token's last use is written to disk (it is always current
/// in memory, which `list` shows).
const LAST_USED_WRITE_MS: u64 = 60_000;

/// A token management failure.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A bad name or scope list.
    #[error("{0}")]
    Invalid(String),
    /// The name is taken.
    #[error("a plugin token named {0:?} exists; revoke it first or pick another name")]
    Exists(String),
    /// No such token.
    #[error("no plugin token named {0:?} (see `voice-server admin plugin-token list`)")]
    NotFound(String),
    /// Too many tokens.
    #[error("there are {MAX_TOKENS} plugin tokens already; revoke unused ones first")]
    Full,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token as the server holds it in memory.
#[derive(Debug)]
pub struct TokenUse {
    /// Its name.
    pub name: Arc<str>,
    scopes: Vec<Scope>,
    created_ms: u64,
    hash: blake3::Hash,
    last_used: Mutex<(u64, String)>,
    last_written_ms: AtomicU64,
    /// Cancelled when the token is revoked.
    pub revoked: CancellationToken,
}

impl TokenUse {
    /// Whether the token has `scope`.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Its scopes.
    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    fn listed(&self) -> PluginToken {
        let (last_used_ms, from) = self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        PluginToken {
            name: self.name.to_string(),
            scopes: self.scopes.iter().map(|s| *s as i32).collect(),
            created_ms: self.created_ms,
            last_used_ms,
            last_used_from: from,
        }
    }

    fn stored(&self) -> StoredPluginToken {
        StoredPluginToken {
            token: Some(self.listed()),
            secret_hash: self.hash.as_bytes().to_vec(),
        }
    }
}

/// The server's plugin tokens.
#[derive(Debug)]
pub struct PluginTokens {
    store: Store,
    tokens: RwLock<Vec<Arc<TokenUse>>>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Checks a token name: letters, digits, `-`, `_`, `.`; 1 to 64 characters.
pub fn check_name(name: &str) -> Result<(), TokenError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(TokenError::Invalid(format!(
            "token name {name:?}: use 1 to {MAX_NAME_LEN} letters, digits, '-', '_' or '.'"
        )))
    }
}

/// The 32 secret bytes of a secret's text, if it has the form of one.
fn secret_bytes(secret: &str) -> Option<[u8; 32]> {
    let hex = secret.strip_prefix(SECRET_PREFIX)?;
    let bytes = voice_proto::hash::parse_hex(hex)?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

impl PluginTokens {
    /// The tokens kept in `store`.
    pub fn load(store: Store) -> Result<Arc<Self>, StoreError> {
        let mut tokens = Vec::new();
        for stored in store.plugin_tokens()? {
            let (Some(token), Ok(hash)) = (
                stored.token,
                <[u8; 32]>::try_from(stored.secret_hash.as_slice()),
            ) else {
                return Err(StoreError::Corrupt {
                    tree: "plugin_tokens",
                    reason: "a token without its name or a 32-byte hash".to_owned(),
                });
            };
            tokens.push(Arc::new(TokenUse {
                scopes: token
                    .scopes
                    .iter()
                    .filter_map(|s| Scope::try_from(*s).ok())
                    .filter(|s| *s != Scope::Unspecified)
                    .collect(),
                name: token.name.into(),
                created_ms: token.created_ms,
                hash: blake3::Hash::from_bytes(hash),
                last_used: Mutex::new((token.last_used_ms, token.last_used_from)),
                last_written_ms: AtomicU64::new(token.last_used_ms),
                revoked: CancellationToken::new(),
            }));
        }
        Ok(Arc::new(Self {
            store,
            tokens: RwLock::new(tokens),
        }))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<TokenUse>>> {
        self.tokens.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates a token; returns it and its secret (shown once).
    pub async fn create(
        &self,
        name: &str,
        scopes: &[Scope],
    ) -> Result<(PluginToken, String), TokenError> {
        check_name(name)?;
        let mut scopes: Vec<Scope> = scopes
            .iter()
            .copied()
            .filter(|s| *s != Scope::Unspecified)
            .collect();
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(TokenError::Invalid(format!(
                "give the token at least one scope: {}",
                scope::names(&scope::ALL)
            )));
        }
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = Arc::new(TokenUse {
            name: name.into(),
            scopes,
            created_ms: now_ms(),
            hash: blake3::hash(&secret),
            last_used: Mutex::new((0, String::new())),
            last_written_ms: AtomicU64::new(0),
            revoked: CancellationToken::new(),
        });
        let since = self.store.epoch();
        {
            let mut tokens = self.tokens.write().unwrap_or_else(PoisonError::into_inner);
            if tokens.iter().any(|t| &*t.name == name) {
                return Err(TokenError::Exists(name.to_owned()));
            }
            if tokens.len() >= MAX_TOKENS {
                return Err(TokenError::Full);
            }
            self.store.put_plugin_token(name, &token.stored())?;
            tokens.push(token.clone());
        }
        self.store.flush(since).await?;
        tracing::info!(token = name, scopes = %scope::names(&token.scopes), "plugin token created");
        Ok((
            token.listed(),
            format!("{SECRET_PREFIX}{}", voice_proto::hash::hex(&secret)),
        ))
    }

    /// Every token, by name.
    pub fn list(&self) -> Vec<PluginToken> {
        let mut list: Vec<PluginToken> = self.read().iter().map(|t| t.listed()).collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Revokes a token: refused from now on, its open streams end.
    pub async fn revoke(&self, name: &str) -> Result<(), TokenError> {
        let since = self.store.epoch();
        let token = {
            let mut tokens = self.tokens.write().unwrap_or_else(PoisonError::into_inner);
            let Some(at) = tokens.iter().position(|t| &*t.name == name) else {
                return Err(TokenError::NotFound(name.to_owned()));
            };
            self.store.remove_plugin_token(name)?;
            let token = tokens.swap_remove(at);
            token.revoked.cancel();
            token
        };
        self.store.flush(since).await?;
        tracing::info!(token = %token.name, "plugin token revoked");
        Ok(())
    }

    /// The token whose secret this is. Every token's hash is compared, each
    /// in constant time, so the time taken tells nothing of the secret.
    pub fn check(&self, secret: &str) -> Option<Arc<TokenUse>> {
        let hash = blake3::hash(&secret_bytes(secret)?);
        let mut found = None;
        for token in self.read().iter() {
            // blake3::Hash compares in constant time.
            if token.hash == hash {
                found = Some(token.clone());
            }
        }
        found
    }

    /// Records a use of `token` from `from`: in memory at once, on disk at
    /// most once a minute.
    pub fn used(&self, token: &TokenUse, from: SocketAddr) {
        let now = now_ms();
        *token
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (now, from.ip().to_string());
        let written = token.last_written_ms.load(Ordering::Relaxed);
        if now.saturating_sub(written) < LAST_USED_WRITE_MS {
            return;
        }
        token.last_written_ms.store(now, Ordering::Relaxed);
        // Under the read lock: a revoke (write lock) cannot remove the record
        // between the check and the write, which would bring it back.
        let tokens = self.read();
        if token.revoked.is_cancelled() {
            return;
        }
        if let Err(e) = self.store.put_plugin_token(&token.name, &token.stored()) {
            tracing::warn!(token = %token.name, error = %e, "cannot record the plugin token's last use");
        }
        drop(tokens);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_of_the_wrong_form_are_not_read() {
        assert!(secret_bytes("vpt_00").is_none());
        assert!(secret_bytes(&format!("xyz_{}", "00".repeat(32))).is_none());
        assert!(secret_bytes(&format!("vpt_{}", "zz".repeat(32))).is_none());
        assert_eq!(
            secret_bytes(&format!("vpt_{}", "ab".repeat(32))),
            Some([0xab; 32])
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("welcome-bot_2.prod").is_ok());
        for bad in ["", "a b", "ä", "x/y", &"n".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
