//! Server trust (DESIGN §6): a certificate that chains to the system roots
//! (or an extra CA file) is trusted; otherwise its fingerprint must be pinned
//! in `known_servers`, which happens only after the user accepts it.

pub mod known_servers;
pub mod verifier;

pub use known_servers::{KnownServer, KnownServers, normalize_fingerprint};
pub use verifier::{Accept, TrustDecision, TrustVerifier};

pub use voice_net::fingerprint;

/// Formats a Unix time in ms as a UTC date and time (`2026-11-20 14:03 UTC`).
pub fn format_time_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Current Unix time in ms.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format() {
        assert_eq!(format_time_ms(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time_ms(1_795_000_000_000), "2026-11-18 11:06 UTC");
    }
}
