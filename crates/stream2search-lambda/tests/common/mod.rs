//! What the handler's integration tests share: their settings, deadline, index and lookups.
//! Each test file uses a part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stream2search::checkpoint::Checkpoint;
use stream2search_lambda::{Handler, Item, Settings, Verdict};
use stream2search_testkit::{MotoSqs, OpenSearch, TestIndex};

/// The settings of a handler writing to `index` at `url` without authentication, plus `extra`
/// (which override these).
pub fn settings(url: &str, index: &str, extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = [
        ("OPENSEARCH_ENDPOINT", url),
        ("OPENSEARCH_INDEX", index),
        ("OPENSEARCH_AUTH", "none"),
        ("OPENSEARCH_ALLOW_HTTP", "true"),
        ("STREAM2SEARCH_METRICS", "false"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        // The dead-letter queues here are moto's, or nothing at all, on loopback.
        ("STREAM2SEARCH_DLQ_ALLOW_HTTP", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_lookup(|k| vars.get(k).cloned()).unwrap()
}

pub fn soon() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

/// An index whose `price` is a float, so an object there is a mapping error.
pub fn products_index(opensearch: &OpenSearch, purpose: &str) -> TestIndex {
    let index = opensearch.index(purpose);
    index.create(json!({"mappings": {"properties": {"price": {"type": "float"}}}}));
    index
}

/// A document's `_source`, `None` when the index does not hold it.
pub fn source(index: &TestIndex, id: &str) -> Option<Value> {
    let r = index.get_doc(id);
    (r.status == 200).then(|| r.json()["_source"].clone())
}

pub fn key(id: &str) -> Value {
    json!({"productId": {"S": id}})
}

pub fn resume_at(cp: &Checkpoint) -> Option<&str> {
    match cp {
        Checkpoint::ResumeFrom(seq) => Some(seq.as_str()),
        _ => None,
    }
}

/// Two products indexes, `{purpose} open` and `{purpose} blocked` (write-blocked until the test
/// lifts the block), and a handler writing to `open` that sends p-2 to `blocked`, trying twice.
pub struct BlockedP2 {
    pub open: TestIndex,
    pub blocked: TestIndex,
    pub handler: Handler,
}

impl BlockedP2 {
    pub fn new(opensearch: &OpenSearch, purpose: &str) -> BlockedP2 {
        let open = products_index(opensearch, &format!("{purpose} open"));
        let blocked = products_index(opensearch, &format!("{purpose} blocked"));
        blocked.put_settings(json!({"index.blocks.write": true}));
        let blocked_name = blocked.name().to_owned();
        let mut s = settings(opensearch.url(), open.name(), &[]);
        s.client.max_attempts = 2;
        s.client.backoff_base = Duration::from_millis(10);
        s.client.backoff_cap = Duration::from_millis(20);
        // p-2 goes to the write-blocked index: retryable until the attempts run out.
        let handler = Handler::builder()
            .hook(move |item: &Item<'_>| match item.id() {
                "p-2" => Verdict::index(blocked_name.clone()),
                _ => Verdict::Keep,
            })
            .build(s)
            .unwrap();
        BlockedP2 {
            open,
            blocked,
            handler,
        }
    }

    /// Lifts the write block.
    pub fn unblock(&self) {
        self.blocked
            .put_settings(json!({"index.blocks.write": false}));
    }
}

/// A handler writing to `index` that dead-letters to a new moto queue `queue`, and that queue's
/// URL.
pub fn dead_lettering(
    opensearch: &OpenSearch,
    index: &TestIndex,
    moto: &MotoSqs,
    queue: &str,
) -> (Handler, String) {
    let queue_url = moto.create_queue(queue);
    let handler = Handler::new(settings(
        opensearch.url(),
        index.name(),
        &[
            ("STREAM2SEARCH_DLQ_URL", &queue_url),
            ("STREAM2SEARCH_SQS_ENDPOINT", &moto.url()),
        ],
    ))
    .unwrap();
    (handler, queue_url)
}
