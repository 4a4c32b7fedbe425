//! Convergence under faults: a seeded random workload on a moto table, streamed by
//! `stream2search poll` through a fault proxy into the real OpenSearch. The index is compared
//! with the table after every phase: each part of the workload, a replay from an older
//! checkpoint stopped partway and then finished, and a re-delivery of the whole stream stopped
//! partway and then finished. Every comparison is exact (`dev/ddb.py compare`: number text,
//! types, sets as sets) and waits until the proxy holds no request; only the poison records
//! differ, and exactly those are in the dead-letter queue. The faults, retries, re-deliveries
//! and duplicates the run reports are asserted from the proxy's and the poller's own counts.
//!
//! `STREAM2SEARCH_CONVERGENCE_OPS` (default 2000) and `STREAM2SEARCH_CONVERGENCE_SEED` (default
//! 42) size and pick the workload; the long run is `STREAM2SEARCH_CONVERGENCE_OPS=10000`.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stream2search_testkit::OpenSearch;
use stream2search_testkit::fault::{Faults, Proxy};

mod common;
use common::{
    DIFFERS, ENV, Generations, ddb, ddb_with, env_u64, index_create, moto, text, workload,
};

/// Counts from the poller's output, summed over runs: its batch lines on stdout and its
/// summary line on stderr (a run stopped partway has none).
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    batches: u64,
    redelivered: u64,
    /// Records handed to the function, every delivery counted.
    delivered: u64,
    /// Records done, each once per run (the summary's count; not known for a stopped run).
    records: u64,
    indexed: u64,
    deleted: u64,
    stale: u64,
    dead_lettered: u64,
    retries: u64,
}

impl Counts {
    /// Adds one batch line: `SHARD FIRST..LAST: N records; indexed .., retries N; complete`.
    fn add_line(&mut self, line: &str) {
        let Some((_, rest)) = line.split_once(": ") else {
            return;
        };
        let Some((records, rest)) = rest.split_once(" records; ") else {
            return;
        };
        self.delivered += records.parse::<u64>().unwrap();
        let counts = rest.split(';').next().unwrap();
        for pair in counts.split(", ") {
            let (name, n) = pair.rsplit_once(' ').unwrap();
            let n: u64 = n.parse().unwrap_or_else(|_| panic!("{line}"));
            match name {
                "indexed" => self.indexed += n,
                "deleted" => self.deleted += n,
                "stale" => self.stale += n,
                "dead-lettered" => self.dead_lettered += n,
                "retries" => self.retries += n,
                _ => {}
            }
        }
    }

    /// Adds a whole run's stdout, and its summary line (`poll: N batches, .., N redelivered
    /// batches`) when `stderr` is given.
    fn add(&mut self, stdout: &str, stderr: Option<&str>) {
        stdout.lines().for_each(|l| self.add_line(l));
        let Some(stderr) = stderr else {
            self.batches += stdout.lines().count() as u64;
            return;
        };
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
        self.records += number(" records");
        self.redelivered += number(" redelivered");
    }
}

impl std::ops::Sub for Counts {
    type Output = Counts;
    fn sub(self, o: Counts) -> Counts {
        Counts {
            batches: self.batches - o.batches,
            redelivered: self.redelivered - o.redelivered,
            delivered: self.delivered - o.delivered,
            records: self.records - o.records,
            indexed: self.indexed - o.indexed,
            deleted: self.deleted - o.deleted,
            stale: self.stale - o.stale,
            dead_lettered: self.dead_lettered - o.dead_lettered,
            retries: self.retries - o.retries,
        }
    }
}

/// Everything one convergence run works with.
struct Run<'a> {
    moto: &'a str,
    os: &'a str,
    table: String,
    index: String,
    queue: String,
    proxy: Proxy,
    checkpoints: PathBuf,
    counts: Counts,
    /// The poison keys put so far (each is in the table, refused by the index).
    poison: BTreeSet<String>,
    /// The keys read from the dead-letter queue so far.
    dead: BTreeSet<String>,
    dead_letters: u64,
    phases: Vec<String>,
}

