//! The example binary as Lambda runs it: under `cargo lambda watch` (the Lambda Runtime API
//! emulator), invoked with the event files in `events/`, against the project's real OpenSearch.
//!
//! Needs `cargo lambda` (`pip install cargo-lambda`; `dev/moto start` installs it into
//! `.dev/venv`, which this test also looks in). Without it the test prints `SKIPPED: ...`, unless
//! `STREAM2SEARCH_REQUIRE_CARGO_LAMBDA=1`. The emulator builds the function into its own target
//! directory (`target/cargo-lambda-watch`), so it never waits on the lock of the running build.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stream2search_testkit::OpenSearch;

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

fn cargo_lambda() -> Option<PathBuf> {
    let venv = Path::new(MANIFEST).join("../../.dev/venv/bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(venv).chain(std::env::split_paths(&path));
    for dir in dirs {
        if dir.join("cargo-lambda").is_file() {
            return Some(dir);
        }
    }
    let why = "cargo-lambda is not installed (pip install cargo-lambda, or dev/moto start)";
    if std::env::var("STREAM2SEARCH_REQUIRE_CARGO_LAMBDA").is_ok_and(|v| v == "1") {
        panic!("{why}");
    }
    eprintln!("SKIPPED: example under cargo lambda watch: {why}");
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

fn invoke(bin: &Path, port: u16, event: &str) -> Value {
    let out = Command::new("cargo")
        .env("PATH", path_with(bin))
        .current_dir(MANIFEST)
        .args([
            "lambda",
            "invoke",
            "products",
            "--invoke-address",
            "127.0.0.1",
        ])
        .args(["--invoke-port", &port.to_string(), "--data-file"])
        .arg(Path::new(MANIFEST).join("events").join(event))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo lambda invoke {event}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn example_under_cargo_lambda_watch_indexes_and_deletes() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let Some(bin) = cargo_lambda() else {
        return;
    };
    let index = opensearch.index("example watch");
    index.create(json!({}));
    let port = free_port();
    let log =
        std::fs::File::create(std::env::temp_dir().join(format!("watch-{port}.log"))).unwrap();
    let mut command = Command::new("cargo");
    command
        .env("PATH", path_with(&bin))
        .env(
            "CARGO_TARGET_DIR",
            Path::new(MANIFEST).join("../../target/cargo-lambda-watch"),
        )
        .env("OPENSEARCH_ENDPOINT", opensearch.url())
        .env("OPENSEARCH_ALLOW_HTTP", "true")
        .env("OPENSEARCH_AUTH", "none")
        .env("OPENSEARCH_INDEX", index.name())
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
    assert_eq!(
        invoke(&bin, port, "insert.json"),
        json!({"batchItemFailures": []})
    );
    index.refresh();
    let doc = index.get_doc("p-1").json();
    assert_eq!(
        doc["_source"],
        json!({"productId":"p-1","name":"Titanium water bottle","price":24.90,"inStock":false,"tags":["outdoor","kitchen"]})
    );
    assert_eq!(doc["_version"], json!(1_767_225_600_000_000_u64));
    assert_eq!(index.get_doc("p-2").json()["_source"]["price"], json!(19.5));

    assert_eq!(
        invoke(&bin, port, "remove.json"),
        json!({"batchItemFailures": []})
    );
    index.refresh();
    assert_eq!(index.get_doc("p-2").status, 404);
    assert_eq!(index.get_doc("p-1").status, 200);
}
