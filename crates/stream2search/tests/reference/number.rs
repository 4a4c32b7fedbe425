//! Exact decimals, never through `f64`: a number is a sign, a string of significant digits and a
//! power of ten. Two texts denote the same number exactly when their normalized forms are equal.

use std::cmp::Ordering;

/// `(-1)^negative × digits × 10^exponent`, normalized: `digits` has no leading or trailing zeros;
/// zero is `digits == ""`, `exponent == 0`, `negative == false`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Decimal {
    pub negative: bool,
    pub digits: String,
    pub exponent: i64,
}

/// Exponents are clamped to this magnitude while parsing (far beyond DynamoDB's range, small
/// enough that nothing overflows).
const EXPONENT_CLAMP: i64 = 1_000_000_000;

impl Decimal {
    pub fn zero() -> Self {
        Decimal {
            negative: false,
            digits: String::new(),
            exponent: 0,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Build from sign, all mantissa digits (integer and fraction part written together), and the
    /// power of ten that applies to the last of those digits.
    fn normalized(negative: bool, mantissa: &str, exponent: i64) -> Self {
        let trimmed_front = mantissa.trim_start_matches('0');
        let digits = trimmed_front.trim_end_matches('0');
        if digits.is_empty() {
            return Decimal::zero();
        }
        let trailing = (trimmed_front.len() - digits.len()) as i64;
        Decimal {
            negative,
            digits: digits.to_string(),
            exponent: exponent + trailing,
        }
    }

    /// Number of significant digits (DynamoDB allows at most 38).
    pub fn significant_digits(&self) -> usize {
        self.digits.len()
    }

    /// The power of ten of the leading digit: the value lies in `[10^a, 10^(a+1))` in magnitude.
    pub fn adjusted_exponent(&self) -> i64 {
        self.exponent + self.digits.len() as i64 - 1
    }

    /// DynamoDB's rules: zero, or at most 38 significant digits and a magnitude from 1E-130 up to
    /// 9.9999999999999999999999999999999999999E+125.
    pub fn fits_dynamodb(&self) -> bool {
        if self.is_zero() {
            return true;
        }
        let a = self.adjusted_exponent();
        self.significant_digits() <= 38 && (-130..=125).contains(&a)
    }

    /// Multiply by `10^by`.
    pub fn scaled(&self, by: i64) -> Self {
        if self.is_zero() {
            return self.clone();
        }
        Decimal {
            exponent: self.exponent + by,
            ..self.clone()
        }
    }

    /// `floor(self)` as a u64, for non-negative values that fit.
    pub fn floor_u64(&self) -> Option<u64> {
        if self.is_zero() {
            return Some(0);
        }
        if self.negative {
            return None;
        }
        let integer_digits: String = if self.exponent >= 0 {
            if self.exponent > 40 {
                return None;
            }
            format!("{}{}", self.digits, "0".repeat(self.exponent as usize))
        } else {
            let drop = (-self.exponent) as usize;
            if drop >= self.digits.len() {
                return Some(0);
            }
            self.digits[..self.digits.len() - drop].to_string()
        };
        integer_digits.parse().ok()
    }

    /// Compare with `10^p` (for non-negative self).
    pub fn cmp_power_of_ten(&self, p: i64) -> Ordering {
        if self.is_zero() || self.negative {
            return Ordering::Less;
        }
        match self.adjusted_exponent().cmp(&p) {
            Ordering::Equal if self.digits == "1" => Ordering::Equal,
            Ordering::Equal => Ordering::Greater,
            o => o,
        }
    }
}

/// Parse the digits-and-exponent grammar that DynamoDB accepts for `N`, which is wider than JSON:
/// `[+-]? ( d+ (. d*)? | . d+ ) ([eE] [+-]? d+)?` — so `+1`, `007`, `.5` and `5.` are numbers.
/// Syntax only: range and precision are checked by [`Decimal::fits_dynamodb`].
pub fn parse_lenient(text: &str) -> Option<Decimal> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if let Some(&s) = b.first()
        && (s == b'+' || s == b'-')
    {
        negative = s == b'-';
        i = 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_part = &text[int_start..i];
    let mut frac_part = "";
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_part = &text[frac_start..i];
    }
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut exponent: i64 = 0;
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        let mut exp_negative = false;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            exp_negative = b[i] == b'-';
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let exp_digits = text[exp_start..i].trim_start_matches('0');
        if i == exp_start {
            return None;
        }
        exponent = if exp_digits.len() > 10 {
            EXPONENT_CLAMP
        } else {
            exp_digits.parse::<i64>().unwrap_or(0).min(EXPONENT_CLAMP)
        };
        if exp_negative {
            exponent = -exponent;
        }
    }
    if i != b.len() {
        return None;
    }
    let mantissa = format!("{int_part}{frac_part}");
    let d = Decimal::normalized(negative, &mantissa, exponent - frac_part.len() as i64);
    Some(d)
}

/// Parse a number that must already be valid JSON number syntax (RFC 8259).
pub fn parse_json(text: &str) -> Option<Decimal> {
    let ok = {
        let b = text.as_bytes();
        let mut i = 0;
        if b.first() == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let int_len = i - int_start;
        let mut good = int_len == 1 || (int_len > 1 && b[int_start] != b'0');
        if good && i < b.len() && b[i] == b'.' {
            i += 1;
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            good = i > s;
        }
        if good && i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            good = i > s;
        }
        good && i == b.len()
    };
    if ok { parse_lenient(text) } else { None }
}

/// Is `text` a valid DynamoDB `N`?
pub fn is_valid_n(text: &str) -> bool {
    parse_lenient(text).is_some_and(|d| d.fits_dynamodb())
}

/// Compare two sequence numbers (decimal digit strings of any length) numerically.
pub fn cmp_sequence_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}
