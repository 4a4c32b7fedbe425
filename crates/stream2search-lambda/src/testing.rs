//! Offline unit tests for a function (feature `testing`): a fake OpenSearch and events.
//!
//! [`FakeOpenSearch`] is a loopback HTTP server (wiremock) that takes `POST …/_bulk`, records
//! every request, and answers each item as the test told it: indexed, 429, a 400 mapper error
//! or a 409 version conflict. Its item answers copy what OpenSearch 2.19 answers (the project's
//! recorded fixtures), so the handler classifies them as it does the real node's. [`insert`],
//! [`modify`], [`remove`] and [`event`] build DynamoDB Streams events; [`kinesis_event`] builds
//! the Kinesis event of the same changes (Kinesis Data Streams for DynamoDB).
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! use serde_json::json;
//! use stream2search_lambda::Handler;
//! use stream2search_lambda::testing::{Answer, FakeOpenSearch, event, insert};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let opensearch = FakeOpenSearch::start().await;
//! opensearch.answer("p-2", [Answer::TooManyRequests, Answer::Ok]);
//! let env = opensearch.env("products");
//! let handler = Handler::builder()
//!     .from_lookup(|name| env.get(name).cloned())
//!     .unwrap();
//!
//! let payload = event([
//!     insert(1, json!({"productId": {"S": "p-1"}}), json!({"productId": {"S": "p-1"}})),
//!     insert(2, json!({"productId": {"S": "p-2"}}), json!({"productId": {"S": "p-2"}})),
//! ]);
//! let invocation = handler
//!     .handle(&payload, Instant::now() + Duration::from_secs(30))
//!     .await
//!     .unwrap();
//! assert_eq!(invocation.counts.indexed, 2);
//! // p-2 was sent again, alone, after its 429.
//! let requests = opensearch.requests();
//! assert_eq!(requests.len(), 2);
//! assert_eq!(requests[1].items[0].id, "p-2");
//! # });
//! ```

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// How the fake answers one bulk item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Answer {
    /// Done: `201 created` for an index, `200 deleted` for a delete.
    #[default]
    Ok,
    /// `429 rejected_execution_exception`, a full write queue: the handler sends it again.
    TooManyRequests,
    /// `400 mapper_parsing_exception`: the document does not fit the mapping (poison).
    MapperError,
    /// `409 version_conflict_engine_exception`: the index holds a newer version (stale, done).
    Conflict,
}

/// One bulk request the fake received, item by item.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Bulk {
    /// Its items, in the order of the body.
    pub items: Vec<BulkItem>,
}

/// One item of a bulk request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BulkItem {
    /// `index` or `delete`.
    pub action: String,
    /// `_index`.
    pub index: String,
    /// `_id`.
    pub id: String,
    /// The whole action line (`version`, `version_type`, `routing`...).
    pub meta: Value,
    /// The document line exactly as sent; `None` for a delete.
    pub document: Option<String>,
}

impl BulkItem {
    /// The document parsed (numbers through `f64`; compare [`BulkItem::document`] for exact
    /// text).
    pub fn json(&self) -> Option<Value> {
        self.document
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
    }
}

#[derive(Debug, Default)]
struct State {
    script: HashMap<String, VecDeque<Answer>>,
    requests: Vec<Bulk>,
}

