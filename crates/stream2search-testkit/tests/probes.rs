//! Probes: how a real OpenSearch answers the bulk requests the core sends.
//!
//! Each probe sends one bulk request shaped like the core's (external_gte versions,
//! `floor(secs) * 1_000_000`), asserts the facts the core's classifier relies on (HTTP status,
//! per-item statuses and error types) and, with `STREAM2SEARCH_RECORD_FIXTURES=1`, records the
//! exact response as `crates/stream2search/tests/fixtures/opensearch/<rule>.json`.
//! `docs/opensearch.md` summarizes what they established.

use std::collections::BTreeSet;
use std::io::Write;

use stream2search_testkit::fixture::Fixture;
use stream2search_testkit::{OpenSearch, Response, TestIndex, http};

/// A version as the core computes it: `floor(secs) * 1_000_000` (2023-11-14T22:13:20Z).
const VERSION: u64 = 1_700_000_000_000_000;
/// One second before [`VERSION`].
const OLDER: u64 = VERSION - 1_000_000;
/// One second after [`VERSION`].
const NEWER: u64 = VERSION + 1_000_000;

/// A bulk request body built line by line, remembering each item's action.
#[derive(Default)]
struct Bulk {
    ndjson: String,
    actions: Vec<&'static str>,
}

impl Bulk {
    fn index(mut self, index: &str, id: &str, version: Option<u64>, doc: &str) -> Bulk {
        self.action("index", index, id, version);
        self.ndjson.push_str(doc);
        self.ndjson.push('\n');
        self
    }

    fn delete(mut self, index: &str, id: &str, version: Option<u64>) -> Bulk {
        self.action("delete", index, id, version);
        self
    }

