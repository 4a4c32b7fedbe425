//! Mirroring against the project's real OpenSearch (`OPENSEARCH_URL`) and moto's SQS
//! (`MOTO_URL`): a write alias `NAME` on one index and `NAME-mirror` on another, as a reindex
//! lays them out (`docs/reindex.md`). Every expectation is written by hand.
//!
//! Under `STREAM2SEARCH_REQUIRE_OPENSEARCH=1` / `STREAM2SEARCH_REQUIRE_MOTO=1` a missing server
//! fails the test; otherwise the test prints `SKIPPED: ...` and returns.
//!
//! The lookup failures a real node does not produce on demand come from a wiremock stand-in at
//! the end.

mod common;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use stream2search::checkpoint::{Checkpoint, RecordOutcome};
use stream2search::outcome::Applied;
use stream2search_lambda::testing::{event, insert, modify, remove};
use stream2search_lambda::{Handler, Settings};
use stream2search_testkit::{MotoSqs, OpenSearch, TestIndex};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use common::{key, resume_at, soon};

/// `ApproximateCreationDateTime` of the testing builders' record with SequenceNumber `seq`, as
/// an external version (2026-01-01T00:00:00Z is 1,767,225,600).
fn version(seq: u64) -> u64 {
    (1_767_225_600 + seq) * 1_000_000
}

/// The common settings, with the mirror set looked up again on every invocation.
fn settings(url: &str, index: &str, extra: &[(&str, &str)]) -> Settings {
    let mut all = vec![("STREAM2SEARCH_MIRROR_REFRESH_SECS", "0")];
    all.extend_from_slice(extra);
    common::settings(url, index, &all)
}

/// The index `NAME` writes to, the mirror index, and `NAME`.
struct Pair {
    opensearch: OpenSearch,
    live: TestIndex,
    mirror: TestIndex,
    name: String,
}

impl Pair {
    /// `live` has the write alias `NAME` and the mapping `live_body`; `mirror` has the alias
    /// `NAME-mirror` and `mirror_body`.
    fn new(opensearch: &OpenSearch, purpose: &str, live_body: Value, mirror_body: Value) -> Pair {
        let live = opensearch.index(purpose);
        let mirror = opensearch.index(purpose);
        let name = format!("{}-alias", live.name());
        let with_alias = |mut body: Value, alias: &str, write: bool| {
            body["aliases"] =
                json!({ alias: if write { json!({"is_write_index": true}) } else { json!({}) } });
            body
        };
        live.create(with_alias(live_body, &name, true));
        mirror.create(with_alias(mirror_body, &format!("{name}-mirror"), false));
        Pair {
            opensearch: opensearch.clone(),
            live,
            mirror,
            name,
        }
    }

    fn handler(&self, extra: &[(&str, &str)]) -> Handler {
        Handler::new(settings(self.opensearch.url(), &self.name, extra)).unwrap()
    }

