//! Time as text: written for the indexed-at field, read from export manifests and command
//! lines. The caller reads the clock and passes the time in.

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

/// An RFC 3339 date-time (`2020-11-04T07:28:34.028Z`, or with an offset, `+01:00`) as whole
/// seconds since 1970-01-01T00:00:00Z: the fraction is dropped, and a leap second (`:60`)
/// counts as the start of the next minute. `None` when the text is not an RFC 3339 date-time
/// (`t` and `z` may be lower case; no space for the `T`, no offset without its colon, no
/// 30 February) or is before 1970.
///
/// ```
/// use stream2search::time::rfc3339_seconds;
/// assert_eq!(rfc3339_seconds("2020-11-04T07:28:34.028Z"), Some(1_604_474_914));
/// assert_eq!(rfc3339_seconds("2020-11-04T08:28:34+01:00"), Some(1_604_474_914));
/// assert_eq!(rfc3339_seconds("2020-11-04"), None);
/// ```
pub fn rfc3339_seconds(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0i64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let (year, month, day) = (number(&b[0..4])?, number(&b[5..7])?, number(&b[8..10])?);
    let (hour, minute, second) = (
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
    );
    let leap_year = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        2 if leap_year => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let end = fraction
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return None;
        }
        rest = &fraction[end..];
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), hours @ .., b':', _, _] if hours.len() == 2 => {
            let (hours, minutes) = (number(hours)?, number(&rest[4..6])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm), the inverse of `rfc3339`'s.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(seconds).ok()
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

    #[test]
    fn rfc3339_date_times_read_as_the_seconds_date_gives() {
        // Values from `date -u -d TEXT +%s`.
        for (text, secs) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2000-02-29T00:00:00Z", 951_782_400),
            ("2020-11-04T07:28:34.028Z", 1_604_474_914),
            ("2020-11-13T00:21:26.215Z", 1_605_226_886),
            ("2020-11-04T08:28:34+01:00", 1_604_474_914),
            ("2020-11-04T06:28:34-01:00", 1_604_474_914),
            ("2024-02-29T23:59:59.999999Z", 1_709_251_199),
            ("2025-11-30t07:55:00z", 1_764_489_300),
            ("2099-12-31T23:59:59.999Z", 4_102_444_799),
            // A leap second is the next minute's start (`date` refuses `:60`; this is `:59`'s
            // value, 1483228799, plus one).
            ("2016-12-31T23:59:60Z", 1_483_228_800),
        ] {
            assert_eq!(rfc3339_seconds(text), Some(secs), "{text}");
        }
    }

    #[test]
    fn rfc3339_seconds_reads_back_what_rfc3339_writes() {
        for secs in [
            0u64,
            951_782_400,
            1_604_474_914,
            1_764_489_300,
            4_102_444_799,
        ] {
            let text = rfc3339(Duration::from_millis(secs * 1000 + 28));
            assert_eq!(rfc3339_seconds(&text), Some(secs), "{text}");
        }
    }

    #[test]
    fn text_that_is_not_an_rfc3339_date_time_after_1970_is_refused() {
        for bad in [
            "",
            "x",
            "2020-11-04",
            "2020-11-04T07:28:34",
            "2020-11-04 07:28:34Z",
            "2020-13-04T07:28:34Z",
            "2021-02-29T07:28:34Z",
            "2020-04-31T07:28:34Z",
            "2020-11-00T07:28:34Z",
            "2020-11-04T24:00:00Z",
            "2020-11-04T07:60:00Z",
            "2020-11-04T07:28:61Z",
            "2020-11-04T07:28:34.Z",
            "2020-11-04T07:28:34+0100",
            "2020-11-04T07:28:34+-1:00",
            "2020-11-04T07:28:34+24:00",
            "2020-11-04T07:28:34+01:60",
            "2020-11-04T07:28:34+01:00Z",
            "2020-11-04T07:28:34Zé",
            "2020-11-04T07:2é:34Z",
            "+020-11-04T07:28:34Z",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:59:59+01:00",
        ] {
            assert_eq!(rfc3339_seconds(bad), None, "{bad}");
        }
    }
}
