//! `stream2search reindex` against moto and the real OpenSearch: the next generation with a new
//! mapping, backfilled from the table, the aliases switched in one call, the old generation kept
//! fresh through the mirror alias until `--delete-old`.
//!
//! No stream function runs here, so `--settle 0` replaces the waits (their lengths are unit
//! tests in `src/reindex/mod.rs`; the stream side is `crates/stream2search-lambda/tests/mirror.rs`).

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

/// `stream2search reindex NAME ...` in `dir`, with the backfill's options after `--`.
fn reindex(dir: &Path, os: &str, name: &str, extra: &[&str], backfill: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .current_dir(dir)
        .args([
            "reindex",
            name,
            "--endpoint",
            os,
            "--allow-http",
            "--settle",
            "0",
        ])
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
