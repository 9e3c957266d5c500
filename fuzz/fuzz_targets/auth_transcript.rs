//! The login proof as the server checks it: any bytes as key, signature,
//! nonce and exporter value give a key or an error, never a panic. (That a
//! signature holds for its own transcript only is a property test in
//! voice-proto's `auth`: signing and verifying a real signature in here
//! would cost more than the rest of each run.) Input: `[key 32][sig 64][nonce len][nonce][exporter]`.
#![no_main]

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
    if let Ok(verified) = auth::verify(key, sig, nonce, exporter) {
        assert_eq!(
            verified.as_bytes(),
            key,
            "the key that signed is the key given"
        );
    }
    // Shorter or longer keys and signatures are refused, not read past.
    assert!(auth::verify(&key[..31], sig, nonce, exporter).is_err());
    assert!(auth::verify(key, &sig[..63], nonce, exporter).is_err());
    let _ = auth::password_matches(
        &String::from_utf8_lossy(nonce),
        &String::from_utf8_lossy(exporter),
    );
});