    /// One `_aliases` action on the mirror alias of the mirror index: `add` or `remove`.
    fn mirror_alias(&self, action: &str) {
        let r = self.opensearch.send_json(
            "POST",
            "/_aliases",
            &json!({"actions": [{ action: {"index": self.mirror.name(), "alias": format!("{}-mirror", self.name)} }]}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }

    fn refresh(&self) {
        self.live.refresh();
        self.mirror.refresh();
    }
}

/// `(_source, _version)` of a document, `None` when the index does not hold it.
fn doc(index: &TestIndex, id: &str) -> Option<(Value, u64)> {
    let r = index.get_doc(id);
    assert!(r.status == 200 || r.status == 404, "{}", r.text());
    let v = r.json();
    (r.status == 200).then(|| (v["_source"].clone(), v["_version"].as_u64().unwrap()))
}

#[tokio::test]
async fn inserts_modifies_and_removes_reach_the_write_index_and_the_mirror() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let pair = Pair::new(&opensearch, "mirror both", json!({}), json!({}));
    let handler = pair.handler(&[]);
    let image = |id: &str, price: &str| json!({"productId": {"S": id}, "price": {"N": price}});

    let first = event([
        insert(1, key("p-1"), image("p-1", "10")),
        insert(2, key("p-2"), image("p-2", "20")),
        insert(3, key("p-3"), image("p-3", "30")),
    ]);
    let inv = handler.handle(&first, soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    let second = event([
        modify(4, key("p-2"), image("p-2", "20"), image("p-2", "21.50")),
        remove(5, key("p-3"), image("p-3", "30")),
    ]);
    let inv = handler.handle(&second, soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(
        inv.results
            .iter()
            .map(|r| r.outcome.clone())
            .collect::<Vec<_>>(),
        [
            RecordOutcome::Applied(Applied::Indexed),
            RecordOutcome::Applied(Applied::Deleted)
        ]
    );

    pair.refresh();
    for index in [&pair.live, &pair.mirror] {
        assert_eq!(
            doc(index, "p-1"),
            Some((json!({"productId": "p-1", "price": 10}), version(1))),
            "{index}"
        );
        assert_eq!(
            doc(index, "p-2"),
            Some((json!({"productId": "p-2", "price": 21.50}), version(4))),
            "{index}"
        );
        assert_eq!(doc(index, "p-3"), None, "{index}");
        // The exact text, as DynamoDB had the number.
        let r = index.get_doc("p-2");
        assert!(
            r.text().contains(r#""price":21.50"#),
            "{index}: {}",
            r.text()
        );
    }
}

#[tokio::test]
async fn a_document_the_mirror_refuses_is_poison_and_the_checkpoint_names_it() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let strict = json!({"mappings": {"dynamic": "strict", "properties": {
        "productId": {"type": "keyword"}, "price": {"type": "float"}}}});
    let pair = Pair::new(&opensearch, "mirror strict", json!({}), strict);
    let handler = pair.handler(&[]);
    let payload = event([
        insert(
            10,
            key("p-1"),
            json!({"productId": {"S": "p-1"}, "price": {"N": "1"}}),
        ),
        insert(
            11,
            key("p-2"),
            json!({"productId": {"S": "p-2"}, "color": {"S": "red"}}),
        ),
        insert(
            12,
            key("p-3"),
            json!({"productId": {"S": "p-3"}, "price": {"N": "3"}}),
        ),
    ]);
    let inv = handler.handle(&payload, soon()).await.unwrap();

    // No queue: the poison record is a failure, and Lambda resumes at it.
    assert_eq!(resume_at(&inv.checkpoint), Some("11"));
    assert_eq!(
        inv.results[0].outcome,
        RecordOutcome::Applied(Applied::Indexed)
    );
    assert_eq!(
        inv.results[2].outcome,
        RecordOutcome::Applied(Applied::Indexed)
    );
    let RecordOutcome::Rejected { status, reason } = &inv.results[1].outcome else {
        panic!("{:?}", inv.results[1].outcome);
    };
    assert_eq!(*status, 400);
    let named = format!("in mirror index {}: ", pair.mirror.name());
    assert!(reason.starts_with(&named), "{reason}");
    assert!(
        reason.contains("strict_dynamic_mapping_exception"),
        "{reason}"
    );
    assert_eq!((inv.counts.indexed, inv.counts.failed), (2, 1));

    pair.refresh();
    // The write index took all three; the mirror all but the one it refused.
    for id in ["p-1", "p-2", "p-3"] {
        assert!(doc(&pair.live, id).is_some(), "{id}");
    }
    assert!(doc(&pair.mirror, "p-1").is_some());
    assert_eq!(doc(&pair.mirror, "p-2"), None);
    assert!(doc(&pair.mirror, "p-3").is_some());
}

#[tokio::test]
async fn poison_in_either_index_is_dead_lettered_once_with_every_reason() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let Some(moto) = MotoSqs::from_env() else {
        return;
    };
    let price = json!({"mappings": {"properties": {"price": {"type": "float"}}}});
    let strict = json!({"mappings": {"dynamic": "strict", "properties": {
        "productId": {"type": "keyword"}, "price": {"type": "float"}}}});
    let pair = Pair::new(&opensearch, "mirror dlq", price, strict);
    let queue_url = moto.create_queue("mirror");
    let sqs = moto.url();
    let handler = pair.handler(&[
        ("STREAM2SEARCH_DLQ_URL", &queue_url),
        ("STREAM2SEARCH_SQS_ENDPOINT", &sqs),
    ]);
    let payload = event([
        insert(
            20,
            key("p-1"),
            json!({"productId": {"S": "p-1"}, "price": {"N": "1"}}),
        ),
        // Only the mirror refuses it: `color` is not in its strict mapping.
        insert(
            21,
            key("p-2"),
            json!({"productId": {"S": "p-2"}, "color": {"S": "red"}}),
        ),
        // Both refuse it: an object where `price` is a float.
        insert(
            22,
            key("p-3"),
            json!({"productId": {"S": "p-3"}, "price": {"M": {"amount": {"N": "3"}}}}),
        ),
    ]);
    let inv = handler.handle(&payload, soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(
        (
            inv.counts.indexed,
            inv.counts.dead_lettered,
            inv.counts.failed
        ),
        (1, 2, 0)
    );

    let mut messages = moto.receive_all(&queue_url);
    messages.sort_by_key(|m| m["position"].as_u64());
    assert_eq!(messages.len(), 2, "{messages:?}");
    let records = serde_json::from_slice::<Value>(&payload).unwrap()["Records"].clone();
    let mirror = pair.mirror.name();
    assert_eq!(messages[0]["SequenceNumber"], "21");
    assert_eq!(messages[0]["record"], records[1]);
    let reason = messages[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!("rejected (400): in mirror index {mirror}: ")),
        "{reason}"
    );
    assert!(
        reason.contains("strict_dynamic_mapping_exception"),
        "{reason}"
    );

    assert_eq!(messages[1]["SequenceNumber"], "22");
    assert_eq!(messages[1]["record"], records[2]);
    let reason = messages[1]["reason"].as_str().unwrap();
    // The write index's reason first, then the mirror's.
    assert!(reason.starts_with("rejected (400): "), "{reason}");
    let (own, theirs) = reason
        .split_once(&format!("; in mirror index {mirror}: rejected (400): "))
        .unwrap_or_else(|| panic!("{reason}"));
    assert!(own.contains("mapper_parsing_exception"), "{reason}");
    assert!(theirs.contains("mapper_parsing_exception"), "{reason}");
}

#[tokio::test]
async fn a_mirror_that_takes_no_writes_leaves_its_records_not_durable() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let pair = Pair::new(&opensearch, "mirror blocked", json!({}), json!({}));
    pair.mirror
        .put_settings(json!({"index.blocks.write": true}));
    let handler = pair.handler(&[
        ("STREAM2SEARCH_MAX_ATTEMPTS", "2"),
        ("STREAM2SEARCH_BACKOFF_BASE_MS", "10"),
        ("STREAM2SEARCH_BACKOFF_CAP_MS", "20"),
    ]);
    let payload = event([
        insert(30, key("p-1"), json!({"productId": {"S": "p-1"}})),
        insert(31, key("p-2"), json!({"productId": {"S": "p-2"}})),
    ]);
    let inv = handler.handle(&payload, soon()).await.unwrap();
    // Lambda delivers both again; the write index already has them (versions make that safe).
    assert_eq!(resume_at(&inv.checkpoint), Some("30"));
    for r in &inv.results {
        let RecordOutcome::NotDurable { reason } = &r.outcome else {
            panic!("{:?}", r.outcome);
        };
        let named = format!(
            "in mirror index {}: gave up after 2 attempts",
            pair.mirror.name()
        );
        assert!(reason.starts_with(&named), "{reason}");
        assert!(reason.contains("cluster_block_exception"), "{reason}");
    }
    pair.refresh();
    assert!(doc(&pair.live, "p-1").is_some() && doc(&pair.live, "p-2").is_some());
}

#[tokio::test]
async fn removing_the_mirror_alias_stops_mirroring_and_adding_it_starts_it_again() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let pair = Pair::new(&opensearch, "mirror alias", json!({}), json!({}));
    // Refresh 0: the handler looks the alias up at every invocation.
    let handler = pair.handler(&[]);
    let one = |seq: u64, id: &str| event([insert(seq, key(id), json!({"productId": {"S": id}}))]);

