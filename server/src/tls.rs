//! TLS certificates: `self-signed` (generated once, kept in the data dir) or
//! `files` (PEM chain and key), and the QUIC endpoint configuration. The
//! endpoint always takes its certificate from a resolver, so a renewed or
//! reloaded certificate is served to new connections without a restart
//! ([`crate::cert_reload`], [`crate::acme`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::ResolvesServerCert;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{Config, TlsMode};
use voice_net::fsutil::write_private;

pub use voice_net::tls::{fingerprint, provider};
/// The transport settings tuned for voice (docs/protocol.md).
pub use voice_net::transport::{server as transport, server_for as transport_for};

/// A certificate chain with its key.
#[derive(Debug)]
pub struct Identity {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

/// A TLS setup problem.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM file holds nothing usable.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Generating a certificate failed.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate or key.
    #[error("invalid certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
    /// quinn refused the TLS configuration.
    #[error("TLS configuration unusable for QUIC: {0}")]
    Quic(String),
    /// `files` mode without both files.
    #[error("tls-mode = files needs tls-cert and tls-key")]
    MissingFiles,
    /// The key does not belong to the certificate.
    #[error("{key}: this private key does not belong to the certificate in {cert}")]
    KeyMismatch {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
    },
    /// The `acme` settings are unusable.
    #[error("acme: {0}")]
    Acme(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The certificate and key files the configuration asks for: the
/// configured pair in `files` mode, the data dir's self-signed pair
/// (generated on first use) in `self-signed` mode, none in `acme` mode.
pub fn cert_files(
    config: &Config,
    data_dir: &Path,
) -> Result<Option<(PathBuf, PathBuf)>, TlsError> {
    match config.tls_mode {
        TlsMode::SelfSigned => {
            self_signed(data_dir, &config.server_name)?;
            Ok(Some((data_dir.join("cert.pem"), data_dir.join("key.pem"))))
        }
        TlsMode::Files => {
            let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
                return Err(TlsError::MissingFiles);
            };
            Ok(Some((cert.clone(), key.clone())))
        }
        TlsMode::Acme => Ok(None),
    }
}

/// Reads a chain and key into the form rustls serves, checking that the key
/// belongs to the certificate.
pub fn certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let identity = from_files(cert, key)?;
    let mismatch = || TlsError::KeyMismatch {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
    };
    let certified =
        CertifiedKey::from_der(identity.chain, identity.key, &provider()).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => mismatch(),
            other => TlsError::Rustls(other),
        })?;
    certified.keys_match().map_err(|_| mismatch())?;
    Ok(Arc::new(certified))
}

/// Reads a PEM chain and key.
pub fn from_files(cert: &Path, key: &Path) -> Result<Identity, TlsError> {
    let pem_err = |path: &Path, reason: String| TlsError::Pem {
        path: path.display().to_string(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_err(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(pem_err(cert, "no certificate found".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err(key, e.to_string()))?;
    Ok(Identity { chain, key })
}

/// The self-signed certificate of the data dir, generated on first use.
pub fn self_signed(data_dir: &Path, name: &str) -> Result<Identity, TlsError> {
    let cert_path = data_dir.join("cert.pem");
    let key_path = data_dir.join("key.pem");
    if cert_path.exists() && key_path.exists() {
        return from_files(&cert_path, &key_path);
    }
    let mut names = vec!["localhost".to_owned()];
    if name != "localhost" && !name.is_empty() && name.is_ascii() && !name.contains(' ') {
        names.push(name.to_owned());
    }
    let generated = rcgen::generate_simple_self_signed(names)?;
    let key_pem = generated.signing_key.serialize_pem();
    // Whole and synced, each: a crash (of the machine too) leaves both
    // files or a missing one, which makes a new pair, never an empty file
    // that stops the server from starting.
    write_private(&key_path, key_pem.as_bytes()).map_err(io_err(&key_path))?;
    write_private(&cert_path, generated.cert.pem().as_bytes()).map_err(io_err(&cert_path))?;
    from_files(&cert_path, &key_path)
}

/// The quinn server configuration taking its certificate from `resolver`.
pub fn server_config(
    resolver: Arc<dyn ResolvesServerCert>,
    transport: quinn::TransportConfig,
) -> Result<quinn::ServerConfig, TlsError> {
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    tls.alpn_protocols = vec![voice_proto::ALPN.to_vec()];
    tls.max_early_data_size = 0;
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
    config.transport_config(Arc::new(transport));
    config.migration(true);
    Ok(config)
}
