//! Glue between the reference and the crate: build the crate's `Config` from [`Options`], run the
//! planner, and compare its records, items and NDJSON with the reference's expectation.
//!
//! Every comparison returns `Err(description)` so property tests can report the failing case.

use super::json::{self, Json};
use super::number::{self, Decimal};
use super::{Expect, Expected, Id, IndexCheck, Item, Kind, MAX_ID_BYTES, Options, Status};
use stream2search::{
    Action, Config, LongIdPolicy, Plan, Planner, RecordStatus, ReservedNames, TtlPolicy,
};

/// The crate's configuration for the same options.
pub fn config(o: &Options) -> Config {
    Config {
        index: o.index.clone(),
        index_prefix: o.index_prefix.clone(),
        id_keys: o.id_keys.clone(),
        versioning: o.versioning,
        ttl: if o.ttl_skip {
            TtlPolicy::Skip
        } else {
            TtlPolicy::Delete
        },
        reserved: match &o.reserved_prefix {
            Some(prefix) => ReservedNames::Rename {
                prefix: prefix.clone(),
            },
            None => ReservedNames::Reject,
        },
        long_ids: if o.long_ids_reject {
            LongIdPolicy::Reject
        } else {
            LongIdPolicy::Hash
        },
        numbers_as_strings: o.numbers_as_strings.clone(),
        include: o.include.clone(),
        exclude: o.exclude.clone(),
        indexed_at: o.indexed_at.clone(),
        routing: o.routing.clone(),
        max_chunk_bytes: o.max_chunk_bytes,
        max_chunk_actions: o.max_chunk_actions,
    }
}

pub fn planner(o: &Options) -> Planner {
    Planner::new(config(o)).expect("the test's configuration is valid")
}

/// The NDJSON of every item, in send order.
pub fn encode_all(plan: &Plan) -> Vec<u8> {
    let all: Vec<usize> = (0..plan.items().len()).collect();
    let mut out = Vec::new();
    plan.encode(&all, &mut out);
    out
}

/// The NDJSON of all chunks, concatenated in order (what the CLI prints).
pub fn encode_chunks(plan: &Plan) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in plan.chunks() {
        let ids: Vec<usize> = chunk.collect();
        plan.encode(&ids, &mut out);
    }
    out
}

/// Text of a record's sequence number as the crate reports it.
pub fn sequence_text(plan: &Plan, position: usize) -> Option<String> {
    plan.records()[position]
        .sequence_number
        .as_ref()
        .map(|s| s.to_string())
}

/// Run the crate and the reference on one event and compare everything.
pub fn check_event(event: &[u8], o: &Options, indexed_at: Option<&str>) -> Result<(), String> {
    let expected = super::expect(event, o, indexed_at);
    let actual = planner(o).plan(event, indexed_at);
    match (expected, actual) {
        (Err(_), Err(_)) => Ok(()),
        (Err(e), Ok(_)) => Err(format!("expected a whole-event error ({e}), got a plan")),
        (Ok(_), Err(e)) => Err(format!("expected a plan, got the whole-event error {e}")),
        (Ok(exp), Ok(plan)) => compare_plan(&exp, &plan),
    }
}

/// One word for a status, to compare kinds.
fn status_word(s: &RecordStatus) -> &'static str {
    match s {
        RecordStatus::Planned => "planned",
        RecordStatus::Skipped(_) => "skipped",
        RecordStatus::Invalid(_) => "invalid",
    }
}

/// Compare the crate's plan with the reference's expectation: record statuses, items (fields and
/// record lists) and the NDJSON they encode to.
pub fn compare_plan(exp: &Expected, plan: &Plan) -> Result<(), String> {
    let records = plan.records();
    if records.len() != exp.statuses.len() {
        return Err(format!(
            "{} records in the plan, {} in the event",
            records.len(),
            exp.statuses.len()
        ));
    }
    for (i, (r, want)) in records.iter().zip(&exp.statuses).enumerate() {
        if r.position != i {
            return Err(format!("record {i} says position {}", r.position));
        }
        let want_word = match want {
            Status::Planned => "planned",
            Status::Skipped(_) => "skipped",
            Status::Invalid(_) => "invalid",
        };
        if status_word(&r.status) != want_word {
            return Err(format!("record {i}: expected {want:?}, got {:?}", r.status));
        }
        if matches!(want, Status::Planned | Status::Skipped(_)) {
            let got = sequence_text(plan, i);
            if got != exp.sequence_numbers[i] {
                return Err(format!(
                    "record {i}: sequence number {got:?}, expected {:?}",
                    exp.sequence_numbers[i]
                ));
            }
        }
    }
    let order = match_items(exp, plan)?;
    let ndjson = encode_all(plan);
    check_ndjson(
        &order.iter().map(|&e| &exp.items[e]).collect::<Vec<_>>(),
        &ndjson,
    )?;
    if encode_chunks(plan) != ndjson {
        return Err("the chunks, encoded in order, differ from encoding all items at once".into());
    }
    Ok(())
}

