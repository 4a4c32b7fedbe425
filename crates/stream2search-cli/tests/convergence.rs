//! Convergence under faults: a seeded random workload on a moto table, streamed by
//! `stream2search poll` through a fault proxy into the real OpenSearch, then delivered again from
//! an older checkpoint and once more from the start. The index must equal the table, key by key;
//! every refused record must be in the dead-letter queue.
//!
//! `STREAM2SEARCH_CONVERGENCE_OPS` (default 2000) and `STREAM2SEARCH_CONVERGENCE_SEED` (default
//! 42) size and pick the workload; the long run is `STREAM2SEARCH_CONVERGENCE_OPS=10000`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use stream2search_testkit::OpenSearch;
use stream2search_testkit::fault::{Faults, Proxy};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// moto's URL (with the project's Python venv for `dev/ddb.py`), or `None` after a loud skip.
fn moto() -> Option<String> {
    stream2search_testkit::moto_url(&[&repo().join(".dev/venv/bin/python")])
}

const ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `dev/ddb.py ARGS` with `stdin`.
fn ddb(moto: &str, opensearch: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(repo().join(".dev/venv/bin/python"))
        .arg(repo().join("dev/ddb.py"))
        .args(args)
        .env("MOTO_URL", moto)
        .env("OPENSEARCH_URL", opensearch)
        .envs(ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "dev/ddb.py {args:?}: {}",
        text(&out.stderr)
    );
    out
}

/// Counts from the poller's output, summed over runs.
#[derive(Debug, Default)]
struct Counts {
    batches: u64,
    redelivered: u64,
    retries: u64,
}

impl Counts {
    fn add(&mut self, out: &Output) {
        for line in text(&out.stdout).lines() {
            if let Some(n) = line
                .split("retries ")
                .nth(1)
                .and_then(|r| r.split(';').next())
            {
                self.retries += n.trim().parse::<u64>().unwrap_or(0);
            }
        }
        let stderr = text(&out.stderr);
        let summary = stderr
            .lines()
            .rfind(|l| l.starts_with("poll: ") && l.contains(" batches, "))
            .unwrap_or_else(|| panic!("no summary line: {stderr}"));
        let number = |before: &str| -> u64 {
            let at = summary.find(before).unwrap();
            summary[..at]
                .rsplit([' ', ','])
                .find(|w| !w.is_empty())
                .unwrap()
                .parse()
                .unwrap()
        };
        self.batches += number(" batches");
        self.redelivered += number(" redelivered");
    }
}

