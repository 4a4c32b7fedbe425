//! `stream2search backfill` against moto and the real OpenSearch, with `poll` streaming the
//! table's changes into the same index meanwhile, as the stream Lambda would.
//!
//! The table holds its items before its stream is turned on (an existing table adopting
//! stream2search): only the backfill can bring them into the index. While it runs, a seeded
//! workload puts, updates and deletes; on top of it the test changes items of the segment the
//! scan reaches last before it starts it, and deletes items of a segment the scan has finished,
//! and asserts both orders from the backfill's own stderr. Then, with the stream drained, the
//! index equals the table exactly (`dev/ddb.py compare`), except the poison items planted in the
//! table, which are in the dead-letter file exactly as read.
//!
//! `STREAM2SEARCH_BACKFILL_ITEMS` (default 10000) sizes the table.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stream2search_testkit::OpenSearch;

mod common;
use common::{
    DIFFERS, ENV, ddb, ddb_with, env_u64, index_create, moto, repo, servers_and_cargo_lambda, text,
    workload,
};

/// Deletes the generations of an `index create` setup (and with them its aliases), and the
/// table, when dropped.
struct Cleanup<'a> {
    os: &'a OpenSearch,
    moto: String,
    index: String,
    table: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self
            .os
            .request("DELETE", &format!("/{}-*", self.index), &[], b"");
        let _ = stream2search_testkit::moto::ddb(&self.moto)
            .args(["drop", "--table", &self.table])
            .output();
    }
}

/// Where most tests here start: a table without a stream holding what `dev/ddb.py fill FILL...`
/// writes, an index (`index create` layout) for it, both named after the test and this process
/// and deleted when `_cleanup` is dropped, and an empty directory for checkpoints and logs.
struct Setup<'a> {
    os: String,
    index: String,
    table: String,
    dir: PathBuf,
    _cleanup: Cleanup<'a>,
}

