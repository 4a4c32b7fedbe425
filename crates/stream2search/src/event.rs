//! The stream event and its records: `{"Records":[...]}` and the members of each record that
//! matter, read in one pass. Two sources ([`Source`]) deliver DynamoDB changes to Lambda:
//!
//! - a **DynamoDB Streams** record is the change itself: `eventID`, `eventName`, `userIdentity`,
//!   and in `dynamodb`: `ApproximateCreationDateTime` (whole seconds), `Keys`, `NewImage`,
//!   `OldImage`, `SequenceNumber`, `StreamViewType`;
//! - a **Kinesis** record (Kinesis Data Streams for DynamoDB) carries the change record in
//!   `kinesis.data`, base64 encoded: the same members but no `SequenceNumber` or
//!   `StreamViewType`, and `ApproximateCreationDateTime` in milliseconds or microseconds. Its
//!   position in the stream is `kinesis.sequenceNumber`. The base64 is decoded into a buffer and
//!   the change record read from there, the same way.
//!
//! `NewImage` is written as a document ([`crate::document`]) while it is read; the `Keys` values
//! are read as AttributeValues (`attribute.rs`).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;

use crate::document::{self, Shape};
use crate::error::{EventError, Fault, RecordErrorKind, fail};
use crate::json::{Reader, Syntax};
use crate::{attribute, fast, number};

/// A record's position in its shard: a DynamoDB Streams `SequenceNumber` (up to 40 decimal
/// digits, wider than `u128`) or a Kinesis `sequenceNumber` (56 digits), kept as text and ordered
/// by numeric value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceNumber(String);

impl SequenceNumber {
    /// `Some` when `text` is one or more ASCII digits.
    pub fn parse(text: &str) -> Option<Self> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| SequenceNumber(text.to_owned()))
    }

    /// The text as it came in the event.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn significant(&self) -> &str {
        self.0.trim_start_matches('0')
    }
}

impl Ord for SequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.significant(), other.significant());
        a.len()
            .cmp(&b.len())
            .then_with(|| a.cmp(b))
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for SequenceNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Where an event's records come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// DynamoDB Streams (`eventSource` `aws:dynamodb`): each record is a change.
    DynamoDbStreams,
    /// Kinesis Data Streams for DynamoDB (`eventSource` `aws:kinesis`): each record carries a
    /// change in `kinesis.data`.
    Kinesis,
}

/// `DynamoDB Streams`, `Kinesis`.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::DynamoDbStreams => "DynamoDB Streams",
            Source::Kinesis => "Kinesis",
        })
    }
}

/// A record's `eventName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    /// A new item.
    Insert,
    /// A changed item.
    Modify,
    /// A deleted item (by a user or by TTL).
    Remove,
}

impl EventName {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "INSERT" => Some(EventName::Insert),
            "MODIFY" => Some(EventName::Modify),
            "REMOVE" => Some(EventName::Remove),
            _ => None,
        }
    }
}

