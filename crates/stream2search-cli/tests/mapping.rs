//! Probes of what OpenSearch's mapping really does with DynamoDB's values: the facts that the
//! rules of `stream2search index create` rest on (`docs/mapping.md`).
//!
//! Each probe creates an index, sends documents one at a time and asserts each answer. With
//! `STREAM2SEARCH_RECORD_FIXTURES=1` it writes what it sent and what came back to
//! `tests/fixtures/mapping/<finding>.json`; otherwise it also checks the live answers (status
//! and error type per document) against that recording, so a server that changes its mind fails
//! here. Run on OpenSearch 2.19 and 3.8 by `dev/test`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use stream2search_testkit::OpenSearch;

fn fixture_path(finding: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mapping")
        .join(format!("{finding}.json"))
}

fn recording() -> bool {
    std::env::var("STREAM2SEARCH_RECORD_FIXTURES").as_deref() == Ok("1")
}

/// The answer to one document: status and error type (`None` when accepted).
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: u64,
    error: Option<String>,
}

fn ok() -> Answer {
    Answer {
        status: 201,
        error: None,
    }
}

fn refused(kind: &str) -> Answer {
    Answer {
        status: 400,
        error: Some(kind.into()),
    }
}

/// Creates an index with `body`, sends each of `documents` alone and returns the answers.
fn probe(
    opensearch: &OpenSearch,
    purpose: &str,
    body: &Value,
    documents: &[&str],
) -> Vec<(Answer, String)> {
    let index = opensearch.index(purpose);
    let created = opensearch.send_json("PUT", &format!("/{index}"), body);
    assert_eq!(created.status, 200, "{}", created.text());
    documents
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            let r = opensearch.request(
                "PUT",
                &format!("/{index}/_doc/{i}"),
                &[("content-type", "application/json")],
                doc.as_bytes(),
            );
            let json = r.json();
            let answer = Answer {
                status: u64::from(r.status),
                error: json["error"]["type"].as_str().map(String::from),
            };
            let reason = json["error"]["reason"].as_str().unwrap_or("").to_string();
            (answer, reason)
        })
        .collect()
}

