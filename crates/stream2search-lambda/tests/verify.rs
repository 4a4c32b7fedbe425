//! The scheduled verify function (`stream2search_lambda::verify::handler::VerifyHandler`)
//! against moto (DynamoDB) and the real OpenSearch.
//!
//! A table of five items is loaded into the index by the backfill, and a first invocation must
//! find them equal. Then drift is made by hand, one document per kind: a deleted document
//! (`p-2`), `24.90` written as `24.9` (`p-1`), `"5"` for 5 (`p-3`), a set missing a member
//! (`p-4`), and an extra document (`p-99`). An invocation's EMF line must carry exactly
//! Missing 1, Extra 1, Different 3, its log lines must name each id; an invocation whose time
//! runs out must say `Unverified` 1 and carry no count at all; with
//! `STREAM2SEARCH_VERIFY_REPAIR=true` an invocation repairs, and the next one reports zero,
//! which `dev/ddb.py compare` (a second implementation, in Python) confirms.
//!
//! Offline: each setting error names its variable.
//!
//! Needs `OPENSEARCH_URL` and `MOTO_URL` (with the project's venv, `dev/moto start`); skips
//! loudly without them unless `STREAM2SEARCH_REQUIRE_OPENSEARCH=1` /
//! `STREAM2SEARCH_REQUIRE_MOTO=1`.

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use serde_json::Value;
use stream2search::{Config, Planner};
use stream2search_client::{Auth, Client, Config as ClientConfig};
use stream2search_lambda::backfill::{Backfiller, Dynamo, Job, version_seconds};
use stream2search_lambda::verify::handler::{Run, VerifyHandler};
use stream2search_testkit::moto::{AWS, python};
use stream2search_testkit::{OpenSearch, TestIndex};

/// The items, DynamoDB JSON, as `dev/ddb.py apply` takes them.
const ITEMS: [&str; 5] = [
    r#"{"productId":{"S":"p-1"},"price":{"N":"24.90"}}"#,
    r#"{"productId":{"S":"p-2"},"price":{"N":"3"}}"#,
    r#"{"productId":{"S":"p-3"},"count":{"N":"5"}}"#,
    r#"{"productId":{"S":"p-4"},"tags":{"SS":["kitchen","outdoor","sale"]}}"#,
    r#"{"productId":{"S":"p-5"},"name":{"S":"lamp"}}"#,
];

/// `dev/ddb.py ARGS` with `stdin`, which must exit with one of `ok`.
fn ddb(moto: &str, opensearch: &str, args: &[&str], stdin: &str, ok: &[i32]) -> Output {
    let mut command = stream2search_testkit::moto::ddb(moto);
    command.args(args).env("OPENSEARCH_URL", opensearch);
    stream2search_testkit::moto::run(&mut command, stdin, ok)
}

/// A moto table, dropped with the test.
struct Table {
    moto: String,
    name: String,
}

impl Drop for Table {
    fn drop(&mut self) {
        let _ = stream2search_testkit::moto::ddb(&self.moto)
            .args(["drop", "--table", &self.name])
            .output();
    }
}

/// OpenSearch and moto, or `None` after a loud skip.
fn servers() -> Option<(OpenSearch, String)> {
    let opensearch = OpenSearch::from_env()?;
    let moto = stream2search_testkit::moto_url(&[&python()])?;
    Some((opensearch, moto))
}

/// An index made as `stream2search index create` makes it.
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

/// Loads the table into the index with the backfill, one segment.
async fn backfill(opensearch: &str, index: &str, moto: &str, table: &str) {
    let planner = Planner::new(Config {
        index: index.into(),
        ..Config::default()
    })
    .unwrap();
    let mut config = ClientConfig::new(opensearch);
    config.allow_http = true;
    config.auth = Auth::None;
    let dynamo = Dynamo::new(
        moto,
        "us-east-1",
        Credentials::new("testing", "testing", None, None, "test"),
        Duration::from_secs(10),
    )
    .unwrap();
    let backfiller = Backfiller::new(planner, Client::new(config).unwrap()).dynamo(dynamo);
    let keys = backfiller.describe(table).await.unwrap().keys;
    let version = version_seconds(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap(),
    );
    for unit in Backfiller::segments(table, 1) {
        let mut job = Job {
            unit,
            version,
            keys: keys.clone(),
        };
        loop {
            let step = backfiller.step(&job).await.unwrap();
            assert!(step.not_durable.is_empty() && step.dead.is_empty());
            job.unit = step.next;
            if step.done {
                break;
            }
        }
    }
}