/// Walks an event, `{"Records":[...]}`: [`Records::next`] stops the reader at each record, which
/// the caller then consumes. Other members, and a second `Records`, are skipped.
#[derive(Debug, Default)]
pub(crate) struct Records {
    at: Walk,
    first_key: bool,
    first_element: bool,
    found: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Walk {
    #[default]
    Start,
    Members,
    Elements,
}

impl Records {
    /// Moves the reader to the next record (`true`), or to the end of the event (`false`).
    #[inline]
    pub fn next(&mut self, r: &mut Reader<'_>) -> Result<bool, EventError> {
        loop {
            match self.at {
                Walk::Elements => {
                    if r.next_element(&mut self.first_element)? {
                        r.peek();
                        return Ok(true);
                    }
                    self.at = Walk::Members;
                }
                Walk::Members => match r.next_key(&mut self.first_key)? {
                    Some(key) if key.is("Records") && !self.found => {
                        self.found = true;
                        if r.peek() != Some(b'[') {
                            return Err(EventError::NotAnEvent("`Records` must be an array"));
                        }
                        r.begin_array()?;
                        self.first_element = true;
                        self.at = Walk::Elements;
                    }
                    Some(_) => r.skip_value()?,
                    None => {
                        if !r.at_end() {
                            return Err(EventError::Syntax {
                                offset: r.pos,
                                what: "unexpected text after the event",
                            });
                        }
                        if !self.found {
                            return Err(EventError::NotAnEvent("no `Records` member"));
                        }
                        return Ok(false);
                    }
                },
                Walk::Start => {
                    if r.peek() != Some(b'{') {
                        return Err(EventError::NotAnEvent(
                            "expected an object with a `Records` array",
                        ));
                    }
                    r.begin_object()?;
                    self.first_key = true;
                    self.at = Walk::Members;
                }
            }
        }
    }
}

/// What one record says, before it becomes bulk items.
#[derive(Debug, Default)]
pub(crate) struct RawRecord<'a> {
    pub event_id: Option<String>,
    pub sequence_number: Option<SequenceNumber>,
    pub event_name: Option<EventName>,
    /// Made by DynamoDB's TTL (`userIdentity` is the DynamoDB service).
    pub ttl: bool,
    pub view_type: Option<Cow<'a, str>>,
    /// `ApproximateCreationDateTime` in microseconds: `Some(None)` when present but unusable.
    pub micros: Option<Option<u64>>,
    pub keys: Vec<KeyPart<'a>>,
    pub has_keys: bool,
    /// Where `NewImage`'s document lies in the document buffer.
    pub doc: Option<Range<usize>>,
    pub new_captures: Vec<Option<String>>,
    pub old_captures: Option<Vec<Option<String>>>,
}

/// Timestamps at or above this are milliseconds (year 5138 in seconds).
const MILLIS_FROM: u64 = 100_000_000_000;
/// Timestamps at or above this are microseconds (year 5138 in milliseconds, 1973 in
/// microseconds).
const MICROS_FROM: u64 = 100_000_000_000_000;

fn expect_str<'a>(r: &mut Reader<'a>, what: &str) -> Result<Cow<'a, str>, Fault> {
    if r.peek() != Some(b'"') {
        return fail(RecordErrorKind::Shape, format!("{what} must be a string"));
    }
    Ok(r.string()?.text())
}

/// What [`read`] found.
#[derive(Debug)]
pub(crate) enum Found {
    /// A DynamoDB Streams record, read into the record.
    Streams,
    /// A Kinesis record: its sequence number and eventID are in the record, its change record
    /// (decoded from base64) in the buffer given, to be read with [`read_change`].
    Kinesis,
    /// A record of another service (its `eventSource`).
    Other(String),
}

/// Which record [`read_members`] reads: one Lambda delivered, or the change record inside a
/// Kinesis record's `data` (decoded into `data` when found).
enum Layer<'d> {
    Lambda { data: &'d mut Vec<u8> },
    Change,
}

/// Reads one record into `rec`, appending its document to `docs`; a Kinesis record's change
/// record is decoded into `data`.
pub(crate) fn read<'a>(
    r: &mut Reader<'a>,
    rec: &mut RawRecord<'a>,
    docs: &mut Vec<u8>,
    shape: &Shape,
    indexed_at: Option<&str>,
    names: &mut Vec<Cow<'a, str>>,
    data: &mut Vec<u8>,
) -> Result<Found, Fault> {
    read_members(
        r,
        rec,
        docs,
        shape,
        indexed_at,
        names,
        Layer::Lambda { data },
    )
}

/// Reads the change record inside a Kinesis record (decoded from its `data`).
pub(crate) fn read_change<'a>(
    r: &mut Reader<'a>,
    rec: &mut RawRecord<'a>,
    docs: &mut Vec<u8>,
    shape: &Shape,
    indexed_at: Option<&str>,
    names: &mut Vec<Cow<'a, str>>,
) -> Result<(), Fault> {
    read_members(r, rec, docs, shape, indexed_at, names, Layer::Change)?;
    if !r.at_end() {
        return fail(
            RecordErrorKind::Data,
            format!(
                "kinesis.data has text after the change record (byte {})",
                r.pos
            ),
        );
    }
    Ok(())
}