    fn action(&mut self, action: &'static str, index: &str, id: &str, version: Option<u64>) {
        let version = version
            .map(|v| format!(r#","version":{v},"version_type":"external_gte""#))
            .unwrap_or_default();
        self.ndjson.push_str(&format!(
            r#"{{"{action}":{{"_index":"{index}","_id":"{id}"{version}}}}}"#
        ));
        self.ndjson.push('\n');
        self.actions.push(action);
    }

    fn send(&self, opensearch: &OpenSearch) -> Response {
        opensearch.bulk(self.ndjson.as_bytes())
    }

    fn record(&self, opensearch: &OpenSearch, rule: &str, note: &str, response: &Response) {
        self.record_as(opensearch, rule, note, &self.ndjson, response);
    }

    fn record_as(
        &self,
        opensearch: &OpenSearch,
        rule: &str,
        note: &str,
        request: &str,
        response: &Response,
    ) {
        Fixture::new(
            opensearch,
            rule,
            note,
            request.as_bytes(),
            &self.actions,
            response,
        )
        .record();
    }
}

/// The `(status, error type)` of each item of a 200 bulk response, checked to be as many as
/// the actions sent and each under the action sent.
fn items(bulk: &Bulk, response: &Response) -> Vec<(u64, Option<String>)> {
    assert_eq!(response.status, 200, "bulk failed: {}", response.text());
    let json = response.json();
    let items = json["items"].as_array().expect("items");
    assert_eq!(items.len(), bulk.actions.len(), "{}", response.text());
    items
        .iter()
        .zip(&bulk.actions)
        .map(|(item, action)| {
            let item = &item[*action];
            let status = item["status"].as_u64().expect("item status");
            let error = item["error"]["type"].as_str().map(String::from);
            (status, error)
        })
        .collect()
}

fn ok(status: u64) -> (u64, Option<String>) {
    (status, None)
}

fn err(status: u64, kind: &str) -> (u64, Option<String>) {
    (status, Some(kind.to_string()))
}

/// The top-level `error.type` of a whole-request failure.
fn request_error(response: &Response) -> String {
    response.json()["error"]["type"]
        .as_str()
        .expect("error.type")
        .to_string()
}

fn result_of(response: &Response, n: usize, action: &str) -> String {
    response.json()["items"][n][action]["result"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Writes `doc` as `id` at `version` and checks it was stored.
fn seed(opensearch: &OpenSearch, index: &TestIndex, id: &str, version: u64) {
    let bulk = Bulk::default().index(index.name(), id, Some(version), r#"{"a":1}"#);
    let response = bulk.send(opensearch);
    assert_eq!(items(&bulk, &response), [ok(201)], "{}", response.text());
}

#[test]
fn index_creates_then_updates_including_at_the_same_version() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("indexed");
    seed(&os, &index, "old", VERSION);
    seed(&os, &index, "same", VERSION);
    let bulk = Bulk::default()
        .index(index.name(), "new", Some(VERSION), r#"{"a":1}"#)
        .index(index.name(), "old", Some(NEWER), r#"{"a":2}"#)
        .index(index.name(), "same", Some(VERSION), r#"{"a":3}"#);
    let response = bulk.send(&os);

    assert_eq!(items(&bulk, &response), [ok(201), ok(200), ok(200)]);
    assert_eq!(response.json()["errors"], false);
    let results: Vec<_> = (0..3).map(|n| result_of(&response, n, "index")).collect();
    assert_eq!(results, ["created", "updated", "updated"]);
    bulk.record(
        &os,
        "indexed",
        "Three external_gte index actions: a new id (201 created), an existing id at a newer \
         version (200 updated), an existing id at the same version (200 updated: external_gte \
         accepts an equal version, so a replayed record is indexed again, not a conflict).",
        &response,
    );
}

#[test]
fn delete_of_an_existing_document_is_200_deleted() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("deleted");
    seed(&os, &index, "k", VERSION);
    let bulk = Bulk::default().delete(index.name(), "k", Some(NEWER));
    let response = bulk.send(&os);

    assert_eq!(items(&bulk, &response), [ok(200)]);
    assert_eq!(result_of(&response, 0, "delete"), "deleted");
    bulk.record(
        &os,
        "deleted",
        "An external_gte delete, newer than the stored document: 200, result deleted.",
        &response,
    );
}

#[test]
fn delete_of_a_missing_document_is_404_not_found_and_leaves_a_tombstone() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("delete-missing");
    seed(&os, &index, "other", VERSION); // the index exists; this id never did
    let bulk = Bulk::default().delete(index.name(), "k", Some(VERSION));
    let response = bulk.send(&os);

    assert_eq!(items(&bulk, &response), [ok(404)]);
    assert_eq!(result_of(&response, 0, "delete"), "not_found");
    assert_eq!(response.json()["errors"], false, "a 404 delete is no error");
    let older = Bulk::default().index(index.name(), "k", Some(OLDER), r#"{"a":1}"#);
    let after = older.send(&os);
    assert_eq!(
        items(&older, &after),
        [err(409, "version_conflict_engine_exception")],
        "the versioned delete of a missing id still records its version"
    );
    bulk.record(
        &os,
        "delete_missing",
        "An external_gte delete of an id that does not exist (the index does): item status 404, \
         result not_found, no error object, and \"errors\":false. The version is still \
         recorded as a delete tombstone: an older index of the same id right after it gets 409.",
        &response,
    );
}

#[test]
fn older_index_is_a_409_version_conflict() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("stale-index");
    seed(&os, &index, "k", VERSION);
    let bulk = Bulk::default().index(index.name(), "k", Some(OLDER), r#"{"a":0}"#);
    let response = bulk.send(&os);

    assert_eq!(
        items(&bulk, &response),
        [err(409, "version_conflict_engine_exception")]
    );
    bulk.record(
        &os,
        "stale_index",
        "An external_gte index one second older than the stored version: item 409 \
         version_conflict_engine_exception (the stored document is newer; nothing changes).",
        &response,
    );
}

#[test]
fn older_delete_is_a_409_version_conflict() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("stale-delete");
    seed(&os, &index, "k", VERSION);
    let bulk = Bulk::default().delete(index.name(), "k", Some(OLDER));
    let response = bulk.send(&os);

    assert_eq!(
        items(&bulk, &response),
        [err(409, "version_conflict_engine_exception")]
    );
    assert_eq!(index.get_doc("k").status, 200, "the document survives");
    bulk.record(
        &os,
        "stale_delete",
        "An external_gte delete one second older than the stored version: item 409 \
         version_conflict_engine_exception; the document stays.",
        &response,
    );
}

#[test]
fn versioned_delete_blocks_an_older_index_only_until_gc_deletes_expires() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("gc-deletes");
    seed(&os, &index, "k", OLDER);
    let delete = Bulk::default().delete(index.name(), "k", Some(NEWER));
    assert_eq!(items(&delete, &delete.send(&os)), [ok(200)]);

    // Inside index.gc_deletes (default 60s): the tombstone wins.
    let older = Bulk::default().index(index.name(), "k", Some(VERSION), r#"{"a":2}"#);
    let inside = older.send(&os);
    assert_eq!(
        items(&older, &inside),
        [err(409, "version_conflict_engine_exception")]
    );
    older.record(
        &os,
        "stale_index_after_delete",
        "Index at version V after a delete at V+1s, inside index.gc_deletes (default 60s): item \
         409 version_conflict_engine_exception, the deleted document stays deleted.",
        &inside,
    );

    // After it: the engine forgets the tombstone (pruned on refresh) and the older index
    // resurrects the document.
    index.put_settings(serde_json::json!({"index.gc_deletes": "0s"}));
    let mut after = None;
    for _ in 0..40 {
        index.refresh();
        let response = older.send(&os);
        if items(&older, &response)[0].0 != 409 {
            after = Some(response);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let after = after.expect("the tombstone was never pruned after gc_deletes was set to 0s");
    assert_eq!(items(&older, &after), [ok(201)]);
    assert_eq!(result_of(&after, 0, "index"), "created");
    assert_eq!(
        index.get_doc("k").status,
        200,
        "the deleted document is back"
    );
    older.record(
        &os,
        "older_index_after_gc_deletes",
        "The same index at version V after a delete at V+1s, once index.gc_deletes has expired \
         (set to 0s here, then a refresh prunes the tombstone): item 201 created. The delete is \
         forgotten and the OLDER document comes back: versioning protects a delete only for \
         gc_deletes (default 60s).",
        &after,
    );
}

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

/// Top-level field names OpenSearch 2.19 refuses inside a document, each with 400
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
fn an_id_over_512_bytes_fails_the_whole_request_with_400() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("long-id");
    let exactly_512 = Bulk::default().index(index.name(), &"a".repeat(512), None, "{}");
    assert_eq!(items(&exactly_512, &exactly_512.send(&os)), [ok(201)]);
    let bulk = Bulk::default()
        .index(index.name(), "fine", Some(VERSION), r#"{"a":1}"#)
        .index(index.name(), &"b".repeat(513), Some(VERSION), r#"{"a":1}"#);
    let response = bulk.send(&os);

    assert_eq!(response.status, 400);
    assert_eq!(
        request_error(&response),
        "action_request_validation_exception"
    );
    assert_eq!(index.get_doc("fine").status, 404, "nothing was written");
    bulk.record(
        &os,
        "id_too_long",
        "A valid item followed by an item whose _id is 513 bytes (512 is accepted): the WHOLE \
         request fails with HTTP 400 action_request_validation_exception and nothing is \
         written, not even the valid item. The core must keep such ids out of a bulk request.",
        &response,
    );
}

#[test]
fn a_malformed_action_line_fails_the_whole_request_with_400() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("malformed-action");
    // A delete followed by a source line: the source line is read as the next action.
    let mut bulk = Bulk::default()
        .index(index.name(), "fine", Some(VERSION), r#"{"a":1}"#)
        .delete(index.name(), "k", Some(VERSION));
    bulk.ndjson.push_str("{\"a\":1}\n");
    let response = bulk.send(&os);

    assert_eq!(response.status, 400);
    assert_eq!(request_error(&response), "illegal_argument_exception");
    let not_json =
        format!("{{\"index\":{{\"_index\":\"{index}\",\"_id\":\"k\"}}}}\n{{}}\nnot json\n{{}}\n");
    let garbage = os.bulk(not_json.as_bytes());
    assert_eq!(garbage.status, 400);
    assert_eq!(request_error(&garbage), "json_parse_exception");
    assert_eq!(index.get_doc("fine").status, 404, "nothing was written");
    bulk.record(
        &os,
        "malformed_action",
        "An index item, then a delete followed by a stray source line, which the server reads \
         as the next action line: the WHOLE request fails with HTTP 400 \
         illegal_argument_exception \"Malformed action/metadata line [4] ...\" and nothing is \
         written. (An action line that is not JSON gives HTTP 400 json_parse_exception; an \
         unknown action name gives 400 illegal_argument_exception.)",
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

#[test]
fn a_gzip_request_body_is_accepted() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("gzip");
    let bulk = Bulk::default()
        .index(index.name(), "k", Some(VERSION), r#"{"a":1}"#)
        .delete(index.name(), "missing", Some(VERSION));
    let response = os.request(
        "POST",
        "/_bulk",
        &[
            ("Content-Type", "application/x-ndjson"),
            ("Content-Encoding", "gzip"),
        ],
        &http::gzip(bulk.ndjson.as_bytes()),
    );

    assert_eq!(items(&bulk, &response), [ok(201), ok(404)]);
    bulk.record(
        &os,
        "gzip_request",
        "The request body (shown uncompressed) was sent gzip-compressed with Content-Encoding: \
         gzip: accepted, answered as usual (uncompressed, since no Accept-Encoding was sent).",
        &response,
    );
}

#[test]
fn a_write_blocked_index_rejects_each_of_its_items_with_403() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let blocked = os.index("write-blocked");
    let open = os.index("write-open");
    seed(&os, &blocked, "k", VERSION);
    blocked.put_settings(serde_json::json!({"index.blocks.write": true}));
    let bulk = Bulk::default()
        .index(blocked.name(), "k", Some(NEWER), r#"{"a":2}"#)
        .delete(blocked.name(), "k", Some(NEWER))
        .index(open.name(), "k", Some(VERSION), r#"{"a":1}"#);
    let response = bulk.send(&os);

    let block = err(403, "cluster_block_exception");
    assert_eq!(items(&bulk, &response), [block.clone(), block, ok(201)]);
    bulk.record(
        &os,
        "write_blocked",
        "index.blocks.write=true on the first index: its index and delete items each get 403 \
         cluster_block_exception \"blocked by: [FORBIDDEN/8/index write (api)]\" inside a 200 \
         response; the item for another index succeeds. A block that an operator set: it \
         stays until someone lifts it.",
        &response,
    );
}

#[test]
fn a_flood_stage_read_only_allow_delete_block_rejects_each_item_with_429() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("flood-stage");
    seed(&os, &index, "k", VERSION);
    index.put_settings(serde_json::json!({"index.blocks.read_only_allow_delete": true}));
    let bulk = Bulk::default()
        .index(index.name(), "k", Some(NEWER), r#"{"a":2}"#)
        .delete(index.name(), "k", Some(NEWER));
    let response = bulk.send(&os);

    let block = err(429, "cluster_block_exception");
    assert_eq!(items(&bulk, &response), [block.clone(), block]);
    bulk.record(
        &os,
        "flood_stage_blocked",
        "index.blocks.read_only_allow_delete=true, the block OpenSearch sets itself when a disk \
         passes the flood-stage watermark: index AND delete items each get 429 \
         cluster_block_exception \"blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded \
         flood-stage watermark, ...]\" inside a 200 response (\"allow delete\" means deleting \
         the index, not documents). Retryable: the server lifts it when disk frees up.",
        &response,
    );
}

#[test]
fn a_body_over_http_max_content_length_is_413_with_an_empty_body() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("too-large");
    // dev/opensearch sets http.max_content_length=10mb; send eleven 1 MiB documents.
    let doc = format!(r#"{{"a":"{}"}}"#, "x".repeat(1 << 20));
    let mut bulk = Bulk::default();
    for n in 0..11 {
        bulk = bulk.index(index.name(), &n.to_string(), Some(VERSION), &doc);
    }
    let response = bulk.send(&os);

    assert_eq!(response.status, 413);
    assert!(response.body.is_empty(), "{:?}", response.text());
    let compressed = os.request(
        "POST",
        "/_bulk",
        &[
            ("Content-Type", "application/x-ndjson"),
            ("Content-Encoding", "gzip"),
        ],
        &http::gzip(bulk.ndjson.as_bytes()),
    );
    assert_eq!(
        compressed.status, 413,
        "the limit applies after decompression"
    );
    let first_item: String = bulk.ndjson.lines().next().unwrap_or_default().to_string();
    bulk.record_as(
        &os,
        "too_large",
        &format!(
            "Eleven index actions with a 1 MiB document each ({} bytes) to a node with \
             http.max_content_length=10mb: HTTP 413 with an EMPTY body (no JSON), nothing \
             written. The same body gzip-compressed to a few KiB is also 413: the limit applies \
             to the decompressed size. The request field is abbreviated: it shows the first \
             action line only.",
            bulk.ndjson.len()
        ),
        &format!("{first_item}\n"),
        &response,
    );
}

#[test]
fn a_full_write_queue_rejects_items_with_429_rejected_execution_exception() {
    let Some(os) = OpenSearch::constrained_from_env() else {
        return;
    };
    let index = os.index("write-queue");
    // Eight shards: one bulk request becomes eight shard-level write tasks at once, for a
    // write thread pool of one thread and a queue of one.
    index.create(serde_json::json!({
        "settings": {"number_of_shards": 8, "number_of_replicas": 0}
    }));
    let mut bulk = Bulk::default();
    for n in 0..32 {
        bulk = bulk.index(index.name(), &format!("k{n}"), Some(VERSION), r#"{"a":1}"#);
    }
    let rejected = (0..20)
        .map(|_| bulk.send(&os))
        .find(|response| items(&bulk, response).iter().any(|item| item.0 == 429));
    let response = rejected.expect("no item was rejected in 20 requests");

    for item in items(&bulk, &response) {
        assert!(
            item == err(429, "rejected_execution_exception") || item.1.is_none(),
            "{item:?}"
        );
    }
    bulk.record(
        &os,
        "rejected_execution_item",
        "32 index actions over an 8-shard index on a node whose write thread pool has 1 thread \
         and a queue of 1: the response is 200 with \"errors\":true; the items of shards whose \
         write task found the queue full get 429 rejected_execution_exception (NOT \
         es_rejected_execution_exception: OpenSearch names it without the es_ prefix); the \
         others succeed (201, or 200 on a repeated attempt).",
        &response,
    );
}

#[test]
fn indexing_pressure_rejects_the_whole_request_with_429() {
    let Some(os) = OpenSearch::constrained_from_env() else {
        return;
    };
    let index = os.index("indexing-pressure");
    // The constrained node sets indexing_pressure.memory.limit=1mb; send about 1.2 MiB.
    let doc = format!(r#"{{"a":"{}"}}"#, "x".repeat(100 << 10));
    let mut bulk = Bulk::default();
    for n in 0..12 {
        bulk = bulk.index(index.name(), &n.to_string(), Some(VERSION), &doc);
    }
    let response = bulk.send(&os);

    assert_eq!(response.status, 429);
    assert_eq!(request_error(&response), "rejected_execution_exception");
    let first_item: String = bulk.ndjson.lines().next().unwrap_or_default().to_string();
    bulk.record_as(
        &os,
        "rejected_execution_request",
        &format!(
            "Twelve index actions of 100 KiB each ({} bytes) to a node with \
             indexing_pressure.memory.limit=1mb: the WHOLE request is refused with HTTP 429, \
             error.type rejected_execution_exception (\"rejected execution of coordinating \
             operation ...\"), status 429, no items. The request field is abbreviated: it shows \
             the first action line only.",
            bulk.ndjson.len()
        ),
        &format!("{first_item}\n"),
        &response,
    );
}
