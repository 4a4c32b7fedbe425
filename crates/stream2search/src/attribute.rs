//! The AttributeValue, DynamoDB's typed JSON (`{"S":"text"}`, `{"N":"1.5"}`, `{"M":{...}}`):
//! its ten type tags and what each holds, how deep values nest, which base64 a `B` takes, and how
//! the reader takes one apart — its tag, a whole compact scalar in one step, a key's text.
//!
//! Everything else that meets an AttributeValue asks this module: [`crate::document`] writes
//! values as JSON by their [`Tag`], [`crate::fast`] recognises a compact value by its tag's
//! [`Tag::opening`], and [`crate::event`] reads the `Keys` map through [`key_text`].

use std::borrow::Cow;

use crate::error::{Fault, RecordErrorKind, fail};
use crate::json::{Reader, Str};
use crate::number;

/// Deepest nesting of M and L values DynamoDB stores.
pub const MAX_DEPTH: usize = 32;

/// An AttributeValue's type tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    /// A string.
    S,
    /// A number, as decimal text in a string.
    N,
    /// Binary, as base64 text in a string.
    B,
    /// A string set: an array of strings.
    Ss,
    /// A number set: an array of number texts.
    Ns,
    /// A binary set: an array of base64 texts.
    Bs,
    /// A map: an object of AttributeValues.
    M,
    /// A list: an array of AttributeValues.
    L,
    /// `true`.
    Null,
    /// `true` or `false`.
    Bool,
}

impl Tag {
    /// Every tag, in the order error messages list them.
    pub const ALL: [Tag; 10] = [
        Tag::S,
        Tag::N,
        Tag::B,
        Tag::Ss,
        Tag::Ns,
        Tag::Bs,
        Tag::M,
        Tag::L,
        Tag::Null,
        Tag::Bool,
    ];

    /// The tag as DynamoDB spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Tag::S => "S",
            Tag::N => "N",
            Tag::B => "B",
            Tag::Ss => "SS",
            Tag::Ns => "NS",
            Tag::Bs => "BS",
            Tag::M => "M",
            Tag::L => "L",
            Tag::Null => "NULL",
            Tag::Bool => "BOOL",
        }
    }

    /// The tag spelled `name`, if any.
    #[inline]
    pub fn parse(name: &str) -> Option<Tag> {
        Some(match name.as_bytes() {
            b"S" => Tag::S,
            b"N" => Tag::N,
            b"B" => Tag::B,
            b"SS" => Tag::Ss,
            b"NS" => Tag::Ns,
            b"BS" => Tag::Bs,
            b"M" => Tag::M,
            b"L" => Tag::L,
            b"NULL" => Tag::Null,
            b"BOOL" => Tag::Bool,
            _ => return None,
        })
    }

    /// The first byte of the JSON value the tag holds: `"` (a string), `[` (an array), `{` (an
    /// object), or `0` for a literal (`true`, `false`).
    const fn holds(self) -> u8 {
        match self {
            Tag::S | Tag::N | Tag::B => b'"',
            Tag::Ss | Tag::Ns | Tag::Bs | Tag::L => b'[',
            Tag::M => b'{',
            Tag::Null | Tag::Bool => 0,
        }
    }

    /// The start of the tag's compact form — `{"S":"`, `{"SS":[`, `{"BOOL":` — at most eight
    /// bytes, as the little-endian word of its bytes (higher bytes zero), and its length.
    pub const fn opening(self) -> (u64, usize) {
        let name = self.name().as_bytes();
        let mut bytes = [0u8; 9];
        bytes[0] = b'{';
        bytes[1] = b'"';
        let mut i = 0;
        while i < name.len() {
            bytes[2 + i] = name[i];
            i += 1;
        }
        bytes[2 + i] = b'"';
        bytes[3 + i] = b':';
        bytes[4 + i] = self.holds();
        let len = if self.holds() == 0 { 4 + i } else { 5 + i };
        let len = if len > 8 { 8 } else { len };
        let mut word = 0u64;
        let mut j = 0;
        while j < len {
            word |= (bytes[j] as u64) << (8 * j);
            j += 1;
        }
        (word, len)
    }
}

