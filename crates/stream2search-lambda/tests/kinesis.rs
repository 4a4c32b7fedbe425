//! The handler called directly with Lambda Kinesis events (Kinesis Data Streams for DynamoDB),
//! against the project's real OpenSearch (`dev/opensearch start`, `OPENSEARCH_URL`) and moto's
//! SQS (`dev/moto start`, `MOTO_URL`).
//!
//! The events are made by `stream2search_testkit::kinesis`, written from AWS's documentation
//! apart from the core's reader; every expected document, version and sequence number is
//! written out here.
//!
//! Under `STREAM2SEARCH_REQUIRE_OPENSEARCH=1` / `STREAM2SEARCH_REQUIRE_MOTO=1` a missing server
//! fails the test; otherwise the test prints `SKIPPED: ...` and returns.

mod common;

use serde_json::{Value, json};
use stream2search::RecordErrorKind;
use stream2search::checkpoint::{Checkpoint, RecordOutcome};
use stream2search::outcome::Applied;
use stream2search_lambda::testing::{insert, modify, remove};
use stream2search_lambda::{Handler, Invocation};
use stream2search_testkit::kinesis::{self, STREAM_ARN};
use stream2search_testkit::{MotoSqs, OpenSearch, TestIndex};

use common::{BlockedP2, dead_lettering, key, products_index, settings, soon, source};

fn version(index: &TestIndex, id: &str) -> Option<u64> {
    index.get_doc(id).json()["_version"].as_u64()
}

/// 2026-01-01T00:00:00Z in milliseconds.
const T_MS: u64 = 1_767_225_600_000;

fn product(id: &str, name: &str, price: &str) -> Value {
    json!({"productId": {"S": id}, "name": {"S": name}, "price": {"N": price}})
}

/// The `n`th record of the shard: `change` (a DynamoDB Streams record) as Kinesis Data Streams
/// for DynamoDB carries it, with `ApproximateCreationDateTime` `creation` (milliseconds or
/// microseconds, as the table's precision says).
fn change(n: u64, change: &Value, creation: u64) -> Value {
    let data = kinesis::change_record(change, "Products", Some(json!(creation))).to_string();
    kinesis::lambda_record(data.as_bytes(), &kinesis::sequence_number(n), "pk")
}

/// The `n`th record of the shard: the insert of `image` under `id`, with Streams sequence number
/// `n + 1`, made `n + 1` milliseconds after `T_MS`.
fn shard_insert(n: u64, id: &str, image: Value) -> Value {
    change(n, &insert(n + 1, key(id), image), T_MS + n + 1)
}

/// The `n`th record of the shard, carrying `data` as it is.
fn raw(n: u64, data: &[u8]) -> Value {
    kinesis::lambda_record(data, &kinesis::sequence_number(n), "pk")
}

fn event(records: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "Records": records })).unwrap()
}

fn response(inv: &Invocation) -> String {
    serde_json::to_string(&inv.response().unwrap()).unwrap()
}

/// The partial batch response that has Lambda resume at the `n`th record of the shard.
fn resumes_at(n: u64) -> String {
    format!(
        r#"{{"batchItemFailures":[{{"itemIdentifier":"{}"}}]}}"#,
        kinesis::sequence_number(n)
    )
}