fn read_members<'a>(
    r: &mut Reader<'a>,
    rec: &mut RawRecord<'a>,
    docs: &mut Vec<u8>,
    shape: &Shape,
    indexed_at: Option<&str>,
    names: &mut Vec<Cow<'a, str>>,
    mut layer: Layer<'_>,
) -> Result<Found, Fault> {
    let change = matches!(layer, Layer::Change);
    if r.peek() != Some(b'{') {
        return if change {
            fail(
                RecordErrorKind::Data,
                "kinesis.data is not a DynamoDB change record (not a JSON object)",
            )
        } else {
            fail(RecordErrorKind::Shape, "record must be an object")
        };
    }
    r.begin_object()?;
    let mut first = true;
    let (mut saw_dynamodb, mut saw_kinesis) = (false, false);
    let mut name = None;
    let mut source = None;
    while let Some(key) = r.next_key(&mut first)? {
        match key.raw {
            "eventID" => rec.event_id = Some(expect_str(r, "eventID")?.into_owned()),
            "eventName" => name = Some(expect_str(r, "eventName")?),
            "eventSource" => source = Some(expect_str(r, "eventSource")?),
            "userIdentity" => rec.ttl = read_ttl_identity(r)?,
            "dynamodb" if !saw_dynamodb => {
                saw_dynamodb = true;
                read_dynamodb(r, rec, docs, shape, indexed_at, names, !change)?;
            }
            "dynamodb" => return fail(RecordErrorKind::Shape, "record has two `dynamodb` members"),
            "kinesis" => match &mut layer {
                Layer::Lambda { data } if !saw_kinesis => {
                    saw_kinesis = true;
                    read_kinesis(r, rec, data)?;
                }
                Layer::Lambda { .. } => {
                    return fail(RecordErrorKind::Shape, "record has two `kinesis` members");
                }
                Layer::Change => r.skip_value()?,
            },
            _ => r.skip_value()?,
        }
    }
    if let Some(source) = &source
        && source != "aws:dynamodb"
        && (change || source != "aws:kinesis")
    {
        if change {
            return fail(
                RecordErrorKind::Data,
                format!("kinesis.data holds a record from {source:?}, not a DynamoDB change"),
            );
        }
        return Ok(Found::Other(source.to_string()));
    }
    if saw_kinesis {
        if saw_dynamodb {
            return fail(
                RecordErrorKind::Shape,
                "record has both a `dynamodb` and a `kinesis` member",
            );
        }
        return Ok(Found::Kinesis);
    }
    if !saw_dynamodb {
        return if change {
            fail(
                RecordErrorKind::Data,
                "kinesis.data is not a DynamoDB change record (no `dynamodb` member)",
            )
        } else {
            fail(RecordErrorKind::Shape, "record has no `dynamodb` member")
        };
    }
    let Some(name) = name else {
        return fail(RecordErrorKind::EventName, "record has no eventName");
    };
    rec.event_name = EventName::parse(&name);
    if rec.event_name.is_none() {
        return fail(
            RecordErrorKind::EventName,
            format!("eventName {name:?} is not INSERT, MODIFY or REMOVE"),
        );
    }
    Ok(Found::Streams)
}

/// A record's sequence number (`what` names the member): decimal digits.
fn read_sequence_number(
    r: &mut Reader<'_>,
    rec: &mut RawRecord<'_>,
    what: &str,
) -> Result<(), Fault> {
    let text = expect_str(r, what)?;
    rec.sequence_number = SequenceNumber::parse(&text);
    if rec.sequence_number.is_none() {
        return fail(
            RecordErrorKind::SequenceNumber,
            format!("{what} {text:?} is not decimal digits"),
        );
    }
    Ok(())
}

