//! The `testing` feature as a function author uses it: the handler against the fake OpenSearch,
//! each kind of item answer leading to the outcome the real node's answer leads to.

use std::time::{Duration, Instant};

use serde_json::json;
use stream2search::checkpoint::{Checkpoint, RecordOutcome};
use stream2search_lambda::Handler;
use stream2search_lambda::testing::{Answer, FakeOpenSearch, event, insert, remove};

fn keys(id: &str) -> serde_json::Value {
    json!({"productId": {"S": id}})
}

fn image(id: &str, price: &str) -> serde_json::Value {
    json!({"productId": {"S": id}, "price": {"N": price}})
}

#[tokio::test]
async fn each_answer_leads_to_its_outcome_and_the_requests_are_recorded() {
    let opensearch = FakeOpenSearch::start().await;
    opensearch.answer("p-2", [Answer::MapperError]);
    opensearch.answer("p-3", [Answer::Conflict]);
    opensearch.answer("p-4", [Answer::TooManyRequests, Answer::TooManyRequests]);
    let env = opensearch.env("products");
    let handler = Handler::builder()
        .from_lookup(|name| env.get(name).cloned())
        .unwrap();
    let payload = event([
        insert(10, keys("p-1"), image("p-1", "24.90")),
        insert(11, keys("p-2"), image("p-2", "1")),
        insert(12, keys("p-3"), image("p-3", "2")),
        insert(13, keys("p-4"), image("p-4", "3")),
        remove(14, keys("p-5"), image("p-5", "4")),
    ]);
    let inv = handler
        .handle(&payload, Instant::now() + Duration::from_secs(30))
        .await
        .unwrap();
    let outcomes: Vec<&RecordOutcome> = inv.results.iter().map(|r| &r.outcome).collect();
    assert_eq!(outcomes[0], &RecordOutcome::Indexed);
    assert!(
        matches!(outcomes[1], RecordOutcome::Rejected { status: 400, .. }),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(outcomes[2], &RecordOutcome::Stale);
    assert_eq!(outcomes[3], &RecordOutcome::Indexed);
    assert_eq!(outcomes[4], &RecordOutcome::Deleted);
    // No dead-letter queue: the rejected record is where Lambda resumes.
    assert!(matches!(&inv.checkpoint, Checkpoint::ResumeFrom(seq) if seq.as_str() == "11"));
    assert_eq!(
        (
            inv.counts.indexed,
            inv.counts.stale,
            inv.counts.deleted,
            inv.counts.failed
        ),
        (2, 1, 1, 1)
    );

    let requests = opensearch.requests();
    assert_eq!(requests.len(), 3, "{requests:#?}");
    let first = &requests[0].items;
    let ids: Vec<&str> = first.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["p-1", "p-2", "p-3", "p-4", "p-5"]);
    assert_eq!(
        first[0].document.as_deref(),
        Some(r#"{"price":24.90,"productId":"p-1"}"#)
    );
    assert_eq!(
        first[0].meta,
        json!({"_index": "products", "_id": "p-1", "version": 1_767_225_610_000_000_u64, "version_type": "external_gte"})
    );
    assert_eq!(
        (first[4].action.as_str(), first[4].document.as_deref()),
        ("delete", None)
    );
    // Only the 429 item is sent again, alone, until it is answered.
    for retry in &requests[1..] {
        let ids: Vec<&str> = retry.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["p-4"]);
    }
}
