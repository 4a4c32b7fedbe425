//! The handler called directly with event fixtures, against the project's real OpenSearch
//! (`dev/opensearch start`, `OPENSEARCH_URL`) and moto's SQS (`dev/moto start`, `MOTO_URL`).
//!
//! Under `STREAM2SEARCH_REQUIRE_OPENSEARCH=1` / `STREAM2SEARCH_REQUIRE_MOTO=1` a missing server
//! fails the test; otherwise the test prints `SKIPPED: ...` and returns.

mod common;

use serde_json::{Value, json};
use stream2search::RecordErrorKind;
use stream2search::checkpoint::{Checkpoint, RecordOutcome, SkipReason};
use stream2search::outcome::Applied;
use stream2search_lambda::{Handler, Item, Verdict};
use stream2search_testkit::{MotoSqs, OpenSearch};

use common::{BlockedP2, dead_lettering, products_index, resume_at, settings, soon, source};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[tokio::test]
async fn insert_modify_remove_reach_the_index_and_complete() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = products_index(&opensearch, "lambda insert modify remove");
    let handler = Handler::new(settings(opensearch.url(), index.name(), &[])).unwrap();

    let inv = handler
        .handle(&fixture("insert.json"), soon())
        .await
        .unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(
        serde_json::to_string(&inv.response().unwrap()).unwrap(),
        r#"{"batchItemFailures":[]}"#
    );
    assert_eq!((inv.counts.records, inv.counts.indexed), (2, 2));
    index.refresh();
    assert_eq!(
        source(&index, "p-1").unwrap(),
        json!({"productId":"p-1","name":"Titanium water bottle","price":24.90,"inStock":false,"tags":["outdoor","kitchen"]})
    );
    assert_eq!(source(&index, "p-2").unwrap()["price"], json!(19.5));

    let inv = handler
        .handle(&fixture("modify.json"), soon())
        .await
        .unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    index.refresh();
    let p1 = source(&index, "p-1").unwrap();
    assert_eq!(
        (p1["price"].clone(), p1["inStock"].clone()),
        (json!(22.00), json!(true))
    );

    let inv = handler
        .handle(&fixture("remove.json"), soon())
        .await
        .unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(inv.counts.deleted, 1);
    index.refresh();
    assert_eq!(source(&index, "p-2"), None);

    // A replay of the older insert is stale, not an error, and does not bring p-1's old price back.
    let inv = handler
        .handle(&fixture("insert.json"), soon())
        .await
        .unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(
        inv.results[0].outcome,
        RecordOutcome::Applied(Applied::Stale)
    );
    index.refresh();
    assert_eq!(source(&index, "p-1").unwrap()["price"], json!(22.00));
}

#[tokio::test]
async fn indexed_at_stamps_each_document_with_a_time_opensearch_reads_as_now() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("lambda indexed at");
    index.create(json!({"mappings": {"properties": {"indexedAt": {"type": "date"}}}}));
    let handler = Handler::new(settings(
        opensearch.url(),
        index.name(),
        &[("STREAM2SEARCH_INDEXED_AT", "indexedAt")],
    ))
    .unwrap();
    let inv = handler
        .handle(&fixture("insert.json"), soon())
        .await
        .unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    index.refresh();
    let doc = source(&index, "p-1").unwrap();
    let stamp = doc["indexedAt"].as_str().unwrap();
    assert_eq!(stamp.len(), "2026-01-01T00:00:00.000Z".len(), "{stamp}");
    assert!(stamp.ends_with('Z'), "{stamp}");
    // OpenSearch itself reads the field as a date within a minute of its own clock.
    let found = opensearch.send_json(
        "POST",
        &format!("/{}/_count", index.name()),
        &json!({"query": {"range": {"indexedAt": {"gte": "now-1m", "lte": "now+1m"}}}}),
    );
    assert_eq!(found.json()["count"], json!(2), "{}", found.text());
}

#[tokio::test]
async fn ttl_delete_removes_the_document_or_keeps_it_under_skip() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = products_index(&opensearch, "lambda ttl");
    let delete = Handler::new(settings(opensearch.url(), index.name(), &[])).unwrap();
    let skip = Handler::new(settings(
        opensearch.url(),
        index.name(),
        &[("STREAM2SEARCH_TTL", "skip")],
    ))
    .unwrap();
    delete
        .handle(&fixture("insert.json"), soon())
        .await
        .unwrap();

    let inv = skip
        .handle(&fixture("ttl_remove.json"), soon())
        .await
        .unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(inv.counts.skipped, 1);
    index.refresh();
    assert!(source(&index, "p-1").is_some(), "skip keeps the document");

    let inv = delete
        .handle(&fixture("ttl_remove.json"), soon())
        .await
        .unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(inv.counts.deleted, 1);
    index.refresh();
    assert_eq!(source(&index, "p-1"), None);
}

