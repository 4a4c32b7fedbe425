//! Against the project's real OpenSearch (`dev/opensearch start`, `OPENSEARCH_URL`): every kind
//! of item outcome, and the index holding exactly what it should afterwards.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use stream2search::checkpoint::RecordOutcome;
use stream2search::outcome::Applied;
use stream2search_client::{Client, Config};
use stream2search_testkit::OpenSearch;

const T0: u64 = 1_700_000_000;

fn client(opensearch: &OpenSearch) -> Client {
    let mut config = Config::new(opensearch.url());
    config.allow_http = true;
    Client::new(config).unwrap()
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// `_id` → final outcome.
fn by_id(plan: &stream2search::Plan, finals: &[RecordOutcome]) -> BTreeMap<String, RecordOutcome> {
    plan.items()
        .iter()
        .zip(finals)
        .map(|(item, f)| (item.id.clone(), f.clone()))
        .collect()
}

#[tokio::test]
async fn every_outcome_against_the_real_node_leaves_exactly_the_expected_index() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("client outcomes");
    index.create(json!({"mappings": {"properties": {"n": {"type": "integer"}}}}));
    let planner = planner(index.name());
    let client = client(&opensearch);

    // Before: d-del, and d-stale written at T0+500.
    let before = planner
        .plan(
            &event(vec![
                record(1, "INSERT", "d-del", 7, T0),
                record(2, "INSERT", "d-stale", 2, T0 + 500),
            ]),
            None,
        )
        .unwrap();
    let report = client.send(&before, deadline()).await.unwrap();
    assert_eq!(
        report.finals,
        vec![
            RecordOutcome::Applied(Applied::Indexed),
            RecordOutcome::Applied(Applied::Indexed)
        ]
    );

    // The batch under test.
    let plan = planner
        .plan(
            &event(vec![
                record(3, "INSERT", "d-new", 1, T0 + 100),
                record(4, "REMOVE", "d-del", 7, T0 + 100),
                record(5, "REMOVE", "d-missing", 0, T0 + 100),
                // Older than what the index holds: a stale versioned write (409).
                record(6, "MODIFY", "d-stale", 99, T0 + 100),
                // "n" is mapped as integer.
                record_with(
                    7,
                    "INSERT",
                    "d-bad",
                    json!({"n": {"S": "not a number"}}),
                    T0 + 100,
                ),
            ]),
            None,
        )
        .unwrap();
    let report = client.send(&plan, deadline()).await.unwrap();

    let finals = by_id(&plan, &report.finals);
    assert_eq!(finals["d-new"], RecordOutcome::Applied(Applied::Indexed));
    assert_eq!(finals["d-del"], RecordOutcome::Applied(Applied::Deleted));
    assert_eq!(
        finals["d-missing"],
        RecordOutcome::Applied(Applied::AlreadyGone)
    );
    assert_eq!(finals["d-stale"], RecordOutcome::Applied(Applied::Stale));
    let RecordOutcome::Rejected { status, reason } = &finals["d-bad"] else {
        panic!("d-bad: {:?}", finals["d-bad"]);
    };
    assert_eq!(*status, 400);
    assert!(reason.contains("mapper_parsing_exception"), "{reason}");
    assert_eq!(report.counters.attempts, 1, "nothing here is retryable");
    assert!(report.counters.bytes_sent < report.counters.bytes_ndjson);

    index.refresh();
    let hits = opensearch
        .get(&format!("/{}/_search?size=100&version=true", index.name()))
        .json();
    let held: BTreeMap<String, (Value, u64)> = hits["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["_id"].as_str().unwrap().to_owned(),
                (h["_source"].clone(), h["_version"].as_u64().unwrap()),
            )
        })
        .collect();
    let expected: BTreeMap<String, (Value, u64)> = [
        (
            "d-new".to_owned(),
            (json!({"id": "d-new", "n": 1}), (T0 + 100) * 1_000_000),
        ),
        (
            "d-stale".to_owned(),
            (json!({"id": "d-stale", "n": 2}), (T0 + 500) * 1_000_000),
        ),
    ]
    .into();
    assert_eq!(held, expected);
}

#[tokio::test]
async fn uncompressed_bodies_are_accepted_too() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("client plain body");
    let mut config = Config::new(opensearch.url());
    config.allow_http = true;
    config.gzip = false;
    let plan = planner(index.name())
        .plan(&event(vec![record(1, "INSERT", "p", 5, T0)]), None)
        .unwrap();

    let report = Client::new(config)
        .unwrap()
        .send(&plan, deadline())
        .await
        .unwrap();

    assert_eq!(
        report.finals,
        vec![RecordOutcome::Applied(Applied::Indexed)]
    );
    assert_eq!(report.counters.bytes_sent, report.counters.bytes_ndjson);
    assert_eq!(
        index.get_doc("p").json()["_source"],
        json!({"id": "p", "n": 5})
    );
}
