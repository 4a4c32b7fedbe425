//! The planner: one event in, the bulk items to send and what each record became.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::ops::Range;

use crate::bulk::{self, Action};
use crate::checkpoint::{RecordOutcome, RecordResult, SkipReason};
use crate::config::{Config, ReservedNames, TtlPolicy};
use crate::document::{Fault, PathTree, Shape};
use crate::error::{ConfigError, EditError, EventError, RecordError, RecordErrorKind};
use crate::event::{self, EventName, RawRecord, SequenceNumber};
use crate::index::IndexSpec;
use crate::json::Reader;
use crate::outcome::Final;
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
    /// `eventID`, if present.
    pub event_id: Option<String>,
    /// `dynamodb.SequenceNumber`, if present and valid.
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
    /// Positions of the records whose outcome this item decides: the record that made it, and
    /// earlier records of the batch it superseded.
    pub records: Vec<usize>,
    doc: Option<Range<usize>>,
    meta: Range<usize>,
    /// Whether `meta` lies in the documents arena, where planning writes each record's action
    /// lines right before its document, so that consecutive items form one bulk body there.
    inline: bool,
}

/// The bulk work for one event.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    records: Vec<Record>,
    items: Vec<Item>,
    docs: Vec<u8>,
    meta: Vec<u8>,
    max_bytes: usize,
    max_actions: usize,
}

