//! The fast path for images in the form DynamoDB Streams deliver them: compact JSON
//! (`{"name":{"S":"x"},"n":{"N":"1"}}`), strings without escapes, numbers already valid JSON.
//!
//! Each AttributeValue is recognised by one 8-byte load compared with its type tag's opening
//! (`{"S":"`, [`Tag::opening`]), and its text is copied from the input in one piece. Anything else — white space,
//! an escape, a number to rewrite, an error — is not handled here: the walk reports `None` and
//! the caller redoes that attribute on the general path ([`crate::document`]), which has the
//! complete rules and the error messages. So this path only ever agrees with the general one;
//! it never decides anything differently.

use std::borrow::Cow;

use crate::attribute::{MAX_DEPTH, Tag, check_base64};
use crate::event::KeyPart;
use crate::json::plain_string;
use crate::number;

/// The first eight bytes at `p`, little-endian.
#[inline(always)]
fn word(b: &[u8], p: usize) -> Option<u64> {
    let w: &[u8; 8] = b.get(p..p + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(*w))
}

/// A tag's compact opening (`{"S":"`) as [`word`] reads it, masked to its length.
const fn opening(tag: Tag, len: usize) -> u64 {
    let (word, n) = tag.opening();
    assert!(n == len);
    word
}

const LOW6: u64 = (1 << 48) - 1;
const LOW7: u64 = (1 << 56) - 1;
const S: u64 = opening(Tag::S, 6);
const N: u64 = opening(Tag::N, 6);
const B: u64 = opening(Tag::B, 6);
const M: u64 = opening(Tag::M, 6);
const L: u64 = opening(Tag::L, 6);
const SS: u64 = opening(Tag::Ss, 7);
const NS: u64 = opening(Tag::Ns, 7);
const BS: u64 = opening(Tag::Bs, 7);
const BOOL: u64 = opening(Tag::Bool, 8);
const NULL: u64 = opening(Tag::Null, 8);

/// Appends `src[start..end]`. Short runs (most names and values) are copied as a fixed 16
/// bytes and cut back, which the compiler turns into two moves instead of a `memcpy` call.
#[inline(always)]
fn copy(out: &mut Vec<u8>, src: &[u8], start: usize, end: usize) {
    let len = end - start;
    if len <= 16
        && let Some(run) = src.get(start..start + 16)
        && let Ok(run) = <&[u8; 16]>::try_from(run)
    {
        let at = out.len();
        out.extend_from_slice(run);
        out.truncate(at + len);
        return;
    }
    out.extend_from_slice(&src[start..end]);
}

/// An `N` value's text `b[start..end]` as a JSON number (`None` when it is not a valid
/// DynamoDB number: the general path reports that).
#[inline(always)]
fn write_number(b: &[u8], start: usize, end: usize, out: &mut Vec<u8>) -> Option<()> {
    let text = &b[start..end];
    if number::is_plain(text) {
        copy(out, b, start, end);
    } else {
        let text = std::str::from_utf8(text).ok()?;
        out.extend_from_slice(number::normalize(text).ok()?.as_bytes());
    }
    Some(())
}

#[inline(always)]
fn at(b: &[u8], p: usize, c: u8) -> Option<()> {
    (b.get(p) == Some(&c)).then_some(())
}

/// The members of an image after its `{`, from position `p` (just after `{` when `first`, else
/// at the `,` before the next member), while they are in the common form. Writes each member
/// as `"name":value` (with the `,` before it unless it is the first) and reports its name;
/// stops before the `}`, or before the first member it does not take, whose bytes it has not
/// written. Returns where it stopped.
#[inline]
pub(crate) fn image_members(
    b: &[u8],
    mut p: usize,
    first: &mut bool,
    out: &mut Vec<u8>,
    mut name: impl FnMut(usize, usize),
) -> usize {
    loop {
        let k = if *first {
            p
        } else if b.get(p) == Some(&b',') {
            p + 1
        } else {
            return p;
        };
        let mark = out.len();
        let Some(q) = (b.get(k) == Some(&b'"'))
            .then(|| plain_string(b, k + 1))
            .flatten()
        else {
            return p;
        };
        // Reserved-looking names (`_id`) take the general path, which renames or rejects them.
        if b.get(k + 1) == Some(&b'_') || b.get(q + 1) != Some(&b':') {
            return p;
        }
        // The `,` before the name comes with it.
        copy(out, b, if *first { k } else { p }, q + 2);
        match value::<true>(b, q + 2, out, 1) {
            Some(next) => {
                name(k + 1, q);
                *first = false;
                p = next;
            }
            None => {
                out.truncate(mark);
                return p;
            }
        }
    }
}

/// Skips an image (an object of AttributeValues) at `p`, its `{`: the position after its `}`.
#[inline]
pub(crate) fn skip_image(b: &[u8], p: usize) -> Option<usize> {
    at(b, p, b'{')?;
    members::<false>(b, p + 1, &mut Vec::new(), 0)
}

/// The members of a map after its `{` (at `p - 1`), through its `}`, written with both;
/// returns the position after it.
fn members<const WRITE: bool>(
    b: &[u8],
    mut p: usize,
    out: &mut Vec<u8>,
    depth: usize,
) -> Option<usize> {
    if b.get(p) == Some(&b'}') {
        if WRITE {
            out.extend_from_slice(b"{}");
        }
        return Some(p + 1);
    }
    loop {
        at(b, p, b'"')?;
        let q = plain_string(b, p + 1)?;
        at(b, q + 1, b':')?;
        if WRITE {
            // With the `{` or `,` before the name.
            copy(out, b, p - 1, q + 2);
        }
        p = value::<WRITE>(b, q + 2, out, depth)?;
        match b.get(p) {
            Some(b',') => p += 1,
            Some(b'}') => {
                if WRITE {
                    out.push(b'}');
                }
                return Some(p + 1);
            }
            _ => return None,
        }
    }
}