impl<'a> Setup<'a> {
    fn new(opensearch: &'a OpenSearch, moto: &str, name: &str, fill: &[&str]) -> Setup<'a> {
        let os = opensearch.url().to_string();
        let pid = std::process::id();
        let index = format!("s2s-backfill-{name}-{pid}");
        let table = format!("backfill-{name}-{pid}");
        let cleanup = Cleanup {
            os: opensearch,
            moto: moto.to_string(),
            index: index.clone(),
            table: table.clone(),
        };
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("backfill-{name}-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        index_create(&os, &index);
        ddb(moto, &os, &["create", "--table", &table, "--no-stream"], "");
        let mut args = vec!["fill", "--table", &table];
        args.extend_from_slice(fill);
        ddb(moto, &os, &args, "");
        Setup {
            os,
            index,
            table,
            dir,
            _cleanup: cleanup,
        }
    }
}

/// Drops the table when dropped (for a test without OpenSearch).
struct DropTable {
    moto: String,
    table: String,
}

impl Drop for DropTable {
    fn drop(&mut self) {
        let _ = stream2search_testkit::moto::ddb(&self.moto)
            .args(["drop", "--table", &self.table])
            .output();
    }
}

/// A child process killed when dropped (a test that fails leaves no poller behind).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `stream2search backfill` of `table` into `index` with `extra` options.
fn backfill(moto: &str, os: &str, table: &str, index: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stream2search"));
    c.args(["backfill", "--table", table, "--index", index])
        .args([
            "--endpoint",
            os,
            "--allow-http",
            "--dynamodb-endpoint",
            moto,
        ])
        .args(extra)
        .envs(ENV);
    c
}

/// `stream2search poll` of `table`'s stream into `index` (as the stream function would), its
/// checkpoints in `checkpoints`, dead letters to the SQS `queue`; with `once`, until drained.
fn poller(
    moto: &str,
    os: &str,
    table: &str,
    index: &str,
    checkpoints: &Path,
    queue: &str,
    once: bool,
) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stream2search"));
    c.args(["poll", "--allow-http", "--auth", "none"])
        .args(["--table", table, "--streams-endpoint", moto])
        .args(["--endpoint", os, "--index", index])
        .args(["--batch-size", "100", "--timeout", "10"])
        .arg("--checkpoints")
        .arg(checkpoints)
        .envs(ENV)
        .env("STREAM2SEARCH_DLQ_URL", queue)
        .env("STREAM2SEARCH_SQS_ENDPOINT", moto)
        .env("STREAM2SEARCH_DLQ_ALLOW_HTTP", "true");
    if once {
        c.arg("--once");
    }
    c
}

/// Waits (up to a minute) until `path` holds a line for which `found` is true; its text.
fn wait_for(path: &Path, what: &str, found: impl Fn(&str) -> bool) -> String {
    let limit = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.lines().any(&found) {
            return text;
        }
        assert!(Instant::now() < limit, "no {what} in a minute:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The number after `name ` in the backfill's summary line.
fn count(summary: &str, name: &str) -> u64 {
    let at = summary
        .find(&format!("{name} "))
        .unwrap_or_else(|| panic!("no {name:?} in {summary:?}"));
    summary[at + name.len() + 1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {name:?} in {summary:?}"))
}

/// The keys of `table`'s Scan segment `segment` of `total`, in scan order.
fn segment_keys(moto: &str, os: &str, table: &str, segment: u32, total: u32) -> Vec<String> {
    let out = ddb(
        moto,
        os,
        &[
            "segment",
            "--table",
            table,
            "--segment",
            &segment.to_string(),
            "--total",
            &total.to_string(),
        ],
        "",
    );
    text(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn index_equals_the_table_after_a_backfill_under_concurrent_writes() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let items = env_u64("STREAM2SEARCH_BACKFILL_ITEMS", 10_000);
    let poison = 3u64;
    let pid = std::process::id();
    let Setup {
        os,
        index,
        table,
        dir,
        _cleanup,
    } = Setup::new(
        &opensearch,
        &moto,
        "live",
        &[
            "--count",
            &items.to_string(),
            "--seed",
            "7",
            "--poison",
            &poison.to_string(),
        ],
    );
    // An existing table: its items are there before its stream is turned on.
    ddb(&moto, &os, &["stream", "--table", &table], "");
    let segments: Vec<Vec<String>> = (0..4)
        .map(|s| segment_keys(&moto, &os, &table, s, 4))
        .collect();
    assert_eq!(
        segments.iter().map(Vec::len).sum::<usize>() as u64,
        items + poison
    );

    // The stream's processing runs first, as the Lambda would be deployed first.
    let queue = text(
        &ddb(
            &moto,
            &os,
            &["queue", "--name", &format!("backfill-dlq-{pid}")],
            "",
        )
        .stdout,
    )
    .trim()
    .to_string();
    let checkpoints = dir.join("poll.json");
    let poller = |once: bool| poller(&moto, &os, &table, &index, &checkpoints, &queue, once);
    let poll_log = dir.join("poll.log");
    let poll = Running(
        poller(false)
            .stdout(std::fs::File::create(&poll_log).unwrap())
            .stderr(std::fs::File::create(dir.join("poll.err")).unwrap())
            .spawn()
            .unwrap(),
    );

    // A seeded workload over the same keys, all through the backfill.
    let workload = workload(&moto, &os, 7, 400, items, 0);
    let workload_ops = workload.lines().count() as u64;
    let (m, o, t) = (moto.clone(), os.clone(), table.clone());
    let writer = std::thread::spawn(move || {
        ddb(
            &m,
            &o,
            &["apply", "--table", &t, "--key-gap", "1.05", "-"],
            &workload,
        );
    });

    // Scanned on stderr to a file: what it says is on disk the moment it is said.
    let err_path = dir.join("backfill.err");
    let dead_path = dir.join("dead.jsonl");
    let run = backfill(
        &moto,
        &os,
        &table,
        &index,
        &[
            "--segments",
            "4",
            "--concurrency",
            "2",
            "--page-size",
            "100",
        ],
    )
    .arg("--checkpoint")
    .arg(dir.join("backfill.json"))
    .arg("--dead-letters")
    .arg(&dead_path)
    .stdout(Stdio::piped())
    .stderr(std::fs::File::create(&err_path).unwrap())
    .spawn()
    .unwrap();

    // Items of segment 3, which starts only once two others are finished, changed before the
    // scan starts it: the scan reads the new values, and the stream carries them too.
    wait_for(&err_path, "scan start", |l| l == "segment 0 of 4: scanning");
    let late: Vec<&String> = segments[3]
        .iter()
        .rev()
        .filter(|k| !k.starts_with("poison-"))
        .take(20)
        .collect();
    let updates: String = late
        .iter()
        .map(|k| {
            format!(
                r#"{{"op":"update","key":{{"productId":{{"S":"{k}"}}}},"set":{{"price":{{"N":"777.70"}},"late":{{"S":"changed before the scan"}}}}}}"#
            ) + "\n"
        })
        .collect();
    ddb(&moto, &os, &["apply", "--table", &table, "-"], &updates);
    let log = std::fs::read_to_string(&err_path).unwrap();
    assert!(
        !log.contains("segment 3 of 4: scanning"),
        "the scan reached segment 3 before the changes were made:\n{log}"
    );

    // Items of a segment the scan has finished, deleted: the stream's versioned deletes win
    // over the backfill's writes.
    let log = wait_for(&err_path, "finished segment", |l| {
        l == "segment 0 of 4: done" || l == "segment 1 of 4: done"
    });
    let done = usize::from(!log.contains("segment 0 of 4: done"));
    let read: Vec<&String> = segments[done]
        .iter()
        .filter(|k| !k.starts_with("poison-"))
        .take(20)
        .collect();
    let deletes: String = read
        .iter()
        .map(|k| format!(r#"{{"op":"delete","key":{{"productId":{{"S":"{k}"}}}}}}"#) + "\n")
        .collect();
    ddb(&moto, &os, &["apply", "--table", &table, "-"], &deletes);

    let out = run.wait_with_output().unwrap();
    let summary = text(&out.stdout);
    let log = std::fs::read_to_string(&err_path).unwrap();
    assert_eq!(out.status.code(), Some(1), "backfill: {summary}\n{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with(&format!("backfill: index {index}-"))
                && l.contains("remembers deletes for 24h")),
        "{log}"
    );
    writer.join().unwrap();

    // Drain the stream, then compare.
    drop(poll);
    let out = poller(true).output().unwrap();
    assert!(out.status.success(), "poll --once: {}", text(&out.stderr));
    let out = ddb_with(
        &moto,
        Some(&os),
        &["compare", "--table", &table, "--index", &index],
        "",
        &[0, DIFFERS],
    );
    let report = text(&out.stdout);
    let poison_keys: BTreeSet<String> = (0..poison).map(|i| format!("poison-fill-{i}")).collect();
    let mut absent = BTreeSet::new();
    for line in report.lines().filter(|l| !l.starts_with("index ")) {
        match line.split_once(": ") {
            Some((key, "in the table, not in the index")) if poison_keys.contains(key) => {
                absent.insert(key.to_string());
            }
            _ => panic!("the index differs from the table: {line}\n{report}"),
        }
    }
    assert_eq!(absent, poison_keys, "{report}");

    // The counts: every item read once (the workload and the test add or remove at most one
    // item per operation), the poison dead-lettered, nothing else left out.
    let read_items = count(&summary, "items read");
    let changes = workload_ops + read.len() as u64;
    assert!(
        read_items + changes >= items + poison && read_items <= items + poison + changes,
        "items read {read_items} of {} (±{changes}): {summary}",
        items + poison
    );
    assert_eq!(count(&summary, "dead-lettered"), poison, "{summary}");
    assert_eq!(count(&summary, "not durable"), 0, "{summary}");
    assert!(summary.contains("segments done 4/4"), "{summary}");

    // The poison items: one stderr line each naming the key, and in the dead-letter file exactly
    // as read.
    let dead = std::fs::read_to_string(&dead_path).unwrap();
    let mut dead_keys = BTreeSet::new();
    for line in dead.lines() {
        let letter: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = letter["key"]["productId"]["S"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            letter["item"],
            serde_json::json!({
                "productId": {"S": key},
                "price": {"N": "1.500"},
                "bad..name": {"S": "refused by OpenSearch under any mapping"},
            }),
            "{line}"
        );
        assert!(
            letter["reason"]
                .as_str()
                .unwrap()
                .starts_with("rejected (400)"),
            "{line}"
        );
        assert!(
            log.lines().any(|l| l.starts_with("item {")
                && l.contains(&format!("\"{key}\""))
                && l.contains("dead-lettered")),
            "no stderr line for {key}:\n{log}"
        );
        dead_keys.insert(key);
    }
    assert_eq!(dead.lines().count() as u64, poison, "{dead}");
    assert_eq!(dead_keys, poison_keys);
}

#[test]
fn rerun_resumes_from_the_checkpoint_and_reads_no_finished_page_again() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let items = 2000u64;
    let Setup {
        os,
        index,
        table,
        dir,
        _cleanup,
    } = Setup::new(
        &opensearch,
        &moto,
        "resume",
        &["--count", &items.to_string(), "--seed", "3"],
    );
    let checkpoint = dir.join("backfill.json");
    let options = |c: &mut Command, segments: &str| {
        c.args([
            "--segments",
            segments,
            "--concurrency",
            "1",
            "--page-size",
            "20",
        ])
        .arg("--checkpoint")
        .arg(&checkpoint)
        .arg("--dead-letters")
        .arg(dir.join("dead.jsonl"));
    };

    // Stopped once segment 0 is finished and segment 1 has durable pages.
    let mut first = backfill(&moto, &os, &table, &index, &[]);
    options(&mut first, "4");
    let mut first = Running(
        first
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let limit = Instant::now() + Duration::from_secs(60);
    let state = loop {
        let state: Option<serde_json::Value> = std::fs::read(&checkpoint)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(s) = &state
            && s["progress"][0]["done"] == true
            && s["progress"][1]["pages"].as_u64() >= Some(2)
        {
            break state.unwrap();
        }
        assert!(Instant::now() < limit, "no progress in a minute: {state:?}");
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = first.0.kill();
    let _ = first.0.wait();
    // What the file says after the kill is what the rerun starts from.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap_or(state);
    let durable: u64 = (0..4)
        .map(|s| state["progress"][s]["items"].as_u64().unwrap())
        .sum();
    assert!(durable > 0 && durable < items, "{state}");
    assert_eq!(state["progress"][0]["done"], true);

    // Another table or segment count is not this checkpoint's: refused.
    let mut other = backfill(&moto, &os, &table, &index, &[]);
    options(&mut other, "3");
    let out = other.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("in 4 segments"),
        "{}",
        text(&out.stderr)
    );

    let mut rerun = backfill(&moto, &os, &table, &index, &[]);
    options(&mut rerun, "4");
    let out = rerun.output().unwrap();
    let (summary, log) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{summary}\n{log}");
    assert_eq!(count(&summary, "items read"), items - durable, "{summary}");
    assert_eq!(
        count(&summary, "version"),
        state["version_seconds"].as_u64().unwrap() * 1_000_000,
        "{summary}"
    );
    assert!(!log.contains("segment 0 of 4: scanning"), "{log}");
    assert!(summary.contains("segments done 4/4"), "{summary}");
    let out = ddb(
        &moto,
        &os,
        &["compare", "--table", &table, "--index", &index],
        "",
    );
    assert!(text(&out.stdout).contains(&format!("matches table {table}")));
}

#[test]
fn backfill_without_versions_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["backfill", "--table", "T", "--index", "i", "--no-version"])
        .args(["--endpoint", "http://127.0.0.1:9", "--allow-http"])
        .envs(ENV)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--no-version"));
}

/// A proxy in front of moto that answers the first `throttle` Scan requests
/// `ProvisionedThroughputExceededException` (HTTP 400, as DynamoDB does) and forwards every other
/// request; it counts the Scan requests it saw. One request per connection.
struct Throttler {
    url: String,
    scans: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Throttler {
    fn start(moto: &str, throttle: u64) -> Throttler {
        use std::io::{BufRead as _, BufReader, Read as _};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = moto
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let scans = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = std::sync::Arc::clone(&scans);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let scan = head
                    .to_ascii_lowercase()
                    .contains("x-amz-target: dynamodb_20120810.scan");
                let n = if scan {
                    seen.fetch_add(1, Ordering::SeqCst) + 1
                } else {
                    0
                };
                let answer = if scan && n <= throttle {
                    let fault = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;
                    let mut a = format!(
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        fault.len()
                    )
                    .into_bytes();
                    a.extend_from_slice(fault);
                    a
                } else {
                    let mut up = std::net::TcpStream::connect(&upstream).unwrap();
                    up.write_all(head.as_bytes()).unwrap();
                    up.write_all(b"Connection: close\r\n\r\n").unwrap();
                    up.write_all(&body).unwrap();
                    let mut a = Vec::new();
                    up.read_to_end(&mut a).unwrap();
                    // The client must not keep this connection for another request.
                    let end = a.windows(2).position(|w| w == b"\r\n").unwrap();
                    a.splice(end + 2..end + 2, b"Connection: close\r\n".iter().copied());
                    a
                };
                let _ = conn.write_all(&answer);
            }
        });
        Throttler { url, scans }
    }
}

#[test]
fn throttled_scans_slow_down_and_the_run_still_succeeds() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let Setup {
        os,
        index,
        table,
        dir,
        _cleanup,
    } = Setup::new(
        &opensearch,
        &moto,
        "throttle",
        &["--count", "300", "--seed", "5"],
    );
    let throttle = 6;
    let proxy = Throttler::start(&moto, throttle);
    let out = backfill(
        &proxy.url,
        &os,
        &table,
        &index,
        &["--segments", "2", "--concurrency", "2", "--page-size", "50"],
    )
    .arg("--checkpoint")
    .arg(dir.join("backfill.json"))
    .arg("--dead-letters")
    .arg(dir.join("dead.jsonl"))
    .output()
    .unwrap();
    let summary = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{summary}\n{}",
        text(&out.stderr)
    );
    assert_eq!(count(&summary, "throttled"), throttle, "{summary}");
    assert_eq!(count(&summary, "items read"), 300, "{summary}");
    // Every Scan the proxy saw is one the backfill counted: the throttled ones, then each page.
    let scans = proxy.scans.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(count(&summary, "scans"), scans, "{summary}");
    assert_eq!(count(&summary, "pages") + throttle, scans, "{summary}");
    let out = ddb(
        &moto,
        &os,
        &["compare", "--table", &table, "--index", &index],
        "",
    );
    assert!(text(&out.stdout).contains(&format!("matches table {table}")));
}

