//! The handshake transcript a client signs (DESIGN §5).
//!
//! The signature covers a fixed context string, the server's nonce and a TLS
//! exporter value of this QUIC connection, so it cannot be replayed on another
//! connection (the exporter differs per TLS session).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// Domain separation for the signed transcript.
pub const CONTEXT: &[u8] = b"voice/1 client authentication\0";
/// TLS exporter label (RFC 5705) both sides use.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-voice/1-auth";
/// TLS exporter output length.
pub const EXPORTER_LEN: usize = 32;
/// Length of the server's nonce.
pub const NONCE_LEN: usize = 32;

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The public key is not a valid ed25519 key.
    #[error("the public key is not a valid ed25519 key")]
    BadKey,
    /// The signature does not verify.
    #[error("the signature does not match this connection")]
    BadSignature,
}

/// The bytes that are signed: context, nonce, exporter value.
pub fn transcript(nonce: &[u8], exporter: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(CONTEXT.len() + 2 + nonce.len() + exporter.len());
    t.extend_from_slice(CONTEXT);
    t.push(u8::try_from(nonce.len()).unwrap_or(u8::MAX));
    t.extend_from_slice(nonce);
    t.push(u8::try_from(exporter.len()).unwrap_or(u8::MAX));
    t.extend_from_slice(exporter);
    t
}

/// Signs the transcript with the client's key.
pub fn sign(key: &SigningKey, nonce: &[u8], exporter: &[u8]) -> Signature {
    key.sign(&transcript(nonce, exporter))
}

/// Verifies a client's signature; returns its key on success.
pub fn verify(
    public_key: &[u8],
    signature: &[u8],
    nonce: &[u8],
    exporter: &[u8],
) -> Result<VerifyingKey, AuthError> {
    let key_bytes: [u8; 32] = public_key.try_into().map_err(|_| AuthError::BadKey)?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| AuthError::BadKey)?;
    let signature = Signature::from_slice(signature).map_err(|_| AuthError::BadSignature)?;
    // Strict: refuses small-order keys (for which a fixed signature holds
    // for every transcript) and non-canonical signatures.
    key.verify_strict(&transcript(nonce, exporter), &signature)
        .map_err(|_| AuthError::BadSignature)?;
    Ok(key)
}

/// Compares a password in constant time (over BLAKE3 digests, so the
/// lengths do not leak either).
pub fn password_matches(given: &str, expected: &str) -> bool {
    blake3::hash(given.as_bytes()) == blake3::hash(expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A signature verifies for the transcript it signed and for no
        /// other nonce or exporter value (the fuzz target covers any bytes
        /// as key and signature).
        #[test]
        fn a_signature_holds_for_its_transcript_only(
            seed in any::<[u8; 32]>(),
            nonce in proptest::collection::vec(any::<u8>(), 0..40),
            exporter in proptest::collection::vec(any::<u8>(), 0..40),
            flip in any::<usize>(),
        ) {
            let key = SigningKey::from_bytes(&seed);
            let public = key.verifying_key().to_bytes();
            let good = sign(&key, &nonce, &exporter).to_bytes();
            prop_assert_eq!(verify(&public, &good, &nonce, &exporter), Ok(key.verifying_key()));
            let mut longer = exporter.clone();
            longer.push(0);
            prop_assert_eq!(verify(&public, &good, &nonce, &longer), Err(AuthError::BadSignature));
            // Moving one byte from the nonce to the exporter changes the transcript.
            if !nonce.is_empty() {
                let (n, e) = nonce.split_at(nonce.len() - 1);
                let moved: Vec<u8> = e.iter().chain(&exporter).copied().collect();
                prop_assert_eq!(verify(&public, &good, n, &moved), Err(AuthError::BadSignature));
            }
            let mut bad = good;
            bad[flip % 64] ^= 1;
            prop_assert!(verify(&public, &bad, &nonce, &exporter).is_err());
        }
    }
}
