//! Errors. A whole payload that is not an event is an [`EventError`]; a single record that cannot
//! be converted is a [`RecordError`] *value* kept on that record, and the rest of the batch goes on.

use std::fmt;

use crate::json::Syntax;

/// The payload as a whole is not a DynamoDB Streams or Kinesis event; no record can be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The bytes are not UTF-8.
    #[error("event is not valid UTF-8 (byte {offset})")]
    Utf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The bytes are not JSON.
    #[error("event is not valid JSON at byte {offset}: {what}")]
    Syntax {
        /// Offset where reading failed.
        offset: usize,
        /// What was expected there.
        what: &'static str,
    },
    /// Valid JSON, but not `{"Records": [...]}`.
    #[error("not a DynamoDB Streams or Kinesis event: {0}")]
    NotAnEvent(&'static str),
    /// A record's `eventSource` is neither `aws:dynamodb` nor `aws:kinesis`: the event comes from
    /// another service (an SQS or S3 event sent to this function by mistake).
    #[error("record {position} comes from {event_source:?}, not from DynamoDB Streams or Kinesis")]
    UnknownSource {
        /// The record's position in `Records`.
        position: usize,
        /// Its `eventSource`.
        event_source: String,
    },
    /// DynamoDB Streams records and Kinesis records in one event: no event source mapping
    /// delivers that.
    #[error("record {position} is a {found} record in an event of {first} records")]
    MixedSources {
        /// The position in `Records` of the first record of the other source.
        position: usize,
        /// The source of the event's first records.
        first: crate::event::Source,
        /// The source of the record at `position`.
        found: crate::event::Source,
    },
}

/// Why reading a record stopped: the input is not JSON (the whole event is lost), or the one
/// record is bad.
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
    /// The same fault, found inside `segment` (an attribute name, `[3]`, `NewImage`).
    pub(crate) fn within(self, segment: impl Into<String>) -> Self {
        match self {
            Fault::Record(e) => Fault::Record(Box::new((*e).within(segment))),
            s => s,
        }
    }
}

/// A bad record, as a [`Fault`].
pub(crate) fn fail<T>(kind: RecordErrorKind, msg: impl Into<String>) -> Result<T, Fault> {
    Err(Fault::Record(Box::new(RecordError::new(kind, msg))))
}

impl From<Syntax> for EventError {
    fn from(s: Syntax) -> Self {
        EventError::Syntax {
            offset: s.pos,
            what: s.what,
        }
    }
}

/// What is wrong with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordErrorKind {
    /// A record member is missing or has the wrong JSON type.
    Shape,
    /// `eventName` is not INSERT, MODIFY or REMOVE.
    EventName,
    /// An AttributeValue has no type tag, an unknown one, or more than one.
    TypeTag,
    /// An AttributeValue's content does not fit its type.
    Value,
    /// An `N` value is not a DynamoDB number.
    Number,
    /// A `B`/`BS` value is not valid base64.
    Base64,
    /// Nesting deeper than DynamoDB's 32 levels.
    Depth,
    /// INSERT/MODIFY without a NewImage (the stream's view type lacks new images).
    MissingImage,
    /// The document id cannot be built (missing key, or too long under the reject policy).
    Id,
    /// The index name built from the template is invalid or outside the allowed prefix.
    Index,
    /// The routing attribute is missing or not a scalar.
    Routing,
    /// An attribute name is reserved for OpenSearch metadata (under the reject policy), or
    /// renaming it collides with another attribute.
    ReservedName,
    /// `ApproximateCreationDateTime` is not a usable timestamp.
    Timestamp,
    /// `SequenceNumber` (Kinesis: `kinesis.sequenceNumber`) is not decimal digits.
    SequenceNumber,
    /// A Kinesis record's `data` is not base64, or what it holds is not a DynamoDB change record
    /// (not UTF-8, not JSON, not a JSON object with a `dynamodb` member, or from another source).
    Data,
    /// Refused by the caller's own code (a Lambda author's hook), see [`RecordError::refused`].
    Refused,
}