#[test]
fn items_not_durable_stop_the_segment_at_its_last_durable_page() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let Setup {
        os,
        index,
        table,
        dir,
        _cleanup,
    } = Setup::new(
        &opensearch,
        &moto,
        "down",
        &["--count", "30", "--seed", "9"],
    );
    let checkpoint = dir.join("backfill.json");
    let run = |endpoint: &str, timeout: &str| {
        backfill(&moto, endpoint, &table, &index, &["--segments", "1"])
            .args(["--timeout", timeout])
            .arg("--checkpoint")
            .arg(&checkpoint)
            .arg("--dead-letters")
            .arg(dir.join("dead.jsonl"))
            .output()
            .unwrap()
    };

    // Nothing listens on a port just freed: no item can become durable.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let out = run(&down, "2");
    let (summary, log) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{summary}\n{log}");
    assert_eq!(count(&summary, "not durable"), 30, "{summary}");
    assert!(summary.contains("segments done 0/1"), "{summary}");
    let named = log
        .lines()
        .filter(|l| l.starts_with("item {\"productId\":{\"S\":") && l.contains("not durable"))
        .count();
    assert_eq!(named, 30, "{log}");
    assert!(
        log.contains("segment 0 of 1: stopped at its last durable page"),
        "{log}"
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap();
    assert_eq!(state["progress"][0]["pages"], 0, "{state}");
    assert_eq!(
        state["progress"][0]["unit"]["start"],
        serde_json::Value::Null
    );
    assert_eq!(state["progress"][0]["done"], false);

    // With OpenSearch back, the rerun reads the page again and finishes.
    let out = run(&os, "60");
    let summary = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{summary}{}", text(&out.stderr));
    assert_eq!(count(&summary, "items read"), 30, "{summary}");
    let out = ddb(
        &moto,
        &os,
        &["compare", "--table", &table, "--index", &index],
        "",
    );
    assert!(text(&out.stdout).contains(&format!("matches table {table}")));
}