    let inv = handler.handle(&one(40, "p-1"), soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    pair.mirror_alias("remove");
    let inv = handler.handle(&one(41, "p-2"), soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    pair.mirror_alias("add");
    let inv = handler.handle(&one(42, "p-3"), soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);

    pair.refresh();
    let held = |index: &TestIndex| {
        ["p-1", "p-2", "p-3"]
            .into_iter()
            .filter(|id| doc(index, id).is_some())
            .collect::<Vec<_>>()
    };
    assert_eq!(held(&pair.live), ["p-1", "p-2", "p-3"]);
    assert_eq!(held(&pair.mirror), ["p-1", "p-3"]);
}

#[tokio::test]
async fn the_mirror_set_is_kept_for_the_refresh_interval() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let pair = Pair::new(&opensearch, "mirror interval", json!({}), json!({}));
    let handler = pair.handler(&[("STREAM2SEARCH_MIRROR_REFRESH_SECS", "3600")]);
    let one = |seq: u64, id: &str| event([insert(seq, key(id), json!({"productId": {"S": id}}))]);

    // The first invocation learns the mirror; removing the alias is not seen within the hour.
    handler.handle(&one(50, "p-1"), soon()).await.unwrap();
    pair.mirror_alias("remove");
    handler.handle(&one(51, "p-2"), soon()).await.unwrap();
    // A new handler (a cold start) looks it up again.
    pair.handler(&[("STREAM2SEARCH_MIRROR_REFRESH_SECS", "3600")])
        .handle(&one(52, "p-3"), soon())
        .await
        .unwrap();

    pair.refresh();
    assert!(doc(&pair.mirror, "p-1").is_some());
    assert!(doc(&pair.mirror, "p-2").is_some());
    assert_eq!(doc(&pair.mirror, "p-3"), None);
    assert!(doc(&pair.live, "p-3").is_some());
}

#[tokio::test]
async fn mirror_off_writes_the_write_index_only() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let pair = Pair::new(&opensearch, "mirror off", json!({}), json!({}));
    let handler = pair.handler(&[("STREAM2SEARCH_MIRROR", "off")]);
    let payload = event([insert(60, key("p-1"), json!({"productId": {"S": "p-1"}}))]);
    let inv = handler.handle(&payload, soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    pair.refresh();
    assert!(doc(&pair.live, "p-1").is_some());
    assert_eq!(doc(&pair.mirror, "p-1"), None);
}

#[tokio::test]
async fn a_mirror_at_its_field_limit_stops_dynamic_mapping_and_takes_the_document() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    // As `stream2search index create` marks an index; a limit a document with ten top-level
    // attributes passes.
    let limited = json!({
        "settings": {"index.mapping.total_fields.limit": 5},
        "mappings": {
            "_meta": {"stream2search": {"at_field_limit": "stop_dynamic_mapping"}},
            "properties": {"productId": {"type": "keyword"}}
        }
    });
    let pair = Pair::new(&opensearch, "mirror field limit", json!({}), limited);
    let handler = pair.handler(&[]);
    let mut image = serde_json::Map::new();
    image.insert("productId".into(), json!({"S": "p-1"}));
    for n in 0..10 {
        image.insert(format!("a{n}"), json!({"S": format!("v{n}")}));
    }
    let payload = event([insert(70, key("p-1"), Value::Object(image))]);
    let inv = handler.handle(&payload, soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete, "{:?}", inv.results);
    assert_eq!(
        inv.results[0].outcome,
        RecordOutcome::Applied(Applied::Indexed)
    );