/// A Kinesis record's `kinesis` member: `sequenceNumber`, and `data` decoded into `data`.
fn read_kinesis(
    r: &mut Reader<'_>,
    rec: &mut RawRecord<'_>,
    data: &mut Vec<u8>,
) -> Result<(), Fault> {
    if r.peek() != Some(b'{') {
        return fail(RecordErrorKind::Shape, "`kinesis` must be an object");
    }
    r.begin_object()?;
    let mut first = true;
    let mut saw_data = false;
    while let Some(key) = r.next_key(&mut first)? {
        match key.raw {
            "sequenceNumber" => read_sequence_number(r, rec, "kinesis.sequenceNumber")?,
            "data" => {
                if r.peek() != Some(b'"') {
                    return fail(RecordErrorKind::Data, "kinesis.data must be a string");
                }
                let text = r.string()?.text();
                if let Err(why) = attribute::decode_base64(text.as_bytes(), data) {
                    return fail(
                        RecordErrorKind::Data,
                        format!("kinesis.data is not base64: {why}"),
                    );
                }
                saw_data = true;
            }
            _ => r.skip_value()?,
        }
    }
    if !saw_data {
        return fail(RecordErrorKind::Data, "Kinesis record has no kinesis.data");
    }
    Ok(())
}

/// `{"type": "Service", "principalId": "dynamodb.amazonaws.com"}` marks a TTL delete.
fn read_ttl_identity(r: &mut Reader<'_>) -> Result<bool, Fault> {
    if r.peek() != Some(b'{') {
        r.skip_value()?;
        return Ok(false);
    }
    r.begin_object()?;
    let (mut service, mut dynamodb) = (false, false);
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        let want = match key.raw {
            "type" => Some("Service"),
            "principalId" => Some("dynamodb.amazonaws.com"),
            _ => None,
        };
        match (want, r.peek()) {
            (Some(want), Some(b'"')) => {
                let is = r.string()?.is(want);
                if key.raw == "type" {
                    service = is
                } else {
                    dynamodb = is
                }
            }
            _ => r.skip_value()?,
        }
    }
    Ok(service && dynamodb)
}

/// The `dynamodb` member; its `SequenceNumber` is read when `sequence` (a Kinesis change record
/// has none: the Kinesis record's own sequence number counts).
fn read_dynamodb<'a>(
    r: &mut Reader<'a>,
    rec: &mut RawRecord<'a>,
    docs: &mut Vec<u8>,
    shape: &Shape,
    indexed_at: Option<&str>,
    names: &mut Vec<Cow<'a, str>>,
    sequence: bool,
) -> Result<(), Fault> {
    if r.peek() != Some(b'{') {
        return fail(RecordErrorKind::Shape, "`dynamodb` must be an object");
    }
    r.begin_object()?;
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        match key.raw {
            "ApproximateCreationDateTime" => rec.micros = read_micros(r)?,
            "Keys" => {
                read_keys(r, &mut rec.keys)?;
                rec.has_keys = true;
            }
            "NewImage" if rec.doc.is_none() => {
                let start = docs.len();
                rec.new_captures = vec![None; shape.captures.len()];
                document::write_image(r, docs, shape, indexed_at, &mut rec.new_captures, names)
                    .map_err(|f| f.within("NewImage"))?;
                rec.doc = Some(start..docs.len());
            }
            "NewImage" => return fail(RecordErrorKind::Shape, "record has two NewImage members"),
            "OldImage" if !shape.captures.is_empty() => {
                let mut captured = vec![None; shape.captures.len()];
                capture(r, &shape.captures, &mut captured).map_err(|f| f.within("OldImage"))?;
                rec.old_captures = Some(captured);
            }
            // Skipped: in the compact form by the fast path, else as any JSON value.
            "OldImage" => match fast::skip_image(r.bytes(), r.pos) {
                Some(end) => r.pos = end,
                None => r.skip_value()?,
            },
            "SequenceNumber" if sequence => read_sequence_number(r, rec, "SequenceNumber")?,
            "StreamViewType" => rec.view_type = Some(expect_str(r, "StreamViewType")?),
            _ => r.skip_value()?,
        }
    }
    Ok(())
}

