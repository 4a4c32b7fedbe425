//! A second implementation of the stream2search conversion rules (stream record → document →
//! bulk action, as the crate docs state them), written for clarity, not
//! speed, and independently of the crate's code. The tests compare the crate against it.
//!
//! It reads the event into a [`json::Json`] tree (numbers kept as text), walks each record the way
//! the rules describe, and produces the [`Expected`] records and bulk items. Nothing here is
//! shared with `src/`.
//!
//! Choices where the rules leave room (see the message of the commit that added this file):
//! - Nesting: a value may be inside at most 32 M/L containers (a top-level `{"M":{}}` is one).
//! - `numbers_as_strings` paths are dotted map paths from the top-level attribute; list elements
//!   and set members share their container's path.
//! - Routing and index template values may be S, N or B, written as in an id part (the crate
//!   accepts B for both; the rules name no type). Template values are lower-cased.
//! - Index templates and routing read the attribute from `Keys` first, then from the image the
//!   action uses (NewImage for index, OldImage for delete).
//! - Items are listed in the order of their first record; the checker accepts first- or
//!   last-record order (both send the same final state).
//! - Sets are arrays in input order, duplicates kept (DynamoDB would refuse them; we do not drop
//!   data).
//! - The id is built before the TTL-skip check, so a record without its id keys is invalid even
//!   when it would be skipped (the crate does the same).
//! - An index name filled from an N value is only checked to be valid under the prefix (literal
//!   text as in ids, or rewritten as in documents: the rules do not say).
//! - Reserved names: see [`RESERVED_NAMES`]; a dotted name under one (`_id.x`) is renamed too.

#![allow(dead_code)] // each test file uses a different part

pub mod harness;
pub mod json;
pub mod number;

use json::Json;
use number::Decimal;

/// Top-level document fields that OpenSearch reserves for metadata and refuses inside a document.
/// Kept in one place so it can follow what the real server does: this is the list recorded from
/// OpenSearch 2.19.1 in `tests/fixtures/opensearch/metadata_field.json` (rejected with "is a
/// metadata field") plus the names that are accepted once and then make every later write to the
/// index fail (`metadata_field_poison.json`: `_primary_term`, `_tombstone`, `__soft_deletes`).
/// `_type` is accepted there as an ordinary field, so it is not renamed.
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
    "_version",
    "_tombstone",
    "__soft_deletes",
];

/// Is this top-level name one OpenSearch refuses? The server also refuses a dotted name whose first
/// segment is reserved (`_id.x`, same fixture).
pub fn is_reserved(name: &str) -> bool {
    RESERVED_NAMES.iter().any(|r| {
        name == *r
            || name
                .strip_prefix(r)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// DynamoDB's nesting limit for M and L.
pub const MAX_NESTING: usize = 32;

/// OpenSearch's limit for `_id`, in bytes.
pub const MAX_ID_BYTES: usize = 512;

/// `ApproximateCreationDateTime` at or above this is taken as milliseconds (1e11 seconds is the
/// year 5138; 1e11 milliseconds is 1973).
pub const MILLIS_THRESHOLD_POWER: i64 = 11;
/// Timestamps at or above 10^14 are microseconds (Kinesis Data Streams for DynamoDB).
pub const MICROS_THRESHOLD_POWER: i64 = 14;

/// The options the spec describes, in the reference's own words.
#[derive(Clone, Debug)]
pub struct Options {
    pub index: String,
    pub index_prefix: Option<String>,
    pub id_keys: Option<Vec<String>>,
    pub versioning: bool,
    pub ttl_skip: bool,
    /// `None`: reject records with reserved names; `Some(prefix)`: rename.
    pub reserved_prefix: Option<String>,
    pub long_ids_reject: bool,
    pub numbers_as_strings: Vec<String>,
    pub include: Option<Vec<String>>,
    pub exclude: Vec<String>,
    pub indexed_at: Option<String>,
    pub routing: Option<String>,
    pub max_chunk_bytes: usize,
    pub max_chunk_actions: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            index: "documents".into(),
            index_prefix: None,
            id_keys: None,
            versioning: true,
            ttl_skip: false,
            reserved_prefix: Some("ddb".into()),
            long_ids_reject: false,
            numbers_as_strings: Vec::new(),
            include: None,
            exclude: Vec::new(),
            indexed_at: None,
            routing: None,
            max_chunk_bytes: 5 * 1024 * 1024,
            max_chunk_actions: 1000,
        }
    }
}

/// What a document field should be. Numbers are exact decimals; `NumberText` is a JSON string
/// that holds a number (the `numbers_as_strings` option).
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    Null,
    Bool(bool),
    Number(Decimal),
    NumberText(Decimal),
    String(String),
    Array(Vec<Expect>),
    Object(Vec<(String, Expect)>),
}

