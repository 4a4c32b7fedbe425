//! `stream2search_lambda::backfill` against moto (DynamoDB, SQS) and the real OpenSearch:
//! segments stepped until done make the index equal the table, compared by `dev/ddb.py compare`
//! (its own conversion rules, written independently); poison items come back as dead items
//! with their text exactly as moto's Scan answered it; a page that is not durable leaves the
//! position where it was; the Lambda backfill handler plans, stops early under a short deadline
//! with the job advanced, and a second invocation finishes the segment; the table written out
//! as an export (gzip data files of moto's item text, a bad line, an item without its key) and
//! stepped file by file, resumed by line number, also makes the index equal the table.
//! Offline (`faults`): throttled Scans are retried and counted, 5xx ones tried nine times, and
//! a step throttled past its end answers with the position unchanged.
//!
//! Needs `OPENSEARCH_URL` and `MOTO_URL` (with the project's venv, `dev/moto start`); skips
//! loudly without them unless `STREAM2SEARCH_REQUIRE_OPENSEARCH=1` /
//! `STREAM2SEARCH_REQUIRE_MOTO=1`.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use stream2search::{Config, Planner};
use stream2search_client::{Auth, Client, Config as ClientConfig};
use stream2search_lambda::backfill::{
    BackfillHandler, Backfiller, DeadItem, Dynamo, Job, Unit, version_seconds,
};
use stream2search_testkit::{OpenSearch, TestIndex};

use stream2search_testkit::moto::{AWS, python};

/// `dev/ddb.py ARGS` with `stdin`, which must exit with one of `ok`.
fn ddb(moto: &str, opensearch: &str, args: &[&str], stdin: &str, ok: &[i32]) -> Output {
    let mut command = stream2search_testkit::moto::ddb(moto);
    command.args(args).env("OPENSEARCH_URL", opensearch);
    stream2search_testkit::moto::run(&mut command, stdin, ok)
}

/// A moto table, dropped with the test.
struct Table {
    moto: String,
    opensearch: String,
    name: String,
}

impl Table {
    /// `name`, keyed by `productId`, without a stream, holding `count` items of every attribute
    /// type and `poison` items OpenSearch refuses under any mapping (`bad..name`).
    fn filled(moto: &str, opensearch: &str, name: &str, count: u32, poison: u32) -> Table {
        let table = Table {
            moto: moto.into(),
            opensearch: opensearch.into(),
            name: format!("{name}-{}", std::process::id()),
        };
        table.ddb(&["create", "--table", &table.name, "--no-stream"], "", &[0]);
        table.ddb(
            &[
                "fill",
                "--table",
                &table.name,
                "--count",
                &count.to_string(),
                "--seed",
                "7",
                "--poison",
                &poison.to_string(),
            ],
            "",
            &[0],
        );
        table
    }

    fn ddb(&self, args: &[&str], stdin: &str, ok: &[i32]) -> Output {
        ddb(&self.moto, &self.opensearch, args, stdin, ok)
    }

    /// `dev/ddb.py compare`: the index holds exactly the table.
    fn assert_equals(&self, index: &str) {
        let out = self.ddb(
            &[
                "compare", "--table", &self.name, "--index", index, "--wait", "10",
            ],
            "",
            &[0, 3],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// Every item as moto's Scan answers it, raw text by key: an HTTP call of our own, not
    /// through the code under test.
    fn raw_items(&self) -> BTreeMap<String, String> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(rename = "Items")]
            items: Vec<Box<RawValue>>,
            #[serde(rename = "LastEvaluatedKey")]
            last: Option<Value>,
        }
        let authority = self
            .moto
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let mut items = BTreeMap::new();
        let mut start: Option<Value> = None;
        loop {
            let mut body = json!({"TableName": self.name});
            if let Some(start) = start.take() {
                body["ExclusiveStartKey"] = start;
            }
            let answer = stream2search_testkit::http::request(
                authority,
                "POST",
                "/",
                &[
                    ("X-Amz-Target", "DynamoDB_20120810.Scan"),
                    ("Content-Type", "application/x-amz-json-1.0"),
                    (
                        "Authorization",
                        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
                    ),
                ],
                body.to_string().as_bytes(),
            )
            .unwrap();
            assert_eq!(answer.status, 200, "{}", answer.text());
            let page: Page = serde_json::from_str(answer.text()).unwrap();
            for item in page.items {
                let key: Value = serde_json::from_str(item.get()).unwrap();
                items.insert(
                    key["productId"]["S"].as_str().unwrap().to_owned(),
                    item.get().to_owned(),
                );
            }
            match page.last {
                Some(last) => start = Some(last),
                None => return items,
            }
        }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        let _ = stream2search_testkit::moto::ddb(&self.moto)
            .args(["drop", "--table", &self.name])
            .output();
    }
}

