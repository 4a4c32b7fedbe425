//! `stream2search reindex` against moto and the real OpenSearch: the next generation with a new
//! mapping, backfilled from the table, the aliases switched in one call, the old generation kept
//! fresh through the mirror alias until `--delete-old`.
//!
//! The waits' lengths are unit tests in `src/reindex/mod.rs`; here `--settle` replaces them: 0
//! where no stream runs, and 10 s where `poll` streams the table (looking the mirror up at every
//! batch, so that no wait is needed for its sake) and the test changes items between the backfill
//! and the switch. The stream side alone is `crates/stream2search-lambda/tests/mirror.rs`.

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
fn a_failed_backfill_stops_before_the_switch_and_a_rerun_resumes() {
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

    // With the table there, the rerun goes on from step 3.
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
    let out = reindex(&dir, &os, &name, &extra, &backfill);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("resuming"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !text(&out.stdout).contains("step 1"),
        "{}",
        text(&out.stdout)
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

/// A child process killed when dropped.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_reindex_while_the_stream_writes_leaves_both_generations_equal_to_the_table() {
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
    let workload = |seed: &str| {
        text(
            &ddb(
                &moto,
                &os,
                &[
                    "workload", "--seed", seed, "--ops", "300", "--keys", items, "--poison", "0",
                ],
                "",
            )
            .stdout,
        )
    };
    let apply = |ops: String| {
        let (m, o, t) = (moto.clone(), os.clone(), table.clone());
        std::thread::spawn(move || {
            ddb(
                &m,
                &o,
                &["apply", "--table", &t, "--key-gap", "1.05", "-"],
                &ops,
            );
        })
    };

    // Puts, updates and deletes once the backfill is done, before the switch (10 s after the
    // mirror is widened): they reach the new generation only through the mirror...
    let backfill = ["--table", &table, "--dynamodb-endpoint", &moto];
    let said = dir.join("reindex.out");
    let mut run = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .current_dir(&dir)
        .args(["reindex", &name, "--endpoint", &os, "--allow-http"])
        .args(["--state", "state.json", "--settle", "10", "--"])
        .args(backfill)
        .envs(ENV)
        .stdout(std::fs::File::create(&said).unwrap())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let limit = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !std::fs::read_to_string(&said)
        .unwrap_or_default()
        .contains("reindex: backfilled")
    {
        assert!(
            std::time::Instant::now() < limit && run.try_wait().unwrap().is_none(),
            "no backfill: {}",
            std::fs::read_to_string(&said).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    apply(workload("11")).join().unwrap();
    let out = run.wait_with_output().unwrap();
    let said = std::fs::read_to_string(&said).unwrap();
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert_eq!(named(&opensearch, &name), [second.as_str()]);
    // ... and after the switch.
    apply(workload("12")).join().unwrap();

    // With the stream drained, both generations equal the table: the new one through the
    // backfill and the mirror, then the write alias; the old one through the write alias, then
    // the mirror.
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
    let _ = std::fs::remove_dir_all(&dir);
}
