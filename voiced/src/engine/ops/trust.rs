//! Trust decisions: pinned servers, and trusting a fingerprint.

use voice_proto::pb::control::KnownServer;

use crate::connection::dial;
use crate::engine::Engine;
use crate::error::Error;
use crate::trust::{self, KnownServers};

impl Engine {
    /// Pinned servers.
    pub fn known_servers(&self) -> Result<Vec<KnownServer>, Error> {
        let k = KnownServers::load(&self.inner.paths.known_servers_file())
            .map_err(|e| Error::Failed(format!("known_servers: {e}")))?;
        Ok(k.entries()
            .iter()
            .map(|e| KnownServer {
                server: e.server.clone(),
                fingerprint: e.fingerprint.clone(),
                first_seen_ms: e.first_seen_ms,
            })
            .collect())
    }

    /// Trusts a fingerprint for a server (pinned, or for this run only).
    pub fn trust(&self, server: &str, fingerprint: &str, permanent: bool) -> Result<(), Error> {
        let server = dial::normalize_server(server).map_err(Error::Invalid)?;
        let fp = trust::normalize_fingerprint(fingerprint).ok_or_else(|| {
            Error::Invalid(format!(
                "{fingerprint:?} is not a SHA-256 fingerprint (64 hex digits)"
            ))
        })?;
        if permanent {
            let _writing = self.writing();
            KnownServers::load(&self.inner.paths.known_servers_file())
                .and_then(|mut k| k.pin(&server, &fp, trust::now_ms()))
                .map_err(|e| Error::Failed(format!("known_servers: {e}")))?;
        } else {
            self.lock().session_pins.insert(server, fp);
        }
        Ok(())
    }
}
