//! `acme` TLS mode: certificates obtained and renewed with `rustls-acme`
//! through the TLS-ALPN-01 challenge.
//!
//! One resolver serves both the QUIC endpoint and the TCP challenge
//! listener: the CA's validator connects to TCP port 443 of the DNS name with
//! the `acme-tls/1` protocol and gets the challenge certificate; QUIC clients
//! get the issued certificate. When the certificate is renewed (a third of
//! its lifetime before it expires) the resolver serves the new one to new
//! connections at once, without a restart.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::server::ResolvesServerCert;
use rustls_acme::caches::DirCache;
use rustls_acme::{AcmeConfig, AcmeState, EventOk};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::tls::{self, TlsError};

/// Challenge connections handled at once; more wait in the kernel backlog.
const MAX_CHALLENGE_CONNECTIONS: usize = 32;

/// Longest a challenge handshake may take.
const CHALLENGE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the ACME client last did (see [`Acme::status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcmeStatus {
    /// No certificate yet; the first order is under way.
    Ordering,
    /// A certificate is served.
    Serving {
        /// Certificates newly issued since start (0 = from the cache).
        issued: u32,
    },
    /// The last attempt failed: the error and what to check. A certificate
    /// may still be served (a failed renewal), and the order is retried.
    Failed {
        /// The CA's or the client's error.
        error: String,
        /// What to check.
        hint: String,
    },
}

/// The ACME client of a server, with its challenge listener bound.
pub struct Acme {
    status: tokio::sync::watch::Sender<AcmeStatus>,
    state: AcmeState<std::io::Error, std::io::Error>,
    resolver: Arc<dyn ResolvesServerCert>,
    listener: tokio::net::TcpListener,
    challenge_tls: Arc<rustls::ServerConfig>,
    domains: Vec<String>,
    directory: String,
}

impl std::fmt::Debug for Acme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acme")
            .field("domains", &self.domains)
            .field("directory", &self.directory)
            .field("challenge", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

/// The directory URL for a configured name or URL.
pub fn directory_url(name: &str) -> Result<String, TlsError> {
    match name {
        "letsencrypt" => Ok(rustls_acme::acme::LETS_ENCRYPT_PRODUCTION_DIRECTORY.to_owned()),
        "letsencrypt-staging" => Ok(rustls_acme::acme::LETS_ENCRYPT_STAGING_DIRECTORY.to_owned()),
        url if url.starts_with("https://") => Ok(url.to_owned()),
        other => Err(TlsError::Acme(format!(
            "acme_directory = {other:?}: use letsencrypt, letsencrypt-staging or an https:// URL"
        ))),
    }
}

/// The roots that check the ACME directory's HTTPS: the system's, plus
/// `ca_file`.
fn client_roots(ca_file: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // One odd system certificate must not disable the rest.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let bad = |reason: String| TlsError::Pem {
            path: path.display().to_string(),
            reason,
        };
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
            roots
                .add(cert.map_err(|e| bad(e.to_string()))?)
                .map_err(|e| bad(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad("no certificate found".to_owned()));
        }
    }
    if roots.is_empty() {
        return Err(TlsError::Acme(
            "no CA certificates to check the ACME directory's HTTPS: install the system CA \
             certificates (ca-certificates) or set acme_ca_file"
                .to_owned(),
        ));
    }
    Ok(roots)
}

impl Acme {
    /// Checks the settings, opens the cache and binds the challenge listener.
    pub async fn new(config: &Config, data_dir: &Path) -> Result<Self, TlsError> {
        let domains: Vec<String> = config
            .acme_domains
            .iter()
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        if domains.is_empty() {
            return Err(TlsError::Acme(
                "tls_mode = acme needs acme_domains (the DNS names clients connect to)".to_owned(),
            ));
        }
        if let Some(bad) = domains
            .iter()
            .find(|d| d.parse::<std::net::IpAddr>().is_ok())
        {
            return Err(TlsError::Acme(format!(
                "{bad} is an IP address; ACME certificates are for DNS names"
            )));
        }
        let directory = directory_url(&config.acme_directory)?;
        let cache_dir: PathBuf = config
            .acme_cache_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("acme"));
        std::fs::create_dir_all(&cache_dir).map_err(|source| TlsError::Io {
            path: cache_dir.display().to_string(),
            source,
        })?;
        restrict(&cache_dir);
        let client = rustls::ClientConfig::builder_with_provider(tls::provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(client_roots(config.acme_ca_file.as_deref())?)
            .with_no_client_auth();
        let mut acme =
            AcmeConfig::new_with_client_config(&domains, Arc::new(client)).directory(&directory);
        if let Some(email) = config.acme_email.as_deref().filter(|e| !e.is_empty()) {
            if email.contains(':') {
                acme = acme.contact_push(email);
            } else {
                acme = acme.contact_push(format!("mailto:{email}"));
            }
        }
        let state = acme.cache(DirCache::new(cache_dir)).state();
        let resolver: Arc<dyn ResolvesServerCert> = state.resolver();
        let challenge_tls = state.challenge_rustls_config_with_provider(tls::provider());
        let addr = config.acme_challenge_listen;
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                " (ports below 1024 need CAP_NET_BIND_SERVICE; see docs/deploy.md)"
            } else {
                ""
            };
            TlsError::Acme(format!("cannot bind the challenge port {addr}: {e}{hint}"))
        })?;
        Ok(Self {
            status: tokio::sync::watch::Sender::new(AcmeStatus::Ordering),
            state,
            resolver,
            listener,
            challenge_tls,
            domains,
            directory,
        })
    }

    /// The resolver for the QUIC endpoint (shared with the challenge listener).
    pub fn resolver(&self) -> Arc<dyn ResolvesServerCert> {
        self.resolver.clone()
    }

    /// The bound challenge address.
    pub fn challenge_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Follows what the client does: ordering, serving, failures.
    pub fn status(&self) -> tokio::sync::watch::Receiver<AcmeStatus> {
        self.status.subscribe()
    }

    /// The names the certificate is for.
    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    /// Orders, renews and serves challenges until `cancel`.
    pub async fn run(self, cancel: CancellationToken) {
        let Self {
            status,
            mut state,
            listener,
            challenge_tls,
            domains,
            directory,
            ..
        } = self;
        let challenge = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::info!(?domains, %directory, %challenge, "acme: getting a certificate");
        let events = async {
            let mut issued = 0;
            while let Some(event) = state.next().await {
                if let Some(new) = log_event(event, &domains, &directory, &challenge, &mut issued) {
                    status.send_replace(new);
                }
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = events => {}
            _ = serve_challenges(listener, challenge_tls) => {}
        }
    }
}

/// Logs an event; returns the new status when it changed.
fn log_event(
    event: rustls_acme::Event<std::io::Error, std::io::Error>,
    domains: &[String],
    directory: &str,
    challenge: &str,
    issued: &mut u32,
) -> Option<AcmeStatus> {
    match event {
        Ok(EventOk::DeployedCachedCert) => {
            tracing::info!(?domains, "acme: serving the cached certificate");
            Some(AcmeStatus::Serving { issued: *issued })
        }
        Ok(EventOk::DeployedNewCert) => {
            *issued += 1;
            tracing::info!(?domains, "acme: new certificate issued and now served");
            Some(AcmeStatus::Serving { issued: *issued })
        }
        Ok(EventOk::CertCacheStore) => {
            tracing::debug!("acme: certificate stored in the cache");
            None
        }
        Ok(EventOk::AccountCacheStore) => {
            tracing::debug!("acme: account stored in the cache");
            None
        }
        Err(e) => {
            let error = e.to_string();
            let hint = order_hint(&error, directory, challenge);
            tracing::error!(
                %error,
                ?domains,
                "acme: getting a certificate failed; will retry with growing delays. {hint}"
            );
            Some(AcmeStatus::Failed { error, hint })
        }
    }
}

/// What to do about a failed order, from the CA's error text.
pub fn order_hint(error: &str, directory: &str, challenge: &str) -> String {
    let has = |s: &str| error.contains(s);
    if has("rateLimited") {
        "The CA refused: rate limit reached. Wait before retrying (Let's Encrypt: see its \
         rate limits), and use acme_directory = letsencrypt-staging while testing."
            .to_owned()
    } else if has("error:dns") || has("NXDOMAIN") || has("no such host") {
        "The CA cannot resolve the DNS name: check its A/AAAA records point at this server."
            .to_owned()
    } else if has("error:connection")
        || has("error:tls")
        || has("error:unauthorized")
        || has("error:incorrectResponse")
        || has("Failed to connect")
    {
        format!(
            "The CA could not complete TLS-ALPN-01 on TCP port 443 of the name: check that the \
             name points here and TCP port 443 reaches the challenge listener ({challenge})."
        )
    } else if has("rejectedIdentifier") || has("malformed") {
        "The CA does not issue for this name: check acme_domains.".to_owned()
    } else if has("http request") || has("io error") || has("certificate") {
        format!(
            "Cannot talk to the ACME directory {directory}: check the URL, outbound HTTPS, and \
             acme_ca_file for a private CA."
        )
    } else {
        String::new()
    }
}

/// Answers TLS-ALPN-01 validation connections: a TLS handshake with the
/// challenge certificate, then close.
async fn serve_challenges(listener: tokio::net::TcpListener, tls: Arc<rustls::ServerConfig>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CHALLENGE_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, remote) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "acme: challenge accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let tls = tls.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            match stream.into_std().and_then(|s| handshake(s, tls)) {
                Ok(()) => tracing::debug!(%remote, "acme: challenge connection answered"),
                Err(e) => tracing::debug!(%remote, error = %e, "acme: challenge connection failed"),
            }
        });
    }
}

fn handshake(
    mut stream: std::net::TcpStream,
    tls: Arc<rustls::ServerConfig>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CHALLENGE_TIMEOUT))?;
    stream.set_write_timeout(Some(CHALLENGE_TIMEOUT))?;
    let mut conn = rustls::ServerConnection::new(tls).map_err(std::io::Error::other)?;
    // The socket timeouts bound each read; this bounds the whole exchange, so
    // a peer trickling bytes cannot hold a slot.
    let deadline = std::time::Instant::now() + CHALLENGE_TIMEOUT;
    let in_time = || {
        if std::time::Instant::now() < deadline {
            Ok(())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "challenge handshake too slow",
            ))
        }
    };
    while conn.is_handshaking() {
        in_time()?;
        conn.complete_io(&mut stream)?;
    }
    conn.send_close_notify();
    while conn.wants_write() {
        in_time()?;
        conn.complete_io(&mut stream)?;
    }
    Ok(())
}

#[cfg(unix)]
fn restrict(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
}

#[cfg(not(unix))]
fn restrict(_dir: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_names() {
        assert!(directory_url("letsencrypt").unwrap().contains("acme-v02"));
        assert!(
            directory_url("letsencrypt-staging")
                .unwrap()
                .contains("staging")
        );
        assert_eq!(
            directory_url("https://127.0.0.1:14000/dir").unwrap(),
            "https://127.0.0.1:14000/dir"
        );
        assert!(directory_url("http://insecure/dir").is_err());
    }

    #[test]
    fn hints_name_the_cause() {
        assert!(
            order_hint("urn:ietf:params:acme:error:rateLimited", "d", "c").contains("rate limit")
        );
        assert!(
            order_hint("urn:ietf:params:acme:error:connection", "d", "[::]:443")
                .contains("[::]:443")
        );
        assert!(order_hint("urn:ietf:params:acme:error:dns", "d", "c").contains("DNS"));
    }
}
