//! The rustls certificate verifier that applies voiced's trust rules and
//! records what it decided, so the connection can explain a refusal.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use voice_net::tls::{CertPolicy, Presented};

use super::{KnownServer, fingerprint};

/// What the user has said about an unknown certificate for this attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accept {
    /// Nothing: an unknown certificate is refused.
    No,
    /// Accept (and pin) whatever certificate the server shows (`--accept-new`).
    Any,
    /// Accept (and pin) only this fingerprint.
    Fingerprint(String),
}

/// The verifier's verdict on the certificate it saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustDecision {
    /// It chains to a trusted root.
    Chained {
        /// Its fingerprint.
        fingerprint: String,
    },
    /// It matches the pin.
    Pinned {
        /// Its fingerprint.
        fingerprint: String,
    },
    /// Not pinned before; the user accepted it, so it must be pinned now.
    Accepted {
        /// Its fingerprint.
        fingerprint: String,
    },
    /// Not pinned and not accepted: refused.
    Unknown {
        /// Its fingerprint.
        fingerprint: String,
    },
    /// Differs from the pin: refused.
    Changed {
        /// Its fingerprint.
        fingerprint: String,
        /// The pin.
        previous: KnownServer,
    },
}

impl TrustDecision {
    /// The fingerprint of the certificate seen.
    pub fn fingerprint(&self) -> &str {
        match self {
            Self::Chained { fingerprint }
            | Self::Pinned { fingerprint }
            | Self::Accepted { fingerprint }
            | Self::Unknown { fingerprint }
            | Self::Changed { fingerprint, .. } => fingerprint,
        }
    }
}

/// Applies the trust rules to one connection attempt (the handshake
/// signatures are checked by [`voice_net::client_config`]).
#[derive(Debug)]
pub struct TrustVerifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pinned: Option<KnownServer>,
    accept: Accept,
    decision: Mutex<Option<TrustDecision>>,
}

/// Loads the system roots plus an optional extra CA file.
pub fn root_store(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A single odd system certificate must not disable the rest.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("CA file {}: {e}", path.display()))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| format!("CA file {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("CA file {}: {e}", path.display()))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("CA file {} holds no certificate", path.display()));
        }
    }
    Ok(roots)
}

impl TrustVerifier {
    /// A verifier with these roots, this pin and this acceptance.
    pub fn new(
        provider: Arc<CryptoProvider>,
        roots: RootCertStore,
        pinned: Option<KnownServer>,
        accept: Accept,
    ) -> Self {
        let webpki = if roots.is_empty() {
            None
        } else {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .ok()
        };
        Self {
            webpki,
            pinned,
            accept,
            decision: Mutex::new(None),
        }
    }

    /// What was decided about the certificate (after the handshake ran).
    pub fn decision(&self) -> Option<TrustDecision> {
        self.decision.lock().ok().and_then(|d| d.clone())
    }

    fn record(&self, d: TrustDecision) {
        if let Ok(mut slot) = self.decision.lock() {
            *slot = Some(d);
        }
    }

    /// The rules without rustls: the decision for a certificate that did
    /// or did not chain to a root.
    pub fn decide(&self, fp: String, chained: bool) -> TrustDecision {
        if chained {
            return TrustDecision::Chained { fingerprint: fp };
        }
        match (&self.pinned, &self.accept) {
            (Some(pin), Accept::Fingerprint(a)) if pin.fingerprint != fp && *a == fp => {
                TrustDecision::Accepted { fingerprint: fp }
            }
            (Some(pin), _) if pin.fingerprint == fp => TrustDecision::Pinned { fingerprint: fp },
            (Some(pin), _) => TrustDecision::Changed {
                fingerprint: fp,
                previous: pin.clone(),
            },
            (None, Accept::Any) => TrustDecision::Accepted { fingerprint: fp },
            (None, Accept::Fingerprint(a)) if *a == fp => {
                TrustDecision::Accepted { fingerprint: fp }
            }
            (None, _) => TrustDecision::Unknown { fingerprint: fp },
        }
    }
}

impl CertPolicy for TrustVerifier {
    fn verify(&self, cert: &Presented<'_>) -> Result<ServerCertVerified, rustls::Error> {
        let fp = fingerprint(cert.end_entity);
        let chained = self.webpki.as_ref().is_some_and(|v| {
            v.verify_server_cert(
                cert.end_entity,
                cert.intermediates,
                cert.server_name,
                cert.ocsp_response,
                cert.now,
            )
            .is_ok()
        });
        let decision = self.decide(fp, chained);
        let ok = matches!(
            decision,
            TrustDecision::Chained { .. }
                | TrustDecision::Pinned { .. }
                | TrustDecision::Accepted { .. }
        );
        self.record(decision);
        if ok {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(pinned: Option<&str>, accept: Accept) -> TrustVerifier {
        TrustVerifier::new(
            Arc::new(rustls::crypto::ring::default_provider()),
            RootCertStore::empty(),
            pinned.map(|fp| KnownServer {
                server: "h:1".into(),
                fingerprint: fp.into(),
                first_seen_ms: 1,
            }),
            accept,
        )
    }

    #[test]
    fn rules() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        assert!(matches!(
            verifier(None, Accept::No).decide(a.clone(), false),
            TrustDecision::Unknown { .. }
        ));
        assert!(matches!(
            verifier(None, Accept::No).decide(a.clone(), true),
            TrustDecision::Chained { .. }
        ));
        assert!(matches!(
            verifier(None, Accept::Any).decide(a.clone(), false),
            TrustDecision::Accepted { .. }
        ));
        assert!(matches!(
            verifier(None, Accept::Fingerprint(b.clone())).decide(a.clone(), false),
            TrustDecision::Unknown { .. }
        ));
        assert!(matches!(
            verifier(Some(&a), Accept::No).decide(a.clone(), false),
            TrustDecision::Pinned { .. }
        ));
        // A changed certificate is refused even with --accept-new...
        assert!(matches!(
            verifier(Some(&a), Accept::Any).decide(b.clone(), false),
            TrustDecision::Changed { .. }
        ));
        // ...but the user may name the new fingerprint explicitly.
        assert!(matches!(
            verifier(Some(&a), Accept::Fingerprint(b.clone())).decide(b, false),
            TrustDecision::Accepted { .. }
        ));
    }
}