/// The timestamp in microseconds, at the precision it is given: seconds (DynamoDB Streams; an
/// integer, or a fraction of any number of digits, or an exponent), milliseconds from
/// [`MILLIS_FROM`] and microseconds from [`MICROS_FROM`] (Kinesis Data Streams for DynamoDB).
/// Digits finer than a microsecond are dropped (floor).
fn read_micros(r: &mut Reader<'_>) -> Result<Option<Option<u64>>, Syntax> {
    let text = match r.peek() {
        Some(b'-' | b'0'..=b'9') => Cow::Borrowed(r.number()?),
        Some(b'"') => r.string()?.text(),
        Some(b'n') => {
            r.literal()?;
            return Ok(None);
        }
        _ => {
            r.skip_value()?;
            return Ok(Some(None));
        }
    };
    let scale = match number::floor_scaled(&text, 0) {
        None => return Ok(Some(None)),
        Some(v) if v >= MICROS_FROM => 0,
        Some(v) if v >= MILLIS_FROM => 3,
        Some(_) => 6,
    };
    Ok(Some(number::floor_scaled(&text, scale)))
}

/// One key attribute, as text for the document id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPart<'a> {
    pub name: Cow<'a, str>,
    pub text: Cow<'a, str>,
}

/// Reads the `Keys` map: S, N or B values only.
fn read_keys<'a>(r: &mut Reader<'a>, keys: &mut Vec<KeyPart<'a>>) -> Result<(), Fault> {
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
        let text = attribute::key_text(r).map_err(|f| f.within(format!("Keys.{name}")))?;
        keys.push(KeyPart { name, text });
    }
    Ok(())
}

/// Reads the scalar text of the named top-level attributes of an image; skips the rest.
fn capture(r: &mut Reader<'_>, names: &[String], out: &mut [Option<String>]) -> Result<(), Fault> {
    if r.peek() != Some(b'{') {
        r.skip_value()?;
        return Ok(());
    }
    let shape = Shape {
        reserved_prefix: Some(String::new()),
        strings: None,
        include: Some(Vec::new()),
        exclude: Vec::new(),
        indexed_at: None,
        captures: names.to_vec(),
        plain: false,
    };
    let mut scratch = Vec::new();
    document::write_image(r, &mut scratch, &shape, None, out, &mut Vec::new())
}

/// After a record failed: its `eventID` and sequence number, as far as they can be found, and
/// its source when it has a `dynamodb` or a `kinesis` member. Consumes the record's value.
pub(crate) fn salvage<'a>(
    r: &mut Reader<'a>,
    rec: &mut RawRecord<'a>,
) -> Result<Option<Source>, Syntax> {
    let mut source = None;
    if r.peek() != Some(b'{') {
        r.skip_value()?;
        return Ok(source);
    }
    r.begin_object()?;
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        match (key.raw, r.peek()) {
            ("eventID", Some(b'"')) => rec.event_id = Some(r.string()?.text().into_owned()),
            (member @ ("dynamodb" | "kinesis"), Some(b'{')) => {
                let (this, sequence) = match member {
                    "dynamodb" => (Source::DynamoDbStreams, "SequenceNumber"),
                    _ => (Source::Kinesis, "sequenceNumber"),
                };
                source = match source {
                    None => Some(this),
                    Some(_) => None,
                };
                r.begin_object()?;
                let mut first = true;
                while let Some(key) = r.next_key(&mut first)? {
                    match r.peek() {
                        Some(b'"') if key.raw == sequence => {
                            rec.sequence_number = SequenceNumber::parse(&r.string()?.text());
                        }
                        _ => r.skip_value()?,
                    }
                }
            }
            _ => r.skip_value()?,
        }
    }
    Ok(source)
}
