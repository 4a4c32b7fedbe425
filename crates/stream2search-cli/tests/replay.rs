//! `stream2search replay`, run as a user runs it, against the project's real OpenSearch.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use stream2search_testkit::{OpenSearch, TestIndex};

static FILES: AtomicUsize = AtomicUsize::new(0);

/// Writes `contents` to a fresh file under the target directory's scratch space.
fn file(contents: &str) -> PathBuf {
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("replay-{}-{n}.json", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

fn replay(opensearch: &OpenSearch, index: &TestIndex, files: &[&PathBuf]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["replay", "--allow-http", "--timeout", "30"])
        .args(["--endpoint", opensearch.url(), "--index", index.name()])
        .args(files)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

/// One stream record; `images` is the `NewImage`/`OldImage` part of `dynamodb`.
fn record(name: &str, seconds: u64, key: &str, images: &str, seq: &str) -> String {
    format!(
        r#"{{"eventID":"{seq}","eventName":"{name}","eventSource":"aws:dynamodb","dynamodb":{{"ApproximateCreationDateTime":{seconds},"Keys":{{"productId":{{"S":"{key}"}}}},{images},"SequenceNumber":"{seq}","StreamViewType":"NEW_AND_OLD_IMAGES"}}}}"#
    )
}

fn event(records: &[String]) -> String {
    format!(r#"{{"Records":[{}]}}"#, records.join(","))
}

/// The ids the index holds, sorted.
fn ids(opensearch: &OpenSearch, index: &TestIndex) -> Vec<String> {
    index.refresh();
    let hits = opensearch.get(&format!("/{index}/_search?size=100")).json();
    let mut ids: Vec<String> = hits["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The stored `_source`, as the exact text OpenSearch keeps, and the document's version.
fn source_and_version(index: &TestIndex, id: &str) -> (String, u64) {
    let doc = index.get_doc(id);
    assert_eq!(doc.status, 200, "{id}: {}", doc.text());
    let text = doc.text();
    let start = text.find(r#""_source":"#).expect("a _source") + r#""_source":"#.len();
    let source = text[start..text.len() - 1].to_string();
    (source, doc.json()["_version"].as_u64().unwrap())
}

#[test]
fn insert_modify_remove_file_leaves_exactly_the_expected_documents() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("replay lands");
    // p-3 is already indexed, from an older change.
    let seed = format!(
        "{{\"index\":{{\"_index\":\"{index}\",\"_id\":\"p-3\",\"version\":50000000,\"version_type\":\"external_gte\"}}}}\n{{\"productId\":\"p-3\"}}\n"
    );
    assert_eq!(opensearch.bulk(seed.as_bytes()).status, 200);
    let events = file(&event(&[
        record(
            "INSERT",
            100,
            "p-1",
            r#""NewImage":{"productId":{"S":"p-1"},"name":{"S":"Kettle"},"price":{"N":"21"}}"#,
            "101",
        ),
        record(
            "INSERT",
            101,
            "p-2",
            r#""NewImage":{"productId":{"S":"p-2"},"name":{"S":""},"inStock":{"BOOL":false},"tags":{"SS":["a","b"]}}"#,
            "102",
        ),
        record(
            "MODIFY",
            102,
            "p-1",
            r#""NewImage":{"productId":{"S":"p-1"},"name":{"S":"Kettle"},"price":{"N":"19.990"}},"OldImage":{"productId":{"S":"p-1"},"name":{"S":"Kettle"},"price":{"N":"21"}}"#,
            "103",
        ),
        record(
            "REMOVE",
            103,
            "p-3",
            r#""OldImage":{"productId":{"S":"p-3"}}"#,
            "104",
        ),
    ]));

    let out = replay(&opensearch, &index, &[&events]);

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    // Both p-1 records end with the one document sent for p-1.
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: 4 records, indexed 3, deleted 1, already gone 0, stale 0, skipped 0, \
             rejected 0, invalid 0, not durable 0; complete\n",
            events.display()
        )
    );
    assert_eq!(ids(&opensearch, &index), ["p-1", "p-2"]);
    // Written by hand: the MODIFY's image with the number's own text, versions in microseconds.
    assert_eq!(
        source_and_version(&index, "p-1"),
        (
            r#"{"productId":"p-1","name":"Kettle","price":19.990}"#.to_string(),
            102_000_000
        )
    );
    assert_eq!(
        source_and_version(&index, "p-2"),
        (
            r#"{"productId":"p-2","name":"","inStock":false,"tags":["a","b"]}"#.to_string(),
            101_000_000
        )
    );
}

#[test]
fn replaying_an_older_file_after_a_newer_one_keeps_the_newer_document() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("replay stale");
    let newer = file(&event(&[record(
        "MODIFY",
        200,
        "p-1",
        r#""NewImage":{"productId":{"S":"p-1"},"price":{"N":"2"}}"#,
        "201",
    )]));
    let older = file(&event(&[record(
        "INSERT",
        100,
        "p-1",
        r#""NewImage":{"productId":{"S":"p-1"},"price":{"N":"1"}}"#,
        "101",
    )]));

    let out = replay(&opensearch, &index, &[&newer, &older]);

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: 1 records, indexed 1, deleted 0, already gone 0, stale 0, skipped 0, \
             rejected 0, invalid 0, not durable 0; complete\n\
             {}: 1 records, indexed 0, deleted 0, already gone 0, stale 1, skipped 0, \
             rejected 0, invalid 0, not durable 0; complete\n",
            newer.display(),
            older.display()
        )
    );
    assert_eq!(
        source_and_version(&index, "p-1"),
        (r#"{"productId":"p-1","price":2}"#.to_string(), 200_000_000)
    );
}

#[test]
fn mapping_rejected_record_exits_one_and_names_the_record() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("replay rejected");
    index.create(serde_json::json!({
        "mappings": {"properties": {"price": {"type": "integer"}}}
    }));
    let events = file(&event(&[
        record(
            "INSERT",
            100,
            "p-1",
            r#""NewImage":{"productId":{"S":"p-1"},"price":{"N":"5"}}"#,
            "101",
        ),
        record(
            "INSERT",
            101,
            "p-2",
            r#""NewImage":{"productId":{"S":"p-2"},"price":{"S":"cheap"}}"#,
            "102",
        ),
    ]));

    let out = replay(&opensearch, &index, &[&events]);

    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("record 1 102: rejected (400): mapper_parsing_exception"),
        "{err}"
    );
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: 2 records, indexed 1, deleted 0, already gone 0, stale 0, skipped 0, \
             rejected 1, invalid 0, not durable 0; resume at 102\n",
            events.display()
        )
    );
    assert_eq!(ids(&opensearch, &index), ["p-1"]);
}

#[test]
fn file_that_is_not_an_event_exits_two_and_the_next_file_is_still_sent() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("replay not event");
    let not_event = file(r#"{"Messages":[]}"#);
    let events = file(&event(&[record(
        "INSERT",
        100,
        "p-1",
        r#""NewImage":{"productId":{"S":"p-1"}}"#,
        "101",
    )]));

    let out = replay(&opensearch, &index, &[&not_event, &events]);

    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("stream2search: {}: ", not_event.display())),
        "{err}"
    );
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: 1 records, indexed 1, deleted 0, already gone 0, stale 0, skipped 0, \
             rejected 0, invalid 0, not durable 0; complete\n",
            events.display()
        )
    );
    assert_eq!(ids(&opensearch, &index), ["p-1"]);
}

#[test]
fn plain_http_endpoint_without_allow_http_is_a_usage_error() {
    let events = file(&event(&[]));
    let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["replay", "--endpoint", "http://127.0.0.1:9", "--index", "t"])
        .arg(&events)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("stream2search: "),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.stdout, b"");
}
