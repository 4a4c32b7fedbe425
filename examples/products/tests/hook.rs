//! The function's hook, offline: the handler built as `main` builds it, against the fake
//! OpenSearch of `stream2search_lambda::testing`, with the documents it sent compared to text
//! written out by hand.

use std::time::{Duration, Instant};

use serde_json::json;
use stream2search_lambda::Handler;
use stream2search_lambda::testing::{FakeOpenSearch, event, insert, modify, remove};

#[tokio::test]
async fn internal_notes_never_reach_the_index_and_everything_else_is_sent_exactly() {
    let opensearch = FakeOpenSearch::start().await;
    let env = opensearch.env("products");
    let handler = Handler::builder()
        .hook(products::hide_internal_notes)
        .from_lookup(|name| env.get(name).cloned())
        .unwrap();
    let keys = |id: &str| json!({"productId": {"S": id}});
    let payload = event([
        insert(
            1,
            keys("p-1"),
            json!({
                "productId": {"S": "p-1"},
                "price": {"N": "24.90"},
                "internalNotes": {"S": "supplier asks us to drop the price"},
                "tags": {"SS": ["outdoor"]}
            }),
        ),
        // The name inside a value is not the attribute.
        insert(
            2,
            keys("p-2"),
            json!({"productId": {"S": "p-2"}, "name": {"S": "\"internalNotes\" printed on a mug"}}),
        ),
        modify(
            3,
            keys("p-3"),
            json!({"productId": {"S": "p-3"}}),
            json!({"productId": {"S": "p-3"}, "internalNotes": {"M": {"who": {"S": "ops"}}}}),
        ),
        remove(
            4,
            keys("p-4"),
            json!({"productId": {"S": "p-4"}, "internalNotes": {"S": "x"}}),
        ),
    ]);
    let inv = handler
        .handle(&payload, Instant::now() + Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_string(&inv.response().unwrap()).unwrap(),
        r#"{"batchItemFailures":[]}"#
    );
    assert_eq!((inv.counts.indexed, inv.counts.deleted), (3, 1));

    let requests = opensearch.requests();
    assert_eq!(requests.len(), 1);
    let sent: Vec<(&str, &str, Option<&str>)> = requests[0]
        .items
        .iter()
        .map(|i| (i.action.as_str(), i.id.as_str(), i.document.as_deref()))
        .collect();
    assert_eq!(
        sent,
        [
            (
                "index",
                "p-1",
                Some(r#"{"price":24.90,"productId":"p-1","tags":["outdoor"]}"#)
            ),
            (
                "index",
                "p-2",
                Some(r#"{"name":"\"internalNotes\" printed on a mug","productId":"p-2"}"#)
            ),
            ("index", "p-3", Some(r#"{"productId":"p-3"}"#)),
            ("delete", "p-4", None),
        ]
    );
}