/// The error for a tag that is none of the ten.
pub(crate) fn unknown<T>(name: &str) -> Result<T, Fault> {
    let all: Vec<&str> = Tag::ALL.iter().map(|t| t.name()).collect();
    fail(
        RecordErrorKind::TypeTag,
        format!(
            "unknown type tag {name:?}; expected one of {}",
            all.join(", ")
        ),
    )
}

/// After an AttributeValue's `{`: the text of its type tag, the `:` after it consumed;
/// `None` at an empty `{}`.
#[inline]
pub(crate) fn tag<'a>(r: &mut Reader<'a>, first: &mut bool) -> Result<Option<Cow<'a, str>>, Fault> {
    // Written plainly (`"S":`), the tag is taken without the general key reader.
    if r.peek() == Some(b'"') {
        let rest = &r.bytes()[r.pos..];
        if let Some(len) = rest[1..].iter().take(5).position(|&b| b == b'"')
            && rest.get(len + 2) == Some(&b':')
            && rest[1..=len].iter().all(u8::is_ascii_uppercase)
        {
            let name = &r.text()[r.pos + 1..r.pos + 1 + len];
            r.pos += len + 3;
            *first = false;
            return Ok(Some(Cow::Borrowed(name)));
        }
    }
    Ok(r.next_key(first)?.map(|key| key.text()))
}

/// After the one tagged value: the AttributeValue's `}`.
#[inline]
pub(crate) fn close(r: &mut Reader<'_>, mut first: bool) -> Result<(), Fault> {
    if r.next_key(&mut first)?.is_some() {
        return fail(
            RecordErrorKind::TypeTag,
            "AttributeValue has more than one type tag",
        );
    }
    Ok(())
}

/// The string an S, N or B value (or a set's member) holds, at the reader.
#[inline]
pub(crate) fn string<'a>(r: &mut Reader<'a>, tag: Tag) -> Result<Str<'a>, Fault> {
    if r.peek() != Some(b'"') {
        return fail(
            RecordErrorKind::Value,
            format!("{} must hold a string", tag.name()),
        );
    }
    Ok(r.string_at_quote()?)
}

/// A scalar AttributeValue read whole by [`compact_scalar`].
pub(crate) enum Scalar<'a> {
    S(Str<'a>),
    N(Str<'a>),
    Bool(bool),
    Null,
}

/// A whole scalar AttributeValue written compactly — `{"S":"..."}`, `{"N":"..."}`,
/// `{"BOOL":true}`, `{"BOOL":false}`, `{"NULL":true}` — consumed in one step. `None` leaves
/// the reader where it was, for the general path.
#[inline]
pub(crate) fn compact_scalar<'a>(r: &mut Reader<'a>) -> Option<Scalar<'a>> {
    r.peek()?;
    let at = r.pos;
    let b = r.bytes().get(at..)?;
    if b.len() < 6 || b[0] != b'{' || b[1] != b'"' {
        return None;
    }
    match (b[2], b[3], b[4], b[5]) {
        (tag @ (b'S' | b'N'), b'"', b':', b'"') => {
            r.pos = at + 5;
            if let Ok(s) = r.string_at_quote()
                && r.bytes().get(r.pos) == Some(&b'}')
            {
                r.pos += 1;
                return Some(if tag == b'S' {
                    Scalar::S(s)
                } else {
                    Scalar::N(s)
                });
            }
            r.pos = at;
            None
        }
        (b'B', b'O', b'O', b'L') if b.starts_with(b"{\"BOOL\":true}") => {
            r.pos += 13;
            Some(Scalar::Bool(true))
        }
        (b'B', b'O', b'O', b'L') if b.starts_with(b"{\"BOOL\":false}") => {
            r.pos += 14;
            Some(Scalar::Bool(false))
        }
        (b'N', b'U', b'L', b'L') if b.starts_with(b"{\"NULL\":true}") => {
            r.pos += 13;
            Some(Scalar::Null)
        }
        _ => None,
    }
}