/// Waits (up to a minute) for `child` to exit; its status code.
fn exit_code(child: &mut Child) -> Option<i32> {
    let limit = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < limit, "still running after a minute");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `signal` (`INT`, `TERM`) to `child`.
fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success());
}

/// The checkpoint file's state, once it can be read.
fn checkpoint_state(path: &Path) -> Option<serde_json::Value> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// The items the checkpoint counts durable, over its segments.
fn durable_items(state: &serde_json::Value) -> u64 {
    state["progress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["items"].as_u64().unwrap())
        .sum()
}

/// The decimal number after `name ` in the summary line.
fn decimal(summary: &str, name: &str) -> f64 {
    let at = summary
        .find(&format!("{name} "))
        .unwrap_or_else(|| panic!("no {name:?} in {summary:?}"));
    summary[at + name.len() + 1..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {name:?} in {summary:?}"))
}

#[test]
fn sigint_stops_at_a_checkpoint_with_status_130_and_the_rerun_resumes() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let items = 2000u64;
    let Setup {
        os,
        index,
        table,
        dir,
        _cleanup,
    } = Setup::new(
        &opensearch,
        &moto,
        "sigint",
        &["--count", &items.to_string(), "--seed", "4"],
    );
    let checkpoint = dir.join("backfill.json");
    let run = |extra: &[&str]| {
        let mut c = backfill(
            &moto,
            &os,
            &table,
            &index,
            &["--segments", "4", "--concurrency", "2", "--page-size", "20"],
        );
        c.args(extra)
            .arg("--checkpoint")
            .arg(&checkpoint)
            .arg("--dead-letters")
            .arg(dir.join("dead.jsonl"));
        c
    };

    // Paced (moto reports one unit a page: 20 pages, 400 items a second) so that it is still
    // running when the signal comes.
    let err_path = dir.join("first.err");
    let mut first = Running(
        run(&["--max-rcu", "20"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let limit = Instant::now() + Duration::from_secs(60);
    loop {
        let state = checkpoint_state(&checkpoint);
        if state.as_ref().is_some_and(|s| durable_items(s) >= 200) {
            break;
        }
        assert!(Instant::now() < limit, "no progress in a minute: {state:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    signal(&first.0, "INT");
    assert_eq!(exit_code(&mut first.0), Some(130));
    let mut summary = String::new();
    std::io::Read::read_to_string(first.0.stdout.as_mut().unwrap(), &mut summary).unwrap();
    let log = std::fs::read_to_string(&err_path).unwrap();
    assert!(
        log.contains("backfill: SIGINT: stopping at a checkpoint"),
        "{log}"
    );
    assert!(
        summary.contains("backfill interrupted: ")
            && summary.contains("run the same command again (same --checkpoint) to resume"),
        "{summary}"
    );
    let state = checkpoint_state(&checkpoint).unwrap();
    let durable = durable_items(&state);
    assert!(durable >= 200 && durable < items, "{state}");
    // The pages in flight finished and were checkpointed: what was read is what is durable.
    assert_eq!(count(&summary, "items read"), durable, "{summary}\n{state}");
    assert!(!summary.contains("segments done 4/4"), "{summary}");

    // The rerun reads only what the checkpoint had not, and the index equals the table.
    let out = run(&[]).output().unwrap();
    let (summary, log) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{summary}\n{log}");
    assert_eq!(count(&summary, "items read"), items - durable, "{summary}");
    assert!(summary.contains("segments done 4/4"), "{summary}");
    let out = ddb(
        &moto,
        &os,
        &["compare", "--table", &table, "--index", &index],
        "",
    );
    assert!(text(&out.stdout).contains(&format!("matches table {table}")));
}

/// An OpenSearch stand-in that answers GET requests `200 {}` and never answers the others (the
/// bulk requests); it counts the requests it holds.
fn holding_bulk() -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::io::Read as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let held = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let count = std::sync::Arc::clone(&held);
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut head = [0u8; 4];
            if conn.read_exact(&mut head).is_err() {
                continue;
            }
            if &head == b"GET " {
                let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
                let _ = conn.read(&mut [0u8; 65536]);
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                );
            } else {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                open.push(conn);
            }
        }
    });
    (url, held)
}

#[test]
fn a_second_sigint_exits_at_once_and_the_checkpoint_keeps_only_durable_pages() {
    let Some(moto) = moto() else {
        return;
    };
    let pid = std::process::id();
    let table = format!("BackfillSecondSigint-{pid}");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("backfill-twice-{pid}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    ddb_with(
        &moto,
        None,
        &["create", "--table", &table, "--no-stream"],
        "",
        &[0],
    );
    let _drop = DropTable {
        moto: moto.clone(),
        table: table.clone(),
    };
    ddb_with(
        &moto,
        None,
        &["fill", "--table", &table, "--count", "30", "--seed", "2"],
        "",
        &[0],
    );
    let (os, held) = holding_bulk();
    let checkpoint = dir.join("backfill.json");
    let err_path = dir.join("backfill.err");
    let mut run = Running(
        backfill(
            &moto,
            &os,
            &table,
            "s2s-never-written",
            &["--segments", "1", "--page-size", "10", "--timeout", "300"],
        )
        .arg("--checkpoint")
        .arg(&checkpoint)
        .arg("--dead-letters")
        .arg(dir.join("dead.jsonl"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap(),
    );
    let limit = Instant::now() + Duration::from_secs(60);
    while held.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(Instant::now() < limit, "no bulk request in a minute");
        std::thread::sleep(Duration::from_millis(10));
    }

    // The first SIGINT waits for the page being sent, which OpenSearch never answers.
    signal(&run.0, "INT");
    wait_for(&err_path, "stop line", |l| {
        l.starts_with("backfill: SIGINT: stopping at a checkpoint")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        run.0.try_wait().unwrap(),
        None,
        "exited on the first SIGINT"
    );

    // The second exits at once, well within the page's 300 s deadline.
    signal(&run.0, "INT");
    assert_eq!(exit_code(&mut run.0), Some(130));
    let log = std::fs::read_to_string(&err_path).unwrap();
    assert!(
        log.contains("backfill: SIGINT again: exiting at once"),
        "{log}"
    );
    let state = checkpoint_state(&checkpoint).unwrap();
    assert_eq!(state["progress"][0]["pages"], 0, "{state}");
    assert_eq!(
        state["progress"][0]["unit"]["start"],
        serde_json::Value::Null
    );
    assert_eq!(state["progress"][0]["done"], false);
}

#[test]
fn max_rcu_paces_scans_by_the_capacity_dynamodb_reports() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let Setup {
        os,
        index,
        table,
        dir,
        _cleanup,
    } = Setup::new(
        &opensearch,
        &moto,
        "rcu",
        &["--count", "300", "--seed", "6"],
    );
    // Half a unit a second against moto's 1 unit a page: about 14 pages need 23 s or more,
    // far longer than the pages take to read, so the segments must wait.
    let rate = 0.5;
    let started = Instant::now();
    let out = backfill(
        &moto,
        &os,
        &table,
        &index,
        &[
            "--segments",
            "2",
            "--concurrency",
            "2",
            "--page-size",
            "25",
            "--max-rcu",
            "0.5",
        ],
    )
    .arg("--checkpoint")
    .arg(dir.join("backfill.json"))
    .arg("--dead-letters")
    .arg(dir.join("dead.jsonl"))
    .output()
    .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let summary = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{summary}\n{}",
        text(&out.stderr)
    );
    assert_eq!(count(&summary, "items read"), 300, "{summary}");
    // moto reports 1 capacity unit for every Scan page.
    let pages = count(&summary, "pages");
    assert!(pages >= 12, "{summary}");
    assert_eq!(
        decimal(&summary, "read capacity"),
        pages as f64,
        "{summary}"
    );
    assert!(decimal(&summary, "waited for --max-rcu") > 0.0, "{summary}");
    // The rate bound: all but one second of burst and one page per segment in flight were
    // paid for at half a unit a second.
    let owed = (pages as f64 - rate - 2.0) / rate;
    assert!(
        elapsed >= owed,
        "{elapsed} s for {pages} units at {rate}/s: {summary}"
    );
    let out = ddb(
        &moto,
        &os,
        &["compare", "--table", &table, "--index", &index],
        "",
    );
    assert!(text(&out.stdout).contains(&format!("matches table {table}")));
}

/// Runs the command after the output path with its stderr on a pseudo-terminal (200 columns),
/// copies what the terminal received to the output path, passes stdout through, and exits with
/// the command's status.
const ON_A_TERMINAL: &str = r#"
import fcntl, os, pty, struct, subprocess, sys, termios
m, s = pty.openpty()
fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=s)
os.close(s)
seen = b""
while True:
    try:
        d = os.read(m, 65536)
    except OSError:
        break
    if not d:
        break
    seen += d