/// Good changes, three records whose `data` is not a DynamoDB change, and one OpenSearch refuses.
fn mixed_batch() -> Vec<Value> {
    let mut bad_base64 = raw(3, b"unused");
    bad_base64["kinesis"]["data"] = json!("this is not base64!");
    vec![
        shard_insert(0, "p-1", product("p-1", "Water bottle", "24.90")),
        shard_insert(1, "p-2", product("p-2", "Cutting board", "19.5")),
        change(
            2,
            &modify(
                3,
                key("p-1"),
                product("p-1", "Water bottle", "24.90"),
                product("p-1", "Water bottle", "22"),
            ),
            T_MS + 3,
        ),
        bad_base64,
        raw(4, b"{\"eventName\":\"INSERT\", not JSON"),
        raw(5, br#"{"orderId":7,"total":12.5}"#),
        shard_insert(
            6,
            "p-6",
            json!({"productId": {"S": "p-6"}, "price": {"M": {"amount": {"N": "6"}}}}),
        ),
        change(
            7,
            &remove(8, key("p-2"), product("p-2", "Cutting board", "19.5")),
            T_MS + 8,
        ),
        shard_insert(8, "p-8", product("p-8", "Tea towel", "4")),
    ]
}

#[tokio::test]
async fn kinesis_changes_reach_the_index_and_poison_is_dead_lettered_as_delivered() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let Some(moto) = MotoSqs::from_env() else {
        return;
    };
    let index = products_index(&opensearch, "lambda kinesis mixed");
    let (handler, queue_url) = dead_lettering(&opensearch, &index, &moto, "kinesis-poison");
    let records = mixed_batch();
    let inv = handler.handle(&event(&records), soon()).await.unwrap();

    // Every poison record reached the queue: nothing for Lambda to deliver again.
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(response(&inv), r#"{"batchItemFailures":[]}"#);
    for position in [3, 4, 5] {
        assert!(
            matches!(&inv.results[position].outcome, RecordOutcome::Invalid(e) if e.kind() == RecordErrorKind::Data),
            "record {position}: {:?}",
            inv.results[position].outcome
        );
    }
    assert!(
        matches!(
            inv.results[6].outcome,
            RecordOutcome::Rejected { status: 400, .. }
        ),
        "{:?}",
        inv.results[6].outcome
    );
    // Each result names the record by its Kinesis sequenceNumber and outer eventID.
    for (position, r) in inv.results.iter().enumerate() {
        let seq = kinesis::sequence_number(position as u64);
        assert_eq!(
            r.sequence_number.as_ref().map(|s| s.as_str()),
            Some(seq.as_str())
        );
        assert_eq!(
            r.event_id.as_deref(),
            Some(format!("shardId-000000000000:{seq}").as_str())
        );
    }
    // p-1's insert is decided by its modify, p-2's insert by its remove (one item each).
    assert_eq!(
        (
            inv.counts.records,
            inv.counts.indexed,
            inv.counts.deleted,
            inv.counts.dead_lettered,
            inv.counts.failed
        ),
        (9, 3, 2, 4, 0)
    );

    // The index holds exactly p-1 as modified and p-8, at their creation times in microseconds.
    index.refresh();
    assert_eq!(
        source(&index, "p-1"),
        Some(json!({"productId": "p-1", "name": "Water bottle", "price": 22}))
    );
    assert_eq!(
        source(&index, "p-8"),
        Some(json!({"productId": "p-8", "name": "Tea towel", "price": 4}))
    );
    assert_eq!(
        (version(&index, "p-1"), version(&index, "p-8")),
        (Some((T_MS + 3) * 1000), Some((T_MS + 9) * 1000))
    );
    assert_eq!((source(&index, "p-2"), source(&index, "p-6")), (None, None));
    let count = opensearch.get(&format!("/{}/_count", index.name()));
    assert_eq!(count.json()["count"], json!(2), "{}", count.text());

    // One message per poison record: the Kinesis record exactly as delivered, and why.
    let mut messages = moto.receive_all(&queue_url);
    messages.sort_by_key(|m| m["position"].as_u64());
    assert_eq!(
        messages
            .iter()
            .map(|m| m["position"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [3, 4, 5, 6]
    );
    for m in &messages {
        let position = m["position"].as_u64().unwrap() as usize;
        let seq = kinesis::sequence_number(position as u64);
        assert_eq!(m["record"], records[position], "record {position}");
        assert_eq!(m["SequenceNumber"], seq.as_str());
        assert_eq!(m["eventID"], format!("shardId-000000000000:{seq}"));
        assert_eq!(m["eventSource"], "aws:kinesis");
        assert_eq!(m["record"]["eventSourceARN"], STREAM_ARN);
    }
    let reason = |i: usize| messages[i]["reason"].as_str().unwrap().to_owned();
    assert!(reason(0).contains("base64"), "{}", reason(0));
    assert!(reason(1).contains("JSON"), "{}", reason(1));
    assert!(reason(2).contains("not a DynamoDB change"), "{}", reason(2));
    assert!(
        reason(3).contains("mapper_parsing_exception"),
        "{}",
        reason(3)
    );
}

#[tokio::test]
async fn without_a_queue_lambda_resumes_at_the_first_poison_kinesis_sequence_number() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = products_index(&opensearch, "lambda kinesis no dlq");
    let handler = Handler::new(settings(opensearch.url(), index.name(), &[])).unwrap();
    let inv = handler
        .handle(&event(&mixed_batch()), soon())
        .await
        .unwrap();
    // Record 3 (bad base64) is the first that is not durable.
    assert_eq!(response(&inv), resumes_at(3));
    assert_eq!((inv.counts.failed, inv.counts.dead_lettered), (4, 0));
}

#[tokio::test]
async fn a_record_opensearch_cannot_take_now_is_named_by_its_kinesis_sequence_number() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let partial = BlockedP2::new(&opensearch, "lambda kinesis partial");
    let records = [
        shard_insert(0, "p-1", product("p-1", "Water bottle", "24.90")),
        shard_insert(1, "p-2", product("p-2", "Cutting board", "19.5")),
        shard_insert(2, "p-3", product("p-3", "Tea towel", "4")),
    ];
    let inv = partial
        .handler
        .handle(&event(&records), soon())
        .await
        .unwrap();
    assert_eq!(
        [&inv.results[0].outcome, &inv.results[2].outcome],
        [
            &RecordOutcome::Applied(Applied::Indexed),
            &RecordOutcome::Applied(Applied::Indexed)
        ]
    );
    assert!(
        matches!(inv.results[1].outcome, RecordOutcome::NotDurable { .. }),
        "{:?}",
        inv.results[1].outcome
    );
    assert_eq!(response(&inv), resumes_at(1));
    assert_eq!((inv.counts.indexed, inv.counts.failed), (2, 1));
    partial.unblock();
}

/// Delivers `record` in an event of its own.
async fn deliver(handler: &Handler, record: &Value) -> Invocation {
    handler
        .handle(&event(std::slice::from_ref(record)), soon())
        .await
        .unwrap()
}

/// Delivers `first`, then `second` (each an event of one record for p-1), and returns what the
/// second one's record came to.
async fn deliver_in_turn(handler: &Handler, first: &Value, second: &Value) -> RecordOutcome {
    let inv = deliver(handler, first).await;
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    let inv = deliver(handler, second).await;
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    inv.results[0].outcome.clone()
}

/// After a refresh, `index` holds p-1 as `expected` at `version` (`precision` names the case).
fn assert_p1(index: &TestIndex, expected: &Value, version_: u64, precision: &str) {
    index.refresh();
    assert_eq!(source(index, "p-1").as_ref(), Some(expected), "{precision}");
    assert_eq!(version(index, "p-1"), Some(version_), "{precision}");
}

#[tokio::test]
async fn the_newer_change_wins_when_kinesis_delivers_it_first_at_millisecond_and_microsecond_precision()
 {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let older_doc = product("p-1", "Water bottle", "24.90");
    let newer_doc = product("p-1", "Water bottle", "22");
    // (precision, older timestamp, newer timestamp one tick later, the newer one's version)
    let t_us = T_MS * 1000 + 123_456;
    for (precision, older, newer, newer_version) in [
        ("ms", T_MS + 500, T_MS + 501, (T_MS + 501) * 1000),
        ("us", t_us, t_us + 1, t_us + 1),
    ] {
        let index = products_index(&opensearch, &format!("lambda kinesis order {precision}"));
        let handler = Handler::new(settings(opensearch.url(), index.name(), &[])).unwrap();
        let older_change = change(0, &insert(1, key("p-1"), older_doc.clone()), older);
        let newer_change = change(
            1,
            &modify(2, key("p-1"), older_doc.clone(), newer_doc.clone()),
            newer,
        );

        // The newer change delivered first, the older one after it: the older one is stale.
        let outcome = deliver_in_turn(&handler, &newer_change, &older_change).await;
        assert_eq!(
            outcome,
            RecordOutcome::Applied(Applied::Stale),
            "{precision}"
        );
        let expected = json!({"productId": "p-1", "name": "Water bottle", "price": 22});
        assert_p1(&index, &expected, newer_version, precision);

        // The newer change delivered again changes nothing.
        let inv = deliver(&handler, &newer_change).await;
        assert_eq!(inv.checkpoint, Checkpoint::Complete, "{precision}");
        assert_p1(&index, &expected, newer_version, precision);
    }
}

#[tokio::test]
async fn within_one_tick_the_last_delivered_change_wins() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let a = product("p-1", "Water bottle", "1");
    let b = product("p-1", "Water bottle", "2");
    let tick = T_MS + 700;
    for (first, second, expected_price) in [(&a, &b, 2), (&b, &a, 1)] {
        let index = products_index(
            &opensearch,
            &format!("lambda kinesis tick {expected_price}"),
        );
        let handler = Handler::new(settings(opensearch.url(), index.name(), &[])).unwrap();
        let first = change(0, &modify(1, key("p-1"), b.clone(), first.clone()), tick);
        let second = change(1, &modify(2, key("p-1"), a.clone(), second.clone()), tick);
        let outcome = deliver_in_turn(&handler, &first, &second).await;
        assert_eq!(outcome, RecordOutcome::Applied(Applied::Indexed));
        index.refresh();
        assert_eq!(
            source(&index, "p-1"),
            Some(json!({"productId": "p-1", "name": "Water bottle", "price": expected_price}))
        );
        assert_eq!(version(&index, "p-1"), Some(tick * 1000));
    }
}

#[tokio::test]
async fn a_mix_of_sources_or_another_event_source_fails_the_invocation() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = products_index(&opensearch, "lambda kinesis not an event");
    let handler = Handler::new(settings(opensearch.url(), index.name(), &[])).unwrap();
    let streams = insert(1, key("p-1"), product("p-1", "Water bottle", "24.90"));
    let wrapped = change(
        1,
        &insert(2, key("p-2"), product("p-2", "Cutting board", "19.5")),
        T_MS,
    );
    let mut s3 = wrapped.clone();
    s3["eventSource"] = json!("aws:s3");
    for (what, records) in [
        (
            "streams then kinesis",
            vec![streams.clone(), wrapped.clone()],
        ),
        (
            "kinesis then streams",
            vec![wrapped.clone(), streams.clone()],
        ),
        ("another eventSource", vec![wrapped.clone(), s3]),
    ] {
        let err = handler
            .handle(&event(&records), soon())
            .await
            .expect_err(what);
        assert!(
            err.is_not_an_event() && err.error_type() == "Stream2Search.NotAnEvent",
            "{what}: {err}"
        );
    }
    // Nothing of those events was written.
    index.refresh();
    assert_eq!((source(&index, "p-1"), source(&index, "p-2")), (None, None));
}