impl Expect {
    /// Turn hand-written expected JSON (a golden file) into an expectation.
    pub fn from_json(j: &Json) -> Expect {
        match j {
            Json::Null => Expect::Null,
            Json::Bool(b) => Expect::Bool(*b),
            Json::Number(t) => Expect::Number(number::parse_json(t).expect("golden number")),
            Json::String(s) => Expect::String(s.clone()),
            Json::Array(a) => Expect::Array(a.iter().map(Expect::from_json).collect()),
            Json::Object(m) => Expect::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), Expect::from_json(v)))
                    .collect(),
            ),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Index,
    Delete,
}

/// The expected `_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Id {
    Exact(String),
    /// Longer than 512 bytes: replaced by a deterministic hash that keeps a readable prefix.
    Hashed {
        original: String,
    },
}

impl Id {
    fn dedup_key(&self) -> &str {
        match self {
            Id::Exact(s) => s,
            Id::Hashed { original } => original,
        }
    }
}

/// How exactly the index name is known. A template filled from an N attribute is only known to
/// be a valid name under the prefix: the rules do not say whether N text goes in literally (as
/// in ids) or rewritten for JSON (as in documents).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexCheck {
    Exact,
    ValidUnder(String),
}

#[derive(Clone, Debug)]
pub struct Item {
    pub kind: Kind,
    pub index: String,
    pub index_check: IndexCheck,
    pub id: Id,
    pub version: Option<u64>,
    pub routing: Option<String>,
    pub doc: Option<Expect>,
    /// Positions of the records this item decides: the ones it superseded in input order, then
    /// the one whose change it sends (the newest: the highest version, the last of equal ones).
    pub records: Vec<usize>,
    /// The position of the record whose change this item sends.
    pub writer: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Planned,
    Skipped(String),
    Invalid(String),
}

#[derive(Clone, Debug)]
pub struct Expected {
    pub statuses: Vec<Status>,
    pub sequence_numbers: Vec<Option<String>>,
    pub items: Vec<Item>,
}

/// What one valid record asks for, before deduplication.
struct Action {
    kind: Kind,
    index: String,
    index_check: IndexCheck,
    id: Id,
    version: Option<u64>,
    routing: Option<String>,
    doc: Option<Expect>,
}

/// The whole expectation for one event. `Err` is a whole-event error.
pub fn expect(event: &[u8], opts: &Options, indexed_at: Option<&str>) -> Result<Expected, String> {
    let event = event.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(event);
    let root = json::parse_bytes(event)?;
    let Some(Json::Array(records)) = root.get("Records") else {
        return Err("not an event: no Records array".into());
    };
    let mut statuses = Vec::new();
    let mut sequence_numbers = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    for (position, rec) in records.iter().enumerate() {
        sequence_numbers.push(
            rec.get("dynamodb")
                .and_then(|d| d.get("SequenceNumber"))
                .and_then(Json::as_str)
                .map(str::to_string),
        );
        match record(rec, opts, indexed_at) {
            Err(reason) => statuses.push(Status::Invalid(reason)),
            Ok(None) => statuses.push(Status::Skipped("TTL delete under the skip policy".into())),
            Ok(Some(action)) => {
                statuses.push(Status::Planned);
                let same = items.iter_mut().find(|it| {
                    it.index == action.index && it.id.dedup_key() == action.id.dedup_key()
                });
                match same {
                    // The item already holds a newer change (a higher version): this older one
                    // changes nothing, as OpenSearch would refuse it as stale.
                    Some(item) if matches!((item.version, action.version), (Some(held), Some(this)) if held > this) =>
                    {
                        let writer = item.records.pop().expect("an item has a record");
                        item.records.push(position);
                        item.records.push(writer);
                    }
                    Some(item) => {
                        item.kind = action.kind;
                        item.index_check = action.index_check;
                        item.id = action.id;
                        item.version = action.version;
                        item.routing = action.routing;
                        item.doc = action.doc;
                        item.records.push(position);
                        item.writer = position;
                    }
                    None => items.push(Item {
                        kind: action.kind,
                        index: action.index,
                        index_check: action.index_check,
                        id: action.id,
                        version: action.version,
                        routing: action.routing,
                        doc: action.doc,
                        records: vec![position],
                        writer: position,
                    }),
                }
            }
        }
    }
    Ok(Expected {
        statuses,
        sequence_numbers,
        items,
    })
}