/// A key attribute's value (S, N or B) at the reader, as its text: an S decoded, an N or B as it
/// stands once checked. Index templates and routing read attributes this way too, so that a
/// value taken from a new image, an old image or the keys always agrees.
pub(crate) fn key_text<'a>(r: &mut Reader<'a>) -> Result<Cow<'a, str>, Fault> {
    if r.peek() != Some(b'{') {
        return fail(
            RecordErrorKind::TypeTag,
            "expected an AttributeValue object",
        );
    }
    r.begin_object()?;
    let mut first = true;
    let Some(name) = r.next_key(&mut first)? else {
        return fail(
            RecordErrorKind::TypeTag,
            "AttributeValue {} has no type tag",
        );
    };
    let name = name.text();
    let tag = match Tag::parse(&name) {
        Some(tag @ (Tag::S | Tag::N | Tag::B)) => tag,
        _ => {
            return fail(
                RecordErrorKind::TypeTag,
                format!("key attributes are S, N or B, not {name:?}"),
            );
        }
    };
    let text = string(r, tag)?.text();
    match tag {
        Tag::N => {
            if let Err(e) = number::normalize(&text) {
                return fail(
                    RecordErrorKind::Number,
                    format!("invalid number {text:?}: {e}"),
                );
            }
        }
        Tag::B => {
            if let Err(why) = check_base64(text.as_bytes()) {
                return fail(RecordErrorKind::Base64, format!("invalid base64: {why}"));
            }
        }
        _ => {}
    }
    close(r, first)?;
    Ok(text)
}

/// Base64 alphabet values; 0xFF outside the alphabet.
const BASE64: [u8; 256] = {
    let mut t = [0xFF; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Base64 text without its padding, and how many `=` there were: a length that is a multiple of
/// four, and at most two of them.
fn unpadded(b: &[u8]) -> Result<(&[u8], usize), &'static str> {
    if !b.len().is_multiple_of(4) {
        return Err("length is not a multiple of 4");
    }
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return Err("too much padding");
    }
    Ok((&b[..b.len() - pad], pad))
}

/// Whether a `B` value's text is canonical, padded, standard-alphabet base64 (as DynamoDB
/// Streams emit it); why not.
pub(crate) fn check_base64(b: &[u8]) -> Result<(), &'static str> {
    let (data, pad) = unpadded(b)?;
    // No early exit: a branch-free OR over the table lets the loop run at memory speed.
    let invalid = data.iter().fold(0u8, |acc, &c| acc | BASE64[c as usize]);
    if invalid == 0xFF || invalid & 0xC0 != 0 {
        return Err("character outside the base64 alphabet");
    }
    let last = data.last().map_or(0, |&c| BASE64[c as usize]);
    let unused_bits_set = match pad {
        1 => last & 0b11 != 0,
        2 => last & 0b1111 != 0,
        _ => false,
    };
    if unused_bits_set {
        return Err("non-canonical padding bits");
    }
    Ok(())
}

