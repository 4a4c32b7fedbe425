//! 429s, provoked on the constrained node (`dev/opensearch start --profile constrained`).

use stream2search_testkit::OpenSearch;
use stream2search_testkit::fixture::Compare;

use crate::bulk::*;

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
    // Which items find the queue full depends on timing: compare the kinds of answer only.
    bulk.record_comparing(
        &os,
        "rejected_execution_item",
        "32 index actions over an 8-shard index on a node whose write thread pool has 1 thread \
         and a queue of 1: the response is 200 with \"errors\":true; the items of shards whose \
         write task found the queue full get 429 rejected_execution_exception (NOT \
         es_rejected_execution_exception: OpenSearch names it without the es_ prefix); the \
         others succeed (201, or 200 on a repeated attempt).",
        &bulk.ndjson,
        &response,
        Compare::KindsOfItems,
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