/// One record: `Ok(None)` when it is skipped on purpose, `Err` when it is invalid.
fn record(rec: &Json, opts: &Options, indexed_at: Option<&str>) -> Result<Option<Action>, String> {
    if rec.as_object().is_none() {
        return Err("record is not an object".into());
    }
    let kind = match rec.get("eventName").and_then(Json::as_str) {
        Some("INSERT" | "MODIFY") => Kind::Index,
        Some("REMOVE") => Kind::Delete,
        other => return Err(format!("bad eventName {other:?}")),
    };
    let Some(ddb) = rec.get("dynamodb").filter(|d| d.as_object().is_some()) else {
        return Err("missing dynamodb".into());
    };
    if let Some(seq) = ddb.get("SequenceNumber") {
        match seq.as_str() {
            Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return Err("bad SequenceNumber".into()),
        }
    }
    let Some(keys) = ddb.get("Keys").and_then(Json::as_object) else {
        return Err("missing Keys".into());
    };
    if keys.is_empty() {
        return Err("empty Keys".into());
    }
    let version = match ddb.get("ApproximateCreationDateTime") {
        None | Some(Json::Null) => None,
        Some(Json::Number(t)) => Some(version_of(t)?),
        Some(_) => return Err("bad ApproximateCreationDateTime".into()),
    };
    let version = if opts.versioning { version } else { None };

    // The id comes first: a record whose keys cannot make an id is invalid even when it would be
    // skipped (the crate does the same; the rules do not order the two).
    let id = document_id(keys, opts)?;
    let (image, doc) = match kind {
        Kind::Index => {
            let Some(image) = ddb.get("NewImage").and_then(Json::as_object) else {
                let view = ddb
                    .get("StreamViewType")
                    .and_then(Json::as_str)
                    .unwrap_or("unknown");
                return Err(format!(
                    "{view} stream has no NewImage: use NEW_IMAGE or NEW_AND_OLD_IMAGES"
                ));
            };
            (Some(image), Some(document(image, opts, indexed_at)?))
        }
        Kind::Delete => {
            if opts.ttl_skip && is_ttl_delete(rec) {
                return Ok(None);
            }
            (ddb.get("OldImage").and_then(Json::as_object), None)
        }
    };

    let (index, index_check) = index_name(keys, image, opts)?;
    let routing = match &opts.routing {
        None => None,
        // Like an id part: S as is, N as its text, B as its base64 (the crate accepts B too;
        // the rules name no type).
        Some(attr) => Some(key_text(lookup(attr, keys, image)?)?),
    };
    Ok(Some(Action {
        kind,
        index,
        index_check,
        id,
        version,
        routing,
        doc,
    }))
}

/// `userIdentity` says the DynamoDB service itself removed the item (TTL expiry).
fn is_ttl_delete(rec: &Json) -> bool {
    let Some(who) = rec.get("userIdentity") else {
        return false;
    };
    who.get("type").and_then(Json::as_str) == Some("Service")
        && who.get("principalId").and_then(Json::as_str) == Some("dynamodb.amazonaws.com")
}

/// The timestamp in microseconds, cut off below a microsecond; values ≥ 1e11 are milliseconds,
/// values ≥ 1e14 microseconds.
pub fn version_of(timestamp: &str) -> Result<u64, String> {
    let t = number::parse_json(timestamp).ok_or("bad timestamp")?;
    if t.negative {
        return Err("negative timestamp".into());
    }
    // Microseconds at the precision given: seconds, milliseconds from 10^11, microseconds
    // from 10^14; anything finer than a microsecond is cut off.
    let micros = if t.cmp_power_of_ten(MICROS_THRESHOLD_POWER).is_ge() {
        t
    } else if t.cmp_power_of_ten(MILLIS_THRESHOLD_POWER).is_ge() {
        t.scaled(3)
    } else {
        t.scaled(6)
    };
    micros
        .floor_u64()
        .ok_or_else(|| "timestamp out of range".to_string())
}

