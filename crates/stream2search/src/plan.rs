//! The planner: one event in, the bulk items to send and what each record became.
//!
//! Planning reads each record ([`crate::event`], [`crate::document`]), makes its bulk items,
//! lays them out as one bulk body ([`crate::bulk`]) and lets a later change of the same
//! document supersede an earlier one (`dedup`). Hooks edit a plan afterwards (`edit`), and
//! the server's answers resolve into per-record results (`resolve`).

use std::ops::Range;

use crate::bulk::{Action, place};
use crate::checkpoint::SkipReason;
use crate::config::{Config, ReservedNames, TtlPolicy};
use crate::dedup::{Keys, add};
use crate::document::{self, PathTree, Shape};
use crate::error::{ConfigError, EventError, Fault, RecordError, RecordErrorKind, Setting};
use crate::event::{self, EventName, Found, RawRecord, SequenceNumber, Source};
use crate::index::IndexSpec;
use crate::json::Reader;
use crate::{id, index};

/// Turns events into [`Plan`]s; build it once and reuse it.
#[derive(Debug, Clone)]
pub struct Planner {
    config: Config,
    index: IndexSpec,
    shape: Shape,
    /// Slot of the routing attribute among `shape.captures`.
    routing_slot: Option<usize>,
}

/// One input record and what became of it while planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in `Records`.
    pub position: usize,
    /// `eventID`, if present (of a Kinesis record: the Lambda record's, `shardId-…:…`).
    pub event_id: Option<String>,
    /// `dynamodb.SequenceNumber` (of a Kinesis record: `kinesis.sequenceNumber`), if present and
    /// valid.
    pub sequence_number: Option<SequenceNumber>,
    /// `eventName`, if valid.
    pub event_name: Option<EventName>,
    /// Planned, skipped, or invalid.
    pub status: RecordStatus,
    /// Where the record's JSON lies in the bytes given to [`Planner::plan`] (for dead letters).
    pub span: Range<usize>,
}

/// A record's planning status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordStatus {
    /// It has (or shares) a bulk item.
    Planned,
    /// Deliberately not sent.
    Skipped(SkipReason),
    /// It could not be converted.
    Invalid(RecordError),
}

/// One bulk action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// `index` or `delete`.
    pub action: Action,
    /// Target index.
    pub index: String,
    /// Document id.
    pub id: String,
    /// External version, when versioning is on and the record has a timestamp.
    pub version: Option<u64>,
    /// Shard routing, when configured.
    pub routing: Option<String>,
    /// Positions of the records whose outcome this item decides: the records of the batch it
    /// superseded (older changes of the same document), in event order, then the record that
    /// made it, last.
    pub records: Vec<usize>,
    pub(crate) doc: Option<Range<usize>>,
    pub(crate) meta: Range<usize>,
    /// Whether `meta` lies in the documents arena, where planning writes each record's action
    /// lines right before its document, so that consecutive items form one bulk body there.
    pub(crate) inline: bool,
}

/// The bulk work for one event.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub(crate) source: Option<Source>,
    pub(crate) records: Vec<Record>,
    pub(crate) items: Vec<Item>,
    /// The documents arena: documents, and (for items as planned) their action lines.
    pub(crate) docs: Vec<u8>,
    /// Action lines rewritten by edits.
    pub(crate) meta: Vec<u8>,
    pub(crate) max_bytes: usize,
    pub(crate) max_actions: usize,
}

