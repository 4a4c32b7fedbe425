//! Shared test helpers: stream events, plans, a scripted bulk server, request decoding.
#![allow(dead_code, missing_docs)]

use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use stream2search::{Plan, Planner};
use stream2search_client::{Client, Config};
use wiremock::{Request, Respond, ResponseTemplate};

/// One DynamoDB stream record: INSERT of `{"id": id, "n": n}`, or REMOVE of `id`.
pub fn record(seq: u64, name: &str, id: &str, n: i64, at_secs: u64) -> Value {
    record_with(seq, name, id, json!({"n": {"N": n.to_string()}}), at_secs)
}

/// One DynamoDB stream record whose image is `{"id": {"S": id}}` plus `attributes`.
pub fn record_with(seq: u64, name: &str, id: &str, attributes: Value, at_secs: u64) -> Value {
    let keys = json!({"id": {"S": id}});
    let mut image = attributes;
    image["id"] = json!({"S": id});
    let mut ddb = json!({
        "ApproximateCreationDateTime": at_secs,
        "Keys": keys,
        "SequenceNumber": seq.to_string(),
        "SizeBytes": 26,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if name == "REMOVE" {
        ddb["OldImage"] = image;
    } else {
        ddb["NewImage"] = image;
    }
    json!({
        "eventID": format!("e{seq}"),
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": ddb,
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/2026-01-01T00:00:00.000",
    })
}

pub fn event(records: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "Records": records })).unwrap()
}

pub fn planner(index: &str) -> Planner {
    Planner::new(stream2search::Config {
        index: index.into(),
        ..stream2search::Config::default()
    })
    .unwrap()
}

/// `n` inserts of documents `d0..d{n-1}` into index `t`.
pub fn inserts(n: usize) -> Plan {
    let records = (0..n)
        .map(|i| {
            record(
                100 + i as u64,
                "INSERT",
                &format!("d{i}"),
                i as i64,
                1_700_000_000,
            )
        })
        .collect();
    planner("t").plan(&event(records), None).unwrap()
}

/// A client for a local test server, with short waits.
pub fn config(base: &str) -> Config {
    let mut config = Config::new(base);
    config.allow_http = true;
    config.backoff_base = Duration::from_millis(5);
    config.backoff_cap = Duration::from_millis(20);
    config.request_timeout = Duration::from_secs(5);
    config.deadline_margin = Duration::from_millis(200);
    config
}

pub fn client(base: &str) -> Client {
    Client::new(config(base)).unwrap()
}

/// The request body as NDJSON (gunzipped when it says gzip).
pub fn ndjson(request: &Request) -> Vec<u8> {
    let gzip = request
        .headers
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&request.body[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        request.body.clone()
    }
}

/// `(action, _id)` of every action line in a bulk body.
pub fn actions(ndjson: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = ndjson.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    while let Some(line) = lines.next() {
        let meta: Value = serde_json::from_slice(line).unwrap();
        let (action, body) = meta.as_object().unwrap().iter().next().unwrap();
        let id = body["_id"].as_str().unwrap().to_owned();
        if action == "index" || action == "create" {
            lines.next().expect("a document line after an index action");
        }
        out.push((action.clone(), id));
    }
    out
}

/// The `_id`s in a bulk body, in order.
pub fn ids(ndjson: &[u8]) -> Vec<String> {
    actions(ndjson).into_iter().map(|(_, id)| id).collect()
}

/// A bulk answer as OpenSearch writes it, one item per `(action, id, status)`.
pub fn bulk_answer(items: &[(String, String, u16)]) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(action, id, status)| {
            let mut item = json!({"_index": "t", "_id": id, "status": status});
            match status {
                200 | 201 => {
                    item["result"] = json!(if action == "delete" {
                        "deleted"
                    } else {
                        "created"
                    });
                    item["_version"] = json!(1);
                }
                404 => item["result"] = json!("not_found"),
                429 => {
                    item["error"] = json!({
                        "type": "es_rejected_execution_exception",
                        "reason": "rejected execution of coordinating operation"
                    })
                }
                409 => {
                    item["error"] = json!({
                        "type": "version_conflict_engine_exception",
                        "reason": "version conflict"
                    })
                }
                _ => {
                    item["error"] =
                        json!({"type": "mapper_parsing_exception", "reason": "failed to parse"})
                }
            }
            json!({ action.as_str(): item })
        })
        .collect();
    let errors = items.iter().any(|i| {
        i.as_object().unwrap().values().next().unwrap()["status"]
            .as_u64()
            .unwrap()
            >= 300
    });
    json!({"took": 1, "errors": errors, "items": items})
}

/// A scripted `_bulk` endpoint: `rule(request_number, action, id)` gives each item's status
/// (request numbers start at 0), or `Err(status)` for the whole request.
pub struct Scripted<F> {
    pub rule: F,
    pub count: Arc<AtomicUsize>,
}

pub fn scripted<F>(rule: F) -> (Scripted<F>, Arc<AtomicUsize>)
where
    F: Fn(usize, &str, &str) -> Result<u16, u16> + Send + Sync + 'static,
{
    let count = Arc::new(AtomicUsize::new(0));
    (
        Scripted {
            rule,
            count: count.clone(),
        },
        count,
    )
}

impl<F> Respond for Scripted<F>
where
    F: Fn(usize, &str, &str) -> Result<u16, u16> + Send + Sync + 'static,
{
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.count.fetch_add(1, Ordering::SeqCst);
        let mut items = Vec::new();
        for (action, id) in actions(&ndjson(request)) {
            match (self.rule)(n, &action, &id) {
                Ok(status) => items.push((action, id, status)),
                Err(status) => {
                    return ResponseTemplate::new(status).set_body_json(json!({
                        "error": {"type": "whole_request", "reason": format!("scripted {status}")},
                        "status": status
                    }));
                }
            }
        }
        ResponseTemplate::new(200).set_body_json(bulk_answer(&items))
    }
}
