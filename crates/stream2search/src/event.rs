//! The stream event and its records: `{"Records":[...]}` and the members of each Lambda
//! DynamoDB Streams record that matter (`eventID`, `eventName`, `userIdentity`, and in `dynamodb`:
//! `ApproximateCreationDateTime`, `Keys`, `NewImage`, `OldImage`, `SequenceNumber`,
//! `StreamViewType`), read in one pass. `NewImage` is written as a document
//! ([`crate::document`]) while it is read; the `Keys` values are read as AttributeValues
//! (`attribute.rs`).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;

use crate::document::{self, Shape};
use crate::error::{EventError, Fault, RecordErrorKind, fail};
use crate::json::{Reader, Syntax};
use crate::{attribute, fast, number};

/// A stream record's `SequenceNumber`: decimal digits, up to 40 of them (wider than `u128`), kept
/// as text and ordered by numeric value.
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
    /// `ApproximateCreationDateTime` in whole seconds: `Some(None)` when present but unusable.
    pub seconds: Option<Option<u64>>,
    pub keys: Vec<KeyPart<'a>>,
    pub has_keys: bool,
    /// Where `NewImage`'s document lies in the document buffer.
    pub doc: Option<Range<usize>>,
    pub new_captures: Vec<Option<String>>,
    pub old_captures: Option<Vec<Option<String>>>,
}

/// Timestamps at or above this are milliseconds (year 5138 in seconds).
const MILLIS_FROM: u64 = 100_000_000_000;

fn expect_str<'a>(r: &mut Reader<'a>, what: &str) -> Result<Cow<'a, str>, Fault> {
    if r.peek() != Some(b'"') {
        return fail(RecordErrorKind::Shape, format!("{what} must be a string"));
    }
    Ok(r.string()?.text())
}

/// Reads one record into `rec`, appending its document to `docs`.
pub(crate) fn read<'a>(
    r: &mut Reader<'a>,
    rec: &mut RawRecord<'a>,
    docs: &mut Vec<u8>,
    shape: &Shape,
    indexed_at: Option<&str>,
    names: &mut Vec<Cow<'a, str>>,
) -> Result<(), Fault> {
    if r.peek() != Some(b'{') {
        return fail(RecordErrorKind::Shape, "record must be an object");
    }
    r.begin_object()?;
    let mut first = true;
    let mut saw_dynamodb = false;
    while let Some(key) = r.next_key(&mut first)? {
        match key.raw {
            "eventID" => rec.event_id = Some(expect_str(r, "eventID")?.into_owned()),
            "eventName" => {
                let name = expect_str(r, "eventName")?;
                rec.event_name = EventName::parse(&name);
                if rec.event_name.is_none() {
                    return fail(
                        RecordErrorKind::EventName,
                        format!("eventName {name:?} is not INSERT, MODIFY or REMOVE"),
                    );
                }
            }
            "userIdentity" => rec.ttl = read_ttl_identity(r)?,
            "dynamodb" if !saw_dynamodb => {
                saw_dynamodb = true;
                read_dynamodb(r, rec, docs, shape, indexed_at, names)?;
            }
            "dynamodb" => return fail(RecordErrorKind::Shape, "record has two `dynamodb` members"),
            _ => r.skip_value()?,
        }
    }
    if !saw_dynamodb {
        return fail(RecordErrorKind::Shape, "record has no `dynamodb` member");
    }
    if rec.event_name.is_none() {
        return fail(RecordErrorKind::EventName, "record has no eventName");
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

fn read_dynamodb<'a>(
    r: &mut Reader<'a>,
    rec: &mut RawRecord<'a>,
    docs: &mut Vec<u8>,
    shape: &Shape,
    indexed_at: Option<&str>,
    names: &mut Vec<Cow<'a, str>>,
) -> Result<(), Fault> {
    if r.peek() != Some(b'{') {
        return fail(RecordErrorKind::Shape, "`dynamodb` must be an object");
    }
    r.begin_object()?;
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        match key.raw {
            "ApproximateCreationDateTime" => rec.seconds = read_seconds(r)?,
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
            "SequenceNumber" => {
                let text = expect_str(r, "SequenceNumber")?;
                rec.sequence_number = SequenceNumber::parse(&text);
                if rec.sequence_number.is_none() {
                    return fail(
                        RecordErrorKind::SequenceNumber,
                        format!("SequenceNumber {text:?} is not decimal digits"),
                    );
                }
            }
            "StreamViewType" => rec.view_type = Some(expect_str(r, "StreamViewType")?),
            _ => r.skip_value()?,
        }
    }
    Ok(())
}

/// Integer, fractional (any number of digits) or exponent seconds; milliseconds when huge.
fn read_seconds(r: &mut Reader<'_>) -> Result<Option<Option<u64>>, Syntax> {
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
    Ok(Some(
        number::floor_u64(&text).map(|v| if v >= MILLIS_FROM { v / 1000 } else { v }),
    ))
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

/// After a record failed: its `eventID` and `SequenceNumber`, as far as they can be found.
/// Consumes the record's value.
pub(crate) fn salvage<'a>(r: &mut Reader<'a>, rec: &mut RawRecord<'a>) -> Result<(), Syntax> {
    if r.peek() != Some(b'{') {
        return r.skip_value();
    }
    r.begin_object()?;
    let mut first = true;
    while let Some(key) = r.next_key(&mut first)? {
        match (key.raw, r.peek()) {
            ("eventID", Some(b'"')) => rec.event_id = Some(r.string()?.text().into_owned()),
            ("dynamodb", Some(b'{')) => {
                r.begin_object()?;
                let mut first = true;
                while let Some(key) = r.next_key(&mut first)? {
                    match (key.raw, r.peek()) {
                        ("SequenceNumber", Some(b'"')) => {
                            rec.sequence_number = SequenceNumber::parse(&r.string()?.text());
                        }
                        _ => r.skip_value()?,
                    }
                }
            }
            _ => r.skip_value()?,
        }
    }
    Ok(())
}