impl Planner {
    /// Checks `config`.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        let index = IndexSpec::parse(&config.index, config.index_prefix.as_deref())?;
        if config.max_chunk_bytes == 0 || config.max_chunk_actions == 0 {
            return Err(ConfigError("chunk limits must be positive".into()));
        }
        if let ReservedNames::Rename { prefix } = &config.reserved
            && (prefix.is_empty() || prefix.starts_with('_'))
        {
            {
                return Err(ConfigError(
                    "reserved-name prefix must be non-empty and not start with `_`".into(),
                ));
            }
        }
        if let Some(keys) = &config.id_keys
            && keys.is_empty()
        {
            {
                return Err(ConfigError(
                    "id_keys, when set, must name at least one key".into(),
                ));
            }
        }
        if let Some(field) = &config.indexed_at
            && (field.is_empty() || document::is_reserved(field))
        {
            {
                return Err(ConfigError(format!(
                    "indexed_at field {field:?} is not a usable name"
                )));
            }
        }
        for path in &config.numbers_as_strings {
            if path.split('.').any(str::is_empty) {
                return Err(ConfigError(format!(
                    "number path {path:?} has an empty segment"
                )));
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

    /// Plans one Lambda DynamoDB Streams event (`{"Records": [...]}`, a leading BOM allowed).
    /// `indexed_at` fills [`Config::indexed_at`]. Bad records are kept as [`RecordStatus::Invalid`];
    /// only a payload that is not an event at all is an error.
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
        if r.peek() != Some(b'{') {
            return Err(EventError::NotAnEvent(
                "expected an object with a `Records` array",
            ));
        }
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
        let mut found = false;
        r.begin_object()?;
        let mut first = true;
        while let Some(key) = r.next_key(&mut first)? {
            if !key.is("Records") || found {
                r.skip_value()?;
                continue;
            }
            found = true;
            if r.peek() != Some(b'[') {
                return Err(EventError::NotAnEvent("`Records` must be an array"));
            }
            r.begin_array()?;
            let mut first = true;
            while r.next_element(&mut first)? {
                let position = plan.records.len();
                r.peek();
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
                );
                let status = match read {
                    Ok(()) => match self.items_for(&mut raw, position, &mut made) {
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
                        Err(e) => RecordStatus::Invalid(e),
                    },
                    Err(Fault::Syntax(s)) => return Err(s.into()),
                    Err(Fault::Record(e)) => {
                        plan.docs.truncate(mark);
                        r.pos = start;
                        raw = RawRecord::default();
                        event::salvage(&mut r, &mut raw)?;
                        RecordStatus::Invalid(*e)
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
        }
        if !r.at_end() {
            return Err(EventError::Syntax {
                offset: r.pos,
                what: "unexpected text after the event",
            });
        }
        if !found {
            return Err(EventError::NotAnEvent("no `Records` member"));
        }
        plan.items = slots.into_iter().flatten().collect();
        Ok(plan)
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
        let version = match (self.config.versioning, raw.seconds) {
            (false, _) | (true, None) => None,
            (true, Some(secs)) => match secs.and_then(|s| s.checked_mul(1_000_000)) {
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

/// (index, id) → slot, keyed by [`key_hash`]; a hit is confirmed against the item itself, and
/// a collision of two different keys only costs the dedup of one of them (OpenSearch still
/// applies both actions in order, and external versions keep the newer).
type Keys = HashMap<u64, usize, BuildHasherDefault<Prehashed>>;

/// The map's hasher for keys that already are hashes.
#[derive(Debug, Default, Clone, Copy)]
struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(MIX);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const MIX: u64 = 0x517c_c1b7_2722_0a95;

/// A deterministic 64-bit hash of (index, id), eight bytes at a time.
fn key_hash(index: &str, id: &str) -> u64 {
    let mut h = 0u64;
    for part in [index.as_bytes(), id.as_bytes()] {
        let mut words = part.chunks_exact(8);
        for w in &mut words {
            let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            h = (h.rotate_left(5) ^ w).wrapping_mul(MIX);
        }
        let mut last = [0u8; 8];
        last[..words.remainder().len()].copy_from_slice(words.remainder());
        h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(MIX);
        h = (h.rotate_left(5) ^ part.len() as u64).wrapping_mul(MIX);
    }
    h ^ (h >> 29)
}

/// Adds `item`, superseding an earlier item for the same (index, id).
fn add(slots: &mut Vec<Option<Item>>, by_key: &mut Keys, item: Item) {
    let hash = key_hash(&item.index, &item.id);
    add_hashed(slots, by_key, item, hash);
}

fn add_hashed(slots: &mut Vec<Option<Item>>, by_key: &mut Keys, mut item: Item, hash: u64) {
    let slot = slots.len();
    let earlier = by_key.insert(hash, slot);
    let same = |old: &Option<Item>| {
        old.as_ref()
            .is_some_and(|o| o.index == item.index && o.id == item.id)
    };
    if let Some(prev) = earlier
        .filter(|&old| same(&slots[old]))
        .and_then(|old| slots[old].take())
    {
        let mut records = prev.records;
        records.append(&mut item.records);
        item.records = records;
    }
    slots.push(Some(item));
}

impl Plan {
    /// One entry per input record, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The bulk items, in send order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Bytes `items()[i]` takes in a bulk body.
    pub fn item_len(&self, i: usize) -> usize {
        let item = &self.items[i];
        item.meta.len() + item.doc.as_ref().map_or(0, |d| d.len() + 1)
    }

    /// Consecutive item ranges within the configured byte and action limits.
    pub fn chunks(&self) -> Vec<Range<usize>> {
        bulk::chunks(
            (0..self.items.len()).map(|i| self.item_len(i)),
            self.max_bytes,
            self.max_actions,
        )
    }

    /// Appends the NDJSON for `items` (indices into [`Plan::items`], any subset, any order).
    pub fn encode(&self, items: &[usize], out: &mut Vec<u8>) {
        for &i in items {
            let item = &self.items[i];
            out.extend_from_slice(self.meta_line(item));
            if let Some(doc) = &item.doc {
                out.extend_from_slice(&self.docs[doc.clone()]);
                out.push(b'\n');
            }
        }
    }

    /// The NDJSON for `items`, as [`Plan::encode`] writes it: borrowed from the plan when the
    /// items lie in it as one run (consecutive items as planned, nothing edited or superseded
    /// between them — the usual case, which costs no copy), else written out.
    pub fn body(&self, items: &[usize]) -> Cow<'_, [u8]> {
        match self.run(items) {
            Some(run) => Cow::Borrowed(&self.docs[run]),
            None => {
                let mut out = Vec::new();
                self.encode(items, &mut out);
                Cow::Owned(out)
            }
        }
    }

    /// Where `items` lie in the documents arena as one run, if they do.
    fn run(&self, items: &[usize]) -> Option<Range<usize>> {
        let mut run: Option<Range<usize>> = None;
        for &i in items {
            let item = self.items.get(i)?;
            let end = match &item.doc {
                Some(doc) if doc.start == item.meta.end => doc.end + 1,
                Some(_) => return None,
                None => item.meta.end,
            };
            if !item.inline || run.as_ref().is_some_and(|r| r.end != item.meta.start) {
                return None;
            }
            let start = run.map_or(item.meta.start, |r| r.start);
            run = Some(start..end);
        }
        Some(run.unwrap_or(0..0))
    }

    fn meta_line(&self, item: &Item) -> &[u8] {
        if item.inline {
            &self.docs[item.meta.clone()]
        } else {
            &self.meta[item.meta.clone()]
        }
    }

    /// Replaces the document of index item `i` (a hook's reshaping). `doc` must be one JSON
    /// object; the same document then goes to every chunk that sends the item.
    pub fn set_document(&mut self, i: usize, doc: &[u8]) -> Result<(), EditError> {
        let item = self
            .items
            .get(i)
            .ok_or_else(|| EditError(format!("no item {i}")))?;
        if item.action != Action::Index {
            return Err(EditError(format!(
                "item {i} is a delete and has no document"
            )));
        }
        let text =
            std::str::from_utf8(doc).map_err(|_| EditError("document is not UTF-8".into()))?;
        let mut r = Reader::new(text);
        let is_object = r.peek() == Some(b'{') && r.skip_value().is_ok() && r.at_end();
        if !is_object {
            return Err(EditError("document must be one JSON object".into()));
        }
        let start = self.docs.len();
        self.docs.extend_from_slice(text.trim().as_bytes());
        self.items[i].doc = Some(start..self.docs.len());
        Ok(())
    }

    /// Sends item `i` to another index (a hook's choice), checked against OpenSearch's rules.
    pub fn set_index(&mut self, i: usize, index: &str) -> Result<(), EditError> {
        let item = self
            .items
            .get_mut(i)
            .ok_or_else(|| EditError(format!("no item {i}")))?;
        index::validate(index).map_err(|why| EditError(format!("index {index:?}: {why}")))?;
        item.index = index.to_owned();
        write_meta(&mut self.meta, item);
        item.inline = false;
        Ok(())
    }

    /// Turns index item `i` into a delete of the same document (same index, id, version and
    /// routing): for a document that should leave the index, e.g. one a filter no longer passes.
    pub fn set_delete(&mut self, i: usize) -> Result<(), EditError> {
        let item = self
            .items
            .get_mut(i)
            .ok_or_else(|| EditError(format!("no item {i}")))?;
        item.action = Action::Delete;
        item.doc = None;
        write_meta(&mut self.meta, item);
        item.inline = false;
        Ok(())
    }

    /// Takes item `i` out of the plan; the records it decides get `status` instead (for example
    /// `Skipped(SkipReason::Filtered)`, or `Invalid(RecordError::refused(..))` to dead-letter them).
    /// Later items move down by one.
    pub fn remove(&mut self, i: usize, status: RecordStatus) -> Result<(), EditError> {
        if i >= self.items.len() {
            return Err(EditError(format!("no item {i}")));
        }
        let item = self.items.remove(i);
        for &p in &item.records {
            // A record that also decides another item (a moved document's delete) keeps that one.
            let elsewhere = self.items.iter().any(|other| other.records.contains(&p));
            if !elsewhere {
                self.records[p].status = status.clone();
            }
        }
        Ok(())
    }

    /// The document of item `i`, for index items (`None` for a delete or no such item).
    pub fn document(&self, i: usize) -> Option<&[u8]> {
        let doc = self.items.get(i)?.doc.as_ref()?;
        self.docs.get(doc.clone())
    }

    /// Per-record results from one [`Final`] per item (a missing one counts as not durable).
    pub fn resolve(&self, finals: &[Final]) -> Vec<RecordResult> {
        let mut decided: Vec<Option<RecordOutcome>> = vec![None; self.records.len()];
        for (i, item) in self.items.iter().enumerate() {
            let outcome = match finals.get(i) {
                Some(f) => record_outcome(f),
                None => RecordOutcome::NotDurable {
                    reason: "no outcome reported for its bulk item".into(),
                },
            };
            for &p in &item.records {
                let slot = &mut decided[p];
                // The worst outcome wins: not durable, then rejected, then the last item's.
                let keep_old = slot.as_ref().is_some_and(|o| rank(o) > rank(&outcome));
                if !keep_old {
                    *slot = Some(outcome.clone());
                }
            }
        }
        self.records
            .iter()
            .zip(decided)
            .map(|(rec, decided)| RecordResult {
                position: rec.position,
                sequence_number: rec.sequence_number.clone(),
                event_id: rec.event_id.clone(),
                outcome: match &rec.status {
                    RecordStatus::Invalid(e) => RecordOutcome::Invalid(e.clone()),
                    RecordStatus::Skipped(s) => RecordOutcome::Skipped(*s),
                    RecordStatus::Planned => decided.unwrap_or(RecordOutcome::NotDurable {
                        reason: "no bulk item decided this record".into(),
                    }),
                },
            })
            .collect()
    }
}

/// Writes the action lines of one record's `items` into the documents arena before its
/// document (which starts at `mark`), and a newline after the document: the bulk body
/// `action\n[document\n]` for each item, in order. A document no item sends is dropped.
fn place(docs: &mut Vec<u8>, mark: usize, items: &mut [Item]) {
    if items.iter().all(|item| item.doc.is_none()) {
        docs.truncate(mark);
    }
    let doc_len = docs.len() - mark;
    for item in items.iter_mut() {
        write_meta(docs, item);
        item.inline = true;
    }
    if doc_len == 0 {
        return;
    }
    // [document][lines] → [lines][document]: a short move of bytes still in cache.
    let lines = docs.len() - mark - doc_len;
    docs[mark..].rotate_right(lines);
    docs.push(b'\n');
    for item in items.iter_mut() {
        item.meta = item.meta.start - doc_len..item.meta.end - doc_len;
        if let Some(doc) = &mut item.doc {
            *doc = doc.start + lines..doc.end + lines;
        }
    }
}

/// Appends `item`'s action line to `meta` and points the item at it.
fn write_meta(meta: &mut Vec<u8>, item: &mut Item) {
    let start = meta.len();
    bulk::write_action(
        meta,
        item.action,
        &item.index,
        &item.id,
        item.version,
        item.routing.as_deref(),
    );
    item.meta = start..meta.len();
}

fn rank(o: &RecordOutcome) -> u8 {
    match o {
        RecordOutcome::NotDurable { .. } => 2,
        RecordOutcome::Rejected { .. } => 1,
        _ => 0,
    }
}

fn record_outcome(f: &Final) -> RecordOutcome {
    match f {
        Final::Indexed => RecordOutcome::Indexed,
        Final::Deleted => RecordOutcome::Deleted,
        Final::AlreadyGone => RecordOutcome::AlreadyGone,
        Final::Stale => RecordOutcome::Stale,
        Final::Rejected { status, reason } => RecordOutcome::Rejected {
            status: *status,
            reason: reason.clone(),
        },
        Final::NotDurable { reason } => RecordOutcome::NotDurable {
            reason: reason.clone(),
        },
    }
}

/// Whether `name` is a valid index name for OpenSearch.
pub fn validate_index_name(name: &str) -> Result<(), &'static str> {
    index::validate(name)
}

use crate::document;

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, position: usize) -> Item {
        Item {
            action: Action::Index,
            index: "t".into(),
            id: id.into(),
            version: None,
            routing: None,
            records: vec![position],
            doc: None,
            meta: 0..0,
            inline: false,
        }
    }

    /// Two different keys with one hash: neither is merged into the other, no record is lost.
    #[test]
    fn a_hash_collision_only_costs_a_dedup() {
        let (mut slots, mut by_key) = (Vec::new(), Keys::default());
        add_hashed(&mut slots, &mut by_key, item("a", 0), 7);
        add_hashed(&mut slots, &mut by_key, item("b", 1), 7);
        add_hashed(&mut slots, &mut by_key, item("b", 2), 7);
        add_hashed(&mut slots, &mut by_key, item("a", 3), 7);
        let items: Vec<(String, Vec<usize>)> = slots
            .into_iter()
            .flatten()
            .map(|i| (i.id, i.records))
            .collect();
        assert_eq!(
            items,
            [
                ("a".to_string(), vec![0]),
                ("b".to_string(), vec![1, 2]),
                ("a".to_string(), vec![3]),
            ]
        );
    }

    #[test]
    fn key_hash_separates_index_from_id() {
        assert_ne!(key_hash("ab", "c"), key_hash("a", "bc"));
        assert_ne!(key_hash("t", "12345678"), key_hash("t", "12345678\0"));
        assert_eq!(key_hash("t", "x"), key_hash("t", "x"));
    }
}