code = p.wait()
open(sys.argv[1], "wb").write(seen)
sys.stdout.buffer.write(p.stdout.read())
sys.exit(code)
"#;

#[test]
fn on_a_terminal_a_progress_bar_counts_items_against_the_tables_item_count() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let Setup {
        os,
        index,
        table,
        dir,
        _cleanup,
    } = Setup::new(
        &opensearch,
        &moto,
        "bar",
        &["--count", "300", "--seed", "8"],
    );
    let mut run = backfill(
        &moto,
        &os,
        &table,
        &index,
        &["--segments", "2", "--page-size", "50"],
    );
    run.arg("--checkpoint")
        .arg(dir.join("backfill.json"))
        .arg("--dead-letters")
        .arg(dir.join("dead.jsonl"));
    let terminal = dir.join("terminal");
    let out = Command::new(repo().join(".dev/venv/bin/python"))
        .args(["-c", ON_A_TERMINAL])
        .arg(&terminal)
        .arg(run.get_program())
        .args(run.get_args())
        .envs(ENV)
        .output()
        .unwrap();
    let summary = text(&out.stdout);
    let seen = text(&std::fs::read(&terminal).unwrap());
    assert_eq!(out.status.code(), Some(0), "{summary}\n{seen}");
    assert_eq!(count(&summary, "items read"), 300, "{summary}");
    // moto's ItemCount is exact: the bar ends at 300 of about 300, with MB, a rate and an ETA.
    assert!(
        seen.contains("holds about 300 items (DescribeTable's ItemCount"),
        "{seen}"
    );
    assert!(seen.contains("300/~300 items, "), "{seen}");
    assert!(
        seen.contains(" MB, ") && seen.contains(" items/s, ETA "),
        "{seen}"
    );
    // The segment lines are there too, above the bar.
    assert!(seen.contains("segment 1 of 2: done"), "{seen}");
}

