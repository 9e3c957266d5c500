//! TLS for voice/1: certificate fingerprints, the crypto provider, and the
//! client configuration (TLS 1.3, ALPN `voice/1`) around a caller's policy
//! for the server certificate.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

/// SHA-256 of a certificate's DER bytes, lowercase hex: what servers print
/// in their banner and clients pin.
pub fn fingerprint(cert_der: &[u8]) -> String {
    voice_proto::hash::hex(&Sha256::digest(cert_der))
}

/// The crypto provider of every voice/1 endpoint (ring).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's certificate as the TLS handshake presents it.
#[derive(Debug)]
pub struct Presented<'a> {
    /// The server's own certificate.
    pub end_entity: &'a CertificateDer<'a>,
    /// The chain it came with.
    pub intermediates: &'a [CertificateDer<'a>],
    /// The name the client connected to.
    pub server_name: &'a ServerName<'a>,
    /// A stapled OCSP response, or empty.
    pub ocsp_response: &'a [u8],
    /// The time to check validity at.
    pub now: UnixTime,
}

/// Decides whether a server's certificate is accepted. The handshake
/// signatures are checked apart from it, always, by [`client_config`]'s
/// verifier; a policy only judges the certificate.
pub trait CertPolicy: fmt::Debug + Send + Sync {
    /// Accepts or refuses the server's certificate.
    fn verify(&self, cert: &Presented<'_>) -> Result<ServerCertVerified, rustls::Error>;
}

/// Which server certificate a client accepts, when it pins one: a load
/// generator or a test (the daemon applies its own trust rules).
#[derive(Debug, Clone)]
pub enum ServerCert {
    /// Only the certificate with this SHA-256 fingerprint (hex, as the
    /// server's banner prints it; case does not matter).
    Pinned(String),
    /// Any certificate whose handshake signature verifies (a load generator
    /// on a test network; never for real use).
    Any,
}

impl CertPolicy for ServerCert {
    fn verify(&self, cert: &Presented<'_>) -> Result<ServerCertVerified, rustls::Error> {
        match self {
            Self::Any => Ok(ServerCertVerified::assertion()),
            Self::Pinned(expected) => {
                let fp = fingerprint(cert.end_entity);
                if fp.eq_ignore_ascii_case(expected) {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(rustls::Error::General(format!(
                        "certificate fingerprint {fp} is not the pinned {expected}"
                    )))
                }
            }
        }
    }
}

/// A client TLS configuration that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// rustls refused the settings.
    #[error("TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    /// quinn cannot use the TLS configuration.
    #[error("QUIC TLS setup: {0}")]
    Quic(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
}

/// A quinn client configuration speaking TLS 1.3 and ALPN `voice/1`,
/// accepting the certificates `policy` accepts, with `transport`.
pub fn client_config(
    policy: Arc<dyn CertPolicy>,
    transport: quinn::TransportConfig,
) -> Result<quinn::ClientConfig, ConfigError> {
    let provider = provider();
    let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PolicyVerifier { policy, provider }))
        .with_no_client_auth();
    tls.alpn_protocols = vec![voice_proto::ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls)?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// A policy's judgement of the certificate, plus the provider's check of
/// the handshake signatures.
#[derive(Debug)]
struct PolicyVerifier {
    policy: Arc<dyn CertPolicy>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PolicyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.policy.verify(&Presented {
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_lowercase_hex_sha256() {
        // SHA-256 of the empty input.
        assert_eq!(
            fingerprint(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(fingerprint(b"abc").len(), 64);
    }

    #[test]
    fn a_client_config_builds() {
        let policy = Arc::new(ServerCert::Pinned("00".repeat(32)));
        assert!(client_config(policy, crate::transport::client()).is_ok());
    }
}