#[tokio::test]
async fn poison_without_a_queue_resumes_at_the_first_poison_record() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = products_index(&opensearch, "lambda poison no dlq");
    let handler = Handler::new(settings(opensearch.url(), index.name(), &[])).unwrap();
    let inv = handler
        .handle(&fixture("poison.json"), soon())
        .await
        .unwrap();
    // p-6 is refused by OpenSearch (an object into a float), p-7 cannot be converted.
    assert!(matches!(
        inv.results[1].outcome,
        RecordOutcome::Rejected { status: 400, .. }
    ));
    assert!(matches!(inv.results[2].outcome, RecordOutcome::Invalid(_)));
    assert_eq!(resume_at(&inv.checkpoint), Some("501"));
    assert_eq!(
        serde_json::to_string(&inv.response().unwrap()).unwrap(),
        r#"{"batchItemFailures":[{"itemIdentifier":"501"}]}"#
    );
    assert_eq!(
        (
            inv.counts.indexed,
            inv.counts.failed,
            inv.counts.dead_lettered
        ),
        (2, 2, 0)
    );
    index.refresh();
    assert!(source(&index, "p-5").is_some() && source(&index, "p-8").is_some());
}

#[tokio::test]
async fn poison_with_a_queue_is_dead_lettered_and_the_batch_completes() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let Some(moto) = MotoSqs::from_env() else {
        return;
    };
    let index = products_index(&opensearch, "lambda poison dlq");
    let (handler, queue_url) = dead_lettering(&opensearch, &index, &moto, "poison");
    let event = fixture("poison.json");
    let inv = handler.handle(&event, soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(
        (
            inv.counts.indexed,
            inv.counts.dead_lettered,
            inv.counts.failed
        ),
        (2, 2, 0)
    );

    let mut messages = moto.receive_all(&queue_url);
    messages.sort_by_key(|m| m["position"].as_u64());
    assert_eq!(messages.len(), 2);
    let records: Vec<Value> = serde_json::from_slice::<Value>(&event).unwrap()["Records"]
        .as_array()
        .unwrap()
        .clone();
    for (m, (position, seq)) in messages.iter().zip([(1, "501"), (2, "502")]) {
        assert_eq!(m["position"], position);
        assert_eq!(m["SequenceNumber"], seq);
        assert_eq!(
            m["record"], records[position],
            "the record as the event held it"
        );
    }
    assert!(
        messages[0]["reason"]
            .as_str()
            .unwrap()
            .contains("mapper_parsing_exception")
    );
    assert!(messages[1]["reason"].as_str().unwrap().contains("1E+999"));
}

#[tokio::test]
async fn unreachable_queue_reports_poison_as_failures() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = products_index(&opensearch, "lambda dlq down");
    // Nothing listens on port 9 of 127.0.0.1.
    let handler = Handler::new(settings(
        opensearch.url(),
        index.name(),
        &[
            (
                "STREAM2SEARCH_DLQ_URL",
                "http://127.0.0.1:9/123456789012/gone",
            ),
            ("AWS_REGION", "us-east-1"),
        ],
    ))
    .unwrap();
    let inv = handler
        .handle(&fixture("poison.json"), soon())
        .await
        .unwrap();
    assert_eq!(resume_at(&inv.checkpoint), Some("501"));
    assert_eq!((inv.counts.dead_lettered, inv.counts.failed), (0, 2));
}

#[tokio::test]
async fn write_blocked_index_is_a_partial_failure_from_the_hooked_record() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let partial = BlockedP2::new(&opensearch, "lambda partial");
    let inv = partial
        .handler
        .handle(&fixture("insert.json"), soon())
        .await
        .unwrap();
    assert_eq!(
        inv.results[0].outcome,
        RecordOutcome::Applied(Applied::Indexed)
    );
    assert!(matches!(
        inv.results[1].outcome,
        RecordOutcome::NotDurable { .. }
    ));
    assert_eq!(
        serde_json::to_string(&inv.response().unwrap()).unwrap(),
        r#"{"batchItemFailures":[{"itemIdentifier":"101"}]}"#
    );
    assert_eq!((inv.counts.indexed, inv.counts.failed), (1, 1));
    assert!(inv.counts.retries >= 1);
    partial.unblock();
}

/// p-1 gets a `source` field, p-2 is filtered out, anything else is routed to a bad index name.
fn reshaping_hook(item: &Item<'_>) -> Verdict {
    match item.id() {
        "p-1" => {
            let Ok(Some(mut doc)) = item.parse::<Value>() else {
                return Verdict::Refuse("p-1 should have a document".into());
            };
            doc["source"] = json!("hook");
            Verdict::document(doc.to_string())
        }
        "p-2" => Verdict::Skip,
        _ => Verdict::index("Not A Valid Name"),
    }
}