fn settings(
    opensearch: &str,
    index: &str,
    moto: &str,
    table: &str,
    extra: &[(&'static str, &str)],
) -> HashMap<&'static str, String> {
    [
        ("OPENSEARCH_ENDPOINT", opensearch),
        ("OPENSEARCH_ALLOW_HTTP", "true"),
        ("OPENSEARCH_AUTH", "none"),
        ("OPENSEARCH_INDEX", index),
        ("AWS_ENDPOINT_URL_DYNAMODB", moto),
        ("STREAM2SEARCH_VERIFY_TABLE", table),
        ("STREAM2SEARCH_VERIFY_SETTLE_SECS", "1"),
        ("AWS_LAMBDA_FUNCTION_NAME", "products-verify"),
    ]
    .into_iter()
    .chain(AWS)
    .chain(extra.iter().copied())
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

async fn handler(env: &HashMap<&'static str, String>) -> VerifyHandler {
    VerifyHandler::from_lookup(|name| env.get(name).cloned())
        .await
        .unwrap()
}

/// The run's EMF line, decoded, checked for its namespace and dimension.
fn emf(run: &Run) -> Value {
    let line: Value =
        serde_json::from_str(&run.emf("stream2search", "products-verify", 1_764_489_300_000))
            .unwrap();
    let declared = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(declared["Namespace"], "stream2search");
    assert_eq!(
        declared["Dimensions"],
        serde_json::json!([["FunctionName"]])
    );
    assert_eq!(line["FunctionName"], "products-verify");
    // Every metric declared is carried, and every count carried is declared.
    for metric in declared["Metrics"].as_array().unwrap() {
        let name = metric["Name"].as_str().unwrap();
        assert!(line.get(name).is_some(), "{name} declared, not carried");
    }
    line
}

fn counts(line: &Value) -> [Option<u64>; 6] {
    [
        "Missing",
        "Extra",
        "Different",
        "Unconvertible",
        "Repaired",
        "Unverified",
    ]
    .map(|name| line.get(name).and_then(Value::as_u64))
}

fn put_doc(opensearch: &OpenSearch, index: &str, id: &str, source: &str) {
    let r = opensearch.request(
        "PUT",
        &format!("/{index}/_doc/{id}?refresh=true"),
        &[("Content-Type", "application/json")],
        source.as_bytes(),
    );
    assert!(r.status < 300, "PUT {id}: {} {}", r.status, r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_verify_counts_the_injected_drift_and_repairs_only_when_told() {
    let Some((opensearch, moto)) = servers() else {
        return;
    };
    let table = Table {
        moto: moto.clone(),
        name: format!("verify-lambda-{}", std::process::id()),
    };
    ddb(
        &moto,
        opensearch.url(),
        &["create", "--table", &table.name, "--no-stream"],
        "",
        &[0],
    );
    let puts: String = ITEMS
        .iter()
        .map(|i| format!("{{\"op\":\"put\",\"item\":{i}}}\n"))
        .collect();
    ddb(
        &moto,
        opensearch.url(),
        &["apply", "--table", &table.name, "-"],
        &puts,
        &[0],
    );
    let index = index(&opensearch, "verify-lambda");
    backfill(opensearch.url(), index.name(), &moto, &table.name).await;
    index.refresh();

    let env = settings(opensearch.url(), index.name(), &moto, &table.name, &[]);
    let verify = handler(&env).await;
    let deadline = || Instant::now() + Duration::from_secs(120);

    // Loaded by the backfill: equal, every count a proven zero.
    let run = verify.handle(deadline()).await;
    assert_eq!(
        counts(&emf(&run)),
        [Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)],
        "{:?}",
        run.lines()
    );
    assert_eq!(run.answer()["verdict"], "equal");

    // Drift, by hand.
    let name = index.name();
    let r = opensearch.request(
        "DELETE",
        &format!("/{name}/_doc/p-2?refresh=true"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    put_doc(
        &opensearch,
        name,
        "p-1",
        r#"{"productId":"p-1","price":24.9}"#,
    );
    put_doc(
        &opensearch,
        name,
        "p-3",
        r#"{"productId":"p-3","count":"5"}"#,
    );
    put_doc(
        &opensearch,
        name,
        "p-4",
        r#"{"productId":"p-4","tags":["kitchen","sale"]}"#,
    );
    put_doc(&opensearch, name, "p-99", r#"{"productId":"p-99"}"#);

    let run = verify.handle(deadline()).await;
    assert_eq!(
        counts(&emf(&run)),
        [Some(1), Some(1), Some(3), Some(0), Some(0), Some(0)],
        "{:?}",
        run.lines()
    );
    assert_eq!(run.answer()["verdict"], "differs");
    let lines = run.lines();
    for (kind, id) in [
        ("missing", "p-2"),
        ("extra", "p-99"),
        ("different", "p-1"),
        ("different", "p-3"),
        ("different", "p-4"),
    ] {
        let prefix = format!("verify: {kind} {id}: ");
        assert!(
            lines.iter().any(|l| l.starts_with(&prefix)),
            "no line {prefix:?} in {lines:?}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("p-1: price: table 24.90, index 24.9")),
        "{lines:?}"
    );
    // Not repaired: the drift is still there.
    assert_eq!(index.get_doc("p-2").status, 404);

    // Time runs out (the recheck waits 5 s; the run must end 2 s before a 4 s deadline): no
    // verdict, and no count that would read as "nothing missing".
    let slow = settings(
        opensearch.url(),
        name,
        &moto,
        &table.name,
        &[("STREAM2SEARCH_VERIFY_SETTLE_SECS", "5")],
    );
    let run = handler(&slow)
        .await
        .handle(Instant::now() + Duration::from_secs(4))
        .await;
    assert_eq!(
        counts(&emf(&run)),
        [None, None, None, None, None, Some(1)],
        "{:?}",
        run.lines()
    );
    assert!(run.report.is_none());
    assert_eq!(run.answer()["verdict"], "unverified");
    assert!(run.lines()[0].contains("no verdict"), "{:?}", run.lines());

    // Repair on: the same counts, each repaired; the next run finds nothing.
    let repairing = settings(
        opensearch.url(),
        name,
        &moto,
        &table.name,
        &[("STREAM2SEARCH_VERIFY_REPAIR", "true")],
    );
    let repair = handler(&repairing).await;
    let run = repair.handle(deadline()).await;
    assert_eq!(
        counts(&emf(&run)),
        [Some(1), Some(1), Some(3), Some(0), Some(5), Some(0)],
        "{:?}",
        run.lines()
    );
    let run = repair.handle(deadline()).await;
    assert_eq!(
        counts(&emf(&run)),
        [Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)],
        "{:?}",
        run.lines()
    );
    assert_eq!(run.answer()["verdict"], "equal");
    // The Python comparison agrees.
    let out = ddb(
        &moto,
        opensearch.url(),
        &[
            "compare",
            "--table",
            &table.name,
            "--index",
            name,
            "--wait",
            "10",
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

#[tokio::test]
async fn every_setting_error_names_its_variable() {
    let base: HashMap<&str, &str> = [
        ("OPENSEARCH_ENDPOINT", "http://127.0.0.1:9"),
        ("OPENSEARCH_ALLOW_HTTP", "true"),
        ("OPENSEARCH_AUTH", "none"),
        ("OPENSEARCH_INDEX", "products"),
        ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"),
        ("STREAM2SEARCH_VERIFY_TABLE", "Products"),
    ]
    .into_iter()
    .chain(AWS)
    .collect();
    for (variable, value) in [
        ("STREAM2SEARCH_VERIFY_TABLE", ""),
        ("STREAM2SEARCH_VERIFY_REPAIR", "sometimes"),
        ("STREAM2SEARCH_VERIFY_SEGMENTS", "0"),
        ("STREAM2SEARCH_VERIFY_CONCURRENCY", "many"),
        ("STREAM2SEARCH_VERIFY_SETTLE_SECS", "-1"),
        ("STREAM2SEARCH_VERIFY_MAX_REPORT", "x"),
        ("STREAM2SEARCH_VERIFY_TIMEOUT_SECS", "1"),
        ("AWS_REGION", ""),
    ] {
        let mut env = base.clone();
        env.insert(variable, value);
        let e = VerifyHandler::from_lookup(|name| env.get(name).map(|v| v.to_string()))
            .await
            .unwrap_err();
        assert_eq!(e.variable(), Some(variable), "{e}");
        assert_eq!(e.error_type(), "Stream2Search.Config");
    }
    // A repair needs external versions.
    let mut env = base.clone();
    env.insert("STREAM2SEARCH_VERIFY_REPAIR", "true");
    env.insert("STREAM2SEARCH_VERSIONING", "false");
    let e = VerifyHandler::from_lookup(|name| env.get(name).map(|v| v.to_string()))
        .await
        .unwrap_err();
    assert_eq!(e.variable(), Some("STREAM2SEARCH_VERIFY_REPAIR"), "{e}");
}