    pair.refresh();
    let (source, _) = doc(&pair.mirror, "p-1").unwrap();
    assert_eq!(source["a9"], "v9");
    let mapping = opensearch.get(&format!("/{}/_mapping", pair.mirror.name()));
    assert_eq!(
        mapping.json()[pair.mirror.name()]["mappings"]["dynamic"],
        "false",
        "{}",
        mapping.text()
    );
}

/// The stand-in reads bulk bodies as sent: no gzip.
const PLAIN_BODIES: &[(&str, &str)] = &[("STREAM2SEARCH_GZIP", "false")];

/// A stand-in OpenSearch: `_bulk` answers every item created (and records it); the alias lookup
/// answers what the test mounts.
struct StandIn {
    server: MockServer,
    bulk: Arc<Mutex<Vec<(String, String)>>>,
}

struct Created(Arc<Mutex<Vec<(String, String)>>>);

impl Respond for Created {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let mut items = Vec::new();
        let mut lines = body.lines();
        while let Some(line) = lines.next() {
            let action: Value = serde_json::from_str(line).unwrap();
            let (name, meta) = action.as_object().unwrap().iter().next().unwrap();
            let (index, id) = (
                meta["_index"].as_str().unwrap(),
                meta["_id"].as_str().unwrap(),
            );
            self.0
                .lock()
                .unwrap()
                .push((index.to_owned(), id.to_owned()));
            if name == "index" {
                lines.next();
            }
            let (status, result) = if name == "index" {
                (201, "created")
            } else {
                (200, "deleted")
            };
            items.push(
                json!({ name: {"_index": index, "_id": id, "status": status, "result": result} }),
            );
        }
        ResponseTemplate::new(200)
            .set_body_json(json!({"took": 1, "errors": false, "items": items}))
    }
}

impl StandIn {
    async fn start() -> StandIn {
        let server = MockServer::start().await;
        let bulk = Arc::new(Mutex::new(Vec::new()));
        Mock::given(method("POST"))
            .and(path_regex(r"/_bulk$"))
            .respond_with(Created(bulk.clone()))
            .mount(&server)
            .await;
        StandIn { server, bulk }
    }