/// One AttributeValue at `p`, its `{`, at nesting `depth` (top-level attributes are at 1):
/// written as plain JSON when `WRITE`; returns the position after its `}`.
fn value<const WRITE: bool>(b: &[u8], p: usize, out: &mut Vec<u8>, depth: usize) -> Option<usize> {
    let w = word(b, p)?;
    let end = match w & LOW6 {
        S => {
            let e = plain_string(b, p + 6)?;
            if WRITE {
                copy(out, b, p + 5, e + 1);
            }
            e + 1
        }
        N => {
            let e = plain_string(b, p + 6)?;
            if WRITE {
                write_number(b, p + 6, e, out)?;
            }
            e + 1
        }
        B => {
            let e = plain_string(b, p + 6)?;
            if WRITE {
                check_base64(&b[p + 6..e]).ok()?;
                copy(out, b, p + 5, e + 1);
            }
            e + 1
        }
        M => {
            if depth > MAX_DEPTH {
                return None;
            }
            members::<WRITE>(b, p + 6, out, depth + 1)?
        }
        L => {
            if depth > MAX_DEPTH {
                return None;
            }
            elements::<WRITE>(b, p + 6, out, depth + 1)?
        }
        _ => match w {
            BOOL => {
                let rest = b.get(p + 8..)?;
                if rest.starts_with(b"true") {
                    if WRITE {
                        out.extend_from_slice(b"true");
                    }
                    p + 12
                } else if rest.starts_with(b"false") {
                    if WRITE {
                        out.extend_from_slice(b"false");
                    }
                    p + 13
                } else {
                    return None;
                }
            }
            NULL => {
                if !b.get(p + 8..)?.starts_with(b"true") {
                    return None;
                }
                if WRITE {
                    out.extend_from_slice(b"null");
                }
                p + 12
            }
            _ => match w & LOW7 {
                SS => strings::<WRITE, b'S'>(b, p + 7, out)?,
                NS => strings::<WRITE, b'N'>(b, p + 7, out)?,
                BS => strings::<WRITE, b'B'>(b, p + 7, out)?,
                _ => return None,
            },
        },
    };
    at(b, end, b'}')?;
    Some(end + 1)
}

/// After an array element, at `p`: the `,` or `]` there, written; whether another element
/// follows.
#[inline(always)]
fn after_element<const WRITE: bool>(b: &[u8], p: usize, out: &mut Vec<u8>) -> Option<bool> {
    let (c, more) = match b.get(p) {
        Some(b',') => (b',', true),
        Some(b']') => (b']', false),
        _ => return None,
    };
    if WRITE {
        out.push(c);
    }
    Some(more)
}

/// The elements of an `L` after its `[` at `p`, through its `]`.
fn elements<const WRITE: bool>(
    b: &[u8],
    mut p: usize,
    out: &mut Vec<u8>,
    depth: usize,
) -> Option<usize> {
    if WRITE {
        out.push(b'[');
    }
    if b.get(p) == Some(&b']') {
        if WRITE {
            out.push(b']');
        }
        return Some(p + 1);
    }
    loop {
        p = value::<WRITE>(b, p, out, depth)?;
        let more = after_element::<WRITE>(b, p, out)?;
        p += 1;
        if !more {
            return Some(p);
        }
    }
}

/// The strings of an `SS`, `NS` or `BS` (by `KIND`) after its `[` at `p`, through its `]`.
/// An empty set is not DynamoDB's and takes the general path.
fn strings<const WRITE: bool, const KIND: u8>(
    b: &[u8],
    mut p: usize,
    out: &mut Vec<u8>,
) -> Option<usize> {
    if WRITE {
        out.push(b'[');
    }
    loop {
        at(b, p, b'"')?;
        let e = plain_string(b, p + 1)?;
        if WRITE {
            match KIND {
                b'N' => write_number(b, p + 1, e, out)?,
                b'B' => {
                    check_base64(&b[p + 1..e]).ok()?;
                    copy(out, b, p, e + 1);
                }
                _ => copy(out, b, p, e + 1),
            }
        }
        p = e + 1;
        let more = after_element::<WRITE>(b, p, out)?;
        p += 1;
        if !more {
            return Some(p);
        }
    }
}

/// A `Keys` map at `p`, its `{`, when every key is in the common form (`"name":{"S":"text"}`,
/// N already plain JSON, B canonical base64): the parts in `keys`, and the position after the
/// map's `}`. After `None`, `keys` may hold some parts: the general path starts it over.
pub(crate) fn keys<'a>(text: &'a str, mut p: usize, keys: &mut Vec<KeyPart<'a>>) -> Option<usize> {
    let b = text.as_bytes();
    at(b, p, b'{')?;
    p += 1;
    loop {
        at(b, p, b'"')?;
        let q = plain_string(b, p + 1)?;
        at(b, q + 1, b':')?;
        let v = q + 2;
        let w = word(b, v)? & LOW6;
        let e = plain_string(b, v + 6)?;
        let value = &b[v + 6..e];
        match w {
            S => {}
            N if number::is_plain(value) => {}
            B if check_base64(value).is_ok() => {}
            _ => return None,
        }
        at(b, e + 1, b'}')?;
        keys.push(KeyPart {
            name: Cow::Borrowed(text.get(p + 1..q)?),
            text: Cow::Borrowed(text.get(v + 6..e)?),
        });
        p = e + 2;
        match b.get(p) {
            Some(b',') => p += 1,
            Some(b'}') => return Some(p + 1),
            _ => return None,
        }
    }
}
