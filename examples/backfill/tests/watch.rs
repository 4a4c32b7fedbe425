//! The example binary as Lambda runs it: under `cargo lambda watch` (the Lambda Runtime API
//! emulator), against moto's DynamoDB and the project's real OpenSearch. A plan request, then
//! the job invoked again with each answer's `job` until `done`, as the state machine does;
//! then the index equals the table (`dev/ddb.py compare`).
//!
//! Needs `cargo lambda` (`dev/moto start` installs it into `.dev/venv`), `OPENSEARCH_URL` and
//! `MOTO_URL`. Without them the test prints `SKIPPED: ...`, unless
//! `STREAM2SEARCH_REQUIRE_CARGO_LAMBDA=1` (or the `_OPENSEARCH`/`_MOTO` ones). The emulator
//! builds into `target/cargo-lambda-watch`, as the products example's watch test does.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stream2search_testkit::OpenSearch;

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

fn repo() -> PathBuf {
    Path::new(MANIFEST).join("../..")
}

const AWS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
];

fn cargo_lambda() -> Option<PathBuf> {
    let venv = repo().join(".dev/venv/bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::iter::once(venv).chain(std::env::split_paths(&path)) {
        if dir.join("cargo-lambda").is_file() {
            return Some(dir);
        }
    }
    let why = "cargo-lambda is not installed (pip install cargo-lambda, or dev/moto start)";
    if std::env::var("STREAM2SEARCH_REQUIRE_CARGO_LAMBDA").is_ok_and(|v| v == "1") {
        panic!("{why}");
    }
    eprintln!("SKIPPED: backfill example under cargo lambda watch: {why}");
    None
}

/// Stops the emulator (and the function it runs: same process group) when dropped.
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Drops the table when dropped.
struct Table<'a>(&'a str, String);

impl Drop for Table<'_> {
    fn drop(&mut self) {
        let _ = ddb(self.0, "", &["drop", "--table", &self.1]);
    }
}

fn ddb(moto: &str, opensearch: &str, args: &[&str]) -> Output {
    Command::new(repo().join(".dev/venv/bin/python"))
        .arg(repo().join("dev/ddb.py"))
        .args(args)
        .env("MOTO_URL", moto)
        .env("OPENSEARCH_URL", opensearch)
        .envs(AWS)
        .output()
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn path_with(dir: &Path) -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&path)))
        .unwrap()
}

fn invoke(bin: &Path, port: u16, payload: &Value) -> Value {
    let out = Command::new("cargo")
        .env("PATH", path_with(bin))
        .current_dir(MANIFEST)
        .args([
            "lambda",
            "invoke",
            "products-backfill",
            "--invoke-address",
            "127.0.0.1",
        ])
        .args(["--invoke-port", &port.to_string(), "--data-ascii"])
        .arg(payload.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo lambda invoke {payload}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn example_under_cargo_lambda_watch_backfills_a_segment_invocation_by_invocation() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let Some(moto) = stream2search_testkit::moto_url(&[&repo().join(".dev/venv/bin/python")])
    else {
        return;
    };
    let Some(bin) = cargo_lambda() else {
        return;
    };
    let table = Table(&moto, format!("backfill-watch-{}", std::process::id()));
    for args in [
        vec!["create", "--table", &table.1, "--no-stream"],
        vec!["fill", "--table", &table.1, "--count", "25", "--seed", "3"],
    ] {
        let out = ddb(&moto, opensearch.url(), &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The body `stream2search index mapping` prints: it refuses no valid item.
    let body: Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo().join("crates/stream2search-lambda/tests/fixtures/backfill/index.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let index = opensearch.index("backfill watch");
    index.create(body);

    let port = free_port();
    let log =
        std::fs::File::create(std::env::temp_dir().join(format!("watch-{port}.log"))).unwrap();
    let mut command = Command::new("cargo");
    command
        .env("PATH", path_with(&bin))
        .env("CARGO_TARGET_DIR", repo().join("target/cargo-lambda-watch"))
        .env("OPENSEARCH_ENDPOINT", opensearch.url())
        .env("OPENSEARCH_ALLOW_HTTP", "true")
        .env("OPENSEARCH_AUTH", "none")
        .env("OPENSEARCH_INDEX", index.name())
        .env("AWS_ENDPOINT_URL_DYNAMODB", &moto)
        .envs(AWS)
        .env("STREAM2SEARCH_BACKFILL_PAGE_SIZE", "10")
        // The emulator's deadline is unknown: 12 s per invocation, of which 10.75 for
        // requests; a page needs 11 to start, so each invocation reads exactly one page.
        .env("STREAM2SEARCH_FALLBACK_BUDGET_SECS", "12")
        .env("STREAM2SEARCH_BACKFILL_MIN_STEP_SECS", "11")
        .current_dir(MANIFEST)
        .args([
            "lambda",
            "watch",
            "--ignore-changes",
            "-A",
            "127.0.0.1",
            "-P",
        ])
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let _watch = Watch(command.spawn().unwrap());
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "cargo lambda watch did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The first invocation compiles the function; the emulator waits for it.
    let plan = invoke(
        &bin,
        port,
        &json!({"plan": {"table": table.1, "segments": 1}}),
    );
    assert_eq!(plan["keys"], json!(["productId"]), "{plan}");
    let mut job = plan["jobs"][0].clone();
    let (mut invocations, mut items) = (0, 0);
    loop {
        let answer = invoke(&bin, port, &job);
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
    let out = ddb(
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
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
