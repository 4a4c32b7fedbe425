//! Watches the retry loop against a real node under write pressure.
//!
//! Sends `SENDERS` plans of `DOCS` new documents at once to the node at `OPENSEARCH_URL` (use
//! the constrained node, `dev/opensearch start --profile constrained`, whose write pool has one
//! thread and a queue of one, so bulk items get 429), then prints each sender's counters and
//! outcome tally and checks that the index holds every durable document.
//!
//! ```text
//! OPENSEARCH_URL=http://127.0.0.1:9201 cargo run -p stream2search-client --example pressure
//! ```

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use serde_json::json;
use stream2search::checkpoint::RecordOutcome;
use stream2search::outcome::Applied;
use stream2search::{Config as CoreConfig, Planner};
use stream2search_client::{Client, Config};

const SENDERS: usize = 4;
const DOCS: usize = 500;
const INDEX: &str = "s2s-example-pressure";

fn event(sender: usize) -> Vec<u8> {
    let records: Vec<_> = (0..DOCS)
        .map(|i| {
            let id = format!("s{sender}-d{i}");
            json!({
                "eventID": format!("{sender}-{i}"),
                "eventName": "INSERT",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000u64,
                    "Keys": {"id": {"S": id}},
                    "NewImage": {"id": {"S": id}, "body": {"S": "x".repeat(400)}, "n": {"N": i.to_string()}},
                    "SequenceNumber": format!("{}", sender * DOCS + i + 1),
                    "StreamViewType": "NEW_IMAGE"
                }
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "Records": records })).expect("JSON")
}

/// A one-off request with std only (the client itself only speaks `_bulk`).
fn raw(authority: &str, request_line: &str) -> String {
    let mut stream = std::net::TcpStream::connect(authority).expect("connect");
    write!(
        stream,
        "{request_line} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("OPENSEARCH_URL")
        .map_err(|_| "set OPENSEARCH_URL (e.g. from dev/opensearch start --profile constrained)")?;
    let authority = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();

    let planner = Planner::new(CoreConfig {
        index: INDEX.into(),
        ..CoreConfig::default()
    })?;
    // First without retries, to see what the node refuses; then with the default policy.
    for max_attempts in [1, Config::new("").max_attempts] {
        println!("== max_attempts = {max_attempts}");
        let mut config = Config::new(url.as_str());
        config.allow_http = true;
        config.max_attempts = max_attempts;
        round(&planner, Client::new(config)?, &authority).await?;
    }
    Ok(())
}

async fn round(
    planner: &Planner,
    client: Client,
    authority: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    raw(authority, &format!("DELETE /{INDEX}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for sender in 0..SENDERS {
        let plan = planner.plan(&event(sender), None)?;
        let client = client.clone();
        tasks.spawn(async move {
            let report = client.send(&plan, deadline).await;
            (sender, report)
        });
    }
    let mut durable_total = 0;
    while let Some(joined) = tasks.join_next().await {
        let (sender, report) = joined?;
        let report = report?;
        let mut tally: BTreeMap<String, usize> = BTreeMap::new();
        for f in &report.finals {
            // Counted by kind: an applied one in its own words, the rest by what they are.
            let key = match f {
                RecordOutcome::Applied(a) => a.to_string(),
                RecordOutcome::NotDurable { .. } => "not durable".into(),
                RecordOutcome::Rejected { .. } => "rejected".into(),
                _ => "other".into(),
            };
            *tally.entry(key).or_default() += 1;
        }
        durable_total += tally
            .get(&Applied::Indexed.to_string())
            .copied()
            .unwrap_or(0);
        let c = &report.counters;
        println!(
            "sender {sender}: {tally:?}; {} requests, {} retries, {} splits, backoff {:?}, waiting {:?}",
            c.attempts, c.retries, c.splits, c.backoff_wait, c.server_wait
        );
        if let Some(RecordOutcome::NotDurable { reason }) = report
            .finals
            .iter()
            .find(|f| matches!(f, RecordOutcome::NotDurable { .. }))
        {
            println!("  e.g. not durable: {reason}");
        }
    }
    println!("all senders done in {:?}", started.elapsed());

    raw(authority, &format!("POST /{INDEX}/_refresh"));
    let count = raw(authority, &format!("GET /{INDEX}/_count"));
    let body = count.split("\r\n\r\n").nth(1).unwrap_or_default();
    println!("index holds {body} (durable reported: {durable_total})");
    raw(authority, &format!("DELETE /{INDEX}"));
    Ok(())
}
