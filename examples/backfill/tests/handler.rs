//! The backfill handler as `main` builds it, called offline: a wiremock DynamoDB answers
//! DescribeTable and two Scan pages, `stream2search_lambda::testing`'s fake OpenSearch takes the
//! bulk requests, a wiremock SQS the dead letters. The documents sent and the dead-letter
//! message are compared with text written out by hand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stream2search_lambda::backfill::BackfillHandler;
use stream2search_lambda::testing::{Answer, FakeOpenSearch};
use wiremock::matchers::{body_string_contains, header, method};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PAGE_1: &str = r#"{"Items":[{"productId":{"S":"p-1"},"price":{"N":"1.500"},"tags":{"SS":["a"]}},{"productId":{"S":"p-2"},"bad..name":{"S":"x"}}],"Count":2,"ScannedCount":2,"LastEvaluatedKey":{"productId":{"S":"p-2"}},"ConsumedCapacity":{"TableName":"Products","CapacityUnits":0.5}}"#;
const PAGE_2: &str = r#"{"Items":[{"productId":{"S":"p-3"},"n":{"N":"12345678901234567890123456789012345678"}}],"Count":1,"ScannedCount":1,"ConsumedCapacity":{"TableName":"Products","CapacityUnits":0.5}}"#;

/// A DynamoDB that knows one table, `Products` (key `productId`), in one segment of two pages.
async fn dynamodb() -> MockServer {
    let server = MockServer::start().await;
    let target = "x-amz-target";
    Mock::given(method("POST"))
        .and(header(target, "DynamoDB_20120810.DescribeTable"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"Table":{"TableName":"Products","KeySchema":[{"AttributeName":"productId","KeyType":"HASH"}],"ItemCount":3,"TableSizeBytes":180}}"#,
            "application/x-amz-json-1.0",
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header(target, "DynamoDB_20120810.Scan"))
        .and(body_string_contains(
            r#""ExclusiveStartKey":{"productId":{"S":"p-2"}}"#,
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(PAGE_2, "application/x-amz-json-1.0"))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header(target, "DynamoDB_20120810.Scan"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(PAGE_1, "application/x-amz-json-1.0"))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

/// An SQS that takes every message and keeps their bodies.
struct Sqs(Arc<Mutex<Vec<String>>>);

impl Respond for Sqs {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let mut ok = Vec::new();
        for entry in body["Entries"].as_array().unwrap() {
            self.0
                .lock()
                .unwrap()
                .push(entry["MessageBody"].as_str().unwrap().to_owned());
            ok.push(json!({"Id": entry["Id"], "MessageId": "m", "MD5OfMessageBody": "x"}));
        }
        ResponseTemplate::new(200).set_body_json(json!({"Successful": ok, "Failed": []}))
    }
}

fn env(opensearch: &FakeOpenSearch, dynamodb: &MockServer) -> HashMap<String, String> {
    let mut env = opensearch.env("products");
    for (k, v) in [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_ENDPOINT_URL_DYNAMODB", &dynamodb.uri()),
    ] {
        env.insert(k.into(), v.into());
    }
    env
}

fn handler(env: &HashMap<String, String>) -> BackfillHandler {
    BackfillHandler::from_lookup(|name| env.get(name).cloned()).unwrap()
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

#[tokio::test]
async fn plan_then_one_job_indexes_the_segment_and_dead_letters_the_refused_item() {
    let opensearch = FakeOpenSearch::start().await;
    opensearch.answer("p-2", [Answer::MapperError]);
    let dynamodb = dynamodb().await;
    let sqs = MockServer::start().await;
    let messages = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(header("x-amz-target", "AmazonSQS.SendMessageBatch"))
        .respond_with(Sqs(messages.clone()))
        .mount(&sqs)
        .await;
    let mut env = env(&opensearch, &dynamodb);
    env.insert(
        "STREAM2SEARCH_DLQ_URL".into(),
        format!("{}/123456789012/backfill-dlq", sqs.uri()),
    );
    env.insert("STREAM2SEARCH_DLQ_ALLOW_HTTP".into(), "true".into());
    let handler = handler(&env);

    let plan = handler
        .handle(r#"{"plan":{"table":"Products","segments":1}}"#, soon())
        .await
        .unwrap();
    let version = plan["version"].as_u64().unwrap();
    assert_eq!(plan["keys"], json!(["productId"]));
    assert_eq!(
        (plan["itemCount"].as_u64(), plan["sizeBytes"].as_u64()),
        (Some(3), Some(180))
    );
    let job = &plan["jobs"][0];
    assert_eq!(
        *job,
        json!({"unit": {"kind": "segment", "table": "Products", "segment": 0, "totalSegments": 1},
               "version": version, "keys": ["productId"]})
    );

    let answer = handler.handle(&job.to_string(), soon()).await.unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(
        answer["job"]["unit"],
        json!({"kind": "segment", "table": "Products", "segment": 0, "totalSegments": 1})
    );
    for (count, expected) in [
        ("pages", 2),
        ("items", 3),
        ("indexed", 2),
        ("deadLettered", 1),
    ] {
        assert_eq!(answer[count], expected, "{count}: {answer}");
    }
    assert_eq!(answer["consumedRcu"], 1.0);

    // Written by hand: the documents the stream would make of these items, at the version.
    let sent: Vec<(String, Value, String)> = opensearch
        .requests()
        .iter()
        .flat_map(|r| r.items.clone())
        .map(|i| (i.id, i.meta, i.document.unwrap()))
        .collect();
    let meta = |id: &str| {
        json!({"_index": "products", "_id": id, "version": version * 1_000_000,
               "version_type": "external_gte"})
    };
    assert_eq!(
        sent,
        vec![
            (
                "p-1".into(),
                meta("p-1"),
                r#"{"productId":"p-1","price":1.500,"tags":["a"]}"#.into()
            ),
            (
                "p-2".into(),
                meta("p-2"),
                r#"{"productId":"p-2","bad..name":"x"}"#.into()
            ),
            (
                "p-3".into(),
                meta("p-3"),
                r#"{"productId":"p-3","n":12345678901234567890123456789012345678}"#.into()
            ),
        ]
    );
    let messages = messages.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    let message: Value = serde_json::from_str(&messages[0]).unwrap();
    assert_eq!(message["source"], "stream2search-backfill");
    assert_eq!(message["key"], r#"{"productId":{"S":"p-2"}}"#);
    assert_eq!(
        message["item"],
        json!({"productId": {"S": "p-2"}, "bad..name": {"S": "x"}})
    );
    assert!(
        message["reason"]
            .as_str()
            .unwrap()
            .contains("mapper_parsing_exception"),
        "{message}"
    );
}

#[tokio::test]
async fn without_a_dead_letter_queue_a_refused_item_fails_the_invocation_at_its_page() {
    let opensearch = FakeOpenSearch::start().await;
    opensearch.answer("p-2", [Answer::MapperError]);
    let dynamodb = dynamodb().await;
    let handler = handler(&env(&opensearch, &dynamodb));
    let job = r#"{"unit":{"kind":"segment","table":"Products","segment":0,"totalSegments":1},"version":1764489300,"keys":["productId"]}"#;
    let e = handler.handle(job, soon()).await.unwrap_err();
    assert_eq!(e.error_type(), "Stream2Search.DeadItems", "{e}");
    assert!(
        e.to_string().contains(r#"{"productId":{"S":"p-2"}}"#),
        "{e}"
    );
}

#[tokio::test]
async fn a_refused_item_on_a_later_page_stops_the_invocation_with_the_job_advanced_so_far() {
    let opensearch = FakeOpenSearch::start().await;
    // Refused each of the two times it is sent.
    opensearch.answer("p-3", [Answer::MapperError, Answer::MapperError]);
    let dynamodb = dynamodb().await;
    let handler = handler(&env(&opensearch, &dynamodb));
    let job = r#"{"unit":{"kind":"segment","table":"Products","segment":0,"totalSegments":1},"version":1764489300,"keys":["productId"]}"#;
    let answer = handler.handle(job, soon()).await.unwrap();
    assert_eq!(answer["done"], false, "{answer}");
    // Past the first page (p-1, p-2), not past the page holding p-3.
    assert_eq!(
        answer["job"]["unit"]["start"],
        json!({"productId": {"S": "p-2"}})
    );
    assert_eq!(
        (answer["pages"].as_u64(), answer["items"].as_u64()),
        (Some(1), Some(3))
    );
    let stopped = answer["stopped"].as_str().unwrap();
    assert!(
        stopped.contains(r#"{"productId":{"S":"p-3"}}"#),
        "{stopped}"
    );
    // The next invocation begins with that page, and fails there.
    let e = handler
        .handle(&answer["job"].to_string(), soon())
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "Stream2Search.DeadItems", "{e}");
}

#[test]
fn a_setting_that_cannot_work_names_its_variable() {
    let env: HashMap<&str, &str> = [
        ("OPENSEARCH_ENDPOINT", "http://127.0.0.1:9"),
        ("OPENSEARCH_ALLOW_HTTP", "true"),
        ("OPENSEARCH_AUTH", "none"),
        ("OPENSEARCH_INDEX", "products"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("STREAM2SEARCH_BACKFILL_PAGE_SIZE", "0"),
    ]
    .into();
    let e = BackfillHandler::from_lookup(|n| env.get(n).map(|v| v.to_string())).unwrap_err();
    assert_eq!(e.variable(), Some("STREAM2SEARCH_BACKFILL_PAGE_SIZE"));
    let mut without_region = env.clone();
    without_region.remove("AWS_REGION");
    let e =
        BackfillHandler::from_lookup(|n| without_region.get(n).map(|v| v.to_string())).unwrap_err();
    assert_eq!(e.variable(), Some("AWS_REGION"));
}