/// A fake OpenSearch on a loopback port: records bulk requests, answers items as told.
#[derive(Debug)]
pub struct FakeOpenSearch {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl FakeOpenSearch {
    /// Starts the server. Every item is answered [`Answer::Ok`] unless told otherwise.
    pub async fn start() -> FakeOpenSearch {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(method("POST"))
            .and(path_regex(r"/_bulk$"))
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        FakeOpenSearch { server, state }
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// The environment of a function writing `index` here: `OPENSEARCH_ENDPOINT` (with
    /// `OPENSEARCH_ALLOW_HTTP=true`, `OPENSEARCH_AUTH=none`), `OPENSEARCH_INDEX`, metrics off,
    /// and retry delays of a few milliseconds. Add or replace variables before building.
    pub fn env(&self, index: &str) -> HashMap<String, String> {
        [
            ("OPENSEARCH_ENDPOINT", self.url().as_str()),
            ("OPENSEARCH_ALLOW_HTTP", "true"),
            ("OPENSEARCH_AUTH", "none"),
            ("OPENSEARCH_INDEX", index),
            ("STREAM2SEARCH_METRICS", "false"),
            ("STREAM2SEARCH_BACKOFF_BASE_MS", "1"),
            ("STREAM2SEARCH_BACKOFF_CAP_MS", "10"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Answers the items for document `id` with `answers`, one per time the id is sent, then
    /// [`Answer::Ok`].
    pub fn answer(&self, id: &str, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.state)
            .script
            .entry(id.to_owned())
            .or_default()
            .extend(answers);
    }

    /// Every bulk request received so far, in order.
    pub fn requests(&self) -> Vec<Bulk> {
        lock(&self.state).requests.clone()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

struct Responder(Arc<Mutex<State>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let gzip = request
            .headers
            .get("content-encoding")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let mut body = String::new();
        let read = if gzip {
            flate2::read::GzDecoder::new(&request.body[..]).read_to_string(&mut body)
        } else {
            String::from_utf8(request.body.clone())
                .map(|text| {
                    body = text;
                    body.len()
                })
                .map_err(std::io::Error::other)
        };
        if read.is_err() {
            return ResponseTemplate::new(400).set_body_json(json!({
                "error": {"type": "parse_exception", "reason": "request body is not readable"},
                "status": 400
            }));
        }
        let Some(bulk) = parse(&body) else {
            return ResponseTemplate::new(400).set_body_json(json!({
                "error": {"type": "illegal_argument_exception", "reason": "Malformed action/metadata line"},
                "status": 400
            }));
        };
        let mut state = lock(&self.0);
        let items: Vec<Value> = bulk
            .items
            .iter()
            .map(|item| {
                let answer = state
                    .script
                    .get_mut(&item.id)
                    .and_then(VecDeque::pop_front)
                    .unwrap_or_default();
                answer_item(item, answer)
            })
            .collect();
        let errors = items.iter().any(|i| {
            i.as_object()
                .and_then(|o| o.values().next())
                .is_some_and(|v| v.get("error").is_some())
        });
        state.requests.push(bulk);
        ResponseTemplate::new(200)
            .set_body_json(json!({"took": 1, "errors": errors, "items": items}))
    }
}

/// The NDJSON body as items; `None` if a line is not what OpenSearch takes.
fn parse(body: &str) -> Option<Bulk> {
    let mut lines = body.lines().filter(|l| !l.is_empty());
    let mut items = Vec::new();
    while let Some(line) = lines.next() {
        let meta: Value = serde_json::from_str(line).ok()?;
        let (action, fields) = meta.as_object()?.iter().next()?;
        let document = match action.as_str() {
            "index" | "create" => Some(lines.next()?.to_owned()),
            "delete" => None,
            _ => return None,
        };
        items.push(BulkItem {
            action: action.clone(),
            index: fields.get("_index")?.as_str()?.to_owned(),
            id: fields.get("_id")?.as_str()?.to_owned(),
            meta: fields.clone(),
            document,
        });
    }
    Some(Bulk { items })
}

/// One item of the answer, shaped as OpenSearch 2.19 answers it (`indexed.json`, `deleted.json`,
/// `rejected_execution_item.json`, `mapper_parsing.json`, `stale_index.json`).
fn answer_item(item: &BulkItem, answer: Answer) -> Value {
    let version = item.meta.get("version").cloned().unwrap_or(json!(1));
    let head = |status: u16| json!({"_index": item.index, "_id": item.id, "status": status});
    let error = |status: u16, kind: &str, reason: String| {
        let mut v = head(status);
        v["error"] = json!({"type": kind, "reason": reason, "index": item.index, "shard": "0"});
        v
    };
    let body = match (answer, item.action.as_str()) {
        (Answer::Ok, "delete") => {
            let mut v = head(200);
            v["_version"] = version;
            v["result"] = json!("deleted");
            v
        }
        (Answer::Ok, _) => {
            let mut v = head(201);
            v["_version"] = version;
            v["result"] = json!("created");
            v
        }
        (Answer::TooManyRequests, _) => error(
            429,
            "rejected_execution_exception",
            "rejected execution of primary operation (the fake's write queue is full)".into(),
        ),
        (Answer::MapperError, _) => error(
            400,
            "mapper_parsing_exception",
            "failed to parse field [price] of type [float] in document (told by the test)".into(),
        ),
        (Answer::Conflict, _) => error(
            409,
            "version_conflict_engine_exception",
            format!(
                "[{}]: version conflict, current version [9999999999000000] is higher than the one provided [{version}]",
                item.id
            ),
        ),
    };
    json!({ item.action.as_str(): body })
}

/// A DynamoDB Streams event: `{"Records":[...]}` of `records`, as bytes for
/// [`Handler::handle`](crate::Handler::handle).
pub fn event(records: impl IntoIterator<Item = Value>) -> Vec<u8> {
    let records: Vec<Value> = records.into_iter().collect();
    serde_json::to_vec(&json!({ "Records": records })).unwrap_or_default()
}

/// The Lambda Kinesis event of the same changes, as Kinesis Data Streams for DynamoDB delivers
/// them: each record (from [`insert`], [`modify`], [`remove`]) becomes the change record
/// (without `SequenceNumber` and `StreamViewType`, with `ApproximateCreationDateTime` in
/// milliseconds and `tableName` `products`), base64-encoded in an `aws:kinesis` record whose
/// `sequenceNumber` is the record's SequenceNumber, padded to Kinesis's 56 digits.
pub fn kinesis_event(records: impl IntoIterator<Item = Value>) -> Vec<u8> {
    use base64::Engine;
    let records: Vec<Value> = records
        .into_iter()
        .map(|mut record| {
            let sequence = record["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap_or("0")
                .to_string();
            if let Some(dynamodb) = record["dynamodb"].as_object_mut() {
                dynamodb.remove("SequenceNumber");
                dynamodb.remove("StreamViewType");
                if let Some(seconds) = dynamodb["ApproximateCreationDateTime"].as_u64() {
                    dynamodb.insert("ApproximateCreationDateTime".into(), json!(seconds * 1000));
                }
            }
            if let Some(change) = record.as_object_mut() {
                change.remove("eventVersion");
                change.remove("eventSourceARN");
                change.insert("recordFormat".into(), json!("application/json"));
                change.insert("tableName".into(), json!("products"));
            }
            let sequence = format!("{sequence:0>56}");
            let data = base64::engine::general_purpose::STANDARD
                .encode(serde_json::to_vec(&record).unwrap_or_default());
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "products",
                    "sequenceNumber": sequence,
                    "data": data,
                    "approximateArrivalTimestamp": 1_767_225_600.5,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{sequence}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/products",
                "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/products",
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "Records": records })).unwrap_or_default()
}

/// An INSERT record. `keys` and `new_image` are DynamoDB JSON (`{"productId":{"S":"p-1"}}`);
/// `sequence` is its SequenceNumber, and its `ApproximateCreationDateTime` is
/// 2026-01-01T00:00:00Z plus `sequence` seconds, so later records have newer versions. (The
/// images' attributes come out in name order, as serde_json keeps them.)
pub fn insert(sequence: u64, keys: Value, new_image: Value) -> Value {
    record("INSERT", sequence, keys, None, Some(new_image))
}

/// A MODIFY record (see [`insert`]).
pub fn modify(sequence: u64, keys: Value, old_image: Value, new_image: Value) -> Value {
    record("MODIFY", sequence, keys, Some(old_image), Some(new_image))
}

/// A REMOVE record (see [`insert`]).
pub fn remove(sequence: u64, keys: Value, old_image: Value) -> Value {
    record("REMOVE", sequence, keys, Some(old_image), None)
}

fn record(
    name: &str,
    sequence: u64,
    keys: Value,
    old_image: Option<Value>,
    new_image: Option<Value>,
) -> Value {
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": 1_767_225_600_u64 + sequence,
        "Keys": keys,
        "SequenceNumber": sequence.to_string(),
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if let Some(image) = old_image {
        dynamodb["OldImage"] = image;
    }
    if let Some(image) = new_image {
        dynamodb["NewImage"] = image;
    }
    json!({
        "eventID": format!("e-{sequence}"),
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": dynamodb,
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Products/stream/2026-01-01T00:00:00.000",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first item of the answer OpenSearch gave in a recorded fixture with this `status`.
    fn recorded(fixture: &str, status: u64) -> (String, Value) {
        let path = format!(
            "{}/../stream2search/tests/fixtures/opensearch/{fixture}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let body: Value = serde_json::from_str(file["body"].as_str().unwrap()).unwrap();
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|item| {
                let (action, v) = item.as_object().unwrap().iter().next().unwrap();
                (v["status"] == status).then(|| (action.clone(), v.clone()))
            })
            .unwrap_or_else(|| panic!("{fixture} has no item with status {status}"))
    }

    /// What the classification reads of an item: action, status, result, error type.
    fn shape(action: &str, v: &Value) -> (String, Value, Value, Value) {
        (
            action.to_owned(),
            v["status"].clone(),
            v["result"].clone(),
            v["error"]["type"].clone(),
        )
    }

    #[test]
    fn fake_answers_have_the_shapes_the_real_node_recorded() {
        let item = |action: &str| BulkItem {
            action: action.into(),
            index: "products".into(),
            id: "p-1".into(),
            meta: json!({"_index": "products", "_id": "p-1", "version": 1_700_000_000_000_000_u64}),
            document: (action == "index").then(|| "{}".into()),
        };
        for (action, answer, fixture, status) in [
            ("index", Answer::Ok, "indexed", 201),
            ("delete", Answer::Ok, "deleted", 200),
            (
                "index",
                Answer::TooManyRequests,
                "rejected_execution_item",
                429,
            ),
            ("index", Answer::MapperError, "mapper_parsing", 400),
            ("index", Answer::Conflict, "stale_index", 409),
        ] {
            let fake = answer_item(&item(action), answer);
            let (fake_action, fake_item) = fake.as_object().unwrap().iter().next().unwrap();
            let (real_action, real_item) = recorded(fixture, status);
            assert_eq!(
                shape(fake_action, fake_item),
                shape(&real_action, &real_item),
                "{answer:?} vs {fixture}"
            );
        }
    }

    #[test]
    fn bodies_are_read_item_by_item_and_malformed_ones_refused() {
        let bulk = parse(concat!(
            "{\"index\":{\"_index\":\"p\",\"_id\":\"a\",\"version\":3}}\n{\"n\":1.50}\n",
            "{\"delete\":{\"_index\":\"p\",\"_id\":\"b\"}}\n",
        ))
        .unwrap();
        assert_eq!(bulk.items.len(), 2);
        assert_eq!(bulk.items[0].document.as_deref(), Some("{\"n\":1.50}"));
        assert_eq!(bulk.items[0].meta["version"], json!(3));
        assert_eq!(
            (bulk.items[1].action.as_str(), bulk.items[1].id.as_str()),
            ("delete", "b")
        );
        assert_eq!(bulk.items[1].document, None);
        assert!(parse("{\"index\":{\"_index\":\"p\",\"_id\":\"a\"}}\n").is_none());
        assert!(parse("{\"update\":{\"_index\":\"p\",\"_id\":\"a\"}}\n{}\n").is_none());
    }
}