impl Run<'_> {
    fn poller(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stream2search"));
        c.args(["poll", "--once", "--allow-http", "--auth", "none"])
            .args(["--table", &self.table, "--streams-endpoint", self.moto])
            .args(["--endpoint", self.proxy.url(), "--index", &self.index])
            .args(["--batch-size", "100", "--timeout", "4"])
            .arg("--checkpoints")
            .arg(&self.checkpoints)
            .envs(ENV)
            .env("STREAM2SEARCH_DLQ_URL", &self.queue)
            .env("STREAM2SEARCH_SQS_ENDPOINT", self.moto)
            .env("STREAM2SEARCH_DLQ_ALLOW_HTTP", "true");
        c
    }

    /// `poll --once` until the stream is drained.
    fn poll(&mut self) {
        let out = self.poller().output().unwrap();
        assert!(out.status.success(), "poll: {}", text(&out.stderr));
        self.counts
            .add(&text(&out.stdout), Some(&text(&out.stderr)));
    }

    /// `poll --once`, killed once it has completed `batches` batches: a delivery stopped
    /// partway. Returns how many it completed (fewer only when the stream held fewer).
    fn poll_partly(&mut self, batches: usize) -> usize {
        let mut child = self
            .poller()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read on its own thread, so that a full stderr pipe never stalls the poller.
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let mut stdout = String::new();
        let mut complete = 0;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            stdout.push_str(&line);
            stdout.push('\n');
            if line.ends_with("; complete") {
                complete += 1;
                if complete == batches {
                    let _ = child.kill();
                    break;
                }
            }
        }
        let status = child.wait().unwrap();
        let stderr = stderr.join().unwrap();
        assert!(
            complete == batches || status.success(),
            "poll: {status}: {stderr}"
        );
        self.counts.add(&stdout, None);
        complete
    }

    /// Applies workload lines to the table, a key's changes at least a second apart: records of
    /// one item from different seconds carry different versions, so that no replayed or late
    /// record may overwrite a newer one (within one second the last written wins, which a
    /// replay stopped partway may legitimately leave older: `docs/architecture.md`). Between
    /// parts, the poll and the comparison take longer than that.
    fn apply(&mut self, lines: &[&str]) {
        for line in lines {
            let op: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(key) = op["item"]["productId"]["S"].as_str()
                && key.starts_with("poison-")
            {
                self.poison.insert(key.to_string());
            }
        }
        ddb(
            self.moto,
            self.os,
            &["apply", "--table", &self.table, "--key-gap", "1.05", "-"],
            &(lines.join("\n") + "\n"),
        );
    }

    /// Once the proxy holds no request: the index equals the table exactly, except the poison
    /// keys put so far, which are absent from the index and are exactly the keys dead-lettered.
    fn compare(&mut self, phase: &str) {
        assert!(
            self.proxy.wait_idle(Duration::from_secs(60)),
            "{phase}: the proxy still holds a request"
        );
        let out = ddb_with(
            self.moto,
            Some(self.os),
            &["compare", "--table", &self.table, "--index", &self.index],
            "",
            &[0, DIFFERS],
        );
        let report = text(&out.stdout);
        let messages =
            text(&ddb(self.moto, self.os, &["receive", "--queue", &self.queue], "").stdout);
        for m in messages.lines() {
            let m: serde_json::Value = serde_json::from_str(m).unwrap();
            let key = m["record"]["dynamodb"]["Keys"]["productId"]["S"]
                .as_str()
                .unwrap_or_else(|| panic!("{phase}: a dead letter without a key: {m}"))
                .to_string();
            self.dead.insert(key);
            self.dead_letters += 1;
        }
        let mut absent = BTreeSet::new();
        for line in report.lines().filter(|l| !l.starts_with("index ")) {
            match line.split_once(": ") {
                Some((key, "in the table, not in the index")) if self.poison.contains(key) => {
                    absent.insert(key.to_string());
                }
                _ => panic!("{phase}: the index differs from the table: {line}\n{report}"),
            }
        }
        assert_eq!(absent, self.poison, "{phase}: poison keys\n{report}");
        assert_eq!(self.dead, self.poison, "{phase}: dead-lettered keys");
        self.phases.push(phase.to_string());
    }
}