impl Planner {
    /// Checks `config`.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        let index = IndexSpec::parse(&config.index, config.index_prefix.as_deref())?;
        if config.max_chunk_bytes == 0 {
            return Err(ConfigError::new(
                Setting::MaxChunkBytes,
                "max_chunk_bytes must be positive",
            ));
        }
        if config.max_chunk_actions == 0 {
            return Err(ConfigError::new(
                Setting::MaxChunkActions,
                "max_chunk_actions must be positive",
            ));
        }
        if let ReservedNames::Rename { prefix } = &config.reserved
            && (prefix.is_empty() || prefix.starts_with('_'))
        {
            return Err(ConfigError::new(
                Setting::Reserved,
                "reserved-name prefix must be non-empty and not start with `_`",
            ));
        }
        if let Some(keys) = &config.id_keys
            && keys.is_empty()
        {
            return Err(ConfigError::new(
                Setting::IdKeys,
                "id_keys, when set, must name at least one key",
            ));
        }
        if let Some(field) = &config.indexed_at
            && (field.is_empty() || document::is_reserved(field))
        {
            return Err(ConfigError::new(
                Setting::IndexedAt,
                format!("indexed_at field {field:?} is not a usable name"),
            ));
        }
        for path in &config.numbers_as_strings {
            if path.split('.').any(str::is_empty) {
                return Err(ConfigError::new(
                    Setting::NumbersAsStrings,
                    format!("number path {path:?} has an empty segment"),
                ));
            }
        }
        let mut captures: Vec<String> = index.attrs().to_vec();
        let routing_slot = config.routing.as_ref().map(|r| {
            captures.push(r.clone());
            captures.len() - 1
        });
        let shape = Shape {
            reserved_prefix: match &config.reserved {
                ReservedNames::Rename { prefix } => Some(prefix.clone()),
                ReservedNames::Reject => None,
            },
            strings: (!config.numbers_as_strings.is_empty())
                .then(|| PathTree::new(&config.numbers_as_strings)),
            include: config.include.clone(),
            exclude: config.exclude.clone(),
            indexed_at: config.indexed_at.clone(),
            plain: captures.is_empty()
                && config.numbers_as_strings.is_empty()
                && config.include.is_none()
                && config.exclude.is_empty(),
            captures,
        };
        Ok(Planner {
            config,
            index,
            shape,
            routing_slot,
        })
    }

    /// The configuration this planner was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Plans one Lambda event (`{"Records": [...]}`, a leading BOM allowed) of either
    /// [`Source`]: DynamoDB Streams records, or Kinesis records of Kinesis Data Streams for
    /// DynamoDB (whose base64 `data` is decoded on the way). `indexed_at` fills
    /// [`Config::indexed_at`]. Bad records are kept as [`RecordStatus::Invalid`]; only a payload
    /// that is not an event at all, or mixes the two sources, is an error.
    ///
    /// Versions are the record's `ApproximateCreationDateTime` in microseconds, at the precision
    /// it has: whole seconds from DynamoDB Streams, milliseconds or microseconds from Kinesis.
    ///
    /// ```
    /// use stream2search::{Action, Config, Planner, RecordErrorKind, RecordStatus};
    ///
    /// let planner = Planner::new(Config { index: "products".into(), ..Config::default() })?;
    /// let event = br#"{"Records":[
    ///   {"eventID":"a","eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":1700000000,
    ///     "Keys":{"id":{"S":"p-1"}},"NewImage":{"id":{"S":"p-1"},"price":{"N":"5"}},
    ///     "SequenceNumber":"100"}},
    ///   {"eventID":"b","eventName":"REMOVE","dynamodb":{"ApproximateCreationDateTime":1700000001,
    ///     "Keys":{"id":{"S":"p-1"}},"SequenceNumber":"200"}},
    ///   {"eventID":"c","eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":1700000002,
    ///     "Keys":{"id":{"S":"p-2"}},"NewImage":{"id":{"S":"p-2"},"price":{"N":"1e200"}},
    ///     "SequenceNumber":"300"}}
    /// ]}"#;
    /// let plan = planner.plan(event, None)?;
    ///
    /// // The REMOVE supersedes the INSERT of the same document: one item decides both records.
    /// assert_eq!(plan.items().len(), 1);
    /// let item = &plan.items()[0];
    /// assert_eq!((item.action, item.id.as_str(), item.version), (Action::Delete, "p-1", Some(1700000001000000)));
    /// assert_eq!(item.records, [0, 1]);
    ///
    /// // A record that cannot be converted stays in the plan, with its reason.
    /// assert_eq!(plan.records()[0].status, RecordStatus::Planned);
    /// let RecordStatus::Invalid(e) = &plan.records()[2].status else { panic!() };
    /// assert_eq!(e.kind(), RecordErrorKind::Number);
    /// println!("{e}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn plan(&self, event: &[u8], indexed_at: Option<&str>) -> Result<Plan, EventError> {
        let bom = if event.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let event = &event[bom..];
        let text = std::str::from_utf8(event).map_err(|e| EventError::Utf8 {
            offset: e.valid_up_to(),
        })?;
        let mut r = Reader::new(text);
        let mut plan = Plan {
            docs: Vec::with_capacity(event.len()),
            max_bytes: self.config.max_chunk_bytes,
            max_actions: self.config.max_chunk_actions,
            ..Plan::default()
        };
        let mut by_key = Keys::default();
        let mut slots: Vec<Option<Item>> = Vec::new();
        let mut names = Vec::new();
        let mut keys = Vec::new();
        let mut made = Vec::with_capacity(2);
        let mut data = Vec::new();
        let mut records = event::Records::default();
        while records.next(&mut r)? {
            let position = plan.records.len();
            let start = r.pos;
            let mark = plan.docs.len();
            let mut raw = RawRecord {
                keys: std::mem::take(&mut keys),
                ..RawRecord::default()
            };
            let read = event::read(
                &mut r,
                &mut raw,
                &mut plan.docs,
                &self.shape,
                indexed_at,
                &mut names,
                &mut data,
            );
            let (source, made_items) = match read {
                Ok(Found::Streams) => (
                    Some(Source::DynamoDbStreams),
                    self.items_for(&mut raw, position, &mut made),
                ),
                Ok(Found::Kinesis) => (
                    Some(Source::Kinesis),
                    self.change_items(
                        &data,
                        &mut raw,
                        &mut plan.docs,
                        indexed_at,
                        position,
                        &mut made,
                    ),
                ),
                Ok(Found::Other(event_source)) => {
                    return Err(EventError::UnknownSource {
                        position,
                        event_source,
                    });
                }
                Err(Fault::Syntax(s)) => return Err(s.into()),
                Err(Fault::Record(e)) => {
                    r.pos = start;
                    raw = RawRecord::default();
                    (event::salvage(&mut r, &mut raw)?, Err(*e))
                }
            };
            match (plan.source, source) {
                (Some(first), Some(found)) if first != found => {
                    return Err(EventError::MixedSources {
                        position,
                        first,
                        found,
                    });
                }
                (None, found) => plan.source = found,
                _ => {}
            }
            let status = match made_items {
                Ok(()) => {
                    let status = if made.is_empty() {
                        RecordStatus::Skipped(SkipReason::Ttl)
                    } else {
                        RecordStatus::Planned
                    };
                    place(&mut plan.docs, mark, &mut made);
                    for item in made.drain(..) {
                        add(&mut slots, &mut by_key, item);
                    }
                    status
                }
                Err(e) => {
                    // Whatever the record wrote into the arena before it failed goes.
                    plan.docs.truncate(mark);
                    RecordStatus::Invalid(e)
                }
            };
            keys = std::mem::take(&mut raw.keys);
            keys.clear();
            plan.records.push(Record {
                position,
                event_id: raw.event_id,
                sequence_number: raw.sequence_number,
                event_name: raw.event_name,
                status,
                span: start + bom..r.pos + bom,
            });
        }
        // `filter_map` is collected in place (an `Option<Item>` is the size of an `Item`);
        // `flatten` would copy every item into a second, growing allocation.
        #[allow(clippy::filter_map_identity)]
        let items = slots.into_iter().filter_map(|slot| slot).collect();
        plan.items = items;
        Ok(plan)
    }

    /// The items of the change record a Kinesis record carries (`data`, decoded from base64):
    /// read like a DynamoDB Streams record; the Kinesis record keeps its own eventID and
    /// sequence number.
    fn change_items(
        &self,
        data: &[u8],
        outer: &mut RawRecord<'_>,
        docs: &mut Vec<u8>,
        indexed_at: Option<&str>,
        position: usize,
        out: &mut Vec<Item>,
    ) -> Result<(), RecordError> {
        let bad = |msg: String| RecordError::new(RecordErrorKind::Data, msg);
        let text = std::str::from_utf8(data).map_err(|e| {
            bad(format!(
                "kinesis.data is not UTF-8 (byte {} of the decoded data)",
                e.valid_up_to()
            ))
        })?;
        let mut r = Reader::new(text);
        let mut change = RawRecord::default();
        let read = event::read_change(
            &mut r,
            &mut change,
            docs,
            &self.shape,
            indexed_at,
            &mut Vec::new(),
        );
        match read {
            Ok(()) => {}
            Err(Fault::Syntax(s)) => {
                return Err(bad(format!(
                    "kinesis.data is not JSON at byte {} of the decoded data: {}",
                    s.pos, s.what
                )));
            }
            Err(Fault::Record(e)) => {
                // A `Data` error names kinesis.data itself; others get it as the path's start.
                return Err(match e.kind() {
                    RecordErrorKind::Data => *e,
                    _ => e.within("kinesis.data"),
                });
            }
        }
        outer.event_name = change.event_name;
        self.items_for(&mut change, position, out)
    }

    /// The items one well-formed record makes (none for a skipped TTL delete).
    fn items_for(
        &self,
        raw: &mut RawRecord<'_>,
        position: usize,
        out: &mut Vec<Item>,
    ) -> Result<(), RecordError> {
        out.clear();
        let err = |kind, msg: String| Err(RecordError::new(kind, msg));
        if !raw.has_keys {
            return err(RecordErrorKind::Shape, "record has no dynamodb.Keys".into());
        }
        let version = match (self.config.versioning, raw.micros) {
            (false, _) | (true, None) => None,
            (true, Some(micros)) => match micros {
                Some(v) if v <= i64::MAX as u64 => Some(v),
                _ => {
                    return err(
                        RecordErrorKind::Timestamp,
                        "ApproximateCreationDateTime is not a usable non-negative timestamp".into(),
                    );
                }
            },
        };
        let keys = &mut raw.keys;
        let id = id::build(keys, self.config.id_keys.as_deref(), self.config.long_ids)?;
        let name = raw.event_name.unwrap_or(EventName::Remove);
        let key_value = |attr: &str| {
            keys.iter()
                .find(|k| k.name == attr)
                .map(|k| k.text.to_string())
        };
        let values = |captured: &[Option<String>]| -> Vec<Option<String>> {
            self.shape
                .captures
                .iter()
                .zip(captured.iter().chain(std::iter::repeat(&None)))
                .map(|(attr, v)| v.clone().or_else(|| key_value(attr)))
                .collect()
        };
        let target = |values: &[Option<String>]| -> Result<(String, Option<String>), RecordError> {
            let index = self.index.render(values)?;
            let routing = match self.routing_slot {
                None => None,
                Some(slot) => Some(values[slot].clone().ok_or_else(|| {
                    RecordError::new(
                        RecordErrorKind::Routing,
                        format!(
                            "routing attribute `{}` is missing or not S, N or B",
                            self.config.routing.as_deref().unwrap_or("")
                        ),
                    )
                })?),
            };
            Ok((index, routing))
        };
        let make = |action, (index, routing): (String, Option<String>), doc, id| Item {
            action,
            index,
            id,
            version,
            routing,
            records: vec![position],
            doc,
            meta: 0..0,
            inline: false,
        };
        match name {
            EventName::Remove => {
                if raw.ttl && self.config.ttl == TtlPolicy::Skip {
                    return Ok(());
                }
                let old = values(raw.old_captures.as_deref().unwrap_or(&[]));
                out.push(make(Action::Delete, target(&old)?, None, id));
                Ok(())
            }
            EventName::Insert | EventName::Modify => {
                let Some(doc) = raw.doc.clone() else {
                    let view = raw.view_type.as_deref().unwrap_or("unknown");
                    return err(
                        RecordErrorKind::MissingImage,
                        format!(
                            "{} record has no NewImage (stream view type {view}); set the table's \
                             stream view type to NEW_IMAGE or NEW_AND_OLD_IMAGES",
                            if name == EventName::Insert {
                                "INSERT"
                            } else {
                                "MODIFY"
                            }
                        ),
                    );
                };
                let new = target(&values(&raw.new_captures))?;
                // A change that moves the document to another index or shard also deletes the
                // copy where the old image put it.
                if let Some(old) = raw.old_captures.as_deref()
                    && let Ok(old) = target(&values(old))
                    && old != new
                {
                    out.push(make(Action::Delete, old, None, id.clone()));
                }
                out.push(make(Action::Index, new, Some(doc), id));
                Ok(())
            }
        }
    }
}

impl Plan {
    /// Where the event's records come from (`None` for an event without records).
    pub fn source(&self) -> Option<Source> {
        self.source
    }

    /// One entry per input record, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The bulk items, in send order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }
}

/// Whether `name` is a valid index name for OpenSearch.
pub fn validate_index_name(name: &str) -> Result<(), &'static str> {
    index::validate(name)
}