/// Pair each of the crate's items with the expected item that decides the same records; check the
/// fields and the order. Returns, for each actual item, the index of its expected item.
pub fn match_items(exp: &Expected, plan: &Plan) -> Result<Vec<usize>, String> {
    let items = plan.items();
    if items.len() != exp.items.len() {
        return Err(format!(
            "{} items, expected {}:\n  got {:?}\n  want {:?}",
            items.len(),
            exp.items.len(),
            items
                .iter()
                .map(|i| (&i.index, &i.id, &i.records))
                .collect::<Vec<_>>(),
            exp.items
                .iter()
                .map(|i| (&i.index, &i.id, &i.records))
                .collect::<Vec<_>>()
        ));
    }
    let mut order = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let Some(e) = exp.items.iter().position(|e| e.records == item.records) else {
            return Err(format!(
                "item {n} ({} {}) decides records {:?}; expected items decide {:?}",
                item.index,
                item.id,
                item.records,
                exp.items.iter().map(|i| &i.records).collect::<Vec<_>>()
            ));
        };
        let want = &exp.items[e];
        let kind = match item.action {
            Action::Index => Kind::Index,
            Action::Delete => Kind::Delete,
        };
        if kind != want.kind {
            return Err(format!("item {n}: {kind:?}, expected {:?}", want.kind));
        }
        check_index(&item.index, want).map_err(|e| format!("item {n}: {e}"))?;
        check_id(&item.id, &want.id).map_err(|e| format!("item {n}: {e}"))?;
        if item.version != want.version {
            return Err(format!(
                "item {n}: version {:?}, expected {:?}",
                item.version, want.version
            ));
        }
        if item.routing != want.routing {
            return Err(format!(
                "item {n}: routing {:?}, expected {:?}",
                item.routing, want.routing
            ));
        }
        order.push(e);
    }
    // Any order that sends each (index, _id) once gives the same final state; accept the three
    // natural ones: by first record, by last record, and by the record whose change is sent.
    let by_first = |&a: &usize| exp.items[a].records[0];
    let by_last = |&a: &usize| *exp.items[a].records.last().unwrap();
    let by_writer = |&a: &usize| exp.items[a].writer;
    let sorted_by = |f: &dyn Fn(&usize) -> usize| order.windows(2).all(|w| f(&w[0]) < f(&w[1]));
    if !sorted_by(&by_first) && !sorted_by(&by_last) && !sorted_by(&by_writer) {
        return Err(format!(
            "items are in neither first-record, last-record nor writer-record order: {:?}",
            order
                .iter()
                .map(|&e| &exp.items[e].records)
                .collect::<Vec<_>>()
        ));
    }
    Ok(order)
}

/// The index is the expected one, or for a name built from a number, a valid name under the
/// prefix.
pub fn check_index(got: &str, want: &Item) -> Result<(), String> {
    match &want.index_check {
        IndexCheck::Exact if got == want.index => Ok(()),
        IndexCheck::ValidUnder(prefix)
            if got.starts_with(prefix.as_str()) && super::is_valid_index_name(got) =>
        {
            Ok(())
        }
        _ => Err(format!("index {got:?}, expected {:?}", want.index)),
    }
}

/// An `_id` is as expected: exactly, or for a long one, a deterministic replacement.
pub fn check_id(got: &str, want: &Id) -> Result<(), String> {
    match want {
        Id::Exact(s) if got == s => Ok(()),
        Id::Exact(s) => Err(format!("_id {got:?}, expected {s:?}")),
        Id::Hashed { original } => check_hashed_id(got, original),
    }
}

