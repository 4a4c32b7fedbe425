//! The `testing` feature as a function author uses it: the handler against the fake OpenSearch,
//! each kind of item answer leading to the outcome the real node's answer leads to.

use std::time::{Duration, Instant};

use serde_json::json;
use stream2search::checkpoint::{Checkpoint, RecordOutcome};
use stream2search::outcome::Applied;
use stream2search_lambda::testing::{Answer, FakeOpenSearch, event, insert, kinesis_event, remove};
use stream2search_lambda::{AsyncHook, Handler, HookFuture, Item, Verdict};

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
    assert_eq!(outcomes[0], &RecordOutcome::Applied(Applied::Indexed));
    assert!(
        matches!(outcomes[1], RecordOutcome::Rejected { status: 400, .. }),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(outcomes[2], &RecordOutcome::Applied(Applied::Stale));
    assert_eq!(outcomes[3], &RecordOutcome::Applied(Applied::Indexed));
    assert_eq!(outcomes[4], &RecordOutcome::Applied(Applied::Deleted));
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

#[tokio::test]
async fn a_kinesis_event_of_the_same_changes_sends_the_same_documents_and_names_kinesis_sequence_numbers()
 {
    let opensearch = FakeOpenSearch::start().await;
    opensearch.answer("p-2", [Answer::TooManyRequests; 40]);
    let env = opensearch.env("products");
    let handler = Handler::builder()
        .from_lookup(|name| env.get(name).cloned())
        .unwrap();
    let payload = kinesis_event([
        insert(10, keys("p-1"), image("p-1", "24.90")),
        insert(11, keys("p-2"), image("p-2", "1")),
        remove(12, keys("p-3"), image("p-3", "4")),
    ]);
    let inv = handler
        .handle(&payload, Instant::now() + Duration::from_secs(3))
        .await
        .unwrap();
    let outcomes: Vec<&RecordOutcome> = inv.results.iter().map(|r| &r.outcome).collect();
    assert_eq!(outcomes[0], &RecordOutcome::Applied(Applied::Indexed));
    assert!(
        matches!(outcomes[1], RecordOutcome::NotDurable { .. }),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(outcomes[2], &RecordOutcome::Applied(Applied::Deleted));
    // p-2 never got through: Lambda resumes at its Kinesis sequence number.
    let kinesis_11 = format!("{:0>56}", 11);
    assert!(
        matches!(&inv.checkpoint, Checkpoint::ResumeFrom(seq) if seq.as_str() == kinesis_11),
        "{:?}",
        inv.checkpoint
    );
    let first = &opensearch.requests()[0].items;
    assert_eq!(
        first[0].document.as_deref(),
        Some(r#"{"price":24.90,"productId":"p-1"}"#)
    );
    // Milliseconds: 2026-01-01T00:00:10Z in ms, times 1000.
    assert_eq!(
        first[0].meta,
        json!({"_index": "products", "_id": "p-1", "version": 1_767_225_610_000_000_u64, "version_type": "external_gte"})
    );
    assert_eq!(first[2].action.as_str(), "delete");
}

/// Looks each product's shop up (a task stands in for another service); p-2's lookup never
/// ends.
struct ByShop;

impl AsyncHook for ByShop {
    fn item<'a>(&'a self, item: Item<'a>) -> HookFuture<'a> {
        Box::pin(async move {
            let id = item.id().to_owned();
            let shop = tokio::spawn(async move {
                if id == "p-2" {
                    std::future::pending::<()>().await;
                }
                format!("shop-{}", id.trim_start_matches("p-"))
            });
            match shop.await {
                Ok(shop) => Verdict::index(format!("products-{shop}")),
                Err(e) => Verdict::Refuse(e.to_string()),
            }
        })
    }
}

#[tokio::test]
async fn an_async_hook_routes_and_what_it_has_not_answered_by_the_deadline_is_retried() {
    let opensearch = FakeOpenSearch::start().await;
    let env = opensearch.env("products");
    let handler = Handler::builder()
        .async_hook(ByShop)
        .from_lookup(|name| env.get(name).cloned())
        .unwrap();
    let payload = event([
        insert(20, keys("p-1"), image("p-1", "1")),
        insert(21, keys("p-2"), image("p-2", "2")),
        insert(22, keys("p-3"), image("p-3", "3")),
    ]);
    // Requests end 1.25 s before the deadline, 4 s from now; the hook has the first half.
    let inv = handler
        .handle(&payload, Instant::now() + Duration::from_millis(5250))
        .await
        .unwrap();
    assert_eq!(
        inv.results[0].outcome,
        RecordOutcome::Applied(Applied::Indexed)
    );
    for late in &inv.results[1..] {
        assert_eq!(
            late.outcome,
            RecordOutcome::NotDurable {
                reason: "the hook did not answer in time".into()
            }
        );
    }
    assert!(matches!(&inv.checkpoint, Checkpoint::ResumeFrom(seq) if seq.as_str() == "21"));
    let sent: Vec<(String, String)> = opensearch
        .requests()
        .iter()
        .flat_map(|b| b.items.iter().map(|i| (i.index.clone(), i.id.clone())))
        .collect();
    assert_eq!(sent, [("products-shop-1".to_owned(), "p-1".to_owned())]);
}
