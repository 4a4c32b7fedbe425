//! The handler against an OpenSearch that never answers and a dead-letter queue that answers
//! late: it must answer Lambda at least the client's margin (1 s) before the invocation's
//! deadline, naming every record it could not make durable.
//!
//! The hanging and slow servers are loopback listeners in this file (faults a real server does
//! not produce on demand); the rejection comes from the project's real OpenSearch
//! (`OPENSEARCH_URL`, see `tests/handler.rs`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use stream2search::checkpoint::{Checkpoint, RecordOutcome};
use stream2search_lambda::lambda_runtime::{Context, LambdaEvent};
use stream2search_lambda::{Handler, Settings};
use stream2search_testkit::OpenSearch;

/// What the handler must keep free before Lambda's deadline (the client's default margin).
const MARGIN: Duration = Duration::from_secs(1);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn handler(vars: &[(&str, &str)]) -> Handler {
    let mut all: HashMap<&str, &str> = HashMap::from([
        ("OPENSEARCH_INDEX", "deadline"),
        ("OPENSEARCH_AUTH", "none"),
        ("OPENSEARCH_ALLOW_HTTP", "true"),
        ("STREAM2SEARCH_METRICS", "false"),
        ("STREAM2SEARCH_DLQ_ALLOW_HTTP", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ]);
    all.extend(vars.iter().copied());
    let settings = Settings::from_lookup(|k| all.get(k).map(|v| (*v).to_owned())).unwrap();
    assert_eq!(settings.client.deadline_margin, MARGIN);
    Handler::new(settings).unwrap()
}

/// A Lambda event whose deadline is `left` from now, as the runtime gives it (milliseconds since
/// the epoch), and that deadline as an `Instant`.
fn event(
    payload: &[u8],
    left: Duration,
) -> (LambdaEvent<Box<serde_json::value::RawValue>>, Instant) {
    let (wall, now) = (SystemTime::now(), Instant::now());
    let deadline_ms = (wall + left)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // The instant of that millisecond (rounded down, so never later than Lambda's deadline).
    let deadline = now
        + (UNIX_EPOCH + Duration::from_millis(deadline_ms))
            .duration_since(wall)
            .unwrap();
    let mut context = Context::default();
    context.deadline = deadline_ms;
    let payload =
        serde_json::value::RawValue::from_string(String::from_utf8(payload.to_vec()).unwrap())
            .unwrap();
    (LambdaEvent::new(payload, context), deadline)
}

/// A server that accepts connections and reads what comes, but never answers.
struct Hang {
    url: String,
    connections: Arc<Mutex<usize>>,
}

fn hang() -> Hang {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(Mutex::new(0));
    let count = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            *count.lock().unwrap() += 1;
            std::thread::spawn(move || {
                let mut sink = [0u8; 4096];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    Hang { url, connections }
}

/// A fake SQS that answers every SendMessageBatch with success for all its entries, but only
/// after `delay`. It keeps the message bodies it was sent.
struct SlowQueue {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
}

fn slow_queue(delay: Duration) -> SlowQueue {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/123456789012/slow-dlq",
        listener.local_addr().unwrap()
    );
    let received = Arc::new(Mutex::new(Vec::new()));
    let keep = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let keep = keep.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                while let Some(body) = read_request(&mut reader) {
                    let request: Value = serde_json::from_slice(&body).unwrap();
                    let mut successful = Vec::new();
                    for entry in request["Entries"].as_array().unwrap() {
                        keep.lock().unwrap().push(
                            serde_json::from_str(entry["MessageBody"].as_str().unwrap()).unwrap(),
                        );
                        successful.push(
                            json!({"Id": entry["Id"], "MessageId": "m", "MD5OfMessageBody": "x"}),
                        );
                    }
                    std::thread::sleep(delay);
                    let answer = json!({"Successful": successful, "Failed": []}).to_string();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n",
                        answer.len()
                    );
                    let stream: &mut TcpStream = reader.get_mut();
                    if stream
                        .write_all(head.as_bytes())
                        .and_then(|()| stream.write_all(answer.as_bytes()))
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    SlowQueue { url, received }
}

/// One HTTP/1.1 request's body (the client always sends `Content-Length`), or `None` at the end.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

fn positions(messages: &[Value]) -> Vec<u64> {
    let mut p: Vec<u64> = messages
        .iter()
        .map(|m| m["position"].as_u64().unwrap())
        .collect();
    p.sort_unstable();
    p
}

/// `n` records that cannot be converted (a number beyond DynamoDB's range): poison without any
/// request to OpenSearch. SequenceNumbers 700, 701, ...
fn unconvertible(n: usize) -> Vec<u8> {
    let records: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"eventID":"e-{seq}","eventName":"INSERT","dynamodb":{{"ApproximateCreationDateTime":1767226000,"Keys":{{"productId":{{"S":"p-{i}"}}}},"NewImage":{{"productId":{{"S":"p-{i}"}},"price":{{"N":"1E+999"}}}},"SequenceNumber":"{seq}","StreamViewType":"NEW_AND_OLD_IMAGES"}}}}"#,
                seq = 700 + i
            )
        })
        .collect();
    format!(r#"{{"Records":[{}]}}"#, records.join(",")).into_bytes()
}