    /// The alias lookup answers `status` with `body` from now on.
    async fn aliases(&self, status: u16, body: &str) {
        self.server.reset().await;
        Mock::given(method("POST"))
            .and(path_regex(r"/_bulk$"))
            .respond_with(Created(self.bulk.clone()))
            .mount(&self.server)
            .await;
        Mock::given(method("GET"))
            .and(path("/products-mirror/_alias/products-mirror"))
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .mount(&self.server)
            .await;
    }

    /// The (index, id) pairs sent since the last call.
    fn sent(&self) -> Vec<(String, String)> {
        let mut sent = std::mem::take(&mut *self.bulk.lock().unwrap());
        sent.sort();
        sent
    }
}

#[tokio::test]
async fn until_a_lookup_succeeds_records_are_not_durable_and_a_later_failure_keeps_the_last_set() {
    let stand_in = StandIn::start().await;
    let handler = Handler::new(settings(&stand_in.server.uri(), "products", PLAIN_BODIES)).unwrap();
    let one = |seq: u64, id: &str| event([insert(seq, key(id), json!({"productId": {"S": id}}))]);
    let pair = |index: &str, id: &str| (index.to_owned(), id.to_owned());

    // Never learned: the write index takes the record, but it is not durable.
    stand_in
        .aliases(500, r#"{"error":"boom","status":500}"#)
        .await;
    let inv = handler.handle(&one(1, "p-1"), soon()).await.unwrap();
    assert_eq!(resume_at(&inv.checkpoint), Some("1"));
    let RecordOutcome::NotDurable { reason } = &inv.results[0].outcome else {
        panic!("{:?}", inv.results[0].outcome);
    };
    assert!(
        reason.starts_with("mirror: the indexes of products-mirror are not known yet (GET products-mirror/_alias/products-mirror: HTTP 500: "),
        "{reason}"
    );
    assert_eq!(stand_in.sent(), [pair("products", "p-1")]);

    // Learned: one mirror index.
    stand_in
        .aliases(
            200,
            r#"{"products-000002":{"aliases":{"products-mirror":{}}}}"#,
        )
        .await;
    let inv = handler.handle(&one(2, "p-2"), soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(
        stand_in.sent(),
        [pair("products", "p-2"), pair("products-000002", "p-2")]
    );

    // A failed lookup keeps the set last learned.
    stand_in.aliases(503, "unavailable").await;
    let inv = handler.handle(&one(3, "p-3"), soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(
        stand_in.sent(),
        [pair("products", "p-3"), pair("products-000002", "p-3")]
    );

    // 404: no mirror.
    stand_in
        .aliases(
            404,
            r#"{"error":"alias [products-mirror] missing","status":404}"#,
        )
        .await;
    let inv = handler.handle(&one(4, "p-4"), soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(stand_in.sent(), [pair("products", "p-4")]);
}

#[tokio::test]
async fn a_templated_index_never_looks_for_a_mirror() {
    let stand_in = StandIn::start().await;
    let handler = Handler::new(settings(
        &stand_in.server.uri(),
        "products-{category}",
        PLAIN_BODIES,
    ))
    .unwrap();
    let payload = event([insert(
        1,
        key("p-1"),
        json!({"productId": {"S": "p-1"}, "category": {"S": "books"}}),
    )]);
    let inv = handler.handle(&payload, soon()).await.unwrap();
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(
        stand_in.sent(),
        [("products-books".to_owned(), "p-1".to_owned())]
    );
    let requests = stand_in.server.received_requests().await.unwrap();
    assert!(
        requests.iter().all(|r| r.method.as_str() == "POST"),
        "{requests:?}"
    );
}

#[tokio::test]
async fn an_event_with_nothing_for_the_write_alias_makes_no_lookup() {
    let stand_in = StandIn::start().await;
    let handler = Handler::new(settings(&stand_in.server.uri(), "products", PLAIN_BODIES)).unwrap();
    // No Keys: not convertible, nothing to send.
    let payload = br#"{"Records":[{"eventName":"INSERT","dynamodb":{"SequenceNumber":"1","NewImage":{"productId":{"S":"p-1"}}}}]}"#;
    let inv = handler.handle(payload, soon()).await.unwrap();
    assert!(
        inv.results[0].outcome.is_poison(),
        "{:?}",
        inv.results[0].outcome
    );
    let requests = stand_in.server.received_requests().await.unwrap();
    assert!(requests.is_empty(), "{requests:?}");
}
