//! Arbitrary bytes → `Planner::plan` under a few configurations → every chunk encoded.
//!
//! Checks, for every input: no panic; records numbered in input order; every item
//! decides records that were planned, and every planned record has an item; one item
//! per (index, id); chunks cover the items in order within their limits; the body is
//! NDJSON (each line valid JSON and `\n`-terminated) whose action lines say exactly
//! what the item says, with one document line per `index` action and no duplicate
//! keys in any object; `Plan::body` is exactly what `encode` writes; `resolve` returns one
//! result per record. And the same event spaced out (white space after every `{`, `[`, `,`
//! and `:`) converts identically: compact input takes the core's fast path, spaced input the
//! general one.
//!
//! Run: `dev/fuzz` (or `RUSTC_BOOTSTRAP=1 cargo fuzz run event_to_bulk` in `fuzz/`).

#![no_main]

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use stream2search::checkpoint::RecordOutcome;
use stream2search::outcome::Applied;
use stream2search::{
    Action, Config, Item, LongIdPolicy, Plan, Planner, RecordStatus, ReservedNames, TtlPolicy,
};

fn planners() -> &'static [Planner] {
    static PLANNERS: OnceLock<Vec<Planner>> = OnceLock::new();
    PLANNERS.get_or_init(|| {
        let configs = [
            // What most users run.
            Config {
                index: "products".into(),
                ..Config::default()
            },
            // Every option on, and tiny chunks so that splitting is exercised.
            Config {
                index: "products-{category}".into(),
                index_prefix: Some("products-".into()),
                id_keys: Some(vec!["sk".into(), "pk".into()]),
                versioning: false,
                ttl: TtlPolicy::Skip,
                reserved: ReservedNames::Reject,
                long_ids: LongIdPolicy::Reject,
                numbers_as_strings: vec!["price".into(), "a.b.c".into()],
                include: Some(vec!["pk".into(), "sk".into(), "price".into(), "a".into()]),
                exclude: vec!["secret".into()],
                indexed_at: Some("indexed_at".into()),
                routing: Some("pk".into()),
                max_chunk_bytes: 200,
                max_chunk_actions: 3,
            },
            // Renaming with a custom prefix, one action per chunk.
            Config {
                index: "{pk}".into(),
                index_prefix: Some("p".into()),
                reserved: ReservedNames::Rename { prefix: "x".into() },
                indexed_at: Some("at".into()),
                max_chunk_actions: 1,
                ..Config::default()
            },
        ];
        configs
            .into_iter()
            .map(|c| Planner::new(c).expect("fuzz configs are valid"))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    // An input object with a repeated key may pass the repetition on into a document;
    // everything else must come out with unique keys.
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let unique_input = parse(body, true).is_ok();
    for planner in planners() {
        if let Ok(plan) = planner.plan(data, Some("2026-11-26T00:00:00Z")) {
            check(planner.config(), &plan, unique_input);
        }
    }
    if std::str::from_utf8(data).is_ok() {
        let spaced = spaced(data);
        for planner in planners() {
            let a = planner.plan(data, Some("2026-11-26T00:00:00Z"));
            let b = planner.plan(&spaced, Some("2026-11-26T00:00:00Z"));
            match (a, b) {
                (Ok(a), Ok(b)) => assert_eq!(summary(&a), summary(&b), "layouts differ"),
                (Err(_), Err(_)) => {}
                (a, b) => panic!(
                    "layouts differ: compact {}, spaced {}",
                    a.is_ok(),
                    b.is_ok()
                ),
            }
        }
    }
});

/// `data` with a space after every `{`, `[`, `,` and `:` outside strings (a string left open
/// at the end stays open).
fn spaced(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 2);
    let (mut in_string, mut escaped) = (false, false);
    for &c in data {
        out.push(c);
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
        } else if matches!(c, b'{' | b'[' | b',' | b':') {
            out.push(b' ');
        }
    }
    out
}

/// Everything a plan says except where records lie in the input.
fn summary(plan: &Plan) -> String {
    let mut out = String::new();
    for r in plan.records() {
        out.push_str(&format!(
            "{:?} {:?} {:?} {:?}\n",
            r.event_id, r.sequence_number, r.event_name, r.status
        ));
    }
    let all: Vec<usize> = (0..plan.items().len()).collect();
    out.push_str(&String::from_utf8_lossy(&plan.body(&all)));
    out
}