/// Decodes canonical, padded, standard-alphabet base64 (`check_base64`'s rules) into `out`,
/// replacing what it held. One pass: eight characters to six bytes at a time, written into the
/// buffer sized up front; an invalid character is noticed from the OR of the table's values
/// (0xFF outside the alphabet) at the end.
pub(crate) fn decode_base64(b: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    let (data, _) = unpadded(b)?;
    let len = data.len() / 4 * 3
        + match data.len() % 4 {
            2 => 1,
            3 => 2,
            _ => 0,
        };
    out.clear();
    out.resize(len, 0);
    let v = |c: u8| BASE64[c as usize];
    let mut seen = 0u8;
    let mut octets = data.chunks_exact(8);
    let mut sixes = out.chunks_exact_mut(6);
    for (i, o) in (&mut octets).zip(&mut sixes) {
        let s = [
            v(i[0]),
            v(i[1]),
            v(i[2]),
            v(i[3]),
            v(i[4]),
            v(i[5]),
            v(i[6]),
            v(i[7]),
        ];
        seen |= s[0] | s[1] | s[2] | s[3] | s[4] | s[5] | s[6] | s[7];
        let n = s
            .iter()
            .fold(0u64, |n, &sextet| n << 6 | u64::from(sextet & 0x3F));
        o.copy_from_slice(&n.to_be_bytes()[2..]);
    }
    // The last one to seven characters (two to eight bytes of output at most).
    let rest = octets.remainder();
    let at = len - sixes.into_remainder().len();
    let mut n = 0u64;
    for &c in rest {
        let sextet = v(c);
        seen |= sextet;
        n = n << 6 | u64::from(sextet & 0x3F);
    }
    if seen & 0xC0 != 0 {
        return Err("character outside the base64 alphabet");
    }
    let bits = rest.len() * 6;
    let bytes = bits / 8;
    if n & ((1 << (bits % 8)) - 1) != 0 {
        return Err("non-canonical padding bits");
    }
    let n = n >> (bits % 8);
    for (k, o) in out[at..at + bytes].iter_mut().enumerate() {
        *o = (n >> (8 * (bytes - 1 - k))) as u8;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_as_rfc_4648_says() {
        // RFC 4648, section 10.
        let mut out = Vec::new();
        for (text, bytes) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            decode_base64(text.as_bytes(), &mut out).unwrap();
            assert_eq!(out, bytes.as_bytes(), "{text}");
        }
        decode_base64(b"//+/", &mut out).unwrap();
        assert_eq!(out, [0xFF, 0xFF, 0xBF]);
        for bad in [
            "Zg",
            "Zg=",
            "Z===",
            "Zh==",
            "Zm9v YmFy",
            "Zm9v-_==",
            "Zm9v\\/",
        ] {
            assert!(decode_base64(bad.as_bytes(), &mut out).is_err(), "{bad}");
        }
    }

    /// Every length from 0 to 80 bytes (every remainder of the eight-character loop), against
    /// a plain encoder written here.
    #[test]
    fn base64_round_trips_every_length() {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let encode = |bytes: &[u8]| -> Vec<u8> {
            let mut out = Vec::new();
            for g in bytes.chunks(3) {
                let n = g
                    .iter()
                    .enumerate()
                    .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
                for i in 0..4 {
                    out.push(if i <= g.len() {
                        ALPHABET[(n >> (18 - 6 * i) & 63) as usize]
                    } else {
                        b'='
                    });
                }
            }
            out
        };
        let mut out = vec![7; 3];
        for len in 0..=80usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 151 + len * 7 + 3) as u8).collect();
            let text = encode(&bytes);
            decode_base64(&text, &mut out).unwrap();
            assert_eq!(out, bytes, "{len}");
            assert!(check_base64(&text).is_ok());
            // A character outside the alphabet anywhere is refused.
            for at in 0..text.len() {
                if text[at] == b'=' {
                    continue;
                }
                let mut bad = text.clone();
                bad[at] = b'-';
                assert!(decode_base64(&bad, &mut out).is_err(), "{len} {at}");
            }
        }
    }

    #[test]
    fn base64_rules() {
        for ok in ["", "AA==", "AAA=", "AAAA", "dGVzdA==", "+/+/"] {
            assert!(check_base64(ok.as_bytes()).is_ok(), "{ok}");
        }
        for bad in ["A", "AB==", "AAB=", "A===", "AA=A", "AA AA", "AA-_", "===="] {
            assert!(check_base64(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_tag_parses_from_its_name() {
        for tag in Tag::ALL {
            assert_eq!(Tag::parse(tag.name()), Some(tag));
        }
        for not in ["", "s", "SSS", "Bool", "MAP", "null"] {
            assert_eq!(Tag::parse(not), None, "{not}");
        }
    }

    #[test]
    fn openings_are_the_compact_forms_first_bytes() {
        let expected: [(Tag, &[u8]); 10] = [
            (Tag::S, b"{\"S\":\""),
            (Tag::N, b"{\"N\":\""),
            (Tag::B, b"{\"B\":\""),
            (Tag::Ss, b"{\"SS\":["),
            (Tag::Ns, b"{\"NS\":["),
            (Tag::Bs, b"{\"BS\":["),
            (Tag::M, b"{\"M\":{"),
            (Tag::L, b"{\"L\":["),
            (Tag::Null, b"{\"NULL\":"),
            (Tag::Bool, b"{\"BOOL\":"),
        ];
        for (tag, text) in expected {
            let mut word = [0u8; 8];
            word[..text.len()].copy_from_slice(text);
            assert_eq!(
                tag.opening(),
                (u64::from_le_bytes(word), text.len()),
                "{tag:?}"
            );
        }
    }

    #[test]
    fn unknown_tag_lists_the_ten() {
        let Err(Fault::Record(e)) = unknown::<()>("X") else {
            panic!()
        };
        assert_eq!(
            e.to_string(),
            "unknown type tag \"X\"; expected one of S, N, B, SS, NS, BS, M, L, NULL, BOOL"
        );
    }
}
