//! `stream2search reindex` against moto and the real OpenSearch: the next generation with a new
//! mapping, backfilled from the table, verified (repaired and verified again when it differs),
//! the aliases switched in one call, the old generation kept fresh through the mirror alias
//! until `--delete-old`.
//!
//! The waits' lengths are unit tests in `src/reindex/mod.rs`; here `--settle` replaces them: 0
//! where no stream runs, and 10 s where `poll` streams the table (looking the mirror up at every
//! batch, so that no wait is needed for its sake) while the table changes and a sampler searches
//! the read alias. The stream side alone is `crates/stream2search-lambda/tests/mirror.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use stream2search_testkit::OpenSearch;

mod common;
use common::{ENV, Generations, ddb, ddb_with, index_create, moto, repo, text};

/// Drops the table when dropped.
struct DropTable {
    moto: String,
    table: String,
}

impl Drop for DropTable {
    fn drop(&mut self) {
        let _ = Command::new(repo().join(".dev/venv/bin/python"))
            .arg(repo().join("dev/ddb.py"))
            .args(["drop", "--table", &self.table])
            .env("MOTO_URL", &self.moto)
            .envs(ENV)
            .output();
    }
}

fn scratch(purpose: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("s2s-{purpose}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `stream2search reindex NAME ...` in `dir`, with the backfill's options after `--`; no waits
/// unless `extra` has a `--settle`.
fn reindex(dir: &Path, os: &str, name: &str, extra: &[&str], backfill: &[&str]) -> Output {
    let settle: &[&str] = if extra.contains(&"--settle") {
        &[]
    } else {
        &["--settle", "0"]
    };
    Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .current_dir(dir)
        .args(["reindex", name, "--endpoint", os, "--allow-http"])
        .args(settle)
        .args(extra)
        .arg("--")
        .args(backfill)
        .envs(ENV)
        .output()
        .unwrap()
}

/// The indexes `alias` names, sorted (none for a 404).
fn named(os: &OpenSearch, alias: &str) -> Vec<String> {
    let r = os.get(&format!("/_alias/{alias}"));
    if r.status == 404 {
        return Vec::new();
    }
    assert_eq!(r.status, 200, "{}", r.text());
    let mut indexes: Vec<String> = r.json().as_object().unwrap().keys().cloned().collect();
    indexes.sort();
    indexes
}

fn state(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap()
}

#[test]
fn reindex_backfills_the_next_generation_switches_in_one_call_and_keeps_the_old_one_fresh() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let Some(moto) = moto() else {
        return;
    };
    let os = opensearch.url().to_owned();
    let pid = std::process::id();
    let table = format!("reindex-{pid}");
    let _table = DropTable {
        moto: moto.clone(),
        table: table.clone(),
    };
    ddb(
        &moto,
        &os,
        &["create", "--table", &table, "--no-stream"],
        "",
    );
    ddb(
        &moto,
        &os,
        &["fill", "--table", &table, "--count", "120", "--seed", "7"],
        "",
    );
    let name = format!("s2s-reindex-{pid}");
    let _generations = Generations(&opensearch, name.clone());
    index_create(&os, &name);
    let (first, second) = (format!("{name}-000001"), format!("{name}-000002"));

    let dir = scratch("reindex");
    std::fs::write(
        dir.join("mapping.json"),
        r#"{"properties": {"note": {"type": "keyword"}}}"#,
    )
    .unwrap();
    let backfill = ["--table", &table, "--dynamodb-endpoint", &moto];
    let extra = ["--mapping", "mapping.json", "--state", "state.json"];
    let out = reindex(&dir, &os, &name, &extra, &backfill);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("reindex: created {second} (step 1)")),
        "{said}"
    );
    assert!(said.contains(&format!("reindex: kept {first}")), "{said}");

    // Writes and searches use the new generation; the mirror keeps the old one fresh.
    assert_eq!(named(&opensearch, &name), [second.as_str()]);
    assert_eq!(
        named(&opensearch, &format!("{name}-read")),
        [second.as_str()]
    );
    assert_eq!(
        named(&opensearch, &format!("{name}-mirror")),
        [first.as_str()]
    );
    let aliases = opensearch.get(&format!("/{second}/_alias/{name}")).json();
    assert_eq!(
        aliases[&second]["aliases"][&name]["is_write_index"], true,
        "{aliases}"
    );
    // The new mapping, and the table's items, exactly.
    let mapping = opensearch.get(&format!("/{second}/_mapping")).json();
    assert_eq!(
        mapping[&second]["mappings"]["properties"]["note"]["type"], "keyword",
        "{mapping}"
    );
    ddb_with(
        &moto,
        Some(&os),
        &[
            "compare", "--table", &table, "--index", &second, "--wait", "10",
        ],
        "",
        &[0],
    );
    assert_eq!(state(&dir)["step"], "switched");

    // --delete-old: the old generation goes, and with it the mirror alias.
    let out = reindex(
        &dir,
        &os,
        &name,
        &["--state", "state.json", "--delete-old"],
        &backfill,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("reindex: deleted {first}")),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(opensearch.get(&format!("/{first}")).status, 404);
    assert_eq!(
        named(&opensearch, &format!("{name}-mirror")),
        Vec::<String>::new()
    );
    assert_eq!(named(&opensearch, &name), [second.as_str()]);
    assert_eq!(state(&dir)["step"], "deleted");

    // Once more: nothing left to do.
    let out = reindex(&dir, &os, &name, &["--state", "state.json"], &backfill);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("already"),
        "{}",
        text(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_backfill_or_a_difference_the_repair_leaves_stops_before_the_switch_and_a_rerun_resumes()
{
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let Some(moto) = moto() else {
        return;
    };
    let os = opensearch.url().to_owned();
    let pid = std::process::id();
    let table = format!("reindex-resume-{pid}");
    let _table = DropTable {
        moto: moto.clone(),
        table: table.clone(),
    };
    let name = format!("s2s-reindex-resume-{pid}");
    let _generations = Generations(&opensearch, name.clone());
    index_create(&os, &name);
    let (first, second) = (format!("{name}-000001"), format!("{name}-000002"));
    let dir = scratch("reindex-resume");
    let backfill = ["--table", &table, "--dynamodb-endpoint", &moto];
    let extra = ["--state", "state.json"];

    // The table does not exist yet: the backfill fails, nothing is switched.
    let out = reindex(&dir, &os, &name, &extra, &backfill);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains(&format!("the backfill of {second} did not finish")),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(state(&dir)["step"], "mirrored");
    assert_eq!(named(&opensearch, &name), [first.as_str()]);
    assert_eq!(
        named(&opensearch, &format!("{name}-read")),
        [first.as_str()]
    );
    assert_eq!(
        named(&opensearch, &format!("{name}-mirror")),
        [second.as_str()]
    );

    // With the table there, the rerun goes on from step 3. Meanwhile two documents no item
    // makes got into the new generation: one at version 1, which the repair deletes, and one at
    // a version an hour ahead, which the repair's version cannot delete.
    ddb(
        &moto,
        &os,
        &["create", "--table", &table, "--no-stream"],
        "",
    );
    ddb(
        &moto,
        &os,
        &["fill", "--table", &table, "--count", "30", "--seed", "3"],
        "",
    );
    let ahead = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600)
        * 1_000_000;
    for (id, version) in [("junk-1", 1), ("junk-2", ahead)] {
        let path = format!("/{second}/_doc/{id}?version={version}&version_type=external");
        let r = opensearch.send_json("PUT", &path, &serde_json::json!({"note": id}));
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let out = reindex(&dir, &os, &name, &extra, &backfill);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}{}", text(&out.stderr));
    assert!(said.contains("resuming"), "{said}");
    assert!(!said.contains("step 1"), "{said}");
    assert!(
        said.contains(&format!("reindex: backfilled {second} (step 3)")),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "reindex: {second} differs from the table: repairing it (step 4)"
        )),
        "{said}"
    );
    assert!(
        text(&out.stderr).contains(&format!(
            "{second} still differs from the table after a repair (see above): not switched, \
             searches stay on {first}"
        )),
        "{}",
        text(&out.stderr)
    );
    // Verify's own lines: the extra documents found, the one repaired, the one left.
    assert!(said.contains("extra 2"), "{said}");
    assert!(said.contains("extra junk-2"), "{said}");
    assert_eq!(
        opensearch.get(&format!("/{second}/_doc/junk-1")).status,
        404
    );
    assert_eq!(
        opensearch.get(&format!("/{second}/_doc/junk-2")).status,
        200
    );
    assert_eq!(state(&dir)["step"], "backfilled");
    assert_eq!(named(&opensearch, &name), [first.as_str()]);
    assert_eq!(
        named(&opensearch, &format!("{name}-read")),
        [first.as_str()]
    );

    // Once it is gone, a rerun verifies again, without a backfill, and switches.
    let r = opensearch.request("DELETE", &format!("/{second}/_doc/junk-2"), &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let out = reindex(&dir, &os, &name, &extra, &backfill);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(said.contains("after step Backfilled"), "{said}");
    assert!(!said.contains("backfilling"), "{said}");
    assert!(!said.contains("repairing"), "{said}");
    assert!(
        said.contains(&format!("reindex: {second} equals the table (step 4)")),
        "{said}"
    );
    assert_eq!(named(&opensearch, &name), [second.as_str()]);
    ddb_with(
        &moto,
        Some(&os),
        &[
            "compare", "--table", &table, "--index", &second, "--wait", "10",
        ],
        "",
        &[0],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_existing_next_generation_is_left_alone() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let os = opensearch.url().to_owned();
    let name = format!("s2s-reindex-taken-{}", std::process::id());
    let _generations = Generations(&opensearch, name.clone());
    index_create(&os, &name);
    let second = format!("{name}-000002");
    assert_eq!(
        opensearch
            .request("PUT", &format!("/{second}"), &[], b"")
            .status,
        200
    );
    let dir = scratch("reindex-taken");
    let out = reindex(
        &dir,
        &os,
        &name,
        &["--state", "state.json"],
        &["--table", "T"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("nothing changed"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.join("state.json").exists());
    assert_eq!(
        named(&opensearch, &format!("{name}-mirror")),
        Vec::<String>::new()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_reindex_that_could_not_verify_against_the_table_is_refused_before_step_1() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let os = opensearch.url().to_owned();
    let name = format!("s2s-reindex-no-table-{}", std::process::id());
    let _generations = Generations(&opensearch, name.clone());
    index_create(&os, &name);
    let dir = scratch("reindex-no-table");
    let out = reindex(
        &dir,
        &os,
        &name,
        &["--state", "state.json"],
        &["--export", "export", "--keys", "productId"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("give --table after `--`"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(opensearch.get(&format!("/{name}-000002")).status, 404);
    assert!(!dir.join("state.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A child process killed when dropped.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One look at the read alias: a search matching all (one hit) and a count.
#[derive(Debug)]
struct Sample {
    /// The search's status, failed shards, `hits.total.value`, and the index of its hit.
    search: (u16, u64, u64, Option<String>),
    /// The count's status, failed shards, and count.
    count: (u16, u64, u64),
    /// A request that got no answer at all.
    unanswered: Option<String>,
}

impl Sample {
    fn take(authority: &str, read: &str) -> Sample {
        let ask = |method: &str, path: &str, body: &[u8]| {
            stream2search_testkit::http::request(
                authority,
                method,
                path,
                &[("Content-Type", "application/json")],
                body,
            )
            .map_err(|e| format!("{method} {path}: {e}"))
        };
        let mut sample = Sample {
            search: (0, 0, 0, None),
            count: (0, 0, 0),
            unanswered: None,
        };
        let body = br#"{"query": {"match_all": {}}, "size": 1}"#;
        match ask("POST", &format!("/{read}/_search"), body) {
            Ok(r) => {
                let json: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                sample.search = (
                    r.status,
                    json["_shards"]["failed"].as_u64().unwrap_or(u64::MAX),
                    json["hits"]["total"]["value"].as_u64().unwrap_or(0),
                    json["hits"]["hits"][0]["_index"].as_str().map(String::from),
                );
            }
            Err(e) => sample.unanswered = Some(e),
        }
        match ask("GET", &format!("/{read}/_count"), b"") {
            Ok(r) => {
                let json: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                sample.count = (
                    r.status,
                    json["_shards"]["failed"].as_u64().unwrap_or(u64::MAX),
                    json["count"].as_u64().unwrap_or(0),
                );
            }
            Err(e) => sample.unanswered = Some(e),
        }
        sample
    }

    /// Answered, 200 twice, no shard failed, something found.
    fn good(&self) -> bool {
        let (status, failed, total, _) = &self.search;
        let (count_status, count_failed, count) = &self.count;
        self.unanswered.is_none()
            && *status == 200
            && *failed == 0
            && *total > 0
            && *count_status == 200
            && *count_failed == 0
            && *count > 0
    }
}

/// `dev/ddb.py workload --seed SEED --ops OPS --keys KEYS`, applied to `table` (a key's changes
/// at least a second apart).
fn write(moto: &str, os: &str, table: &str, seed: u32, ops: &str, keys: &str) {
    let seed = seed.to_string();
    let workload = text(
        &ddb(
            moto,
            os,
            &[
                "workload", "--seed", &seed, "--ops", ops, "--keys", keys, "--poison", "0",
            ],
            "",
        )
        .stdout,
    );
    ddb(
        moto,
        os,
        &["apply", "--table", table, "--key-gap", "1.05", "-"],
        &workload,
    );
}

#[test]
fn searches_on_the_read_alias_never_fail_or_come_back_empty_during_a_reindex_while_the_stream_writes()
 {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::time::Duration;

    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let Some(moto) = moto() else {
        return;
    };
    let os = opensearch.url().to_owned();
    let pid = std::process::id();
    let table = format!("reindex-live-{pid}");
    let _table = DropTable {
        moto: moto.clone(),
        table: table.clone(),
    };
    let name = format!("s2s-reindex-live-{pid}");
    let read = format!("{name}-read");
    let _generations = Generations(&opensearch, name.clone());
    let (first, second) = (format!("{name}-000001"), format!("{name}-000002"));
    let dir = scratch("reindex-live");
    let items = "200";

    // A table in use: its items in the first generation, its stream polled into `NAME`, as the
    // stream function would, looking the mirror up at every batch.
    ddb(
        &moto,
        &os,
        &["create", "--table", &table, "--no-stream"],
        "",
    );
    ddb(
        &moto,
        &os,
        &["fill", "--table", &table, "--count", items, "--seed", "5"],
        "",
    );
    ddb(&moto, &os, &["stream", "--table", &table], "");
    index_create(&os, &name);
    let first_backfill = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .current_dir(&dir)
        .args(["backfill", "--table", &table, "--index", &name])
        .args([
            "--endpoint",
            &os,
            "--allow-http",
            "--dynamodb-endpoint",
            &moto,
        ])
        .envs(ENV)
        .output()
        .unwrap();
    assert!(
        first_backfill.status.success(),
        "{}",
        text(&first_backfill.stderr)
    );
    let checkpoints = dir.join("poll.json");
    let poller = |once: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stream2search"));
        c.args(["poll", "--allow-http", "--auth", "none"])
            .args(["--table", &table, "--streams-endpoint", &moto])
            .args(["--endpoint", &os, "--index", &name])
            .args(["--batch-size", "50", "--timeout", "10"])
            .arg("--checkpoints")
            .arg(&checkpoints)
            .envs(ENV)
            .env("STREAM2SEARCH_MIRROR_REFRESH_SECS", "0");
        if once {
            c.arg("--once");
        }
        c
    };
    let poll = Running(
        poller(false)
            .stdout(std::fs::File::create(dir.join("poll.log")).unwrap())
            .stderr(std::fs::File::create(dir.join("poll.err")).unwrap())
            .spawn()
            .unwrap(),
    );
    opensearch.get(&format!("/{first}/_refresh"));

    // From before step 1 until after the switch: the read alias searched and counted every
    // 50 ms...
    let sampling = Arc::new(AtomicBool::new(true));
    let (started, first_sample) = std::sync::mpsc::channel();
    let sampler = {
        let (sampling, read) = (sampling.clone(), read.clone());
        let authority = os.trim_start_matches("http://").to_owned();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while sampling.load(Ordering::SeqCst) {
                samples.push(Sample::take(&authority, &read));
                let _ = started.send(());
                std::thread::sleep(Duration::from_millis(50));
            }
            samples
        })
    };
    first_sample.recv().unwrap();
    // ... and the table changed: puts, updates and deletes, 100 at a time, a pause of a
    // second between two runs so that a key's changes stay a second apart.
    let writing = Arc::new(AtomicBool::new(true));
    let runs = Arc::new(AtomicU32::new(0));
    let writer = {
        let (writing, runs) = (writing.clone(), runs.clone());
        let (moto, os, table) = (moto.clone(), os.clone(), table.clone());
        std::thread::spawn(move || {
            let mut seed = 20;
            while writing.load(Ordering::SeqCst) {
                write(&moto, &os, &table, seed, "100", items);
                runs.fetch_add(1, Ordering::SeqCst);
                seed += 1;
                std::thread::sleep(Duration::from_millis(1100));
            }
        })
    };

    // The reindex, `name` mapped as a keyword in the new generation (a text field in the old).
    std::fs::write(
        dir.join("mapping.json"),
        r#"{"properties": {"name": {"type": "keyword"}}}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .current_dir(&dir)
        .args(["reindex", &name, "--endpoint", &os, "--allow-http"])
        .args(["--mapping", "mapping.json", "--state", "state.json"])
        .args(["--settle", "10", "--"])
        .args(["--table", &table, "--dynamodb-endpoint", &moto])
        .envs(ENV)
        .output()
        .unwrap();
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    eprint!("{said}");
    let (runs_before, switched) = (runs.load(Ordering::SeqCst), std::time::Instant::now());
    assert!(runs_before >= 1, "no changes while the reindex ran");
    assert_eq!(named(&opensearch, &read), [second.as_str()]);
    let verified = said
        .find(&format!("reindex: {second} equals the table (step 4)"))
        .unwrap_or_else(|| panic!("no clean verify: {said}"));
    let switch = said
        .find(&format!("reindex: {name} and {read} name {second}"))
        .unwrap_or_else(|| panic!("no switch: {said}"));
    assert!(verified < switch, "{said}");
    // Two more runs of changes after the switch (the second begun after it), then the
    // sampler stops.
    while runs.load(Ordering::SeqCst) < runs_before + 2 {
        assert!(
            switched.elapsed() < Duration::from_secs(300),
            "the writes stopped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    writing.store(false, Ordering::SeqCst);
    writer.join().unwrap();
    sampling.store(false, Ordering::SeqCst);
    let samples = sampler.join().unwrap();

    // No search failed or came back empty...
    let bad: Vec<&Sample> = samples.iter().filter(|s| !s.good()).collect();
    assert!(
        bad.is_empty(),
        "{} of {} samples failed or found nothing, e.g. {:?}",
        bad.len(),
        samples.len(),
        bad.first()
    );
    // ... and they ran across the switch: the old generation answered the early ones, the new
    // one every one after the first it answered.
    let served: Vec<&str> = samples
        .iter()
        .map(|s| s.search.3.as_deref().unwrap_or(""))
        .collect();
    let on_first = served.iter().take_while(|i| **i == first).count();
    let on_second = served[on_first..].iter().filter(|i| **i == second).count();
    assert_eq!(
        on_first + on_second,
        served.len(),
        "an index other than {first} then {second}: {served:?}"
    );
    assert!(
        on_first >= 10 && on_second >= 10,
        "{on_first} samples before the switch, {on_second} after"
    );
    eprintln!(
        "{} samples of {read}, none failed or empty: {on_first} answered by {first}, then \
         {on_second} by {second}; {} runs of 100 changes",
        samples.len(),
        runs.load(Ordering::SeqCst)
    );

    // The new mapping: `name` is a keyword, found by its whole text in the new generation only.
    let mapping = |index: &str| {
        opensearch.get(&format!("/{index}/_mapping")).json()[index]["mappings"]["properties"]
            ["name"]["type"]
            .clone()
    };
    assert_eq!(mapping(&second), "keyword");
    assert_eq!(mapping(&first), "text");

    // With the stream drained, searches go to the new generation, equal to the table (as the
    // old one is, through the mirror), and verify finds nothing.
    drop(poll);
    let out = poller(true).output().unwrap();
    assert!(out.status.success(), "poll --once: {}", text(&out.stderr));
    for index in [&second, &first] {
        ddb_with(
            &moto,
            Some(&os),
            &[
                "compare", "--table", &table, "--index", index, "--wait", "10",
            ],
            "",
            &[0],
        );
    }
    let hit = opensearch.send_json(
        "POST",
        &format!("/{read}/_search"),
        &serde_json::json!({"query": {"prefix": {"name": "product "}}, "size": 1}),
    );
    let hit = &hit.json()["hits"]["hits"][0];
    assert_eq!(hit["_index"], second.as_str(), "{hit}");
    let whole = serde_json::json!({"query": {"term": {"name": hit["_source"]["name"]}}});
    let found = |index: &str| {
        opensearch
            .send_json("POST", &format!("/{index}/_count"), &whole)
            .json()["count"]
            .as_u64()
    };
    assert!(found(&read).is_some_and(|n| n >= 1), "{whole}");
    assert_eq!(found(&first), Some(0), "{whole}");
    let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["verify", "--table", &table, "--index", &name])
        .args([
            "--endpoint",
            &os,
            "--allow-http",
            "--dynamodb-endpoint",
            &moto,
        ])
        .envs(ENV)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
