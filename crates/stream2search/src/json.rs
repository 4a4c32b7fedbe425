//! A small pull reader over JSON text, and nothing but JSON: it borrows string literals from the
//! input instead of decoding them, takes a compact `,"key":` in one scan, and skips values
//! iteratively, so no input can overflow the stack. What the values mean (AttributeValues, stream
//! records) is for [`crate::attribute`] and [`crate::event`].

use std::borrow::Cow;

/// A syntax error at a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Syntax {
    pub pos: usize,
    pub what: &'static str,
}

/// A string literal as it stands in the input, between its quotes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Str<'a> {
    /// The exact text between the quotes (valid JSON string content).
    pub raw: &'a str,
    /// Whether `raw` contains a backslash escape.
    pub escaped: bool,
}

impl<'a> Str<'a> {
    /// The decoded text.
    #[inline]
    pub fn text(&self) -> Cow<'a, str> {
        if self.escaped {
            let mut out = String::with_capacity(self.raw.len());
            unescape(self.raw, &mut out);
            Cow::Owned(out)
        } else {
            Cow::Borrowed(self.raw)
        }
    }

    /// Whether the decoded text equals `s`.
    #[inline]
    pub fn is(&self, s: &str) -> bool {
        if self.escaped {
            self.text() == s
        } else {
            self.raw == s
        }
    }
}

