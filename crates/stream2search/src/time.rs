//! Time as text, for the indexed-at field: the caller reads the clock and passes the time in.

use std::time::Duration;

/// `since_epoch` (a time as the duration since 1970-01-01T00:00:00Z) as RFC 3339 in UTC with
/// milliseconds.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(
///     stream2search::time::rfc3339(Duration::from_millis(1_714_564_800_250)),
///     "2024-05-01T12:00:00.250Z"
/// );
/// ```
pub fn rfc3339(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        // Values checked with `date -u -d @SECONDS +%FT%T`.
        for (secs, millis, text) in [
            (0, 0, "1970-01-01T00:00:00.000Z"),
            (951_782_400, 5, "2000-02-29T00:00:00.005Z"),
            (1_714_564_800, 250, "2024-05-01T12:00:00.250Z"),
            (4_102_444_799, 999, "2099-12-31T23:59:59.999Z"),
        ] {
            let at = Duration::from_secs(secs) + Duration::from_millis(millis);
            assert_eq!(rfc3339(at), text);
        }
    }
}
