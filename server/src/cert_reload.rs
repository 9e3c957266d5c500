//! A certificate read from files that can be replaced while the server runs:
//! on SIGHUP ([`crate::run`]), when the files change (a poll of their
//! modification times), or through [`FileCert::reload`]. Connections already
//! open keep their keys; new handshakes get the new certificate. A new pair
//! that cannot be used is logged and the old certificate is kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_util::sync::CancellationToken;

use crate::tls::{self, TlsError};

/// The served certificate of `files` and `self-signed` mode.
#[derive(Debug)]
pub struct FileCert {
    cert: PathBuf,
    key: PathBuf,
    current: ArcSwap<CertifiedKey>,
}

/// What identifies one version of a file: modification time and size.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl FileCert {
    /// Loads the pair; fails when it is unusable.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let current = tls::certified_key(cert, key)?;
        Ok(Arc::new(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: ArcSwap::new(current),
        }))
    }

    /// SHA-256 of the leaf certificate being served, hex.
    pub fn fingerprint(&self) -> String {
        let current = self.current.load();
        current
            .cert
            .first()
            .map(|cert| tls::fingerprint(cert))
            .unwrap_or_default()
    }

    /// Reads the files again and serves the new pair to new connections;
    /// on error the old pair stays. Returns the new fingerprint.
    pub fn reload(&self) -> Result<String, TlsError> {
        let new = tls::certified_key(&self.cert, &self.key)?;
        self.current.store(new);
        Ok(self.fingerprint())
    }

    /// [`Self::reload`] with the outcome logged.
    pub fn reload_logged(&self, why: &str) {
        match self.reload() {
            Ok(fingerprint) => {
                tracing::info!(%fingerprint, cert = %self.cert.display(), "{why}: certificate reloaded");
            }
            Err(e) => tracing::error!(
                error = %e,
                "{why}: the new certificate or key is unusable; still serving the old certificate \
                 (fix the files, then send SIGHUP or touch them)"
            ),
        }
    }

    /// Polls the files every `every` and reloads when either changed, until
    /// `cancel`.
    pub async fn watch(self: Arc<Self>, every: Duration, cancel: CancellationToken) {
        let mut seen = (stamp(&self.cert), stamp(&self.key));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = (stamp(&self.cert), stamp(&self.key));
            if now != seen {
                seen = now;
                self.reload_logged("certificate files changed");
            }
        }
    }
}

impl ResolvesServerCert for FileCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}