/// Bytes that end a run of plain string content: `"`, `\` and control characters.
const STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// The end of the run of plain string content starting at `pos`: eight bytes at a time, looking
/// for `"`, `\\` or a byte below 0x20 (the first flagged byte of a word is always a true match).
#[inline]
pub(crate) fn plain_run(buf: &[u8], mut pos: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while let Some(word) = buf.get(pos..pos + 8) {
        let w = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        let quote = w ^ (LO * u64::from(b'"'));
        let backslash = w ^ (LO * u64::from(b'\\'));
        let found = (quote.wrapping_sub(LO) & !quote)
            | (backslash.wrapping_sub(LO) & !backslash)
            | (w.wrapping_sub(LO * 0x20) & !w);
        let found = found & HI;
        if found != 0 {
            return pos + (found.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while let Some(&b) = buf.get(pos) {
        if STOP[b as usize] {
            break;
        }
        pos += 1;
    }
    pos
}

/// The closing quote of a string whose content starts at `pos`, when the content has no escape
/// or control character.
#[inline(always)]
pub(crate) fn plain_string(buf: &[u8], pos: usize) -> Option<usize> {
    let end = plain_run(buf, pos);
    (buf.get(end) == Some(&b'"')).then_some(end)
}

pub(crate) struct Reader<'a> {
    text: &'a str,
    buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str) -> Self {
        Reader {
            text,
            buf: text.as_bytes(),
            pos: 0,
        }
    }

    /// The whole input.
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The whole input, as text.
    #[inline]
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// A second reader at the same place, for a look ahead that leaves this one where it is.
    pub fn fork(&self) -> Reader<'a> {
        Reader {
            text: self.text,
            buf: self.buf,
            pos: self.pos,
        }
    }

    fn err<T>(&self, what: &'static str) -> Result<T, Syntax> {
        Err(Syntax {
            pos: self.pos,
            what,
        })
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&b) = self.buf.get(self.pos) {
            // Most bytes are above the space: one comparison in the common case.
            if b > b' ' || !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return;
            }
            self.pos += 1;
        }
    }

    /// The next significant byte, without consuming it.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.buf.get(self.pos).copied()
    }

    #[inline]
    fn eat(&mut self, b: u8, what: &'static str) -> Result<(), Syntax> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(what)
        }
    }

    /// Only white space is left.
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Consumes `{`.
    #[inline]
    pub fn begin_object(&mut self) -> Result<(), Syntax> {
        self.eat(b'{', "expected an object")
    }

    /// The next key of the current object (consuming the `:` after it), or `None` at its `}`.
    #[inline]
    pub fn next_key(&mut self, first: &mut bool) -> Result<Option<Str<'a>>, Syntax> {
        // Compact JSON: `,"key":` (or `"key":` first) without escapes, in one scan.
        let b = self.buf;
        let k = match b.get(self.pos) {
            Some(b',') if !*first => self.pos + 1,
            Some(b'"') if *first => self.pos,
            _ => return self.next_key_general(first),
        };
        if b.get(k) == Some(&b'"')
            && let Some(q) = plain_string(b, k + 1)
            && b.get(q + 1) == Some(&b':')
            && let Some(raw) = self.text.get(k + 1..q)
        {
            *first = false;
            self.pos = q + 2;
            return Ok(Some(Str {
                raw,
                escaped: false,
            }));
        }
        self.next_key_general(first)
    }

    fn next_key_general(&mut self, first: &mut bool) -> Result<Option<Str<'a>>, Syntax> {
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                return Ok(None);
            }
            Some(b',') if !*first => {
                self.pos += 1;
                if self.peek() != Some(b'"') {
                    return self.err("expected a string");
                }
            }
            Some(b'"') if *first => {}
            _ => return self.err("expected `,` or `}` in object"),
        }
        *first = false;
        let key = self.string_at_quote()?;
        self.eat(b':', "expected `:` after object key")?;
        Ok(Some(key))
    }

    /// Consumes `[`.
    #[inline]
    pub fn begin_array(&mut self) -> Result<(), Syntax> {
        self.eat(b'[', "expected an array")
    }

    /// Whether another element follows in the current array (consuming `,`), or `false` at `]`.
    #[inline]
    pub fn next_element(&mut self, first: &mut bool) -> Result<bool, Syntax> {
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b',') if !*first => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) if *first => {
                *first = false;
                Ok(true)
            }
            _ => self.err("expected `,` or `]` in array"),
        }
    }

    /// A string literal.
    #[inline]
    pub fn string(&mut self) -> Result<Str<'a>, Syntax> {
        self.eat(b'"', "expected a string")?;
        self.string_body()
    }

    /// A string literal whose opening quote [`Reader::peek`] has just seen.
    #[inline]
    pub fn string_at_quote(&mut self) -> Result<Str<'a>, Syntax> {
        debug_assert_eq!(self.buf.get(self.pos), Some(&b'"'));
        self.pos += 1;
        self.string_body()
    }

    #[inline(always)]
    fn string_body(&mut self) -> Result<Str<'a>, Syntax> {
        let start = self.pos;
        let mut escaped = false;
        loop {
            self.pos = plain_run(self.buf, self.pos);
            match self.buf.get(self.pos) {
                Some(b'"') => {
                    let raw = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Str { raw, escaped });
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(_) => return self.err("control character in string"),
                None => return self.err("unterminated string"),
            }
        }
    }

    /// Validates one escape sequence starting at the backslash.
    fn escape(&mut self) -> Result<(), Syntax> {
        self.pos += 1;
        match self.buf.get(self.pos) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4()?;
                if (0xD800..0xDC00).contains(&unit) {
                    if self.buf.get(self.pos) != Some(&b'\\')
                        || self.buf.get(self.pos + 1) != Some(&b'u')
                    {
                        return self.err("unpaired surrogate in string");
                    }
                    self.pos += 2;
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return self.err("unpaired surrogate in string");
                    }
                } else if (0xDC00..0xE000).contains(&unit) {
                    return self.err("unpaired surrogate in string");
                }
                Ok(())
            }
            _ => self.err("invalid escape in string"),
        }
    }

    fn hex4(&mut self) -> Result<u32, Syntax> {
        let Some(digits) = self.buf.get(self.pos..self.pos + 4) else {
            return self.err("invalid \\u escape");
        };
        let mut v = 0u32;
        for &d in digits {
            let n = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return self.err("invalid \\u escape"),
            };
            v = v * 16 + u32::from(n);
        }
        self.pos += 4;
        Ok(v)
    }

    /// A number literal, as its exact text.
    pub fn number(&mut self) -> Result<&'a str, Syntax> {
        self.ws();
        let start = self.pos;
        let b = self.buf;
        let mut p = self.pos;
        if b.get(p) == Some(&b'-') {
            p += 1;
        }
        match b.get(p) {
            Some(b'0') => p += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = b.get(p) {
                    p += 1;
                }
            }
            _ => return self.err("expected a number"),
        }
        if b.get(p) == Some(&b'.') {
            p += 1;
            let digits = p;
            while let Some(b'0'..=b'9') = b.get(p) {
                p += 1;
            }
            if p == digits {
                self.pos = p;
                return self.err("expected digits after `.`");
            }
        }
        if let Some(b'e' | b'E') = b.get(p) {
            p += 1;
            if let Some(b'+' | b'-') = b.get(p) {
                p += 1;
            }
            let digits = p;
            while let Some(b'0'..=b'9') = b.get(p) {
                p += 1;
            }
            if p == digits {
                self.pos = p;
                return self.err("expected digits in exponent");
            }
        }
        self.pos = p;
        Ok(&self.text[start..p])
    }

    /// `true`, `false` or `null`; returns which.
    pub fn literal(&mut self) -> Result<Literal, Syntax> {
        self.ws();
        let rest = &self.buf[self.pos..];
        let (lit, len) = if rest.starts_with(b"true") {
            (Literal::True, 4)
        } else if rest.starts_with(b"false") {
            (Literal::False, 5)
        } else if rest.starts_with(b"null") {
            (Literal::Null, 4)
        } else {
            return self.err("expected a value");
        };
        self.pos += len;
        Ok(lit)
    }

    /// Skips one value of any kind, without recursion.
    pub fn skip_value(&mut self) -> Result<(), Syntax> {
        // Scalars (most skipped members of a record) need no bracket stack.
        match self.peek() {
            Some(b'"') => return self.string_at_quote().map(drop),
            Some(b'-' | b'0'..=b'9') => return self.number().map(drop),
            Some(b't' | b'f' | b'n') => return self.literal().map(drop),
            _ => {}
        }
        let mut open = Brackets::default();
        loop {
            match self.peek() {
                Some(b'{') => {
                    self.pos += 1;
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        open.push(b'}');
                        self.string()?;
                        self.eat(b':', "expected `:` after object key")?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        open.push(b']');
                        continue;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                _ => {
                    self.literal()?;
                }
            }
            // A value is complete: close what it completes.
            loop {
                let Some(close) = open.last() else {
                    return Ok(());
                };
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if close == b'}' {
                            self.string()?;
                            self.eat(b':', "expected `:` after object key")?;
                        }
                        break;
                    }
                    Some(c) if c == close => {
                        self.pos += 1;
                        open.pop();
                    }
                    _ => return self.err("expected `,` or a closing bracket"),
                }
            }
        }
    }
}

