//! Documents the server refuses: mapping conflicts, metadata and Lucene field names, odd names.

use std::collections::BTreeSet;
use std::io::Write;

use stream2search_testkit::{OpenSearch, TestIndex};

use crate::bulk::*;

#[test]
fn mapping_conflicts_are_400_mapper_parsing_exception_per_item() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("mapper-parsing");
    index.create(serde_json::json!({
        "mappings": {"properties": {"k": {"type": "keyword"}, "n": {"type": "long"}}}
    }));
    let digits38 = "12345678901234567890123456789012345678";
    let bulk = Bulk::default()
        .index(
            index.name(),
            "object-into-keyword",
            Some(VERSION),
            r#"{"k":{"x":1}}"#,
        )
        .index(
            index.name(),
            "38-digits-into-long",
            Some(VERSION),
            &format!(r#"{{"n":{digits38}}}"#),
        )
        .index(
            index.name(),
            "38-digits-into-new-field",
            Some(VERSION),
            &format!(r#"{{"big":{digits38}}}"#),
        )
        .index(
            index.name(),
            "1e300-into-new-field",
            Some(VERSION),
            r#"{"huge":1.5e300}"#,
        )
        .index(index.name(), "fine", Some(VERSION), r#"{"k":"x","n":1}"#);
    let response = bulk.send(&os);

    let parse = err(400, "mapper_parsing_exception");
    assert_eq!(
        items(&bulk, &response),
        [parse.clone(), parse.clone(), parse.clone(), parse, ok(201)]
    );
    bulk.record(
        &os,
        "mapper_parsing",
        "Index with mappings k: keyword, n: long. Items: an object into k; a 38-digit integer \
         into n (caused_by input_coercion_exception, out of range of long); a 38-digit integer \
         into an unmapped field (dynamic mapping makes it a long: same failure); 1.5e300 into an \
         unmapped field (dynamic mapping makes it a float: Infinity, rejected); a valid document. \
         Each bad item is 400 mapper_parsing_exception on its own; the valid one is 201.",
        &response,
    );
}

/// Top-level field names OpenSearch (2.19.1 and 3.8.0) refuses inside a document, each with 400
/// mapper_parsing_exception ("... is a metadata field and cannot be added inside a document").
const REJECTED_METADATA_NAMES: [&str; 12] = [
    "_data_stream_timestamp",
    "_doc_count",
    "_feature",
    "_field_names",
    "_id",
    "_ignored",
    "_index",
    "_nested_path",
    "_routing",
    "_seq_no",
    "_source",
    "_version",
];

/// Every `_` name that a metadata mapper of OpenSearch (or of Elasticsearch, old or new) uses,
/// and a few more; [`POISON_NAMES`] have a probe of their own (they break the index).
const CANDIDATE_NAMES: [&str; 30] = [
    "_id",
    "_index",
    "_source",
    "_routing",
    "_version",
    "_seq_no",
    "_field_names",
    "_ignored",
    "_type",
    "_nested_path",
    "_data_stream_timestamp",
    "_doc_count",
    "_feature",
    "_parent_join",
    "_size",
    "_tier",
    "_meta",
    "_all",
    "_uid",
    "_parent",
    "_timestamp",
    "_ttl",
    "_recovery_source",
    "_soft_deletes",
    "_doc",
    "_score",
    "_ignored_source",
    "_tsid",
    "_custom",
    "_",
];

#[test]
fn metadata_field_names_inside_a_document_are_rejected_per_item() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("metadata-names");
    let mut bulk = Bulk::default();
    for name in CANDIDATE_NAMES {
        bulk = bulk.index(
            index.name(),
            name,
            Some(VERSION),
            &format!(r#"{{"{name}":"x"}}"#),
        );
    }
    let extra = [
        ("nested-id", r#"{"o":{"_id":"x"}}"#),
        ("dotted-id", r#"{"_id.x":"x"}"#),
    ];
    for (id, doc) in extra {
        bulk = bulk.index(index.name(), id, Some(VERSION), doc);
    }
    let response = bulk.send(&os);
    let items = items(&bulk, &response);

    let rejected: BTreeSet<&str> = CANDIDATE_NAMES
        .iter()
        .zip(&items)
        .filter(|(_, (status, _))| *status != 201)
        .map(|(name, _)| *name)
        .collect();
    // Straight to the stderr handle, so the list shows even though the test passes.
    let _ = writeln!(
        std::io::stderr(),
        "OpenSearch {} rejects these top-level field names: {rejected:?}",
        os.version()
    );
    for (name, item) in CANDIDATE_NAMES.iter().zip(&items) {
        let expected = if REJECTED_METADATA_NAMES.contains(name) {
            err(400, "mapper_parsing_exception")
        } else {
            ok(201)
        };
        assert_eq!(item, &expected, "field {name}");
    }
    let n = CANDIDATE_NAMES.len();
    assert_eq!(
        items[n],
        ok(201),
        "a metadata name below the top level is fine"
    );
    assert_eq!(items[n + 1], err(400, "mapper_parsing_exception"));
    bulk.record(
        &os,
        "metadata_field",
        &format!(
            "One index action per candidate name, each document {{\"<name>\":\"x\"}}. Rejected, \
             each with item 400 mapper_parsing_exception (caused_by: \"Field [<name>] is a \
             metadata field and cannot be added inside a document\"): {}. Accepted (201) as \
             ordinary fields: every other name here, including _type, _size, _tier, _meta, \
             _all, _uid, _parent. Not in this request: _primary_term, _tombstone and \
             __soft_deletes, which are accepted and then break the index (see \
             metadata_field_poison). A metadata name below the \
             top level ({{\"o\":{{\"_id\":\"x\"}}}}) is fine; a dotted top-level name starting \
             with one (\"_id.x\") is rejected too.",
            REJECTED_METADATA_NAMES.join(" ")
        ),
        &response,
    );
}

/// Field names of the engine's own Lucene fields, which no metadata mapper guards: a document
/// carrying one at the top level is accepted, and then every write to its index fails.
const POISON_NAMES: [&str; 3] = ["_primary_term", "_tombstone", "__soft_deletes"];

#[test]
fn lucene_field_names_are_accepted_and_then_break_every_write_to_the_index() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let indices: Vec<TestIndex> = POISON_NAMES.iter().map(|name| os.index(name)).collect();
    let mut first = Bulk::default();
    for (index, name) in indices.iter().zip(POISON_NAMES) {
        first = first.index(
            index.name(),
            "a",
            Some(VERSION),
            &format!(r#"{{"{name}":"x"}}"#),
        );
    }
    assert_eq!(items(&first, &first.send(&os)), [ok(201), ok(201), ok(201)]);
    for index in &indices {
        index.refresh(); // on 3.8 _primary_term breaks the index once its segment is refreshed
    }
    let mut bulk = Bulk::default();
    for index in &indices {
        bulk = bulk
            .index(index.name(), "b", Some(VERSION), r#"{"a":1}"#)
            .delete(index.name(), "missing", Some(VERSION));
    }
    let response = bulk.send(&os);

    let broken = err(400, "illegal_argument_exception");
    assert_eq!(items(&bulk, &response), vec![broken; 6]);
    bulk.record(
        &os,
        "metadata_field_poison",
        &format!(
            "First, one document per index with a single top-level field named {}, one name \
             per index: each is accepted (201; dynamic mapping adds an ordinary field under a \
             name the engine uses for its own Lucene field). Then this request: an ordinary \
             index and a delete of a missing id for each of those indices, sent after a refresh. \
             Every item gets 400 illegal_argument_exception (\"Inconsistency of field data \
             structures across documents for field [...]\" or \"cannot change field ...\"): \
             the shard fails on every write from now on, and deleting the index is the only way \
             out. (On 3.8, writes to a _primary_term index still succeed until its first \
             segment is refreshed, about a second later by default; on 2.19 they fail at once.) \
             The core must never send these names at the top level of a document.",
            POISON_NAMES.join(", ")
        ),
        &response,
    );
}

#[test]
fn empty_and_badly_dotted_field_names_are_rejected_per_item_with_400() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    // Each document into an index of its own, so that no mapping from one affects another.
    let cases = [
        (r#"{"":1}"#, err(400, "mapper_parsing_exception")),
        (r#"{"o":{"":1}}"#, err(400, "mapper_parsing_exception")),
        (r#"{".":1}"#, err(400, "mapper_parsing_exception")),
        (r#"{"a..b":1}"#, err(400, "mapper_parsing_exception")),
        (r#"{".a":1}"#, err(400, "mapper_parsing_exception")),
        (r#"{"x":1,"x.y":2}"#, err(400, "illegal_argument_exception")),
        (r#"{"a.":1}"#, ok(201)),
        (r#"{" ":1}"#, ok(201)),
        (r#"{"a.b":1}"#, ok(201)),
    ];
    let indices: Vec<TestIndex> = cases.iter().map(|_| os.index("field-names")).collect();
    let mut bulk = Bulk::default();
    for (index, (doc, _)) in indices.iter().zip(&cases) {
        bulk = bulk.index(index.name(), "k", Some(VERSION), doc);
    }
    let response = bulk.send(&os);

    let expected: Vec<_> = cases.iter().map(|(_, item)| item.clone()).collect();
    assert_eq!(items(&bulk, &response), expected);
    bulk.record(
        &os,
        "field_name",
        "One document per index. Rejected per item with 400 mapper_parsing_exception \
         (caused_by illegal_argument_exception): an empty field name, also inside an object \
         (\"field name cannot be an empty string\"); a name that is only dots; a name with an \
         empty segment between or before dots (\"a..b\", \".a\": \"object field starting or \
         ending with a [.] makes object resolution ambiguous\"). {\"x\":1,\"x.y\":2} fails \
         with 400 illegal_argument_exception (\"can't merge a non object mapping [x] with an \
         object mapping\"): a dotted name is an object path. Accepted: \"a.\" (as field a), \
         \" \", \"a.b\" (as object a with field b).",
        &response,
    );
}

#[test]
fn a_malformed_document_is_rejected_per_item_with_400() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("malformed-document");
    let bulk = Bulk::default()
        .index(index.name(), "fine", Some(VERSION), r#"{"a":1}"#)
        .index(index.name(), "bad", Some(VERSION), r#"{"a":"#);
    let response = bulk.send(&os);

    assert_eq!(
        items(&bulk, &response),
        [ok(201), err(400, "mapper_parsing_exception")]
    );
    bulk.record(
        &os,
        "malformed_document",
        "A valid item and an item whose source line is truncated JSON: only that item fails, \
         400 mapper_parsing_exception (caused_by json_e_o_f_exception).",
        &response,
    );
}

#[test]
fn an_invalid_index_name_is_rejected_per_item_with_400() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("invalid-name");
    let bulk = Bulk::default()
        .index(index.name(), "fine", Some(VERSION), r#"{"a":1}"#)
        .index(&format!("{index}-UPPER"), "k", Some(VERSION), r#"{"a":1}"#);
    let response = bulk.send(&os);

    assert_eq!(
        items(&bulk, &response),
        [ok(201), err(400, "invalid_index_name_exception")]
    );
    bulk.record(
        &os,
        "invalid_index_name",
        "A valid item and an item for an index name with upper-case letters (as a templated \
         index name could produce): only that item fails, 400 invalid_index_name_exception.",
        &response,
    );
}

/// A document that would take the mapping past `index.mapping.total_fields.limit` is refused
/// alone (400 illegal_argument_exception); a document within the mapping still goes in.
/// Multi-fields do not count towards the limit (probed: 1,000 top-level text fields with two
/// sub-fields each fit under the default 1,000), top-level fields do.
#[test]
fn a_document_past_the_field_limit_is_400_illegal_argument_per_item() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("field-limit");
    index.create(serde_json::json!({
        "settings": {"index.mapping.total_fields.limit": 5},
        "mappings": {"properties": {"a": {"type": "keyword"}}}
    }));
    let wide = format!(
        "{{{}}}",
        (0..6)
            .map(|i| format!("\"f{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let bulk = Bulk::default()
        .index(index.name(), "too-wide", Some(VERSION), &wide)
        .index(index.name(), "fits", Some(VERSION), r#"{"a":"x"}"#);
    let response = bulk.send(&os);
    assert_eq!(
        items(&bulk, &response),
        [err(400, "illegal_argument_exception"), ok(201)]
    );
    assert!(
        response
            .text()
            .contains("Limit of total fields [5] has been exceeded"),
        "{}",
        response.text()
    );
    bulk.record(
        &os,
        "field_limit",
        "Index with index.mapping.total_fields.limit 5 and one field a: keyword. Items: a \
         document with six new fields (400 illegal_argument_exception, \"Limit of total fields \
         [5] has been exceeded\"); a document within the mapping (201).",
        &response,
    );
}
