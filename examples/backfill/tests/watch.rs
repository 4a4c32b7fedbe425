//! The example binary as Lambda runs it: under `cargo lambda watch` (the Lambda Runtime API
//! emulator), against moto's DynamoDB and the project's real OpenSearch. A plan request, then
//! the job invoked again with each answer's `job` until `done`, as the state machine does;
//! then the index equals the table (`dev/ddb.py compare`).
//!
//! Needs `cargo lambda` (`dev/moto start` installs it into `.dev/venv`), `OPENSEARCH_URL` and
//! `MOTO_URL`. Without them the test prints `SKIPPED: ...`, unless
//! `STREAM2SEARCH_REQUIRE_CARGO_LAMBDA=1` (or the `_OPENSEARCH`/`_MOTO` ones). The emulator
//! builds into `target/cargo-lambda-watch`, as the products example's watch test does.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use stream2search_testkit::OpenSearch;
use stream2search_testkit::lambda::CargoLambda;
use stream2search_testkit::moto::{AWS, python, run};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// Drops the table when dropped.
struct Table<'a>(&'a str, String);

impl Drop for Table<'_> {
    fn drop(&mut self) {
        let _ = stream2search_testkit::moto::ddb(self.0)
            .args(["drop", "--table", &self.1])
            .output();
    }
}

/// `dev/ddb.py ARGS`, which must succeed.
fn ddb(moto: &str, opensearch: &str, args: &[&str]) -> Output {
    let mut command = stream2search_testkit::moto::ddb(moto);
    command.args(args).env("OPENSEARCH_URL", opensearch);
    run(&mut command, "", &[0])
}

#[test]
fn example_under_cargo_lambda_watch_backfills_a_segment_invocation_by_invocation() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let Some(moto) = stream2search_testkit::moto_url(&[&python()]) else {
        return;
    };
    let Some(cargo_lambda) = CargoLambda::find("backfill example under cargo lambda watch") else {
        return;
    };
    let table = Table(&moto, format!("backfill-watch-{}", std::process::id()));
    ddb(
        &moto,
        opensearch.url(),
        &["create", "--table", &table.1, "--no-stream"],
    );
    ddb(
        &moto,
        opensearch.url(),
        &["fill", "--table", &table.1, "--count", "25", "--seed", "3"],
    );
    // The body `stream2search index mapping` prints: it refuses no valid item.
    let body: Value = serde_json::from_str(
        &std::fs::read_to_string(
            stream2search_testkit::workspace()
                .join("crates/stream2search-lambda/tests/fixtures/backfill/index.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let index = opensearch.index("backfill watch");
    index.create(body);

    let log = std::env::temp_dir().join(format!("backfill-watch-{}.log", std::process::id()));
    let watch = cargo_lambda.watch(
        Path::new(MANIFEST),
        [
            ("AWS_ENDPOINT_URL_DYNAMODB", moto.as_str()),
            ("STREAM2SEARCH_BACKFILL_PAGE_SIZE", "10"),
            // The emulator's deadline is unknown: 12 s per invocation, of which 10.75 for
            // requests; a page needs 11 to start, so each invocation reads exactly one page.
            ("STREAM2SEARCH_FALLBACK_BUDGET_SECS", "12"),
            ("STREAM2SEARCH_BACKFILL_MIN_STEP_SECS", "11"),
        ]
        .into_iter()
        .chain(opensearch.function_env(index.name()))
        .chain(AWS),
        &log,
    );
    let invoke =
        |payload: &Value| watch.invoke("products-backfill", ["--data-ascii", &payload.to_string()]);

    // The first invocation compiles the function; the emulator waits for it.
    let plan = invoke(&json!({"plan": {"table": table.1, "segments": 1}}));
    assert_eq!(plan["keys"], json!(["productId"]), "{plan}");
    let mut job = plan["jobs"][0].clone();
    let (mut invocations, mut items) = (0, 0);
    loop {
        let answer = invoke(&job);
        invocations += 1;
        assert_eq!(answer["pages"], 1, "{answer}");
        items += answer["items"].as_u64().unwrap();
        assert!(invocations < 10, "{answer}");
        job = answer["job"].clone();
        if answer["done"] == true {
            break;
        }
        assert!(
            job["unit"]["start"]["productId"]["S"].is_string(),
            "{answer}"
        );
    }
    assert!(invocations >= 3, "{invocations} invocations");
    assert_eq!(items, 25);
    index.refresh();
    // Exits 0 only when the index equals the table.
    ddb(
        &moto,
        opensearch.url(),
        &[
            "compare",
            "--table",
            &table.1,
            "--index",
            index.name(),
            "--wait",
            "10",
        ],
    );
}
