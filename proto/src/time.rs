//! Unix times in milliseconds as UTC calendar dates: one conversion for the
//! server's command line and every front end (UTC only, no time zone data).

/// A Unix time in ms as a UTC date: `2026-11-20`.
pub fn utc_date(ms: u64) -> String {
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let days = i64::try_from(ms / 86_400_000).unwrap_or(0) + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_709_210_096_000), "2024-02-29");
        assert_eq!(utc_date(1_798_761_599_000), "2026-12-31");
        // The far future does not panic.
        assert!(!utc_date(u64::MAX).is_empty());
    }
}