fn check(config: &Config, plan: &Plan, unique_input: bool) {
    let records = plan.records();
    let items = plan.items();
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.position, i, "records are numbered in input order");
    }

    // Items decide planned records only, and every planned record has an item.
    let mut decided = vec![false; records.len()];
    let mut keys = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        assert!(!item.records.is_empty(), "item {i} decides no record");
        // The records it superseded in event order, then the one whose change it sends (which
        // comes before them when an older change followed a newer one, as Kinesis may deliver).
        let (superseded, _) = item.records.split_at(item.records.len() - 1);
        assert!(
            superseded.windows(2).all(|w| w[0] < w[1]),
            "item {i} superseded records not strictly ascending: {:?}",
            item.records
        );
        let mut distinct = item.records.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            item.records.len(),
            "item {i} names a record twice: {:?}",
            item.records
        );
        for &p in &item.records {
            assert!(
                p < records.len(),
                "item {i} names record {p} of {}",
                records.len()
            );
            assert_eq!(
                records[p].status,
                RecordStatus::Planned,
                "item {i} decides record {p}"
            );
            decided[p] = true;
        }
        // One item per document: (index, id, routing). A MODIFY that changes the routing
        // attribute rightly has two items with one id, a delete under the old routing and an
        // index under the new one.
        assert!(
            keys.insert((
                item.index.as_str(),
                item.id.as_str(),
                item.routing.as_deref()
            )),
            "two items for ({:?}, {:?}, routing {:?})",
            item.index,
            item.id,
            item.routing
        );
        assert!(item.id.len() <= 512, "id of {} bytes", item.id.len());
        assert_eq!(item.action == Action::Index, plan.document(i).is_some());
        if !config.versioning {
            assert_eq!(item.version, None);
        }
        assert_eq!(item.routing.is_some(), config.routing.is_some());
    }
    for (p, record) in records.iter().enumerate() {
        if record.status == RecordStatus::Planned {
            assert!(decided[p], "planned record {p} has no item");
        }
    }

    // Chunks: consecutive, covering every item, within limits.
    let chunks = plan.chunks();
    let mut next = 0;
    for chunk in &chunks {
        assert_eq!(chunk.start, next, "chunks are consecutive");
        assert!(chunk.end > chunk.start, "empty chunk");
        assert!(
            chunk.len() <= config.max_chunk_actions,
            "chunk over max actions"
        );
        let bytes: usize = chunk.clone().map(|i| plan.item_len(i)).sum();
        assert!(
            bytes <= config.max_chunk_bytes || chunk.len() == 1,
            "chunk of {} items and {bytes} bytes",
            chunk.len()
        );
        next = chunk.end;
    }
    assert_eq!(next, items.len(), "chunks cover every item");

    // The body, chunk by chunk into one reused buffer.
    let mut buf = Vec::new();
    for chunk in chunks {
        buf.clear();
        let indices: Vec<usize> = chunk.clone().collect();
        plan.encode(&indices, &mut buf);
        assert_eq!(*plan.body(&indices), *buf, "body is what encode writes");
        let expected: usize = chunk.clone().map(|i| plan.item_len(i)).sum();
        assert_eq!(buf.len(), expected, "encoded length = sum of item_len");
        assert_eq!(buf.last(), Some(&b'\n'), "body ends with a newline");
        let mut lines = buf[..buf.len() - 1].split(|&b| b == b'\n');
        for i in chunk {
            let item = &items[i];
            let line = lines.next().expect("an action line per item");
            check_action(line, item, unique_input);
            if item.action == Action::Index {
                let doc = lines.next().expect("a document line per index action");
                assert_eq!(Some(doc), plan.document(i));
                let value = json_line(doc, unique_input);
                let Value::Object(fields) = value else {
                    panic!(
                        "document is not an object: {}",
                        String::from_utf8_lossy(doc)
                    );
                };
                for name in fields.keys() {
                    assert!(
                        !matches!(name.as_str(), "_id" | "_index" | "_source" | "_routing"),
                        "reserved field {name:?} in a document"
                    );
                }
                if let Some(field) = &config.indexed_at {
                    assert!(fields.contains_key(field), "no {field:?} field");
                }
            }
        }
        assert!(lines.next().is_none(), "more lines than items");
    }

    // Checkpoint plumbing: one result per record, whatever the outcomes.
    let all = vec![RecordOutcome::Applied(Applied::Indexed); items.len()];
    assert_eq!(plan.resolve(&all).len(), records.len());
    assert_eq!(plan.resolve(&[]).len(), records.len());
}

fn check_action(line: &[u8], item: &Item, unique_input: bool) {
    let value = json_line(line, unique_input);
    let Value::Object(outer) = value else {
        panic!(
            "action line is not an object: {}",
            String::from_utf8_lossy(line)
        );
    };
    assert_eq!(outer.len(), 1, "action line has one member");
    let (name, meta) = outer.into_iter().next().expect("one member");
    let want = match item.action {
        Action::Index => "index",
        Action::Delete => "delete",
    };
    assert_eq!(name, want);
    assert_eq!(meta["_index"], Value::from(item.index.clone()));
    assert_eq!(meta["_id"], Value::from(item.id.clone()));
    match item.version {
        Some(v) => {
            assert_eq!(meta["version"], Value::from(v));
            assert_eq!(meta["version_type"], "external_gte");
        }
        None => assert!(meta.get("version").is_none()),
    }
    match &item.routing {
        Some(r) => assert_eq!(meta["routing"], Value::from(r.clone())),
        None => assert!(meta.get("routing").is_none()),
    }
}

/// Parses one NDJSON line, panicking on invalid JSON or, when `unique` holds, on an
/// object with a repeated key (OpenSearch rejects a document with a duplicate field).
fn json_line(line: &[u8], unique: bool) -> Value {
    parse(line, unique)
        .unwrap_or_else(|e| panic!("invalid line ({e}): {}", String::from_utf8_lossy(line)))
}

/// Parses exactly one JSON value; with `unique`, a repeated object key is an error.
fn parse(json: &[u8], unique: bool) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = Unique(unique).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A `serde_json::Value` seed that, when its flag is set, refuses repeated object keys.
#[derive(Clone, Copy)]
struct Unique(bool);

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            if out.insert(key.clone(), value).is_some() && self.0 {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
        }
        Ok(Value::Object(out))
    }
}
