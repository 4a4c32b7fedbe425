//! DynamoDB numbers (`N`) as exact decimal text: validation against DynamoDB's rules and the
//! smallest rewrite that makes the text a JSON number with the same value.

use std::fmt;

/// Why an `N` value is not a DynamoDB number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// Not decimal number syntax (empty, stray characters, white space, `NaN`, hex...).
    Syntax,
    /// More than 38 significant digits.
    Precision,
    /// Outside 1E-130 ..= 9.99..E+125 in magnitude (and not zero).
    Range,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumberError::Syntax => "not a decimal number",
            NumberError::Precision => "more than 38 significant digits",
            NumberError::Range => "magnitude outside DynamoDB's range 1E-130 to 9.99E+125",
        })
    }
}

/// The parts of a decimal literal `[+-]int[.frac][(e|E)[+-]exp]`.
struct Parts<'a> {
    negative: bool,
    plus: bool,
    int: &'a str,
    frac: Option<&'a str>,
    /// The exponent part including its marker (`e+05`), if any.
    exp_text: &'a str,
    exp: i64,
}

fn digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

fn parse(text: &str) -> Result<Parts<'_>, NumberError> {
    let (negative, plus, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, false, &text[1..]),
        Some(b'+') => (false, true, &text[1..]),
        _ => (false, false, text),
    };
    let n = digits(rest);
    let int = &rest[..n];
    let mut rest = &rest[n..];
    let frac = if let Some(r) = rest.strip_prefix('.') {
        let n = digits(r);
        rest = &r[n..];
        Some(&r[..n])
    } else {
        None
    };
    if int.is_empty() && frac.is_none_or(str::is_empty) {
        return Err(NumberError::Syntax);
    }
    let exp_text = rest;
    let exp = if let Some(r) = rest.strip_prefix(['e', 'E']) {
        let (neg, r) = match r.as_bytes().first() {
            Some(b'-') => (true, &r[1..]),
            Some(b'+') => (false, &r[1..]),
            _ => (false, r),
        };
        if r.is_empty() || digits(r) != r.len() {
            return Err(NumberError::Syntax);
        }
        // Saturate: anything this large is out of range anyway.
        let mag = r.bytes().fold(0i64, |v, d| {
            v.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
        if neg { -mag } else { mag }
    } else if rest.is_empty() {
        0
    } else {
        return Err(NumberError::Syntax);
    };
    Ok(Parts {
        negative,
        plus,
        int,
        frac,
        exp_text,
        exp,
    })
}

/// Checks `text` against DynamoDB's number rules and returns the JSON number text with exactly
/// the same decimal value: borrowed when `text` already is valid JSON, rewritten otherwise.
pub fn normalize(text: &str) -> Result<std::borrow::Cow<'_, str>, NumberError> {
    if is_plain(text.as_bytes()) {
        return Ok(std::borrow::Cow::Borrowed(text));
    }
    let p = parse(text)?;
    let frac = p.frac.unwrap_or("");
    // Significant digits: the span of int+frac from the first to the last non-zero digit.
    let all = || p.int.bytes().chain(frac.bytes());
    if let Some(first) = all().position(|d| d != b'0') {
        let total = p.int.len() + frac.len();
        let last = total - all().rev().position(|d| d != b'0').unwrap_or(0);
        if last - first > 38 {
            return Err(NumberError::Precision);
        }
        // Exponent of the leading digit, as in scientific notation.
        let adjusted = (p.int.len() as i64 - first as i64 - 1).saturating_add(p.exp);
        if !(-130..=125).contains(&adjusted) {
            return Err(NumberError::Range);
        }
    }
    let json_ok = !p.plus
        && !p.int.is_empty()
        && (p.int == "0" || !p.int.starts_with('0'))
        && p.frac.is_none_or(|f| !f.is_empty());
    if json_ok {
        return Ok(std::borrow::Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len() + 1);
    if p.negative {
        out.push('-');
    }
    let int = p.int.trim_start_matches('0');
    out.push_str(if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out.push_str(p.exp_text);
    Ok(std::borrow::Cow::Owned(out))
}

/// A JSON number without exponent and with at most 38 digits: valid JSON, and within DynamoDB's
/// precision and range by construction. Most numbers take only this one pass.
#[inline]
pub(crate) fn is_plain(b: &[u8]) -> bool {
    let mut i = usize::from(b.first() == Some(&b'-'));
    let int_start = i;
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    let int_len = i - int_start;
    if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
        return false;
    }
    let mut digits = int_len;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while let Some(b'0'..=b'9') = b.get(i) {
            i += 1;
        }
        if i == frac_start {
            return false;
        }
        digits += i - frac_start;
    }
    i == b.len() && digits <= 38
}