/// Asserts `want`, records or compares with the fixture.
fn finding(
    opensearch: &OpenSearch,
    name: &str,
    note: &str,
    body: Value,
    documents: &[&str],
    want: &[Answer],
) {
    let got = probe(opensearch, name, &body, documents);
    let answers: Vec<Answer> = got.iter().map(|(a, _)| a.clone()).collect();
    assert_eq!(
        answers,
        want,
        "{name} on OpenSearch {}: {got:?}",
        opensearch.version()
    );
    let record = json!({
        "opensearch": opensearch.version(),
        "finding": name,
        "note": note,
        "index": body,
        "documents": documents.iter().zip(&got).map(|(doc, (answer, reason))| json!({
            "document": doc,
            "status": answer.status,
            "error": answer.error,
            "reason": reason,
        })).collect::<Vec<_>>(),
    });
    let path = fixture_path(name);
    if recording() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&record).unwrap() + "\n").unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (record with STREAM2SEARCH_RECORD_FIXTURES=1)",
            path.display()
        )
    });
    let recorded: Value = serde_json::from_str(&text).unwrap();
    let shape = |v: &Value| -> Vec<(Value, Value, Value)> {
        v["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["document"].clone(),
                    d["status"].clone(),
                    d["error"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        shape(&record),
        shape(&recorded),
        "{name}: the live answers differ from {}",
        path.display()
    );
    assert_eq!(
        record["index"], recorded["index"],
        "{name}: the probe changed; record again"
    );
}

/// Values of every class a DynamoDB attribute can hold, as the core writes them.
const VALUES: [&str; 14] = [
    r#"{"x":{"m":1}}"#,
    r#"{"x":"abc"}"#,
    r#"{"x":1E+125}"#,
    r#"{"x":1E-130}"#,
    r#"{"x":-0}"#,
    r#"{"x":12345678901234567890123456789012345678}"#,
    r#"{"x":true}"#,
    r#"{"x":null}"#,
    r#"{"x":[1,"a",{"m":1},[2],null,false]}"#,
    r#"{"x":[]}"#,
    r#"{"x":{}}"#,
    r#"{"x":"iVBORw0KGgo="}"#,
    r#"{"x":["a","b"]}"#,
    r#"{"x":[0.5,1,1.5]}"#,
];

fn ignore_malformed(properties: Value) -> Value {
    json!({
        "settings": {"index.mapping.ignore_malformed": true},
        "mappings": {"dynamic": "false", "properties": properties}
    })
}

/// The body `stream2search index create` sends, as `index mapping` prints it.
fn index_create_body() -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["index", "mapping"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn cli_accepts_type(kind: &str) -> bool {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("type-{kind}-{}.json", std::process::id()));
    std::fs::write(
        &path,
        json!({"properties": {"x": {"type": kind}}}).to_string(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["index", "mapping", "--mapping", path.to_str().unwrap()])
        .output()
        .unwrap();
    out.status.success()
}

#[test]
fn every_type_index_create_allows_accepts_every_value_and_every_type_it_refuses_refuses_one() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    // Types index create accepts in a --mapping file must take every value...
    let allowed = [
        "text",
        "match_only_text",
        "keyword",
        "wildcard",
        "search_as_you_type",
        "token_count",
        "long",
        "integer",
        "short",
        "byte",
        "double",
        "float",
        "half_float",
        "unsigned_long",
        "boolean",
        "date",
        "date_nanos",
        "ip",
        "geo_point",
        "flat_object",
    ];
    for kind in allowed {
        assert!(cli_accepts_type(kind), "index create refuses {kind}");
        let mut field = json!({"type": kind});
        if kind == "token_count" {
            field["analyzer"] = json!("standard");
        }
        let got = probe(
            &opensearch,
            &format!("type-{kind}"),
            &ignore_malformed(json!({"x": field})),
            &VALUES,
        );
        for ((answer, reason), doc) in got.iter().zip(VALUES) {
            assert_eq!(*answer, ok(), "{kind} refuses {doc}: {reason}");
        }
    }
    // ... and each type it refuses must refuse something, or the refusal is unfounded.
    for (kind, extra) in [
        ("scaled_float", json!({"scaling_factor": 100})),
        ("binary", json!({})),
        ("completion", json!({})),
        ("integer_range", json!({})),
    ] {
        assert!(!cli_accepts_type(kind), "index create allows {kind}");
        let mut field = extra;
        field["type"] = json!(kind);
        let got = probe(
            &opensearch,
            &format!("type-{kind}"),
            &ignore_malformed(json!({"x": field})),
            &VALUES,
        );
        assert!(
            got.iter().any(|(a, _)| a.status == 400),
            "{kind} accepts every value"
        );
    }
}

#[test]
fn ignore_malformed_covers_a_map_where_a_value_was_mapped() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    finding(
        &opensearch,
        "ignore_malformed_map_into_value",
        "index.mapping.ignore_malformed with fields k: keyword, n: double, b: boolean, t: text. \
         A map, a list holding a map, a string and a number each go into the wrong kind of \
         field: every document is accepted (the value is left out of that field's index).",
        ignore_malformed(json!({
            "k": {"type": "keyword"}, "n": {"type": "double"},
            "b": {"type": "boolean"}, "t": {"type": "text"}
        })),
        &[
            r#"{"k":{"x":1}}"#,
            r#"{"n":{"x":1}}"#,
            r#"{"n":[1,{"x":1}]}"#,
            r#"{"n":"abc"}"#,
            r#"{"b":"maybe"}"#,
            r#"{"b":{"x":1}}"#,
            r#"{"t":{"x":1}}"#,
        ],
        &[ok(), ok(), ok(), ok(), ok(), ok(), ok()],
    );
}

#[test]
fn an_object_refuses_a_value_whatever_ignore_malformed_says() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    finding(
        &opensearch,
        "object_refuses_value",
        "index.mapping.ignore_malformed with d: object {x: long}. A string, a number and a \
         boolean where the object was mapped are refused (400 mapper_parsing_exception, \
         \"object mapping for [d] tried to parse field [d] as object, but found a concrete \
         value\"); a map is accepted. So no attribute may be mapped as an object.",
        ignore_malformed(json!({"d": {"properties": {"x": {"type": "long"}}}})),
        &[
            r#"{"d":"text"}"#,
            r#"{"d":5}"#,
            r#"{"d":true}"#,
            r#"{"d":{"x":1}}"#,
        ],
        &[
            refused("mapper_parsing_exception"),
            refused("mapper_parsing_exception"),
            refused("mapper_parsing_exception"),
            ok(),
        ],
    );
}