/// The document for an index action.
fn document(
    image: &[(String, Json)],
    opts: &Options,
    indexed_at: Option<&str>,
) -> Result<Expect, String> {
    let mut fields: Vec<(String, Expect)> = Vec::new();
    for (name, av) in image {
        if let Some(keep) = &opts.include
            && !keep.contains(name)
        {
            continue;
        }
        if opts.exclude.contains(name) {
            continue;
        }
        let value = attribute_value(av, name, 1, opts).map_err(|e| format!("{name}: {e}"))?;
        let field = if is_reserved(name) {
            match &opts.reserved_prefix {
                Some(prefix) => format!("{prefix}{name}"),
                None => return Err(format!("reserved attribute name {name}")),
            }
        } else {
            name.clone()
        };
        fields.push((field, value));
    }
    for (i, (a, _)) in fields.iter().enumerate() {
        if fields[..i].iter().any(|(b, _)| a == b) {
            return Err(format!("two fields named {a}"));
        }
    }
    if let (Some(field), Some(ts)) = (&opts.indexed_at, indexed_at) {
        fields.push((field.clone(), Expect::String(ts.to_string())));
    }
    Ok(Expect::Object(fields))
}

/// The ten AttributeValue types. `level` is 1 for a top-level attribute's value and one more
/// inside each M or L.
fn attribute_value(av: &Json, path: &str, level: usize, opts: &Options) -> Result<Expect, String> {
    let Some([(tag, v)]) = av.as_object() else {
        return Err("an AttributeValue needs exactly one type tag".into());
    };
    let as_string = opts.numbers_as_strings.iter().any(|p| p == path);
    let number = |t: &Json| -> Result<Expect, String> {
        let text = t.as_str().ok_or("N is not a string")?;
        match number::parse_lenient(text) {
            Some(d) if d.fits_dynamodb() => Ok(if as_string {
                Expect::NumberText(d)
            } else {
                Expect::Number(d)
            }),
            _ => Err(format!("invalid number {text:?}")),
        }
    };
    let binary = |t: &Json| -> Result<Expect, String> {
        let text = t.as_str().ok_or("B is not a string")?;
        if is_base64(text) {
            Ok(Expect::String(text.to_string()))
        } else {
            Err(format!("invalid base64 {text:?}"))
        }
    };
    let string = |t: &Json| -> Result<Expect, String> {
        Ok(Expect::String(
            t.as_str().ok_or("S is not a string")?.to_string(),
        ))
    };
    let set = |t: &Json, each: &dyn Fn(&Json) -> Result<Expect, String>| {
        let members = t.as_array().ok_or(format!("{tag} is not an array"))?;
        Ok(Expect::Array(
            members.iter().map(each).collect::<Result<_, _>>()?,
        ))
    };
    let container = |what: &str| {
        if level > MAX_NESTING {
            Err(format!("{what} nested deeper than {MAX_NESTING} levels"))
        } else {
            Ok(())
        }
    };
    match (tag.as_str(), v) {
        ("S", t) => string(t),
        ("N", t) => number(t),
        ("B", t) => binary(t),
        ("SS", t) => set(t, &string),
        ("NS", t) => set(t, &number),
        ("BS", t) => set(t, &binary),
        ("NULL", Json::Bool(true)) => Ok(Expect::Null),
        ("BOOL", Json::Bool(b)) => Ok(Expect::Bool(*b)),
        ("M", Json::Object(members)) => {
            container("M")?;
            let mut out = Vec::new();
            for (k, child) in members {
                let child_path = format!("{path}.{k}");
                out.push((
                    k.clone(),
                    attribute_value(child, &child_path, level + 1, opts)?,
                ));
            }
            Ok(Expect::Object(out))
        }
        ("L", Json::Array(elements)) => {
            container("L")?;
            let out = elements
                .iter()
                .map(|e| attribute_value(e, path, level + 1, opts))
                .collect::<Result<_, _>>()?;
            Ok(Expect::Array(out))
        }
        (t, _) => Err(format!("unknown or malformed type tag {t:?}")),
    }
}