#[test]
fn function_url_runs_each_segment_and_export_file_in_the_backfill_function_until_done() {
    let Some((moto, opensearch, cargo_lambda)) =
        servers_and_cargo_lambda("backfill --function-url under cargo lambda watch")
    else {
        return;
    };
    let items = 300u64;
    let pid = std::process::id();
    let Setup {
        os,
        index,
        table,
        dir,
        _cleanup,
    } = Setup::new(
        &opensearch,
        &moto,
        "function",
        &["--count", &items.to_string(), "--seed", "12"],
    );

    // The backfill example's function, configured as its template does, with a short time
    // budget (the emulator sends no deadline): 30 s less the client's 1 s margin and a quarter
    // second leave 28.75 s, under the 29 s a further page needs, so every invocation reads one
    // page and each segment takes several invocations.
    let watch = cargo_lambda.watch(
        &repo().join("examples/backfill"),
        ENV.into_iter()
            .chain([
                ("AWS_ENDPOINT_URL_DYNAMODB", moto.as_str()),
                ("AWS_ENDPOINT_URL_S3", &moto),
                ("STREAM2SEARCH_BACKFILL_PAGE_SIZE", "40"),
                ("STREAM2SEARCH_BACKFILL_MIN_STEP_SECS", "29"),
                ("STREAM2SEARCH_FALLBACK_BUDGET_SECS", "30"),
            ])
            .chain(opensearch.function_env(&index)),
        &dir.join("watch.log"),
    );

    // The first invocation compiles the function; the backfill waits for it.
    let url = watch.invocation_url("products-backfill");
    let out = backfill(
        &moto,
        &os,
        &table,
        &index,
        &[
            "--segments",
            "2",
            "--concurrency",
            "2",
            "--function-url",
            &url,
        ],
    )
    .arg("--checkpoint")
    .arg(dir.join("backfill.json"))
    .arg("--dead-letters")
    .arg(dir.join("dead.jsonl"))
    .output()
    .unwrap();
    let (summary, log) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{summary}\n{log}\n{}",
        watch.log_tail()
    );
    assert_eq!(count(&summary, "items read"), items, "{summary}");
    assert_eq!(count(&summary, "indexed"), items, "{summary}");
    assert!(summary.contains("segments done 2/2"), "{summary}");
    // One page an invocation, the backfill invoking again while the answer says not done.
    let invocations = count(&summary, "invocations");
    assert_eq!(invocations, count(&summary, "pages"), "{summary}");
    assert!(invocations >= items / 40, "{summary}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("backfill.json")).unwrap()).unwrap();
    assert_eq!(durable_items(&state), items, "{state}");
    let out = ddb(
        &moto,
        &os,
        &["compare", "--table", &table, "--index", &index],
        "",
    );
    assert!(text(&out.stdout).contains(&format!("matches table {table}")));

    // The same table's export (moto's S3, no manifest) through the function into the emptied
    // index: each file unit invoked until done.
    let emptied = opensearch.request(
        "POST",
        &format!("/{index}/_delete_by_query?refresh=true"),
        &[("content-type", "application/json")],
        br#"{"query":{"match_all":{}}}"#,
    );
    assert_eq!(emptied.status, 200, "{}", emptied.text());
    assert_eq!(emptied.json()["deleted"], items, "{}", emptied.text());
    let out = Command::new(repo().join(".dev/venv/bin/python"))
        .args(["-c", EXPORT_PY, &table, "s2s-backfill-exports"])
        .arg(format!("exports-function-{pid}"))
        .arg(dir.join("export"))
        .env("MOTO_URL", &moto)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let printed: Vec<&str> = printed.lines().collect();
    let [location, exported, _] = printed[..] else {
        panic!("{printed:?}");
    };
    let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["backfill", "--export", location, "--export-time", exported])
        .args([
            "--keys",
            "productId",
            "--index",
            &index,
            "--function-url",
            &url,
        ])
        .args(["--s3-endpoint", &moto, "--endpoint", &os, "--allow-http"])
        .arg("--checkpoint")
        .arg(dir.join("export.json"))
        .arg("--dead-letters")
        .arg(dir.join("export-dead.jsonl"))
        .envs(ENV)
        .output()
        .unwrap();
    let (summary, log) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{summary}\n{log}");
    assert_eq!(count(&summary, "items read"), items, "{summary}");
    assert_eq!(count(&summary, "indexed"), items, "{summary}");
    assert!(summary.contains("files done 1/1"), "{summary}");
    let invocations = count(&summary, "invocations");
    assert_eq!(invocations, count(&summary, "pages"), "{summary}");
    assert!(invocations >= items / 40, "{summary}");
    let out = ddb(
        &moto,
        &os,
        &["compare", "--table", &table, "--index", &index],
        "",
    );
    assert!(text(&out.stdout).contains(&format!("matches table {table}")));
}
/// moto's `ExportTableToPointInTime` of TABLE (point-in-time recovery turned on first) to
/// `s3://BUCKET/PREFIX`; then the export copied to the local directory DIR with the manifests AWS
/// writes and moto does not (`manifest-summary.json` with `exportTime` and `itemCount`,
/// `manifest-files.json` with each data file's `itemCount`). Prints the export's S3 directory,
/// its time (RFC 3339; moto gives no `ExportTime`: the second before the export was asked for)
/// and that time in seconds since the epoch, one a line.
const EXPORT_PY: &str = r#"
import gzip, json, os, sys, time
import boto3
table, bucket, prefix, local = sys.argv[1:5]
def client(service):
    return boto3.client(service, endpoint_url=os.environ["MOTO_URL"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
s3, ddb = client("s3"), client("dynamodb")
if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
    s3.create_bucket(Bucket=bucket)
ddb.update_continuous_backups(TableName=table,
    PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
# moto's export has no ExportTime: the second before it was asked for is the export's time.
exported_at = int(time.time())
started = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket=bucket, S3Prefix=prefix,
                                            ExportFormat="DYNAMODB_JSON")["ExportDescription"]
for _ in range(400):
    status = ddb.describe_export(ExportArn=started["ExportArn"])["ExportDescription"]
    if status["ExportStatus"] != "IN_PROGRESS":
        break
    time.sleep(0.05)
assert status["ExportStatus"] == "COMPLETED", status
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/AWSDynamoDB/")["Contents"]]
(base,) = sorted({k.split("/data/")[0] for k in keys if "/data/" in k})
exported = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exported_at))
files, total = [], 0
for key in sorted(k for k in keys if k.startswith(base + "/data/")):
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    path = os.path.join(local, "data", key.rsplit("/", 1)[1])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").write(body)
    count = sum(1 for line in gzip.decompress(body).splitlines() if line.strip())
    files.append({"itemCount": count, "dataFileS3Key": key})
    total += count