/// The key of an item's raw text, `{"productId":VALUE}` with the value's text as is.
fn key_of(item: &str) -> String {
    let attributes: HashMap<String, &RawValue> = serde_json::from_str(item).unwrap();
    format!(r#"{{"productId":{}}}"#, attributes["productId"].get())
}

/// OpenSearch and moto, or `None` after a loud skip.
fn servers() -> Option<(OpenSearch, String)> {
    let opensearch = OpenSearch::from_env()?;
    let moto = stream2search_testkit::moto_url(&[&python()])?;
    Some((opensearch, moto))
}

/// An index made as `stream2search index create` makes it: the body `stream2search index
/// mapping` prints (`tests/fixtures/backfill/index.json`), which refuses no valid item.
fn index(opensearch: &OpenSearch, purpose: &str) -> TestIndex {
    let body: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/backfill/index.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let index = opensearch.index(purpose);
    index.create(body);
    index
}

fn dynamo(moto: &str) -> Dynamo {
    Dynamo::new(
        moto,
        "us-east-1",
        Credentials::new("testing", "testing", None, None, "test"),
        Duration::from_secs(10),
    )
    .unwrap()
}

fn backfiller(opensearch: &str, index: &str, moto: &str, page_size: u32) -> Backfiller {
    let planner = Planner::new(Config {
        index: index.into(),
        ..Config::default()
    })
    .unwrap();
    let mut config = ClientConfig::new(opensearch);
    config.allow_http = true;
    config.auth = Auth::None;
    Backfiller::new(planner, Client::new(config).unwrap())
        .dynamo(dynamo(moto))
        .page_size(Some(page_size))
        .timeout(Duration::from_secs(30))
}

fn now_version() -> u64 {
    version_seconds(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap(),
    )
}

#[tokio::test]
async fn segments_stepped_until_done_make_the_index_equal_the_table() {
    let Some((opensearch, moto)) = servers() else {
        return;
    };
    let table = Table::filled(&moto, opensearch.url(), "backfill-steps", 300, 2);
    let index = index(&opensearch, "backfill-steps");
    let backfiller = backfiller(opensearch.url(), index.name(), &moto, 40);
    let described = backfiller.describe(&table.name).await.unwrap();
    assert_eq!(described.keys, ["productId"]);
    assert_eq!(described.item_count, 302);

    let version = now_version();
    let (mut items, mut indexed, mut pages) = (0, 0, 0);
    let mut dead: Vec<DeadItem> = Vec::new();
    for unit in Backfiller::segments(&table.name, 3) {
        let mut job = Job {
            unit,
            version,
            keys: described.keys.clone(),
        };
        loop {
            let step = backfiller.step(&job).await.unwrap();
            assert!(step.not_durable.is_empty(), "{:?}", step.not_durable);
            assert!(step.items <= 40);
            items += step.items;
            indexed += step.indexed;
            pages += 1;
            dead.extend(step.dead);
            // The next page starts after this one's last key, in the same segment.
            let Unit::Segment { segment, .. } = &step.next else {
                panic!("{:?}", step.next)
            };
            let Unit::Segment { segment: was, .. } = &job.unit else {
                unreachable!()
            };
            assert_eq!(segment, was);
            job.unit = step.next;
            if step.done {
                assert!(matches!(&job.unit, Unit::Segment { start: None, .. }));
                break;
            }
        }
    }
    assert_eq!((items, indexed), (302, 300));
    assert!(pages >= 302 / 40, "{pages} pages");

    // The poison items, exactly as moto's Scan answers them.
    let raw = table.raw_items();
    dead.sort_by(|a, b| a.key.cmp(&b.key));
    let expected: Vec<(Option<String>, String)> = ["poison-fill-0", "poison-fill-1"]
        .iter()
        .map(|k| (Some(key_of(&raw[*k])), raw[*k].clone()))
        .collect();
    let got: Vec<(Option<String>, String)> = dead
        .iter()
        .map(|d| (d.key.clone(), d.item.clone()))
        .collect();
    assert_eq!(got, expected);
    for d in &dead {
        assert!(
            d.reason.contains("bad..name") || d.reason.contains("mapper"),
            "{}",
            d.reason
        );
    }

    // Every other item is in the index exactly: drop the poison from the table and compare.
    table.ddb(
        &["apply", "--table", &table.name, "-"],
        concat!(
            r#"{"op":"delete","key":{"productId":{"S":"poison-fill-0"}}}"#,
            "\n",
            r#"{"op":"delete","key":{"productId":{"S":"poison-fill-1"}}}"#,
            "\n"
        ),
        &[0],
    );
    index.refresh();
    table.assert_equals(index.name());
    // Every document carries the backfill's version.
    let doc = index.get_doc("k-0007");
    assert_eq!(
        doc.json()["_version"],
        version * 1_000_000,
        "{}",
        doc.text()
    );
}

#[tokio::test]
async fn a_page_that_is_not_durable_leaves_the_position_unchanged() {
    let Some((opensearch, moto)) = servers() else {
        return;
    };
    let table = Table::filled(&moto, opensearch.url(), "backfill-stopped", 30, 0);
    let index = index(&opensearch, "backfill-stopped");
    // A loopback port nobody listens on: every bulk request fails to connect.
    let stopped = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let failing = backfiller(&stopped, index.name(), &moto, 10).timeout(Duration::from_secs(2));
    let job = Job {
        unit: Backfiller::segments(&table.name, 1).remove(0),
        version: now_version(),
        keys: vec!["productId".into()],
    };
    let step = failing.step(&job).await.unwrap();
    assert_eq!(step.items, 10);
    assert_eq!(step.not_durable.len(), 10);
    let raw = table.raw_items();
    let keys: Vec<&String> = step.not_durable.iter().map(|(key, _)| key).collect();
    assert!(
        keys.iter()
            .all(|k| raw.values().any(|item| key_of(item) == **k)),
        "{keys:?}"
    );
    assert_eq!(step.next, job.unit);
    assert!(!step.done);

    // The same position, with OpenSearch back, reads that page again and goes on.
    let working = backfiller(opensearch.url(), index.name(), &moto, 10);
    let mut job = job;
    let mut indexed = 0;
    loop {
        let step = working.step(&job).await.unwrap();
        indexed += step.indexed;
        job.unit = step.next;
        if step.done {
            break;
        }
    }
    assert_eq!(indexed, 30);
    index.refresh();
    table.assert_equals(index.name());
}

#[tokio::test]
async fn handler_stops_early_with_the_job_advanced_and_a_second_invocation_finishes() {
    let Some((opensearch, moto)) = servers() else {
        return;
    };
    let table = Table::filled(&moto, opensearch.url(), "backfill-handler", 50, 1);
    let index = index(&opensearch, "backfill-handler");
    let queue = String::from_utf8(
        table
            .ddb(
                &["queue", "--name", &format!("{}-dlq", table.name)],
                "",
                &[0],
            )
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let env: HashMap<&str, String> = [
        ("OPENSEARCH_ENDPOINT", opensearch.url().to_owned()),
        ("OPENSEARCH_ALLOW_HTTP", "true".into()),
        ("OPENSEARCH_AUTH", "none".into()),
        ("OPENSEARCH_INDEX", index.name().to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", moto.clone()),
        ("STREAM2SEARCH_DLQ_URL", queue.clone()),
        ("STREAM2SEARCH_SQS_ENDPOINT", moto.clone()),
        ("STREAM2SEARCH_DLQ_ALLOW_HTTP", "true".into()),
        ("STREAM2SEARCH_BACKFILL_PAGE_SIZE", "10".into()),
        ("STREAM2SEARCH_BACKFILL_MIN_STEP_SECS", "20".into()),
        ("STREAM2SEARCH_METRICS", "false".into()),
    ]
    .into_iter()
    .chain(AWS.map(|(k, v)| (k, v.to_owned())))
    .collect();
    let handler = BackfillHandler::from_lookup(|name| env.get(name).cloned()).unwrap();

    let before = now_version();
    let plan = handler
        .handle(
            &json!({"plan": {"table": table.name, "segments": 1}}).to_string(),
            Instant::now() + Duration::from_secs(60),
        )
        .await
        .unwrap();
    let version = plan["version"].as_u64().unwrap();
    assert!((before..=now_version()).contains(&version), "{plan}");
    assert_eq!(plan["keys"], json!(["productId"]));
    let job = plan["jobs"][0].clone();
    assert_eq!(job["unit"]["totalSegments"], 1);

    // 15 s left, a page needs 20 to start: the first page runs, then the invocation answers.
    let first = handler
        .handle(&job.to_string(), Instant::now() + Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(first["done"], false, "{first}");
    assert_eq!(
        (first["pages"].as_u64(), first["items"].as_u64()),
        (Some(1), Some(10))
    );
    let advanced = &first["job"];
    assert!(
        advanced["unit"]["start"]["productId"]["S"].is_string(),
        "{first}"
    );
    assert_eq!(
        (&advanced["version"], &advanced["keys"]),
        (&job["version"], &job["keys"])
    );

    // The second invocation has time for every page left.
    let second = handler
        .handle(
            &advanced.to_string(),
            Instant::now() + Duration::from_secs(120),
        )
        .await
        .unwrap();
    assert_eq!(second["done"], true, "{second}");
    assert_eq!(second["items"].as_u64(), Some(41), "{second}");
    assert_eq!(
        first["indexed"].as_u64().unwrap()
            + second["indexed"].as_u64().unwrap()
            + first["deadLettered"].as_u64().unwrap()
            + second["deadLettered"].as_u64().unwrap(),
        51
    );

    // The poison item is in the queue exactly as moto's Scan answers it.
    let raw = table.raw_items();
    let received =
        String::from_utf8(table.ddb(&["receive", "--queue", &queue], "", &[0]).stdout).unwrap();
    let messages: Vec<Value> = received
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(messages.len(), 1, "{received}");
    let message = &messages[0];
    assert_eq!(message["source"], "stream2search-backfill");
    assert_eq!(message["key"], key_of(&raw["poison-fill-0"]));
    assert_eq!(message["version"], version);
    let item: Value = serde_json::from_str(&raw["poison-fill-0"]).unwrap();
    assert_eq!(message["item"], item);
    assert!(received.contains(&raw["poison-fill-0"]), "{received}");

    table.ddb(
        &["apply", "--table", &table.name, "-"],
        "{\"op\":\"delete\",\"key\":{\"productId\":{\"S\":\"poison-fill-0\"}}}\n",
        &[0],
    );
    index.refresh();
    table.assert_equals(index.name());
}

/// A directory removed with the test.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `lines`, gzipped, at `path`.
fn gzip(path: &Path, lines: &[String]) {
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    for line in lines {
        gz.write_all(line.as_bytes()).unwrap();
        gz.write_all(b"\n").unwrap();
    }
    gz.finish().unwrap();
}

#[tokio::test]
async fn export_files_stepped_until_done_make_the_index_equal_the_table() {
    let Some((opensearch, moto)) = servers() else {
        return;
    };
    let table = Table::filled(&moto, opensearch.url(), "backfill-export", 60, 1);
    let index = index(&opensearch, "backfill-export");
    // The table as an export without manifests (as moto writes them): the items exactly as
    // moto's Scan answers them, in two data files; the first also holds a line that is not
    // an item and an item without the key attribute.
    let raw = table.raw_items();
    let scratch =
        Scratch(std::env::temp_dir().join(format!("s2s-backfill-export-{}", std::process::id())));
    let export = scratch.0.join("AWSDynamoDB/01764489300000-abcdef01");
    std::fs::create_dir_all(export.join("data")).unwrap();
    let lines: Vec<String> = raw.values().map(|i| format!(r#"{{"Item":{i}}}"#)).collect();
    let (a, b) = lines.split_at(lines.len() / 2);
    let mut first = a.to_vec();
    first.insert(3, "not an item".into());
    first.insert(9, r#"{"Item":{"other":{"S":"no key"}}}"#.into());
    gzip(&export.join("data/a.json.gz"), &first);
    gzip(&export.join("data/b.json.gz"), b);

    let location = export.to_str().unwrap().to_owned();
    let reading = backfiller(opensearch.url(), index.name(), &moto, 7);
    let found = reading.export(&location).await.unwrap();
    assert_eq!((found.export_time, found.files.len()), (None, 2));
    let units = Backfiller::files(&found);
    assert_eq!(
        units[0],
        Unit::File {
            location: format!("{location}/data/a.json.gz"),
            skip: 0
        }
    );

    let version = now_version();
    let keys = vec!["productId".to_string()];
    let (mut items, mut indexed, mut dead) = (0, 0, Vec::new());
    for unit in units {
        let mut job = Job {
            unit,
            version,
            keys: keys.clone(),
        };
        let mut steps = 0;
        loop {
            // Every other page by a second backfiller, which has no open reader: it opens the
            // file again and skips the lines already durable.
            let by = if steps % 2 == 0 {
                &reading
            } else {
                &backfiller(opensearch.url(), index.name(), &moto, 7)
            };
            let step = by.step(&job).await.unwrap();
            assert!(step.not_durable.is_empty(), "{:?}", step.not_durable);
            items += step.items;
            indexed += step.indexed;
            dead.extend(step.dead);
            let Unit::File { skip, .. } = &step.next else {
                panic!("{:?}", step.next)
            };
            let Unit::File { skip: was, .. } = &job.unit else {
                unreachable!()
            };
            assert!(skip > was && skip - was <= 7, "{was} -> {skip}");
            job.unit = step.next;
            steps += 1;
            if step.done {
                break;
            }
        }
    }
    assert_eq!((items, indexed), (63, 60));

    // The line that is not an item, the item without a key and the poison item, in file
    // order, each exactly as in the file.
    let got: Vec<(Option<String>, String)> = dead
        .iter()
        .map(|d| (d.key.clone(), d.item.clone()))
        .collect();
    let poison = &raw["poison-fill-0"];
    // Keys sort `k-...` before `poison-...`: the poison item is the last line of b.json.gz.
    assert_eq!(b.last().unwrap(), &format!(r#"{{"Item":{poison}}}"#));
    let expected = vec![
        (None, "not an item".to_string()),
        (None, r#"{"other":{"S":"no key"}}"#.to_string()),
        (Some(key_of(poison)), poison.clone()),
    ];
    assert_eq!(got, expected);
    assert!(
        dead[0].reason.contains("a.json.gz line 4"),
        "{}",
        dead[0].reason
    );
    assert!(
        dead[1].reason.contains("a.json.gz line 10"),
        "{}",
        dead[1].reason
    );
    assert!(
        dead[1].reason.contains("no key attribute"),
        "{}",
        dead[1].reason
    );

    table.ddb(
        &["apply", "--table", &table.name, "-"],
        "{\"op\":\"delete\",\"key\":{\"productId\":{\"S\":\"poison-fill-0\"}}}\n",
        &[0],
    );
    index.refresh();
    table.assert_equals(index.name());
}

// ---- DynamoDB faults, offline: a wiremock DynamoDB and the fake OpenSearch -------------------

mod faults {
    use std::time::{Duration, Instant};

    use stream2search_lambda::backfill::{Backfiller, Job, Unit};
    use stream2search_lambda::testing::FakeOpenSearch;
    use wiremock::matchers::{header, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;
    const PAGE: &str = r#"{"Items":[{"productId":{"S":"p-1"},"n":{"N":"1.500"}}],"Count":1,"ScannedCount":1,"ConsumedCapacity":{"TableName":"T","CapacityUnits":0.5}}"#;

    fn json(status: u16, body: &str) -> ResponseTemplate {
        ResponseTemplate::new(status).set_body_raw(body.to_owned(), "application/x-amz-json-1.0")
    }

    async fn scan_answers(first: ResponseTemplate, times: u64, then: Option<&str>) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(header("x-amz-target", "DynamoDB_20120810.Scan"))
            .respond_with(first)
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&server)
            .await;
        if let Some(page) = then {
            Mock::given(method("POST"))
                .and(header("x-amz-target", "DynamoDB_20120810.Scan"))
                .respond_with(json(200, page))
                .with_priority(2)
                .mount(&server)
                .await;
        }
        server
    }

    fn job() -> Job {
        Job {
            unit: Backfiller::segments("T", 1).remove(0),
            version: 1_764_489_300,
            keys: vec!["productId".into()],
        }
    }

    #[tokio::test]
    async fn throttled_scans_are_retried_and_counted_then_the_page_goes_on() {
        let opensearch = FakeOpenSearch::start().await;
        let dynamodb = scan_answers(json(400, THROTTLED), 3, Some(PAGE)).await;
        let backfiller = super::backfiller(&opensearch.url(), "products", &dynamodb.uri(), 10);
        let step = backfiller.step(&job()).await.unwrap();
        assert_eq!((step.throttled, step.items, step.indexed), (3, 1, 1));
        assert!(step.done);
        assert_eq!(step.consumed_rcu, 0.5);
        assert_eq!(dynamodb.received_requests().await.unwrap().len(), 4);
        let sent = &opensearch.requests()[0].items[0];
        assert_eq!(
            sent.document.as_deref(),
            Some(r#"{"productId":"p-1","n":1.500}"#)
        );
    }

    #[tokio::test]
    async fn a_scan_failing_with_5xx_is_tried_nine_times_then_the_step_fails() {
        let opensearch = FakeOpenSearch::start().await;
        let dynamodb = scan_answers(json(500, r#"{"message":"internal"}"#), 100, None).await;
        let backfiller = super::backfiller(&opensearch.url(), "products", &dynamodb.uri(), 10);
        let e = backfiller.step(&job()).await.unwrap_err();
        assert!(e.is_source(), "{e}");
        assert!(e.to_string().contains("HTTP 500"), "{e}");
        assert_eq!(dynamodb.received_requests().await.unwrap().len(), 9);
        assert!(opensearch.requests().is_empty());
    }

    #[tokio::test]
    async fn throttled_past_the_end_the_step_returns_the_position_unchanged() {
        let opensearch = FakeOpenSearch::start().await;
        let dynamodb = scan_answers(json(400, THROTTLED), 1000, None).await;
        let backfiller = super::backfiller(&opensearch.url(), "products", &dynamodb.uri(), 10);
        let job = job();
        let end = Instant::now() + Duration::from_millis(300);
        let step = backfiller.step_until(&job, Some(end)).await.unwrap();
        // Throttled forever, yet the step answers once its end has come.
        assert!(Instant::now() < end + Duration::from_secs(5));
        assert_eq!(step.next, job.unit);
        assert!(!step.done && step.items == 0 && step.throttled >= 1);
        assert!(matches!(step.next, Unit::Segment { start: None, .. }));
    }
}