/// The closing brackets still owed, innermost last: the first 64 on the stack, any deeper ones on
/// the heap.
struct Brackets {
    len: usize,
    near: [u8; 64],
    far: Vec<u8>,
}

impl Default for Brackets {
    fn default() -> Self {
        Brackets {
            len: 0,
            near: [0; 64],
            far: Vec::new(),
        }
    }
}

impl Brackets {
    fn push(&mut self, b: u8) {
        match self.near.get_mut(self.len) {
            Some(slot) => *slot = b,
            None => self.far.push(b),
        }
        self.len += 1;
    }

    fn last(&self) -> Option<u8> {
        let i = self.len.checked_sub(1)?;
        self.near.get(i).or_else(|| self.far.last()).copied()
    }

    fn pop(&mut self) {
        if self.len > self.near.len() {
            self.far.pop();
        }
        self.len = self.len.saturating_sub(1);
    }
}

/// A JSON literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Literal {
    True,
    False,
    Null,
}

/// Decodes valid JSON string content (as validated by [`Reader::string`]) into `out`.
pub(crate) fn unescape(raw: &str, out: &mut String) {
    let b = raw.as_bytes();
    let mut i = 0;
    let mut plain = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&raw[plain..i]);
        let c = b[i + 1];
        i += 2;
        match c {
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let hi = hex(&b[i..i + 4]);
                i += 4;
                let cp = if (0xD800..0xDC00).contains(&hi) {
                    let lo = hex(&b[i + 2..i + 6]);
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
            }
            other => out.push(char::from(other)),
        }
        plain = i;
    }
    out.push_str(&raw[plain..]);
}

fn hex(d: &[u8]) -> u32 {
    d.iter()
        .fold(0, |v, &c| v * 16 + char::from(c).to_digit(16).unwrap_or(0))
}

/// Appends `s` as a JSON string literal, quotes included.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    if plain_run(b, 0) == b.len() {
        out.extend_from_slice(b);
        out.push(b'"');
        return;
    }
    let mut plain = 0;
    for (i, &c) in b.iter().enumerate() {
        if !STOP[c as usize] {
            continue;
        }
        out.extend_from_slice(&b[plain..i]);
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 15)]);
            }
        }
        plain = i + 1;
    }
    out.extend_from_slice(&b[plain..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_run_finds_the_first_stop_byte() {
        for text in [
            "",
            "abc",
            "abcdefgh",
            "abcdefghijklmnop\"",
            "é😀\"",
            "0123456\\",
            "01234567\u{1}",
            "\u{7f}\u{80}\u{ff}x\"",
        ] {
            let b = text.as_bytes();
            let want = b.iter().position(|&c| STOP[c as usize]).unwrap_or(b.len());
            assert_eq!(plain_run(b, 0), want, "{text:?}");
        }
    }

    #[test]
    fn plain_run_finds_every_stop_byte_at_every_offset() {
        for len in 0..40 {
            for stop in [b'"', b'\\', 0x00, 0x1f, b'x'] {
                for at in 0..=len {
                    let mut text = vec![b'a'; len];
                    text.extend_from_slice("é\u{7f}".as_bytes());
                    if at < len {
                        text[at] = stop;
                    }
                    let want = text
                        .iter()
                        .position(|&c| STOP[c as usize])
                        .unwrap_or(text.len());
                    for start in 0..=at.min(3) {
                        assert_eq!(
                            plain_run(&text, start),
                            want.max(start),
                            "{len} {stop} {at}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn skips_deep_nesting_without_recursion() {
        let depth = 100_000;
        let text = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let mut r = Reader::new(&text);
        r.skip_value().unwrap();
        assert!(r.at_end());
    }

    #[test]
    fn rejects_unpaired_surrogates() {
        for bad in [r#""\ud800""#, r#""\udc00""#, r#""\ud800\u0041""#] {
            assert!(Reader::new(bad).string().is_err(), "{bad}");
        }
        let ok = Reader::new(r#""\ud83d\ude00""#).string().unwrap();
        assert_eq!(ok.text(), "\u{1F600}");
    }

    #[test]
    fn write_str_round_trips_through_serde_json() {
        let s = "a\"b\\c\n\u{1}\u{1f}é😀";
        let mut out = Vec::new();
        write_str(&mut out, s);
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, s);
    }
}
