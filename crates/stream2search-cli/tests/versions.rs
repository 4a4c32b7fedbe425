//! What versions guarantee, pinned on both sides against the project's real OpenSearch.
//!
//! A document's version is its record's `ApproximateCreationDateTime` in microseconds, at the
//! precision the record gives (whole seconds from DynamoDB Streams; milliseconds or
//! microseconds from Kinesis; a fraction kept to the microsecond), written with
//! `version_type=external_gte`. So:
//! - a record from an earlier tick than the document's is refused as stale;
//! - records of one item from the same tick (DynamoDB Streams: the same second) share a version,
//!   and whichever is written last wins. In-order delivery and in-order re-delivery (Lambda,
//!   `poll`, a replay of a whole stream from an older position) therefore end at the newest
//!   change;
//! - but re-sending one older record from the same tick as the document's newest change (a
//!   dead letter replayed alone, say) overwrites that newer change. These tests pin that hole as
//!   it is, so a change to it is a deliberate one.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use stream2search_testkit::{OpenSearch, TestIndex};

static FILES: AtomicUsize = AtomicUsize::new(0);

fn file(contents: &str) -> PathBuf {
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("versions-{}-{n}.json", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

/// Replays one event file holding `records`, and returns its summary line.
fn replay(opensearch: &OpenSearch, index: &TestIndex, records: &[&str]) -> String {
    let path = file(&format!(r#"{{"Records":[{}]}}"#, records.join(",")));
    let out: Output = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["replay", "--allow-http", "--timeout", "30"])
        .args(["--endpoint", opensearch.url(), "--index", index.name()])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let summary = stdout
        .strip_prefix(&format!("{}: ", path.display()))
        .unwrap_or_else(|| panic!("a summary line for {}: {stdout}", path.display()));
    summary.trim_end().to_string()
}

/// A record of item `p-1` at `seconds` (any timestamp text: seconds, a fraction, milliseconds),
/// with sequence number `seq`.
fn record(name: &str, seconds: &str, seq: u32, colour: Option<&str>) -> String {
    let image = colour.map_or(String::new(), |c| {
        format!(r#""NewImage":{{"productId":{{"S":"p-1"}},"colour":{{"S":"{c}"}}}},"#)
    });
    format!(
        r#"{{"eventID":"{seq}","eventName":"{name}","eventSource":"aws:dynamodb","dynamodb":{{"ApproximateCreationDateTime":{seconds},"Keys":{{"productId":{{"S":"p-1"}}}},{image}"SequenceNumber":"{seq:0>21}","StreamViewType":"NEW_AND_OLD_IMAGES"}}}}"#
    )
}

/// `p-1`'s colour and version, or `None` when it is not in the index.
fn colour(index: &TestIndex) -> Option<(String, u64)> {
    let doc = index.get_doc("p-1");
    if doc.status == 404 {
        return None;
    }
    assert_eq!(doc.status, 200, "{}", doc.text());
    let json = doc.json();
    Some((
        json["_source"]["colour"].as_str().unwrap().to_string(),
        json["_version"].as_u64().unwrap(),
    ))
}

#[test]
fn in_order_redelivery_within_one_second_converges() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("same second in order");
    let red = record("INSERT", "1767225600", 1, Some("red"));
    // DynamoDB Streams gives whole seconds: three changes within one second look alike.
    let blue = record("MODIFY", "1767225600", 2, Some("blue"));
    let green = record("MODIFY", "1767225600", 3, Some("green"));

    // Delivered one record per invocation, in order: the last one written wins.
    for r in [&red, &blue, &green] {
        assert!(replay(&opensearch, &index, &[r]).contains("indexed 1,"));
    }
    assert_eq!(
        colour(&index),
        Some(("green".into(), 1_767_225_600_000_000))
    );

    // Re-delivered from an older position, one record at a time and in order (as Lambda
    // resumes at the lowest record not durable): it passes through the older colours and ends
    // at the newest again.
    assert!(replay(&opensearch, &index, &[&red]).contains("indexed 1,"));
    assert_eq!(colour(&index).unwrap().0, "red");
    for r in [&blue, &green] {
        replay(&opensearch, &index, &[r]);
    }
    assert_eq!(
        colour(&index),
        Some(("green".into(), 1_767_225_600_000_000))
    );

    // Re-delivered as one batch: the batch keeps only the newest record of the item.
    let summary = replay(&opensearch, &index, &[&red, &blue, &green]);
    assert!(summary.starts_with("3 records, indexed 3,"), "{summary}");
    assert_eq!(
        colour(&index),
        Some(("green".into(), 1_767_225_600_000_000))
    );
}

#[test]
fn in_order_redelivery_of_a_delete_within_one_second_converges() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("same second delete");
    let red = record("INSERT", "1767225600", 1, Some("red"));
    let gone = record("REMOVE", "1767225600", 2, None);

    replay(&opensearch, &index, &[&red]);
    assert!(replay(&opensearch, &index, &[&gone]).contains("deleted 1,"));
    assert_eq!(colour(&index), None);

    // The re-delivered insert shares the delete's version, so it brings the item back for a
    // moment; the re-delivered delete that follows it removes it again.
    replay(&opensearch, &index, &[&red]);
    assert_eq!(colour(&index).map(|c| c.0), Some("red".into()));
    replay(&opensearch, &index, &[&gone]);
    assert_eq!(colour(&index), None);
}

#[test]
fn replaying_an_older_record_alone_from_the_same_second_overwrites_the_newer_change() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("same second regress");
    let red = record("INSERT", "1767225600", 1, Some("red"));
    let blue = record("MODIFY", "1767225600", 2, Some("blue"));
    replay(&opensearch, &index, &[&red]);
    replay(&opensearch, &index, &[&blue]);
    assert_eq!(colour(&index).unwrap().0, "blue");

    // The documented hole: one second's resolution cannot order these two.
    let summary = replay(&opensearch, &index, &[&red]);
    assert!(
        summary.contains("indexed 1, ") && summary.contains("stale 0,"),
        "{summary}"
    );
    assert_eq!(colour(&index), Some(("red".into(), 1_767_225_600_000_000)));
}

#[test]
fn replaying_an_older_record_from_an_earlier_second_is_stale() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("earlier second stale");
    let red = record("INSERT", "1767225599.9", 1, Some("red"));
    let blue = record("MODIFY", "1767225600", 2, Some("blue"));
    let gone = record("REMOVE", "1767225599.5", 0, None);
    replay(&opensearch, &index, &[&red]);
    replay(&opensearch, &index, &[&blue]);

    for old in [&red, &gone] {
        let summary = replay(&opensearch, &index, &[old]);
        assert!(summary.contains("stale 1,"), "{summary}");
        assert_eq!(colour(&index), Some(("blue".into(), 1_767_225_600_000_000)));
    }
}