/// `floor(text × 10^scale)` for a non-negative JSON number `text` (any digits, fraction or
/// exponent), when it fits a `u64`; `None` for a negative value or an overflow.
pub(crate) fn floor_scaled(text: &str, scale: u32) -> Option<u64> {
    // Whole numbers, the usual case: up to 19 digits always fit.
    if (1..=19).contains(&text.len()) && text.bytes().all(|d| d.is_ascii_digit()) {
        let value = text
            .bytes()
            .fold(0, |v: u64, d| v * 10 + u64::from(d - b'0'));
        return value.checked_mul(10u64.checked_pow(scale)?);
    }
    let p = parse(text).ok()?;
    let frac = p.frac.unwrap_or("");
    let negative_nonzero = p.negative && p.int.bytes().chain(frac.bytes()).any(|d| d != b'0');
    if negative_nonzero {
        return None;
    }
    // Move the decimal point by the exponent and the scale, and keep the integer digits. The
    // exponent is saturated, so the point is too.
    let point = (p.int.len() as i64)
        .saturating_add(p.exp)
        .saturating_add(i64::from(scale));
    let all = p.int.bytes().chain(frac.bytes());
    let mut value: u64 = 0;
    if point <= 0 {
        return Some(0);
    }
    let take = usize::try_from(point).unwrap_or(usize::MAX);
    let mut taken = 0usize;
    for d in all.take(take) {
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        taken += 1;
    }
    if value == 0 {
        return Some(0);
    }
    // At most twenty rounds: a value of at least 1 overflows by then.
    for _ in taken..take {
        value = value.checked_mul(10)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_valid_json_text_verbatim() {
        for t in [
            "0",
            "-0",
            "1.500",
            "1E+2",
            "12345678901234567890123456789012345678",
            "-1e-130",
        ] {
            assert_eq!(normalize(t).unwrap(), t);
        }
    }

    #[test]
    fn rewrites_only_what_json_forbids() {
        let cases = [
            ("+5", "5"),
            ("007", "7"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-.5e3", "-0.5e3"),
            ("00.10", "0.10"),
            ("+0", "0"),
        ];
        for (t, want) in cases {
            assert_eq!(normalize(t).unwrap(), want, "{t}");
        }
    }

    #[test]
    fn enforces_dynamodb_limits() {
        assert_eq!(
            normalize("123456789012345678901234567890123456789"),
            Err(NumberError::Precision)
        );
        assert!(normalize("1234567890123456789012345678901234567800000").is_ok());
        assert!(
            normalize(
                "0.000000000000000000000000000000000000000012345678901234567890123456789012345678"
            )
            .is_ok()
        );
        assert_eq!(normalize("1E-131"), Err(NumberError::Range));
        assert!(normalize("1E-130").is_ok());
        assert!(normalize("9.9999999999999999999999999999999999999E+125").is_ok());
        assert_eq!(normalize("1E+126"), Err(NumberError::Range));
        assert!(normalize("0E+999999").is_ok());
        for bad in [
            "", "-", ".", "1e", "1e+", " 1", "1 ", "0x10", "NaN", "Infinity", "1..2", "1e5.5",
            "--1",
        ] {
            assert_eq!(normalize(bad), Err(NumberError::Syntax), "{bad:?}");
        }
    }

    #[test]
    fn floors_timestamps_exactly() {
        assert_eq!(floor_scaled("1480642020", 0), Some(1480642020));
        assert_eq!(floor_scaled("1.635734407123456789E9", 0), Some(1635734407));
        assert_eq!(
            floor_scaled("1693997155.999999999999999999", 0),
            Some(1693997155)
        );
        assert_eq!(floor_scaled("1.4285376E9", 0), Some(1428537600));
        assert_eq!(floor_scaled("5e-3", 0), Some(0));
        assert_eq!(floor_scaled("-1", 0), None);
        assert_eq!(floor_scaled("1e30", 0), None);
        assert_eq!(
            floor_scaled("9999999999999999999", 0),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(floor_scaled("18446744073709551615", 0), Some(u64::MAX));
        assert_eq!(floor_scaled("18446744073709551616", 0), None);
        // Exponents past i64 (saturated) neither overflow nor loop.
        assert_eq!(floor_scaled("1e99999999999999999999999", 0), None);
        assert_eq!(floor_scaled("0e99999999999999999999999", 0), Some(0));
        assert_eq!(floor_scaled("0.0e9223372036854775807", 0), Some(0));
        assert_eq!(
            floor_scaled("176722999999999999999999994e772999999999999999919", 0),
            None
        );
        assert_eq!(floor_scaled("1e-99999999999999999999999", 0), Some(0));
        // Scaled: seconds to microseconds, milliseconds to microseconds.
        assert_eq!(floor_scaled("1480642020", 6), Some(1480642020000000));
        assert_eq!(
            floor_scaled("1.635734407123456789E9", 6),
            Some(1635734407123456)
        );
        assert_eq!(
            floor_scaled("1693997155.999999999999999999", 6),
            Some(1693997155999999)
        );
        assert_eq!(floor_scaled("1700000000123", 3), Some(1700000000123000));
        assert_eq!(floor_scaled("1700000000123.9", 3), Some(1700000000123900));
        assert_eq!(
            floor_scaled("1.7000000001234567E15", 0),
            Some(1700000000123456)
        );
        assert_eq!(floor_scaled("18446744073709551615", 1), None);
        assert_eq!(floor_scaled("5e-7", 6), Some(0));
    }
}