#[test]
fn index_converges_to_the_table_under_faults_and_redelivery() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let started = Instant::now();
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let ops = var("STREAM2SEARCH_CONVERGENCE_OPS", 2000);
    let seed = var("STREAM2SEARCH_CONVERGENCE_SEED", 42);
    let (keys, poison) = (300u64, 8u64);
    let os = opensearch.url().to_string();

    let table = format!("Converge-{}", std::process::id());
    let index = opensearch.index("convergence");
    index.create(serde_json::json!({"mappings":{"properties":{"price":{"type":"double"}}}}));
    ddb(&moto, &os, &["create", "--table", &table], "");
    let queue = text(
        &ddb(
            &moto,
            &os,
            &[
                "queue",
                "--name",
                &format!("converge-dlq-{}", std::process::id()),
            ],
            "",
        )
        .stdout,
    )
    .trim()
    .to_string();
    let workload = text(
        &ddb(
            &moto,
            &os,
            &[
                "workload",
                "--seed",
                &seed.to_string(),
                "--ops",
                &ops.to_string(),
                "--keys",
                &keys.to_string(),
                "--poison",
                &poison.to_string(),
            ],
            "",
        )
        .stdout,
    );
    let lines: Vec<&str> = workload.lines().collect();

    let upstream = os.trim_start_matches("http://").trim_end_matches('/');
    let faults = Faults {
        drop_before: 0.05,
        drop_after: 0.05,
        slow: 0.01,
        delay: Duration::from_secs(6),
        ..Faults::default()
    };
    let proxy = Proxy::start(upstream, faults, seed).unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let cp = dir.join(format!("converge-{}.json", std::process::id()));
    let old = dir.join(format!("converge-{}-old.json", std::process::id()));
    let _ = std::fs::remove_file(&cp);
    let poll = || {
        let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
            .args(["poll", "--once", "--allow-http", "--auth", "none"])
            .args(["--table", &table, "--streams-endpoint", &moto])
            .args(["--endpoint", proxy.url(), "--index", index.name()])
            .args(["--batch-size", "100", "--timeout", "4"])
            .arg("--checkpoints")
            .arg(&cp)
            .envs(ENV)
            .env("STREAM2SEARCH_DLQ_URL", &queue)
            .env("STREAM2SEARCH_SQS_ENDPOINT", &moto)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        out
    };

    // The workload in four parts, the stream drained after each.
    let mut counts = Counts::default();
    for (i, part) in lines.chunks(lines.len().div_ceil(4)).enumerate() {
        ddb(
            &moto,
            &os,
            &["apply", "--table", &table, "-"],
            &(part.join("\n") + "\n"),
        );
        counts.add(&poll());
        if i == 0 {
            std::fs::copy(&cp, &old).unwrap();
        }
    }
    // Re-delivered from an older checkpoint, then everything duplicated from the start.
    std::fs::copy(&old, &cp).unwrap();
    counts.add(&poll());
    std::fs::remove_file(&cp).unwrap();
    counts.add(&poll());

    // Index == table, key by key, except the poison records, which are dead-lettered.
    let compare = ddb(
        &moto,
        &os,
        &["compare", "--table", &table, "--index", index.name()],
        "",
    );
    let report = text(&compare.stdout);
    let poison_keys: BTreeSet<String> = (0..poison).map(|i| format!("poison-{i}")).collect();
    let mut differing = BTreeSet::new();
    for line in report.lines().filter(|l| !l.starts_with("index ")) {
        let (key, why) = line.split_once(": ").unwrap();
        assert!(
            poison_keys.contains(key) && why == "in the table, not in the index",
            "{line}\n{report}"
        );
        differing.insert(key.to_string());
    }
    assert_eq!(differing, poison_keys, "{report}");
    let messages = text(&ddb(&moto, &os, &["receive", "--queue", &queue], "").stdout);
    let mut dead: BTreeMap<String, u64> = BTreeMap::new();
    for m in messages.lines() {
        let m: serde_json::Value = serde_json::from_str(m).unwrap();
        let key = m["record"]["dynamodb"]["Keys"]["productId"]["S"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            poison_keys.contains(&key),
            "a record that is not poison was dead-lettered: {m}"
        );
        *dead.entry(key).or_default() += 1;
    }
    assert_eq!(
        dead.keys().cloned().collect::<BTreeSet<_>>(),
        poison_keys,
        "dead letters: {dead:?}"
    );

    let faults = proxy.counts();
    let injected: u64 = faults
        .iter()
        .filter(|(k, _)| !matches!(**k, "bulk requests" | "forwarded"))
        .map(|(_, v)| v)
        .sum();
    eprintln!(
        "convergence: seed {seed}, {} operations over {keys} keys ({poison} poison), \
         {} batches ({} redelivered after a failure), {} client retries, {} faults injected \
         {faults:?}, {} dead letters, {} s",
        lines.len(),
        counts.batches,
        counts.redelivered,
        counts.retries,
        injected,
        dead.values().sum::<u64>(),
        started.elapsed().as_secs()
    );
    for kind in [
        "request 503",
        "request 413",
        "dropped before forwarding",
        "dropped after forwarding",
        "delayed",
        "item 429/503",
    ] {
        assert!(
            faults.get(kind).is_some_and(|&n| n > 0),
            "no {kind}: {faults:?}"
        );
    }
    ddb(&moto, &os, &["drop", "--table", &table], "");
}

#[test]
fn partial_batch_response_comes_before_the_deadline_while_opensearch_hangs() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let os = opensearch.url().to_string();
    let table = format!("Hang-{}", std::process::id());
    let index = opensearch.index("hang");
    ddb(&moto, &os, &["create", "--table", &table], "");
    let ops = r#"{"op":"put","item":{"productId":{"S":"a"}}}
{"op":"put","item":{"productId":{"S":"b"}}}
"#;
    ddb(&moto, &os, &["apply", "--table", &table, "-"], ops);
    // Every bulk request hangs far longer than the 3-second function timeout.
    let hang = Faults {
        request_503: 0.0,
        request_413: 0.0,
        drop_before: 0.0,
        drop_after: 0.0,
        slow: 1.0,
        delay: Duration::from_secs(120),
        item_error: 0.0,
    };
    let proxy = Proxy::start(
        os.trim_start_matches("http://").trim_end_matches('/'),
        hang,
        1,
    )
    .unwrap();
    let cp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("hang-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&cp);
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["poll", "--once", "--allow-http", "--auth", "none"])
        .args(["--table", &table, "--streams-endpoint", &moto])
        .args(["--endpoint", proxy.url(), "--index", index.name()])
        .args(["--timeout", "3", "--max-attempts", "1"])
        .arg("--checkpoints")
        .arg(&cp)
        .envs(ENV)
        .output()
        .unwrap();
    let waited = started.elapsed();
    // Not a timing measurement: had the handler waited for OpenSearch it would take 120 s.
    assert!(waited < Duration::from_secs(60), "{waited:?}");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&cp).unwrap()).unwrap();
    let (_, position) = saved["shards"].as_object().unwrap().iter().next().unwrap();
    let first = position["at"].as_str().expect("resume at the first record");
    assert!(
        stdout.contains("2 records;") && stdout.trim_end().ends_with(&format!("resume at {first}")),
        "{stdout}"
    );
    ddb(&moto, &os, &["drop", "--table", &table], "");
}
