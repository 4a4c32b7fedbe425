//! AttributeValue JSON → plain JSON, written straight into the output buffer.
//!
//! `S` and `B` literals and attribute names are copied as they stand in the input (they already
//! are valid JSON string literals); `N` text is validated and rewritten only where JSON forbids
//! its form. No tree is built; nesting is bounded by DynamoDB's 32 levels.

use std::borrow::Cow;

use crate::attribute::{self, Scalar, Tag, check_base64, compact_scalar};
use crate::error::{Fault, RecordErrorKind, fail};
use crate::json::{self, Literal, Reader, Str};
use crate::{fast, number};

pub use crate::attribute::MAX_DEPTH;

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
            // The value's text as keys give it (S decoded, N and B literal).
            captured[slot] = attribute::key_text(&mut r.fork()).ok().map(Cow::into_owned);
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

fn expect_array(r: &mut Reader<'_>, tag: Tag) -> Result<(), Fault> {
    if r.peek() != Some(b'[') {
        return fail(
            RecordErrorKind::Value,
            format!("{} must hold an array", tag.name()),
        );
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

/// Writes one AttributeValue at nesting `depth` (top-level attributes are at depth 1).
fn value(
    r: &mut Reader<'_>,
    out: &mut Vec<u8>,
    depth: usize,
    strings: Option<&PathTree>,
) -> Result<(), Fault> {
    let as_string = strings.is_some_and(|t| t.here);
    match compact_scalar(r) {
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
    let Some(name) = attribute::tag(r, &mut first)? else {
        return fail(
            RecordErrorKind::TypeTag,
            "AttributeValue {} has no type tag",
        );
    };
    let Some(tag) = Tag::parse(&name) else {
        return attribute::unknown(&name);
    };
    match tag {
        Tag::S => write_raw_str(out, &attribute::string(r, tag)?),
        Tag::N => write_number(out, &attribute::string(r, tag)?, as_string)?,
        Tag::B => write_binary(out, &attribute::string(r, tag)?)?,
        Tag::Bool => match r.peek() {
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
        Tag::Null => match r.peek() {
            Some(b't') if r.literal()? == Literal::True => out.extend_from_slice(b"null"),
            _ => return fail(RecordErrorKind::Value, "NULL must hold true"),
        },
        Tag::Ss | Tag::Ns | Tag::Bs => {
            expect_array(r, tag)?;
            out.push(b'[');
            let mut first = true;
            let mut i = 0;
            while r.next_element(&mut first)? {
                if i > 0 {
                    out.push(b',');
                }
                let s = attribute::string(r, tag).map_err(|f| f.within(format!("[{i}]")))?;
                match tag {
                    Tag::Ss => write_raw_str(out, &s),
                    Tag::Ns => {
                        write_number(out, &s, as_string).map_err(|f| f.within(format!("[{i}]")))?
                    }
                    _ => write_binary(out, &s).map_err(|f| f.within(format!("[{i}]")))?,
                }
                i += 1;
            }
            out.push(b']');
        }
        Tag::L => {
            too_deep(depth)?;
            expect_array(r, tag)?;
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
        Tag::M => {
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
    }
    attribute::close(r, first)
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

/// Whether OpenSearch refuses `name` as a top-level field: a metadata field name, or a dotted
/// name whose first segment is one.
pub fn is_reserved(name: &str) -> bool {
    let head = name.split('.').next().unwrap_or(name);
    RESERVED_NAMES.contains(&head)
}
