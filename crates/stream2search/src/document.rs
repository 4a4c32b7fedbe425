//! AttributeValue JSON → plain JSON, written straight into the output buffer.
//!
//! `S` and `B` literals and attribute names are copied as they stand in the input (they already
//! are valid JSON string literals); `N` text is validated and rewritten only where JSON forbids
//! its form. No tree is built; nesting is bounded by DynamoDB's 32 levels.

use std::borrow::Cow;

use crate::error::{RecordError, RecordErrorKind};
use crate::json::{self, Literal, Reader, Scalar, Str, Syntax};
use crate::{fast, number};

/// Deepest nesting of M and L values DynamoDB stores.
pub const MAX_DEPTH: usize = 32;

/// Top-level field names OpenSearch refuses inside a document, as the real server showed them
/// (`tests/fixtures/opensearch/metadata_field*.json`): each is rejected with
/// `mapper_parsing_exception`, except `_primary_term`, which is accepted and then breaks every
/// later write to the shard, as do `_tombstone` and `__soft_deletes`. A dotted name whose first segment is one of these (`_id.x`) is
/// refused too. `_type` is an ordinary field name.
pub const RESERVED_NAMES: &[&str] = &[
    "_data_stream_timestamp",
    "_doc_count",
    "_feature",
    "_field_names",
    "_id",
    "_ignored",
    "_index",
    "_nested_path",
    "_primary_term",
    "_routing",
    "_seq_no",
    "_source",
    "_tombstone",
    "_version",
    "__soft_deletes",
];

/// Why walking stopped: the input is not JSON (the whole event is lost), or one record is bad.
#[derive(Debug)]
pub(crate) enum Fault {
    Syntax(Syntax),
    /// Boxed, so that `Result<(), Fault>` stays two words on the hot path.
    Record(Box<RecordError>),
}

impl From<Syntax> for Fault {
    fn from(s: Syntax) -> Self {
        Fault::Syntax(s)
    }
}

impl Fault {
    fn within(self, seg: impl Into<String>) -> Self {
        match self {
            Fault::Record(e) => Fault::Record(Box::new((*e).within(seg))),
            s => s,
        }
    }
}

pub(crate) fn fail<T>(kind: RecordErrorKind, msg: impl Into<String>) -> Result<T, Fault> {
    Err(Fault::Record(Box::new(RecordError::new(kind, msg))))
}

/// Attribute paths whose numbers are written as strings.
#[derive(Debug, Default, Clone)]
pub(crate) struct PathTree {
    here: bool,
    children: Vec<(String, PathTree)>,
}

