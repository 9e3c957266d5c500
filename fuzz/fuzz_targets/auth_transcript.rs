//! The login proof as the server checks it: any key, signature, nonce and
//! exporter value; a signature verifies only for the transcript it signed.
//! Input: `[key 32][sig 64][nonce len][nonce][exporter]`.
#![no_main]

use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;
use voice_proto::auth;

fuzz_target!(|data: &[u8]| {
    if data.len() < 97 {
        return;
    }
    let (key, rest) = data.split_at(32);
    let (sig, rest) = rest.split_at(64);
    let (&nonce_len, rest) = rest.split_first().expect("length checked");
    let (nonce, exporter) = rest.split_at(usize::from(nonce_len).min(rest.len()));
    let _ = auth::verify(key, sig, nonce, exporter);
    // A real signature over this transcript verifies; over another it does not.
    let signing = SigningKey::from_bytes(&key.try_into().expect("32 bytes"));
    let public = signing.verifying_key().to_bytes();
    let good = signing.sign(&auth::transcript(nonce, exporter)).to_bytes();
    assert!(auth::verify(&public, &good, nonce, exporter).is_ok());
    let mut other = exporter.to_vec();
    other.push(0);
    assert!(auth::verify(&public, &good, nonce, &other).is_err());
    let _ = auth::password_matches(
        &String::from_utf8_lossy(nonce),
        &String::from_utf8_lossy(exporter),
    );
});