/// Finer timestamps (Kinesis: milliseconds or microseconds; a fraction of a second) order
/// changes within one second: the older one replayed alone is stale.
#[test]
fn replaying_an_older_record_from_an_earlier_millisecond_or_microsecond_is_stale() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    for (purpose, older, newer, version) in [
        (
            "earlier ms stale",
            "1767225600123",
            "1767225600124",
            1_767_225_600_124_000u64,
        ),
        (
            "earlier us stale",
            "1767225600123456",
            "1767225600123457",
            1_767_225_600_123_457,
        ),
        (
            "earlier fraction stale",
            "1767225600.1",
            "1767225600.8",
            1_767_225_600_800_000,
        ),
    ] {
        let index = opensearch.index(purpose);
        let red = record("INSERT", older, 1, Some("red"));
        let blue = record("MODIFY", newer, 2, Some("blue"));
        replay(&opensearch, &index, &[&red]);
        replay(&opensearch, &index, &[&blue]);
        let summary = replay(&opensearch, &index, &[&red]);
        assert!(summary.contains("stale 1,"), "{purpose}: {summary}");
        assert_eq!(colour(&index), Some(("blue".into(), version)), "{purpose}");
        // Delivered newest first, as Kinesis may: the older one is refused just the same.
        let index = opensearch.index(purpose);
        replay(&opensearch, &index, &[&blue]);
        let summary = replay(&opensearch, &index, &[&red]);
        assert!(summary.contains("stale 1,"), "{purpose}: {summary}");
        assert_eq!(colour(&index), Some(("blue".into(), version)), "{purpose}");
    }
}