/// One record that could not be converted; the record's `Display` names what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    kind: RecordErrorKind,
    message: String,
    /// Attribute path, innermost first (reversed when shown).
    path: Vec<String>,
}

impl RecordError {
    pub(crate) fn new(kind: RecordErrorKind, message: impl Into<String>) -> Self {
        RecordError {
            kind,
            message: message.into(),
            path: Vec::new(),
        }
    }

    pub(crate) fn within(mut self, segment: impl Into<String>) -> Self {
        self.path.push(segment.into());
        self
    }

    /// A record the caller's own code refuses (a hook's verdict), with its reason.
    pub fn refused(reason: impl Into<String>) -> Self {
        RecordError::new(RecordErrorKind::Refused, reason)
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> RecordErrorKind {
        self.kind
    }

    /// The attribute path where it was found, e.g. `NewImage.tags[2]`, if any.
    pub fn path(&self) -> Option<String> {
        if self.path.is_empty() {
            return None;
        }
        let mut out = String::new();
        for seg in self.path.iter().rev() {
            if !seg.starts_with('[') && !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
        Some(out)
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path() {
            Some(p) => write!(f, "{p}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for RecordError {}

/// A change to a [`crate::Plan`] that cannot be made (see [`crate::Plan::set_document`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot edit the plan: {0}")]
pub struct EditError(pub(crate) String);

/// A configuration that cannot work; found when it is built, never while records flow.
/// [`ConfigError::setting`] says which setting is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {message}")]
pub struct ConfigError {
    setting: Setting,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(setting: Setting, message: impl Into<String>) -> Self {
        ConfigError {
            setting,
            message: message.into(),
        }
    }

    /// The one setting that is wrong.
    ///
    /// ```
    /// use stream2search::{Config, Planner, Setting};
    ///
    /// let e = Planner::new(Config { max_chunk_actions: 0, ..Config::default() }).unwrap_err();
    /// assert_eq!(e.setting(), Setting::MaxChunkActions);
    /// ```
    pub fn setting(&self) -> Setting {
        self.setting
    }
}

/// A setting a [`ConfigError`] can be about: a field of [`crate::Config`], or an argument of
/// [`crate::backoff::Backoff::new`].
///
/// Not `non_exhaustive` on purpose: a caller that maps settings to its own names (the Lambda's
/// environment variables) must name every one, so a new setting cannot go unnamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setting {
    /// [`crate::Config::index`].
    Index,
    /// [`crate::Config::index_prefix`].
    IndexPrefix,
    /// [`crate::Config::id_keys`].
    IdKeys,
    /// [`crate::Config::reserved`] (its rename prefix).
    Reserved,
    /// [`crate::Config::numbers_as_strings`].
    NumbersAsStrings,
    /// [`crate::Config::indexed_at`].
    IndexedAt,
    /// [`crate::Config::max_chunk_bytes`].
    MaxChunkBytes,
    /// [`crate::Config::max_chunk_actions`].
    MaxChunkActions,
    /// The `base` of [`crate::backoff::Backoff::new`].
    BackoffBase,
    /// The `cap` of [`crate::backoff::Backoff::new`].
    BackoffCap,
}

impl Setting {
    /// The setting's Rust name: `"max_chunk_bytes"`, `"backoff_cap"`.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Index => "index",
            Setting::IndexPrefix => "index_prefix",
            Setting::IdKeys => "id_keys",
            Setting::Reserved => "reserved",
            Setting::NumbersAsStrings => "numbers_as_strings",
            Setting::IndexedAt => "indexed_at",
            Setting::MaxChunkBytes => "max_chunk_bytes",
            Setting::MaxChunkActions => "max_chunk_actions",
            Setting::BackoffBase => "backoff_base",
            Setting::BackoffCap => "backoff_cap",
        }
    }
}