with open(os.path.join(local, "manifest-files.json"), "w") as f:
    for line in files:
        f.write(json.dumps(line) + "\n")
with open(os.path.join(local, "manifest-summary.json"), "w") as f:
    json.dump({"exportTime": exported, "itemCount": total, "outputFormat": "DYNAMODB_JSON",
               "exportType": "FULL_EXPORT"}, f)
print(f"s3://{bucket}/{base}/")
print(exported)
print(exported_at)
"#;

#[test]
fn index_equals_the_table_after_a_backfill_from_its_export_in_s3_and_in_a_directory() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let items = 1500u64;
    let poison = 2u64;
    let pid = std::process::id();
    let Setup {
        os,
        index,
        table,
        dir,
        _cleanup,
    } = Setup::new(
        &opensearch,
        &moto,
        "export",
        &[
            "--count",
            &items.to_string(),
            "--seed",
            "11",
            "--poison",
            &poison.to_string(),
        ],
    );
    let local_index = format!("s2s-backfill-local-{pid}");
    let _local = Cleanup {
        os: &opensearch,
        moto: moto.clone(),
        index: local_index.clone(),
        table: table.clone(),
    };
    index_create(&os, &local_index);
    let local = dir.join("export");
    let out = Command::new(repo().join(".dev/venv/bin/python"))
        .args(["-c", EXPORT_PY, &table, "s2s-backfill-exports"])
        .arg(format!("exports-{pid}"))
        .arg(&local)
        .env("MOTO_URL", &moto)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let printed: Vec<&str> = printed.lines().collect();
    let [location, exported, epoch] = printed[..] else {
        panic!("{printed:?}");
    };
    let version = (epoch.parse::<u64>().unwrap() - 300) * 1_000_000;
    let command = |export: &str, index: &str, name: &str, page: &str, extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stream2search"));
        c.args(["backfill", "--export", export, "--index", index])
            .args(["--endpoint", &os, "--allow-http", "--page-size", page])
            .args(["--concurrency", "2"])
            .args(extra)
            .arg("--checkpoint")
            .arg(dir.join(format!("{name}.json")))
            .arg("--dead-letters")
            .arg(dir.join(format!("{name}-dead.jsonl")))
            .envs(ENV);
        c
    };
    let from = |export: &str, index: &str, name: &str, extra: &[&str]| {
        command(export, index, name, "100", extra).output().unwrap()
    };
    let compare = |index: &str| {
        let out = ddb_with(
            &moto,
            Some(&os),
            &["compare", "--table", &table, "--index", index],
            "",
            &[0, DIFFERS],
        );
        let report = text(&out.stdout);
        let absent: BTreeSet<String> = report
            .lines()
            .filter(|l| !l.starts_with("index "))
            .map(|line| match line.split_once(": ") {
                Some((key, "in the table, not in the index")) if key.starts_with("poison-") => {
                    key.to_string()
                }
                _ => panic!("the index differs from the table: {line}\n{report}"),
            })
            .collect();
        assert_eq!(
            absent,
            (0..poison).map(|i| format!("poison-fill-{i}")).collect(),
            "{report}"
        );
    };
    let s3 = [
        "--table",
        &table,
        "--s3-endpoint",
        &moto,
        "--dynamodb-endpoint",
        &moto,
    ];

    // moto writes no manifest: the export's time must be given.
    let out = from(location, &index, "s3", &s3);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("has no manifest-summary.json: --export-time must say"),
        "{}",
        text(&out.stderr)
    );

    // From S3, the key names from DescribeTable.
    let mut with_time = s3.to_vec();
    with_time.extend(["--export-time", exported]);
    let out = from(location, &index, "s3", &with_time);
    let (summary, log) = (text(&out.stdout), text(&out.stderr));
    // Exit 1: the poison items are dead-lettered.
    assert_eq!(out.status.code(), Some(1), "{summary}\n{log}");
    assert_eq!(count(&summary, "items read"), items + poison, "{summary}");
    assert_eq!(count(&summary, "dead-lettered"), poison, "{summary}");
    assert_eq!(count(&summary, "not durable"), 0, "{summary}");
    assert_eq!(count(&summary, "version"), version, "{summary}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("s3.json")).unwrap()).unwrap();
    let files = state["progress"].as_array().unwrap();
    assert!(!files.is_empty(), "{state}");
    assert!(
        summary.contains(&format!("files done {0}/{0}", files.len())),
        "{summary}"
    );
    // The checkpoint names each file with the lines it holds durable.
    assert_eq!(
        files
            .iter()
            .map(|f| f["unit"]["skip"].as_u64().unwrap())
            .sum::<u64>(),
        items + poison,
        "{state}"
    );
    // The poison items in the dead-letter file exactly as exported, named by file and line.
    let dead = std::fs::read_to_string(dir.join("s3-dead.jsonl")).unwrap();
    assert_eq!(dead.lines().count() as u64, poison, "{dead}");
    for line in dead.lines() {
        let letter: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = letter["key"]["productId"]["S"].as_str().unwrap();
        assert!(key.starts_with("poison-fill-"), "{line}");
        assert_eq!(
            letter["item"],
            serde_json::json!({
                "productId": {"S": key},
                "price": {"N": "1.500"},
                "bad..name": {"S": "refused by OpenSearch under any mapping"},
            }),
            "{line}"
        );
        let reason = letter["reason"].as_str().unwrap();
        assert!(
            reason.starts_with(location)
                && reason.contains(" line ")
                && reason.contains("rejected (400)"),
            "{line}"
        );
    }
    compare(&index);

    // A rerun reads no finished file again.
    let out = from(location, &index, "s3", &with_time);
    let summary = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{summary}{}", text(&out.stderr));
    assert_eq!(count(&summary, "items read"), 0, "{summary}");

    // The same export in a local directory, with manifests: the key names given, the time
    // from the manifest; another time is refused.
    let local = local.to_str().unwrap();
    let out = from(
        local,
        &local_index,
        "local",
        &[
            "--keys",
            "productId",
            "--export-time",
            "2020-01-01T00:00:00Z",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("disagrees with the manifest's exportTime"),
        "{}",
        text(&out.stderr)
    );

    // Interrupted in the middle of the file (one line a page), the checkpoint names the
    // file's durable lines; the rerun reads the file from there on.
    let checkpoint = dir.join("local.json");
    let mut first = Running(
        command(local, &local_index, "local", "1", &["--keys", "productId"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let skip = |state: &serde_json::Value| state["progress"][0]["unit"]["skip"].as_u64();
    let limit = Instant::now() + Duration::from_secs(120);
    loop {
        let state = checkpoint_state(&checkpoint);
        if state.as_ref().and_then(skip).is_some_and(|s| s >= 20) {
            break;
        }
        assert!(
            Instant::now() < limit,
            "no progress in two minutes: {state:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    signal(&first.0, "INT");
    assert_eq!(exit_code(&mut first.0), Some(130));
    let mut summary = String::new();
    std::io::Read::read_to_string(first.0.stdout.as_mut().unwrap(), &mut summary).unwrap();
    let state = checkpoint_state(&checkpoint).unwrap();
    let durable = skip(&state).unwrap();
    assert!(durable >= 20 && durable < items, "{state}");
    assert_eq!(count(&summary, "items read"), durable, "{summary}");
    assert!(
        summary.contains("backfill interrupted: 1 of 1 files"),
        "{summary}"
    );

    let out = from(local, &local_index, "local", &["--keys", "productId"]);
    let (summary, log) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{summary}\n{log}");
    assert_eq!(
        count(&summary, "items read"),
        items + poison - durable,
        "{summary}"
    );
    assert_eq!(count(&summary, "dead-lettered"), poison, "{summary}");
    assert_eq!(count(&summary, "version"), version, "{summary}");
    assert!(
        log.contains(&format!(
            "holds about {} items (the export manifest's itemCount); {durable} are durable \
             from earlier runs",
            items + poison
        )),
        "{log}"
    );
    compare(&local_index);
}

#[test]
fn index_equals_the_table_after_a_backfill_from_an_export_under_concurrent_writes() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let items = 2000u64;
    let pid = std::process::id();
    let Setup {
        os,
        index,
        table,
        dir,
        _cleanup,
    } = Setup::new(
        &opensearch,
        &moto,
        "export-live",
        &["--count", &items.to_string(), "--seed", "21"],
    );
    ddb(&moto, &os, &["stream", "--table", &table], "");

    // The stream's processing runs first; then the export is made.
    let queue = text(
        &ddb(
            &moto,
            &os,
            &["queue", "--name", &format!("backfill-export-dlq-{pid}")],
            "",
        )
        .stdout,
    )
    .trim()
    .to_string();
    let checkpoints = dir.join("poll.json");
    let poll_log = dir.join("poll.log");
    let poll = Running(
        poller(&moto, &os, &table, &index, &checkpoints, &queue, false)
            .stdout(std::fs::File::create(&poll_log).unwrap())
            .stderr(std::fs::File::create(dir.join("poll.err")).unwrap())
            .spawn()
            .unwrap(),
    );
    let out = Command::new(repo().join(".dev/venv/bin/python"))
        .args(["-c", EXPORT_PY, &table, "s2s-backfill-exports"])
        .arg(format!("exports-live-{pid}"))
        .arg(dir.join("export"))
        .env("MOTO_URL", &moto)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let printed: Vec<&str> = printed.lines().collect();
    let [location, exported, _] = printed[..] else {
        panic!("{printed:?}");
    };

    // After the export: 20 of its items deleted and 20 changed before the backfill starts, and
    // a seeded workload of puts, updates and deletes over the same keys while it runs.
    let changes: String = (0..40)
        .map(|i| {
            let key = format!("k-{:04}", i * 37);
            if i % 2 == 0 {
                format!(r#"{{"op":"delete","key":{{"productId":{{"S":"{key}"}}}}}}"#) + "\n"
            } else {
                format!(
                    r#"{{"op":"update","key":{{"productId":{{"S":"{key}"}}}},"set":{{"price":{{"N":"777.70"}}}}}}"#
                ) + "\n"
            }
        })
        .collect();
    ddb(&moto, &os, &["apply", "--table", &table, "-"], &changes);
    // poll has applied them (its batch lines on stdout) before the backfill writes those items.
    let applied = |what: &str| -> u64 {
        let log = std::fs::read_to_string(&poll_log).unwrap_or_default();
        log.lines()
            .filter_map(|l| l.split(&format!("{what} ")).nth(1))
            .filter_map(|n| n.split(',').next()?.parse::<u64>().ok())
            .sum()
    };
    let limit = Instant::now() + Duration::from_secs(60);
    while applied("deleted") < 20 || applied("indexed") < 20 {
        assert!(
            Instant::now() < limit,
            "poll applied no 40 changes in a minute"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let workload = workload(&moto, &os, 21, 300, items, 0);
    let (m, o, t) = (moto.clone(), os.clone(), table.clone());
    let writer = std::thread::spawn(move || {
        ddb(
            &m,
            &o,
            &["apply", "--table", &t, "--key-gap", "1.05", "-"],
            &workload,
        );
    });
    let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["backfill", "--export", location, "--export-time", exported])
        .args(["--table", &table, "--index", &index])
        .args(["--s3-endpoint", &moto, "--dynamodb-endpoint", &moto])
        .args(["--endpoint", &os, "--allow-http", "--page-size", "50"])
        .arg("--checkpoint")
        .arg(dir.join("backfill.json"))
        .arg("--dead-letters")
        .arg(dir.join("dead.jsonl"))
        .envs(ENV)
        .output()
        .unwrap();
    let summary = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{summary}\n{}",
        text(&out.stderr)
    );
    // The export holds the table as it was: every item read once. The 40 items the stream
    // changed or deleted first were refused as stale (as were any the workload reached first).
    assert_eq!(count(&summary, "items read"), items, "{summary}");
    assert!(count(&summary, "stale") >= 40, "{summary}");
    writer.join().unwrap();

    // Drain the stream, then compare: the stream's later deletes and changes won.
    drop(poll);
    let out = poller(&moto, &os, &table, &index, &checkpoints, &queue, true)
        .output()
        .unwrap();
    assert!(out.status.success(), "poll --once: {}", text(&out.stderr));
    let out = ddb(
        &moto,
        &os,
        &["compare", "--table", &table, "--index", &index],
        "",
    );
    assert!(
        text(&out.stdout).contains(&format!("matches table {table}")),
        "{}",
        text(&out.stdout)
    );
}