#[test]
fn index_equals_the_table_after_every_phase_under_faults_and_redelivery() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let started = Instant::now();
    let ops = env_u64("STREAM2SEARCH_CONVERGENCE_OPS", 2000);
    let seed = env_u64("STREAM2SEARCH_CONVERGENCE_SEED", 42);
    let (keys, poison) = (300u64, 8u64);
    let os = opensearch.url().to_string();
    let pid = std::process::id();

    // The index is made as a user makes it: `stream2search index create` (a versioned index
    // behind the write alias the poller writes to, a mapping that refuses no DynamoDB item,
    // deletes remembered for 24 h). The poison records carry an attribute name OpenSearch refuses
    // under any mapping (`bad..name`).
    let index = format!("s2s-converge-{pid}");
    let _cleanup = Generations(&opensearch, index.clone());
    index_create(&os, &index);
    let table = format!("Converge-{pid}");
    ddb(&moto, &os, &["create", "--table", &table], "");
    let queue = text(
        &ddb(
            &moto,
            &os,
            &["queue", "--name", &format!("converge-dlq-{pid}")],
            "",
        )
        .stdout,
    )
    .trim()
    .to_string();
    let workload = workload(&moto, &os, seed, ops, keys, poison);
    let lines: Vec<&str> = workload.lines().collect();

    let faults = Faults {
        drop_before: 0.05,
        drop_after: 0.05,
        slow: 0.01,
        delay: Duration::from_secs(6),
        ..Faults::default()
    };
    let upstream = os.trim_start_matches("http://").trim_end_matches('/');
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let checkpoints = dir.join(format!("converge-{pid}.json"));
    let old = dir.join(format!("converge-{pid}-old.json"));
    let _ = std::fs::remove_file(&checkpoints);
    let mut run = Run {
        moto: &moto,
        os: &os,
        table: table.clone(),
        index: index.clone(),
        queue,
        proxy: Proxy::start(upstream, faults, seed).unwrap(),
        checkpoints: checkpoints.clone(),
        counts: Counts::default(),
        poison: BTreeSet::new(),
        dead: BTreeSet::new(),
        dead_letters: 0,
        phases: Vec::new(),
    };

    // The workload in four parts, the stream drained and the index compared after each: a
    // write lost or regressed here fails here, before anything re-delivers it.
    let parts = lines.chunks(lines.len().div_ceil(4)).count();
    for (i, part) in lines.chunks(lines.len().div_ceil(4)).enumerate() {
        run.apply(part);
        run.poll();
        run.compare(&format!("after part {} of {parts}", i + 1));
        if i == 0 {
            std::fs::copy(&checkpoints, &old).unwrap();
        }
    }
    let incremental = run.counts;

    // Replayed from the checkpoint saved after part 1: every replayed record is older than (or
    // the same as) what the index holds, so a replay stopped partway must leave it unchanged.
    std::fs::copy(&old, &checkpoints).unwrap();
    let done = run.poll_partly(3);
    run.compare(&format!(
        "replay from the part-1 checkpoint, stopped after {done} batches"
    ));
    run.poll();
    run.compare("replay from the part-1 checkpoint, finished");
    let replay = run.counts - incremental;

    // The whole stream again from the start (no checkpoint file): stopped partway, then finished.
    std::fs::remove_file(&checkpoints).unwrap();
    let before = run.counts;
    let done = run.poll_partly(5);
    run.compare(&format!(
        "re-delivery from the start, stopped after {done} batches"
    ));
    run.poll();
    run.compare("re-delivery from the start, finished");
    let again = run.counts - before;

    let faults = run.proxy.counts();
    let c = run.counts;
    eprintln!(
        "convergence: seed {seed}, {} operations over {keys} keys ({poison} poison), compared \
         after {} phases; {} batches ({} redelivered after a failure), {} records delivered \
         ({} in the replay, {} in the re-delivery; {} stale), {} client retries, faults \
         {faults:?}, {} dead letters, {} s",
        lines.len(),
        run.phases.len(),
        c.batches,
        c.redelivered,
        c.delivered,
        replay.delivered,
        again.delivered,
        c.stale,
        c.retries,
        run.dead_letters,
        started.elapsed().as_secs()
    );
    // What the run claims happened, from the proxy's own records...
    for kind in [
        "request 503",
        "request 413",
        "dropped before forwarding",
        "dropped after forwarding",
        "delayed",
        "item 429",
        "item 503",
    ] {
        assert!(
            faults.get(kind).is_some_and(|&n| n > 0),
            "no {kind}: {faults:?}"
        );
    }
    // ... and from the poller's: the client retried, batches were delivered again after a
    // failure, every record went out again (the replay and the re-delivery), superseded
    // versions were refused as stale, and poison records were dead-lettered.
    assert!(c.retries > 0, "no client retries: {c:?}");
    assert!(
        c.redelivered > 0,
        "no batch redelivered after a failure: {c:?}"
    );
    assert!(
        replay.delivered > 0,
        "the replay delivered nothing: {replay:?}"
    );
    assert!(
        incremental.records > 0 && again.delivered >= incremental.records,
        "the re-delivery from the start delivered {} records of the stream's {}",
        again.delivered,
        incremental.records
    );
    assert!(
        replay.stale > 0 && again.stale > 0,
        "no stale writes: {replay:?} {again:?}"
    );
    assert!(
        c.dead_lettered > 0 && run.dead_letters > 0,
        "no dead letters: {c:?}"
    );
    assert_eq!(run.phases.len(), parts + 4, "{:?}", run.phases);
    ddb(&moto, &os, &["drop", "--table", &table], "");
    let _ = std::fs::remove_file(&old);
    let _ = std::fs::remove_file(&checkpoints);
}