/// Standard base64 with padding: groups of four alphabet characters, `=` only at the end.
pub fn is_base64(text: &str) -> bool {
    let alphabet = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    let b = text.as_bytes();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let padding = b.iter().rev().take_while(|&&c| c == b'=').count();
    if padding > 2 {
        return false;
    }
    b[..b.len() - padding].iter().all(|&c| alphabet(c))
}

/// The id: key parts joined by `|`, `\` and `|` escaped inside each part.
fn document_id(keys: &[(String, Json)], opts: &Options) -> Result<Id, String> {
    let names: Vec<String> = match &opts.id_keys {
        Some(order) => order.clone(),
        None => {
            let mut names: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
            // Rust orders `String` by bytes; for UTF-8 that is Unicode code point order.
            names.sort();
            names
        }
    };
    let mut parts = Vec::new();
    for name in &names {
        let Some((_, av)) = keys.iter().find(|(k, _)| k == name) else {
            return Err(format!("key attribute {name} is missing"));
        };
        let text = key_text(av)?;
        parts.push(text.replace('\\', "\\\\").replace('|', "\\|"));
    }
    let id = parts.join("|");
    if id.len() <= MAX_ID_BYTES {
        Ok(Id::Exact(id))
    } else if opts.long_ids_reject {
        Err(format!("id is {} bytes, over {MAX_ID_BYTES}", id.len()))
    } else {
        Ok(Id::Hashed { original: id })
    }
}

/// A key value as id text: S as is, N as its literal text, B as its base64 text.
fn key_text(av: &Json) -> Result<String, String> {
    match av.as_object() {
        Some([(tag, Json::String(s))]) => match tag.as_str() {
            "S" => Ok(s.clone()),
            "N" if number::is_valid_n(s) => Ok(s.clone()),
            "B" if is_base64(s) => Ok(s.clone()),
            _ => Err(format!("bad key value {tag}:{s:?}")),
        },
        _ => Err("a key must be S, N or B".into()),
    }
}

/// The attribute `name` from Keys, or else from the image the action uses.
fn lookup<'a>(
    name: &str,
    keys: &'a [(String, Json)],
    image: Option<&'a [(String, Json)]>,
) -> Result<&'a Json, String> {
    keys.iter()
        .chain(image.unwrap_or_default())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .ok_or_else(|| format!("attribute {name} is missing"))
}

/// The index: fixed, or a template whose `{attr}` placeholders are filled from the record and
/// whose result must be a valid OpenSearch index name under the allowed prefix.
fn index_name(
    keys: &[(String, Json)],
    image: Option<&[(String, Json)]>,
    opts: &Options,
) -> Result<(String, IndexCheck), String> {
    let template = &opts.index;
    let Some(first) = template.find('{') else {
        return Ok((template.clone(), IndexCheck::Exact));
    };
    let mut from_number = false;
    let mut name = String::new();
    let mut rest = template.as_str();
    while let Some(open) = rest.find('{') {
        name.push_str(&rest[..open]);
        let close = rest[open..].find('}').ok_or("unclosed placeholder")? + open;
        let attr = &rest[open + 1..close];
        let value = lookup(attr, keys, image)?;
        from_number |= value.get("N").is_some();
        name.push_str(&key_text(value)?.to_lowercase());
        rest = &rest[close + 1..];
    }
    name.push_str(rest);
    let prefix = opts
        .index_prefix
        .clone()
        .unwrap_or_else(|| template[..first].to_string());
    if !name.starts_with(&prefix) {
        return Err(format!("index {name:?} is outside the prefix {prefix:?}"));
    }
    if !is_valid_index_name(&name) {
        return Err(format!("invalid index name {name:?}"));
    }
    let check = if from_number {
        IndexCheck::ValidUnder(prefix)
    } else {
        IndexCheck::Exact
    };
    Ok((name, check))
}

/// OpenSearch's index name rules.
pub fn is_valid_index_name(name: &str) -> bool {
    const FORBIDDEN: &[char] = &['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':'];
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.starts_with(['_', '-', '+'])
        && !name.contains(FORBIDDEN)
        && name.to_lowercase() == name
}
