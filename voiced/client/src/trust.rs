//! A trust decision asked for by an error message.
//!
//! voiced may ask through a `TrustPrompt` event; where it only refuses the
//! connection with an error that names the fingerprint ("the certificate of
//! HOST:PORT is not trusted …; its SHA-256 fingerprint is HEX" or "… CHANGED:
//! it is now HEX, but HEX was pinned …"), the same prompt is built from it.

use voice_proto::pb::control::TrustPrompt;

/// The trust prompt an error message calls for, if it names a fingerprint.
pub fn prompt_from_error(message: &str) -> Option<TrustPrompt> {
    let rest = message.split("the certificate of ").nth(1)?;
    let server = rest.split_whitespace().next()?.to_owned();
    if let Some(fingerprint) = hex_after(rest, "fingerprint is ") {
        return Some(TrustPrompt {
            server,
            fingerprint,
            ..TrustPrompt::default()
        });
    }
    let fingerprint = hex_after(rest, "it is now ")?;
    Some(TrustPrompt {
        server,
        fingerprint,
        previous_fingerprint: hex_after(rest, ", but ").unwrap_or_default(),
        previous_first_seen_ms: 0,
    })
}

/// The SHA-256 hex (64 digits) right after `marker`.
fn hex_after(text: &str, marker: &str) -> Option<String> {
    let start = text.find(marker)? + marker.len();
    let hex: String = text[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (hex.len() == 64).then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_changed_certificates() {
        let fp = "ab".repeat(32);
        let old = "cd".repeat(32);
        let unknown = format!(
            "the certificate of 127.0.0.1:7878 is not trusted (self-signed or unknown CA); \
             its SHA-256 fingerprint is {fp}. If that is the server's fingerprint, run …"
        );
        let p = prompt_from_error(&unknown).unwrap();
        assert_eq!(
            (p.server.as_str(), p.fingerprint.as_str()),
            ("127.0.0.1:7878", fp.as_str())
        );
        assert!(p.previous_fingerprint.is_empty());
        let changed = format!(
            "the certificate of h:1 CHANGED: it is now {fp}, but {old} was pinned on 2026-11-20"
        );
        let p = prompt_from_error(&changed).unwrap();
        assert_eq!(p.fingerprint, fp);
        assert_eq!(p.previous_fingerprint, old);
        assert!(prompt_from_error("no answer from h:1 within 12 s").is_none());
        assert!(prompt_from_error("the certificate of h:1 fingerprint is abc").is_none());
    }
}