impl PathTree {
    pub fn new(paths: &[String]) -> Self {
        let mut root = PathTree::default();
        for p in paths {
            let mut node = &mut root;
            for seg in p.split('.') {
                let i = match node.children.iter().position(|(n, _)| n == seg) {
                    Some(i) => i,
                    None => {
                        node.children.push((seg.to_owned(), PathTree::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[i].1;
            }
            node.here = true;
        }
        root
    }

    fn child(&self, key: &Str<'_>) -> Option<&PathTree> {
        self.children
            .iter()
            .find(|(n, _)| key.is(n))
            .map(|(_, t)| t)
    }
}

/// How images become documents.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    /// `Some(prefix)` renames reserved names, `None` rejects them.
    pub reserved_prefix: Option<String>,
    pub strings: Option<PathTree>,
    pub include: Option<Vec<String>>,
    pub exclude: Vec<String>,
    pub indexed_at: Option<String>,
    /// Top-level attributes whose scalar text is captured (index template, routing).
    pub captures: Vec<String>,
    /// No captures, selection or number paths: every attribute may take [`fast`] path.
    pub plain: bool,
}

impl Shape {
    fn keeps(&self, name: &str) -> bool {
        self.include
            .as_ref()
            .is_none_or(|inc| inc.iter().any(|n| n == name))
            && !self.exclude.iter().any(|n| n == name)
    }
}

/// Writes the image object at the reader as a JSON document into `out`, filling `captured`
/// (one slot per [`Shape::captures`]) with the text of captured scalars.
pub(crate) fn write_image<'a>(
    r: &mut Reader<'a>,
    out: &mut Vec<u8>,
    shape: &Shape,
    indexed_at: Option<&str>,
    captured: &mut [Option<String>],
    names: &mut Vec<Cow<'a, str>>,
) -> Result<(), Fault> {
    if r.peek() != Some(b'{') {
        return fail(
            RecordErrorKind::Shape,
            "image must be an object of attributes",
        );
    }
    r.begin_object()?;
    let members = r.pos;
    names.clear();
    out.push(b'{');
    let mut first = true;
    let mut renamed = false;
    let mut written = 0usize;
    // The names are needed for the indexed-at field, and after a rename (collected below).
    let stamping = shape.indexed_at.is_some() && indexed_at.is_some();
    if shape.plain {
        let text = r.text();
        r.pos = fast::image_members(r.bytes(), r.pos, &mut first, out, |s, e| {
            written += 1;
            if stamping {
                names.push(Cow::Borrowed(&text[s..e]));
            }
        });
    }
    while let Some(key) = r.next_key(&mut first)? {
        let name = key.text();
        if let Some(slot) = shape.captures.iter().position(|c| *c == *name) {
            // The value's text as keys give it (S decoded, N and B literal), so that an index
            // or routing made from a new image, an old image or the keys always agree.
            captured[slot] = key_value(&mut r.fork()).ok().map(Cow::into_owned);
        }
        if !shape.keeps(&name) {
            r.skip_value()?;
            continue;
        }
        if written > 0 {
            out.push(b',');
        }
        if name.starts_with('_') && is_reserved(&name) {
            let Some(prefix) = &shape.reserved_prefix else {
                return fail(
                    RecordErrorKind::ReservedName,
                    format!("attribute `{name}` is an OpenSearch metadata field name"),
                );
            };
            json::write_str(out, &format!("{prefix}{name}"));
            renamed = true;
        } else {
            out.push(b'"');
            out.extend_from_slice(key.raw.as_bytes());
            out.push(b'"');
        }
        out.push(b':');
        let strings = shape.strings.as_ref().and_then(|t| t.child(&key));
        value(r, out, 1, strings).map_err(|f| f.within(name.as_ref()))?;
        names.push(name);
        written += 1;
    }
    if renamed {
        if !stamping {
            // The fast path kept no names: read them again (a rare case).
            names.clear();
            let mut again = r.fork();
            again.pos = members;
            let mut first = true;
            while let Some(key) = again.next_key(&mut first)? {
                if shape.keeps(&key.text()) {
                    names.push(key.text());
                }
                again.skip_value()?;
            }
        }
        check_renames(shape, names, indexed_at.is_some())?;
    }
    if let (Some(field), Some(at)) = (&shape.indexed_at, indexed_at) {
        if names.iter().any(|n| n == field) {
            return fail(
                RecordErrorKind::ReservedName,
                format!("attribute `{field}` collides with the indexed-at field; rename one"),
            );
        }
        if written > 0 {
            out.push(b',');
        }
        json::write_str(out, field);
        out.push(b':');
        json::write_str(out, at);
    }
    out.push(b'}');
    Ok(())
}

/// A renamed attribute must not land on another attribute's name, nor on the indexed-at field.
fn check_renames(shape: &Shape, names: &[Cow<'_, str>], stamping: bool) -> Result<(), Fault> {
    let prefix = shape.reserved_prefix.as_deref().unwrap_or("");
    let stamp = shape.indexed_at.as_deref().filter(|_| stamping);
    for n in names.iter().filter(|n| is_reserved(n)) {
        let new = format!("{prefix}{n}");
        if names.iter().any(|m| *m == new) || stamp == Some(new.as_str()) {
            return fail(
                RecordErrorKind::ReservedName,
                format!(
                    "attribute `{n}` would be renamed `{new}`, a name the document already has"
                ),
            );
        }
    }
    Ok(())
}

#[inline]
fn expect_string<'a>(r: &mut Reader<'a>, tag: &str) -> Result<Str<'a>, Fault> {
    if r.peek() != Some(b'"') {
        return fail(RecordErrorKind::Value, format!("{tag} must hold a string"));
    }
    Ok(r.string_at_quote()?)
}

fn expect_array(r: &mut Reader<'_>, tag: &str) -> Result<(), Fault> {
    if r.peek() != Some(b'[') {
        return fail(RecordErrorKind::Value, format!("{tag} must hold an array"));
    }
    Ok(r.begin_array()?)
}

#[inline]
fn write_raw_str(out: &mut Vec<u8>, s: &Str<'_>) {
    out.push(b'"');
    out.extend_from_slice(s.raw.as_bytes());
    out.push(b'"');
}

#[inline]
fn write_number(out: &mut Vec<u8>, s: &Str<'_>, as_string: bool) -> Result<(), Fault> {
    let text = s.text();
    let n = match number::normalize(&text) {
        Ok(n) => n,
        Err(e) => {
            return fail(
                RecordErrorKind::Number,
                format!("invalid number {text:?}: {e}"),
            );
        }
    };
    if as_string {
        out.push(b'"');
        out.extend_from_slice(n.as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(n.as_bytes());
    }
    Ok(())
}

fn write_binary(out: &mut Vec<u8>, s: &Str<'_>) -> Result<(), Fault> {
    if let Err(why) = check_base64(s.text().as_bytes()) {
        return fail(RecordErrorKind::Base64, format!("invalid base64: {why}"));
    }
    write_raw_str(out, s);
    Ok(())
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

/// Canonical, padded, standard-alphabet base64 (as DynamoDB Streams emit it).
pub(crate) fn check_base64(b: &[u8]) -> Result<(), &'static str> {
    if !b.len().is_multiple_of(4) {
        return Err("length is not a multiple of 4");
    }
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return Err("too much padding");
    }
    let data = &b[..b.len() - pad];
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

/// Writes one AttributeValue at nesting `depth` (top-level attributes are at depth 1).
fn value(
    r: &mut Reader<'_>,
    out: &mut Vec<u8>,
    depth: usize,
    strings: Option<&PathTree>,
) -> Result<(), Fault> {
    let as_string = strings.is_some_and(|t| t.here);
    match r.compact_scalar() {
        Some(Scalar::S(s)) => {
            write_raw_str(out, &s);
            return Ok(());
        }
        Some(Scalar::N(s)) => return write_number(out, &s, as_string),
        Some(Scalar::Bool(b)) => {
            out.extend_from_slice(if b { b"true" } else { b"false" });
            return Ok(());
        }
        Some(Scalar::Null) => {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        None => {}
    }
    if r.peek() != Some(b'{') {
        return fail(
            RecordErrorKind::TypeTag,
            "expected an AttributeValue object such as {\"S\": \"...\"}",
        );
    }
    r.begin_object()?;
    let mut first = true;
    let decoded;
    let tag = match r.plain_tag() {
        Some(tag) => {
            first = false;
            tag
        }
        None => {
            let Some(tag) = r.next_key(&mut first)? else {
                return fail(
                    RecordErrorKind::TypeTag,
                    "AttributeValue {} has no type tag",
                );
            };
            decoded = tag.text();
            &*decoded
        }
    };
    // The scalar tags first, by length and byte: no string comparison on the hot path.
    match tag.as_bytes() {
        [b'S'] => {
            let s = expect_string(r, "S")?;
            write_raw_str(out, &s);
            return close(r, first, ());
        }
        [b'N'] => {
            let s = expect_string(r, "N")?;
            write_number(out, &s, as_string)?;
            return close(r, first, ());
        }
        _ => {}
    }
    match tag {
        "B" => write_binary(out, &expect_string(r, "B")?)?,
        "BOOL" => match r.peek() {
            Some(b't' | b'f') => {
                let lit = r.literal()?;
                out.extend_from_slice(if lit == Literal::True {
                    b"true"
                } else {
                    b"false"
                });
            }
            _ => return fail(RecordErrorKind::Value, "BOOL must hold true or false"),
        },
        "NULL" => match r.peek() {
            Some(b't') if r.literal()? == Literal::True => out.extend_from_slice(b"null"),
            _ => return fail(RecordErrorKind::Value, "NULL must hold true"),
        },
        tag @ ("SS" | "NS" | "BS") => {
            expect_array(r, tag)?;
            out.push(b'[');
            let mut first = true;
            let mut i = 0;
            while r.next_element(&mut first)? {
                if i > 0 {
                    out.push(b',');
                }
                let s = expect_string(r, tag).map_err(|f| f.within(format!("[{i}]")))?;
                match tag {
                    "SS" => write_raw_str(out, &s),
                    "NS" => {
                        write_number(out, &s, as_string).map_err(|f| f.within(format!("[{i}]")))?
                    }
                    _ => write_binary(out, &s).map_err(|f| f.within(format!("[{i}]")))?,
                }
                i += 1;
            }
            out.push(b']');
        }
        "L" => {
            too_deep(depth)?;
            expect_array(r, "L")?;
            out.push(b'[');
            let mut first = true;
            let mut i = 0;
            while r.next_element(&mut first)? {
                if i > 0 {
                    out.push(b',');
                }
                value(r, out, depth + 1, strings).map_err(|f| f.within(format!("[{i}]")))?;
                i += 1;
            }
            out.push(b']');
        }
        "M" => {
            too_deep(depth)?;
            if r.peek() != Some(b'{') {
                return fail(RecordErrorKind::Value, "M must hold an object");
            }
            r.begin_object()?;
            out.push(b'{');
            let mut first = true;
            let mut any = false;
            while let Some(key) = r.next_key(&mut first)? {
                if any {
                    out.push(b',');
                }
                write_raw_str(out, &key);
                out.push(b':');
                let child = strings.and_then(|t| t.child(&key));
                value(r, out, depth + 1, child).map_err(|f| f.within(key.text()))?;
                any = true;
            }
            out.push(b'}');
        }
        other => {
            return fail(
                RecordErrorKind::TypeTag,
                format!(
                    "unknown type tag {other:?}; expected one of S, N, B, SS, NS, BS, M, L, NULL, BOOL"
                ),
            );
        }
    }
    close(r, first, ())
}

/// After the one tagged value: the AttributeValue's `}`.
#[inline]
fn close(r: &mut Reader<'_>, mut first: bool, (): ()) -> Result<(), Fault> {
    if r.next_key(&mut first)?.is_some() {
        return fail(
            RecordErrorKind::TypeTag,
            "AttributeValue has more than one type tag",
        );
    }
    Ok(())
}

fn too_deep(depth: usize) -> Result<(), Fault> {
    if depth > MAX_DEPTH {
        return fail(
            RecordErrorKind::Depth,
            format!("nested deeper than DynamoDB's {MAX_DEPTH} levels"),
        );
    }
    Ok(())
}

/// One key attribute, as text for the document id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPart<'a> {
    pub name: Cow<'a, str>,
    pub text: Cow<'a, str>,
}

/// Reads the `Keys` map: S, N or B values only.
pub(crate) fn read_keys<'a>(r: &mut Reader<'a>, keys: &mut Vec<KeyPart<'a>>) -> Result<(), Fault> {
    keys.clear();
    if let Some(end) = fast::keys(r.text(), r.pos, keys) {
        r.pos = end;
        return Ok(());
    }
    if r.peek() != Some(b'{') {
        return fail(RecordErrorKind::Shape, "Keys must be an object");
    }
    r.begin_object()?;
    keys.clear();
    let mut first = true;
    while let Some(name) = r.next_key(&mut first)? {
        let name = name.text();
        let text = key_value(r).map_err(|f| f.within(format!("Keys.{name}")))?;
        keys.push(KeyPart { name, text });
    }
    Ok(())
}

fn key_value<'a>(r: &mut Reader<'a>) -> Result<Cow<'a, str>, Fault> {
    if r.peek() != Some(b'{') {
        return fail(
            RecordErrorKind::TypeTag,
            "expected an AttributeValue object",
        );
    }
    r.begin_object()?;
    let mut first = true;
    let Some(tag) = r.next_key(&mut first)? else {
        return fail(
            RecordErrorKind::TypeTag,
            "AttributeValue {} has no type tag",
        );
    };
    let tag = tag.text();
    let s = match tag.as_ref() {
        "S" | "N" | "B" => expect_string(r, &tag)?,
        other => {
            return fail(
                RecordErrorKind::TypeTag,
                format!("key attributes are S, N or B, not {other:?}"),
            );
        }
    };
    let text = s.text();
    match tag.as_ref() {
        "N" => {
            if let Err(e) = number::normalize(&text) {
                return fail(
                    RecordErrorKind::Number,
                    format!("invalid number {text:?}: {e}"),
                );
            }
        }
        "B" => {
            if let Err(why) = check_base64(text.as_bytes()) {
                return fail(RecordErrorKind::Base64, format!("invalid base64: {why}"));
            }
        }
        _ => {}
    }
    if r.next_key(&mut first)?.is_some() {
        return fail(
            RecordErrorKind::TypeTag,
            "AttributeValue has more than one type tag",
        );
    }
    Ok(text)
}

/// Whether OpenSearch refuses `name` as a top-level field: a metadata field name, or a dotted
/// name whose first segment is one.
pub fn is_reserved(name: &str) -> bool {
    let head = name.split('.').next().unwrap_or(name);
    RESERVED_NAMES.contains(&head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rules() {
        for ok in ["", "AA==", "AAA=", "AAAA", "dGVzdA==", "+/+/"] {
            assert!(check_base64(ok.as_bytes()).is_ok(), "{ok}");
        }
        for bad in ["A", "AB==", "AAB=", "A===", "AA=A", "AA AA", "AA-_", "===="] {
            assert!(check_base64(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