/// A replaced long id: at most 512 bytes, not the original, and starting with a readable prefix
/// (at least 60 bytes) of the original.
pub fn check_hashed_id(got: &str, original: &str) -> Result<(), String> {
    if got.len() > MAX_ID_BYTES {
        return Err(format!("long _id not shortened: {} bytes", got.len()));
    }
    let common = got
        .bytes()
        .zip(original.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    if common < 60 {
        return Err(format!(
            "shortened _id keeps only {common} bytes of the original as a prefix: {got:?}"
        ));
    }
    Ok(())
}

/// Split NDJSON into lines, insisting that every line (the last too) ends in `\n`.
pub fn ndjson_lines(ndjson: &[u8]) -> Result<Vec<Json>, String> {
    if ndjson.is_empty() {
        return Ok(Vec::new());
    }
    if !ndjson.ends_with(b"\n") {
        return Err("NDJSON does not end in a newline".into());
    }
    let body = &ndjson[..ndjson.len() - 1];
    body.split(|&b| b == b'\n')
        .enumerate()
        .map(|(n, line)| {
            json::parse_bytes(line).map_err(|e| {
                format!(
                    "line {n} is not strict JSON ({e}): {}",
                    String::from_utf8_lossy(line)
                )
            })
        })
        .collect()
}

/// The NDJSON holds exactly these items, in this order.
pub fn check_ndjson(items: &[&Item], ndjson: &[u8]) -> Result<(), String> {
    let lines = ndjson_lines(ndjson)?;
    let mut lines = lines.iter();
    for (n, want) in items.iter().enumerate() {
        let action = lines.next().ok_or(format!("NDJSON ends before item {n}"))?;
        check_action_line(action, want).map_err(|e| format!("item {n} action line: {e}"))?;
        if want.kind == Kind::Index {
            let doc = lines
                .next()
                .ok_or(format!("NDJSON ends before item {n}'s document"))?;
            let want_doc = want.doc.as_ref().expect("index items have documents");
            matches(want_doc, doc, "").map_err(|e| format!("item {n} document: {e}"))?;
        }
    }
    if let Some(extra) = lines.next() {
        return Err(format!("extra NDJSON line: {extra:?}"));
    }
    Ok(())
}

/// `{"index":{"_index":..,"_id":..,"version":..,"version_type":"external_gte","routing":..}}`
/// with exactly the members that apply.
pub fn check_action_line(line: &Json, want: &Item) -> Result<(), String> {
    let verb = match want.kind {
        Kind::Index => "index",
        Kind::Delete => "delete",
    };
    let Some([(name, meta)]) = line.as_object() else {
        return Err(format!("not a one-member object: {line:?}"));
    };
    if name != verb {
        return Err(format!("action {name:?}, expected {verb:?}"));
    }
    let meta = meta.as_object().ok_or("metadata is not an object")?;
    let mut want_keys = vec!["_index", "_id"];
    if want.version.is_some() {
        want_keys.extend(["version", "version_type"]);
    }
    if want.routing.is_some() {
        want_keys.push("routing");
    }
    let mut got_keys: Vec<&str> = meta.iter().map(|(k, _)| k.as_str()).collect();
    got_keys.sort();
    want_keys.sort();
    if got_keys != want_keys {
        return Err(format!("members {got_keys:?}, expected {want_keys:?}"));
    }
    let get = |k: &str| &meta.iter().find(|(n, _)| n == k).unwrap().1;
    check_index(
        get("_index").as_str().ok_or("_index is not a string")?,
        want,
    )?;
    check_id(get("_id").as_str().ok_or("_id is not a string")?, &want.id)?;
    if let Some(v) = want.version {
        let got = match get("version") {
            Json::Number(t) => number::parse_json(t),
            _ => None,
        };
        if got != number::parse_json(&v.to_string()) {
            return Err(format!("version {:?}, expected {v}", get("version")));
        }
        if get("version_type").as_str() != Some("external_gte") {
            return Err(format!("version_type {:?}", get("version_type")));
        }
    }
    if let Some(r) = &want.routing
        && get("routing").as_str() != Some(r.as_str())
    {
        return Err(format!("routing {:?}, expected {r:?}", get("routing")));
    }
    Ok(())
}

/// Does the crate's JSON equal the expectation? Numbers compare as exact decimals; objects compare
/// as sets of members and must not repeat a name.
pub fn matches(want: &Expect, got: &Json, path: &str) -> Result<(), String> {
    let fail = || Err(format!("at {path:?}: expected {want:?}, got {got:?}"));
    match (want, got) {
        (Expect::Null, Json::Null) => Ok(()),
        (Expect::Bool(a), Json::Bool(b)) if a == b => Ok(()),
        (Expect::Number(d), Json::Number(t)) => match number::parse_json(t) {
            Some(g) if &g == d => Ok(()),
            _ => fail(),
        },
        (Expect::NumberText(d), Json::String(t)) => match number::parse_lenient(t) {
            Some(g) if &g == d => Ok(()),
            _ => fail(),
        },
        (Expect::String(a), Json::String(b)) if a == b => Ok(()),
        (Expect::Array(a), Json::Array(b)) => {
            if a.len() != b.len() {
                return fail();
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                matches(x, y, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Expect::Object(a), Json::Object(b)) => {
            for (i, (k, _)) in b.iter().enumerate() {
                if b[..i].iter().any(|(k2, _)| k2 == k) {
                    return Err(format!("at {path:?}: member {k:?} appears twice"));
                }
            }
            let mut want_names: Vec<&String> = a.iter().map(|(k, _)| k).collect();
            let mut got_names: Vec<&String> = b.iter().map(|(k, _)| k).collect();
            want_names.sort();
            got_names.sort();
            if want_names != got_names {
                return Err(format!(
                    "at {path:?}: members {got_names:?}, expected {want_names:?}"
                ));
            }
            for (k, x) in a {
                let y = &b.iter().find(|(k2, _)| k2 == k).unwrap().1;
                matches(x, y, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        _ => fail(),
    }
}

/// Exact decimal of a JSON number text, for tests that look at single values.
pub fn decimal(text: &str) -> Decimal {
    number::parse_lenient(text).expect("a number")
}