#[test]
fn a_list_of_mixed_types_in_a_new_field_needs_one_mapping_for_every_type() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    finding(
        &opensearch,
        "mixed_list_per_type_templates",
        "index.mapping.ignore_malformed, dynamic templates mapping strings to text, numbers to \
         double, objects to flat_object (one mapping per JSON type). A new field whose first \
         value is a list of mixed types is refused: dynamic mapping makes one mapper per type \
         in the same document and cannot merge them (400 illegal_argument_exception, \"mapper \
         [a] cannot be changed from type [double] to [text]\").",
        json!({
            "settings": {"index.mapping.ignore_malformed": true},
            "mappings": {"dynamic_templates": [
                {"objects": {"match_mapping_type": "object", "mapping": {"type": "flat_object"}}},
                {"strings": {"match_mapping_type": "string", "mapping": {"type": "text"}}},
                {"longs": {"match_mapping_type": "long", "mapping": {"type": "double"}}},
                {"doubles": {"match_mapping_type": "double", "mapping": {"type": "double"}}},
                {"booleans": {"match_mapping_type": "boolean", "mapping": {"type": "boolean"}}}
            ]}
        }),
        &[
            r#"{"a":[1,"x"]}"#,
            r#"{"c":[{"z":1},2]}"#,
            r#"{"i":[true,1]}"#,
            r#"{"b":[0.5,1,1.5]}"#,
        ],
        &[
            refused("illegal_argument_exception"),
            refused("illegal_argument_exception"),
            refused("illegal_argument_exception"),
            ok(),
        ],
    );
}

#[test]
fn the_catch_all_takes_every_value_class_in_new_fields_and_across_items() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let body = index_create_body();
    finding(
        &opensearch,
        "catch_all",
        "The body of `stream2search index mapping`: one catch-all mapping for every JSON type \
         (text, with keyword and double sub-fields) under index.mapping.ignore_malformed. Mixed \
         lists in new fields, a map after a string, a string after a map, 38-digit numbers, \
         1E+125, 1E-130, -0, empty maps and lists are all accepted.",
        body,
        &[
            r#"{"a":[1,"x",{"m":1},true,null,[2,[3]]]}"#,
            r#"{"b":{"c":1}}"#,
            r#"{"b":"s"}"#,
            r#"{"e":"s"}"#,
            r#"{"e":{"y":2}}"#,
            r#"{"n":12345678901234567890123456789012345678,"h":1E+125,"t":1E-130,"z":-0}"#,
            r#"{"m":{},"l":[]}"#,
        ],
        &[ok(), ok(), ok(), ok(), ok(), ok(), ok()],
    );
}

#[test]
fn flat_object_takes_values_only_under_ignore_malformed() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    finding(
        &opensearch,
        "flat_object_values",
        "d: flat_object without index.mapping.ignore_malformed. A string or a number where the \
         flat_object was mapped is refused (400 mapper_parsing_exception); with the setting \
         (the index create body) they are accepted, which is why a user may map an attribute \
         as flat_object.",
        json!({"mappings": {"properties": {"d": {"type": "flat_object"}}}}),
        &[r#"{"d":{"x":1}}"#, r#"{"d":"text"}"#, r#"{"d":5}"#],
        &[
            ok(),
            refused("mapper_parsing_exception"),
            refused("mapper_parsing_exception"),
        ],
    );
}

#[test]
fn dotted_attribute_names_are_refused_under_the_catch_all() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let body = index_create_body();
    finding(
        &opensearch,
        "dotted_names",
        "The index create body. OpenSearch reads a dot in a field name as a path into an \
         object: `q.r` needs an object q, which the catch-all (a text field for every type) \
         cannot be, so such a name is refused (400 mapper_parsing_exception), and so are `a..b`, \
         `.` and the empty name (field name rules). A name without dots is accepted.",
        body,
        &[
            r#"{"q.r":1}"#,
            r#"{"a..b":1}"#,
            r#"{".":1}"#,
            r#"{"":1}"#,
            r#"{"qr":1}"#,
        ],
        &[
            refused("mapper_parsing_exception"),
            refused("mapper_parsing_exception"),
            refused("mapper_parsing_exception"),
            refused("mapper_parsing_exception"),
            ok(),
        ],
    );
}