/// `dev/ddb.py compare` itself: equal only when number text, types and set members are the
/// same; the order of a set's members does not count.
#[test]
fn compare_tells_number_text_booleans_binary_and_sets_apart() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let os = opensearch.url().to_string();
    let table = format!("Exact-{}", std::process::id());
    let index = opensearch.index("exact");
    index.create(serde_json::json!({"mappings": {"dynamic": false}}));
    ddb(&moto, &os, &["create", "--table", &table], "");
    let item = r#"{"op":"put","item":{"productId":{"S":"x"},"price":{"N":"12.50"},"big":{"N":"12345678901234567890123456789012345678"},"flag":{"BOOL":true},"off":{"BOOL":false},"empty":{"S":""},"one":{"S":"1"},"ns":{"NS":["1.500","1E+2"]},"ss":{"SS":["a","b"]},"bin":{"B":"AAE="},"bs":{"BS":["AAE=","Ag=="]},"nothing":{"NULL":true},"m":{"M":{"l":{"L":[{"N":"0.0"},{"NULL":true},{"M":{}}]}}}}}"#;
    ddb(&moto, &os, &["apply", "--table", &table, "-"], item);
    let right = r#"{"productId":"x","price":12.50,"big":12345678901234567890123456789012345678,"flag":true,"off":false,"empty":"","one":"1","ns":[1E+2,1.500],"ss":["b","a"],"bin":"AAE=","bs":["Ag==","AAE="],"nothing":null,"m":{"l":[0.0,null,{}]}}"#;
    let put = |source: &str| {
        let body = format!(
            "{{\"index\":{{\"_index\":\"{}\",\"_id\":\"x\"}}}}\n{source}\n",
            index.name()
        );
        let r = opensearch.bulk(body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["errors"], false, "{}", r.text());
    };
    let compare = || {
        let out = ddb_with(
            &moto,
            Some(&os),
            &["compare", "--table", &table, "--index", index.name()],
            "",
            &[0, DIFFERS],
        );
        (out.status.code(), text(&out.stdout))
    };
    put(right);
    let (code, report) = compare();
    assert_eq!(code, Some(0), "{report}");
    for (wrong, right_part) in [
        (r#""price":12.5,"#, r#""price":12.50,"#),
        (
            r#""big":1.2345678901234568E+37,"#,
            r#""big":12345678901234567890123456789012345678,"#,
        ),
        (r#""flag":1,"#, r#""flag":true,"#),
        (r#""off":0,"#, r#""off":false,"#),
        (r#""empty":null,"#, r#""empty":"","#),
        (r#""one":1,"#, r#""one":"1","#),
        (r#""ns":[100,1.500],"#, r#""ns":[1E+2,1.500],"#),
        (r#""ns":[1E+2,1.500,1.500],"#, r#""ns":[1E+2,1.500],"#),
        (r#""ss":["b"],"#, r#""ss":["b","a"],"#),
        (r#""bin":"AAE","#, r#""bin":"AAE=","#),
        (r#""nothing":"null","#, r#""nothing":null,"#),
        (r#""l":[0,null,{}]"#, r#""l":[0.0,null,{}]"#),
        (r#""l":[null,0.0,{}]"#, r#""l":[0.0,null,{}]"#),
    ] {
        assert!(right.contains(right_part), "{right_part}");
        put(&right.replace(right_part, wrong));
        let (code, report) = compare();
        assert_eq!(
            code,
            Some(DIFFERS),
            "{wrong} passed as {right_part}: {report}"
        );
        assert!(report.starts_with("x: table "), "{report}");
    }
    ddb(&moto, &os, &["drop", "--table", &table], "");
}

/// `dev/ddb.py documents` (and so `compare`) reads the whole index: past the 10,000 hits one
/// search returns, with every `_source`'s number text as it was written.
#[test]
fn index_reader_reads_every_document_past_ten_thousand_hits() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let os = opensearch.url().to_string();
    let index = opensearch.index("ten thousand");
    index.create(serde_json::json!({"mappings": {"dynamic": false}}));
    let numbers = ["1.500", "1E+2", "12.50", "-0.001", "7"];
    let n = 10_250;
    let source = |i: usize| {
        format!(
            r#"{{"n":{},"i":"d-{i:05}","t":{}}}"#,
            numbers[i % numbers.len()],
            i.is_multiple_of(2)
        )
    };
    let mut body = String::new();
    for i in 0..n {
        body.push_str(&format!(
            "{{\"index\":{{\"_index\":\"{}\",\"_id\":\"d-{i:05}\"}}}}\n{}\n",
            index.name(),
            source(i)
        ));
    }
    let r = opensearch.bulk(body.as_bytes());
    assert_eq!(r.status, 200, "{}", &r.text()[..300.min(r.text().len())]);
    assert_eq!(r.json()["errors"], false);
    let out = text(&ddb(&moto, &os, &["documents", "--index", index.name()], "").stdout);
    let want: Vec<String> = (0..n).map(|i| format!("d-{i:05}\t{}", source(i))).collect();
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), n);
    assert_eq!(got, want);
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