#[tokio::test]
async fn opensearch_that_never_answers_gets_the_response_a_second_before_the_deadline() {
    let opensearch = hang();
    let handler = handler(&[("OPENSEARCH_ENDPOINT", &opensearch.url)]);
    let (event, deadline) = event(&fixture("insert.json"), Duration::from_secs(6));
    let response = handler.call(event).await.unwrap();
    let returned = Instant::now();
    assert!(
        returned + MARGIN <= deadline,
        "returned {:?} before the deadline",
        deadline.saturating_duration_since(returned)
    );
    // Nothing was acknowledged: Lambda resumes at the first record.
    assert_eq!(
        serde_json::to_string(&response).unwrap(),
        r#"{"batchItemFailures":[{"itemIdentifier":"100"}]}"#
    );
    assert!(
        *opensearch.connections.lock().unwrap() >= 1,
        "the bulk request was sent"
    );
}

#[tokio::test]
async fn rejected_record_and_a_slow_queue_answer_a_second_before_the_deadline() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("lambda deadline slow dlq");
    index.create(json!({"mappings": {"properties": {"price": {"type": "float"}}}}));
    // The queue would accept both messages, but only after the deadline.
    let queue = slow_queue(Duration::from_secs(30));
    let handler = handler(&[
        ("OPENSEARCH_ENDPOINT", opensearch.url()),
        ("OPENSEARCH_INDEX", index.name()),
        ("STREAM2SEARCH_DLQ_URL", &queue.url),
    ]);
    let (event, deadline) = event(&fixture("poison.json"), Duration::from_secs(6));
    let response = handler.call(event).await.unwrap();
    let returned = Instant::now();
    assert!(
        returned + MARGIN <= deadline,
        "returned {:?} before the deadline",
        deadline.saturating_duration_since(returned)
    );
    // p-6 (rejected, 400) and p-7 (not convertible) were offered to the queue, which had not
    // answered by then: they are failures, and Lambda resumes at p-6.
    assert_eq!(positions(&queue.received.lock().unwrap()), [1, 2]);
    assert_eq!(
        serde_json::to_string(&response).unwrap(),
        r#"{"batchItemFailures":[{"itemIdentifier":"501"}]}"#
    );
    index.refresh();
    assert_eq!(index.get_doc("p-5").status, 200);
    assert_eq!(index.get_doc("p-8").status, 200);
}

#[tokio::test]
async fn dead_letter_batches_share_one_budget() {
    // 25 poison records: three SendMessageBatch calls of 10, 10 and 5, each answered after 2 s.
    // With 6 s to the deadline the requests must end by 4.75 s: the third call cannot have its
    // full 2 s, and the records it carries stay failures.
    let opensearch = hang();
    let queue = slow_queue(Duration::from_secs(2));
    let handler = handler(&[
        ("OPENSEARCH_ENDPOINT", &opensearch.url),
        ("STREAM2SEARCH_DLQ_URL", &queue.url),
    ]);
    let deadline = Instant::now() + Duration::from_secs(6);
    let inv = handler.handle(&unconvertible(25), deadline).await.unwrap();
    let returned = Instant::now();
    assert!(
        returned + MARGIN <= deadline,
        "returned {:?} before the deadline",
        deadline.saturating_duration_since(returned)
    );
    assert_eq!(
        *opensearch.connections.lock().unwrap(),
        0,
        "nothing to index"
    );
    let mut dead: Vec<usize> = inv.dead_lettered.iter().copied().collect();
    dead.sort_unstable();
    // Whole batches, in order, and not the last one.
    let k = dead.len();
    assert!(k == 10 || k == 20, "dead-lettered {dead:?}");
    assert_eq!(dead, (0..k).collect::<Vec<_>>());
    // Every record the queue took is one it was sent.
    let received = positions(&queue.received.lock().unwrap());
    assert!(dead.iter().all(|&p| received.contains(&(p as u64))));
    for r in &inv.results {
        assert!(
            matches!(r.outcome, RecordOutcome::Invalid(_)),
            "{:?}",
            r.outcome
        );
    }
    assert_eq!(
        inv.checkpoint,
        Checkpoint::ResumeFrom(inv.results[k].sequence_number.clone().unwrap())
    );
    assert_eq!(
        serde_json::to_string(&inv.response().unwrap()).unwrap(),
        format!(
            r#"{{"batchItemFailures":[{{"itemIdentifier":"{}"}}]}}"#,
            700 + k
        )
    );
    assert_eq!(
        (inv.counts.dead_lettered, inv.counts.failed),
        (k as u64, (25 - k) as u64)
    );
}

#[tokio::test]
async fn no_dead_letter_is_sent_once_the_time_is_used_up() {
    // 1.1 s to the deadline: less than the margin and the time to answer, so no request may
    // start at all (there is no minimum time past the end).
    let opensearch = hang();
    let queue = slow_queue(Duration::ZERO);
    let handler = handler(&[
        ("OPENSEARCH_ENDPOINT", &opensearch.url),
        ("STREAM2SEARCH_DLQ_URL", &queue.url),
    ]);
    let inv = handler
        .handle(
            &unconvertible(3),
            Instant::now() + Duration::from_millis(1100),
        )
        .await
        .unwrap();
    assert!(inv.dead_lettered.is_empty());
    assert_eq!(
        serde_json::to_string(&inv.response().unwrap()).unwrap(),
        r#"{"batchItemFailures":[{"itemIdentifier":"700"}]}"#
    );
    // Had a request started, the queue would have answered at once and kept the messages.
    std::thread::sleep(Duration::from_millis(200));
    assert!(queue.received.lock().unwrap().is_empty());

    // With time left, the same queue takes all three at once (so the fake does answer).
    let inv = handler
        .handle(&unconvertible(3), Instant::now() + Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(inv.dead_lettered.len(), 3);
    assert_eq!(inv.checkpoint, Checkpoint::Complete);
    assert_eq!(positions(&queue.received.lock().unwrap()), [0, 1, 2]);
}