#[tokio::test]
async fn hook_reshapes_skips_and_refuses_bad_index_names() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = products_index(&opensearch, "lambda hook");
    let handler = Handler::builder()
        .hook(reshaping_hook)
        .build(settings(opensearch.url(), index.name(), &[]))
        .unwrap();
    let inv = handler
        .handle(&fixture("insert.json"), soon())
        .await
        .unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(
        inv.results[1].outcome,
        RecordOutcome::Skipped(SkipReason::Filtered)
    );
    assert_eq!(
        (inv.counts.indexed, inv.counts.skipped, inv.counts.deleted),
        (1, 1, 0)
    );
    index.refresh();
    assert_eq!(
        source(&index, "p-1").unwrap(),
        json!({"productId":"p-1","name":"Titanium water bottle","price":24.90,"inStock":false,"tags":["outdoor","kitchen"],"source":"hook"})
    );
    assert_eq!(source(&index, "p-2"), None);

    // A refused record is poison (not an OpenSearch rejection): with no queue, Lambda resumes there.
    let inv = handler
        .handle(&fixture("poison.json"), soon())
        .await
        .unwrap();
    assert!(
        matches!(&inv.results[0].outcome, RecordOutcome::Invalid(e) if e.kind() == RecordErrorKind::Refused && e.to_string().contains("Not A Valid Name")),
        "{:?}",
        inv.results[0].outcome
    );
    assert_eq!(resume_at(&inv.checkpoint), Some("500"));
}

#[tokio::test]
async fn hook_refusals_and_panics_are_dead_lettered_with_their_record() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let Some(moto) = MotoSqs::from_env() else {
        return;
    };
    let index = products_index(&opensearch, "lambda hook dlq");
    let queue_url = moto.create_queue("refused");
    let handler = Handler::builder()
        .hook(|item: &Item<'_>| match item.id() {
            "p-1" => Verdict::Refuse("no bottles".into()),
            "p-2" => panic!("a bug in the hook"),
            _ => Verdict::Keep,
        })
        .build(settings(
            opensearch.url(),
            index.name(),
            &[
                ("STREAM2SEARCH_DLQ_URL", &queue_url),
                ("STREAM2SEARCH_SQS_ENDPOINT", &moto.url()),
            ],
        ))
        .unwrap();
    let event = fixture("insert.json");
    let inv = handler.handle(&event, soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(
        (
            inv.counts.indexed,
            inv.counts.dead_lettered,
            inv.counts.failed
        ),
        (0, 2, 0)
    );
    let mut messages = moto.receive_all(&queue_url);
    messages.sort_by_key(|m| m["position"].as_u64());
    let records = serde_json::from_slice::<Value>(&event).unwrap()["Records"].clone();
    assert_eq!(messages.len(), 2);
    for (position, m) in messages.iter().enumerate() {
        assert_eq!(m["position"], position);
        assert_eq!(
            m["record"], records[position],
            "the record as the event held it"
        );
    }
    assert_eq!(messages[0]["reason"], "refused by the hook: no bottles");
    assert_eq!(
        messages[1]["reason"],
        "refused by the hook: the hook panicked: a bug in the hook"
    );
    index.refresh();
    assert_eq!((source(&index, "p-1"), source(&index, "p-2")), (None, None));
}

/// The same insert, given as `aws_lambda_events`' typed event.
#[tokio::test]
async fn typed_event_from_aws_lambda_events_is_indexed_like_the_raw_one() {
    use stream2search_lambda::aws_lambda_events::event::dynamodb::Event;
    use stream2search_lambda::lambda_runtime::{Context, LambdaEvent};

    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = products_index(&opensearch, "lambda typed");
    let handler = Handler::new(settings(opensearch.url(), index.name(), &[])).unwrap();
    let event: Event = serde_json::from_slice(&fixture("insert.json")).unwrap();
    let response = handler
        .call_typed(LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_string(&response).unwrap(),
        r#"{"batchItemFailures":[]}"#
    );
    index.refresh();
    // Written independently of the code under test: the fixture's images, DynamoDB types removed.
    assert_eq!(
        source(&index, "p-1").unwrap(),
        json!({"productId":"p-1","name":"Titanium water bottle","price":24.90,"inStock":false,"tags":["outdoor","kitchen"]})
    );
    assert_eq!(source(&index, "p-2").unwrap()["price"], json!(19.5));
    // On this path a version is ApproximateCreationDateTime in whole seconds (rounded down)
    // times 10^6: aws_lambda_events keeps whole seconds, so p-2's `1767225601.5` becomes
    // 1767225601 * 10^6 (the raw path keeps the fraction: 1767225601500000).
    let version = |id: &str| index.get_doc(id).json()["_version"].as_u64();
    assert_eq!(
        (version("p-1"), version("p-2")),
        (Some(1_767_225_600_000_000), Some(1_767_225_601_000_000))
    );
}

#[tokio::test]
async fn a_payload_that_is_not_an_event_fails_the_invocation() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let handler = Handler::new(settings(opensearch.url(), "unused", &[])).unwrap();
    let err = handler.handle(br#"{"hello":1}"#, soon()).await.unwrap_err();
    assert!(
        err.is_not_an_event() && err.error_type() == "Stream2Search.NotAnEvent",
        "{err}"
    );
}
