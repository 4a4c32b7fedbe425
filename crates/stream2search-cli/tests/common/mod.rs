//! What the CLI's integration tests share: the repository, moto, `dev/ddb.py`, `index create`.
//! Each test file uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use stream2search_testkit::OpenSearch;
use stream2search_testkit::lambda::{CargoLambda, Watch};

/// The repository's root.
pub fn repo() -> PathBuf {
    stream2search_testkit::workspace()
}

/// moto's URL (with the project's Python venv for `dev/ddb.py`), or `None` after a loud skip.
pub fn moto() -> Option<String> {
    stream2search_testkit::moto_url(&[&stream2search_testkit::moto::python()])
}

/// The AWS variables every call to moto gets (moto accepts any key).
pub const ENV: [(&str, &str); 3] = stream2search_testkit::moto::AWS;

/// `dev/ddb.py compare`'s exit status when the index differs from the table.
pub const DIFFERS: i32 = 3;

static N: AtomicUsize = AtomicUsize::new(0);

/// A fresh name for a table, stream, queue or file.
pub fn unique(what: &str) -> String {
    format!(
        "{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh checkpoint file, `WHAT-….json` in the tests' temporary directory.
pub fn checkpoint_file(what: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.json", unique(what)))
}

/// The environment variable `name` as a number, or `default` when it is unset or not one.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// moto's URL, the OpenSearch and cargo-lambda for `test`, or `None` after a loud skip.
pub fn servers_and_cargo_lambda(test: &str) -> Option<(String, OpenSearch, CargoLambda)> {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return None;
    };
    let cargo_lambda = CargoLambda::find(test)?;
    Some((moto, opensearch, cargo_lambda))
}

/// `cargo lambda watch` of the products example writing to `index`, its log in
/// `WHAT-watch-PID.log` in the tests' temporary directory.
pub fn watch_products(
    cargo_lambda: &CargoLambda,
    opensearch: &OpenSearch,
    index: &str,
    what: &str,
) -> Watch {
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{what}-watch-{}.log", std::process::id()));
    cargo_lambda.watch(
        &repo().join("examples/products"),
        opensearch.function_env(index),
        &log,
    )
}

/// `stream2search poll --once` from `source` (its flags) into `index`, with `extra` flags and
/// environment.
pub fn poll_once(
    source: &[&str],
    opensearch: &str,
    index: &str,
    checkpoints: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["poll", "--once", "--allow-http", "--auth", "none"])
        .args(source)
        .args(["--endpoint", opensearch, "--index", index])
        .arg("--checkpoints")
        .arg(checkpoints)
        .args(extra)
        .envs(ENV)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// `dev/ddb.py compare`: `Ok` when the index holds exactly the table, else the differences.
pub fn compare(moto: &str, opensearch: &str, table: &str, index: &str) -> Result<(), String> {
    let out = ddb_with(
        moto,
        Some(opensearch),
        &["compare", "--table", table, "--index", index],
        "",
        &[0, DIFFERS],
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(text(&out.stdout))
    }
}

/// `dev/ddb.py workload`: `ops` operations over `keys` keys (`poison` of them poison), seeded,
/// one JSON line each.
pub fn workload(
    moto: &str,
    opensearch: &str,
    seed: u64,
    ops: u64,
    keys: u64,
    poison: u64,
) -> String {
    text(
        &ddb(
            moto,
            opensearch,
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
    )
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `dev/ddb.py ARGS` with `stdin` (and `OPENSEARCH_URL` when given); panics, with its stderr,
/// unless it exits with one of `ok` (a Python traceback exits 1).
pub fn ddb_with(
    moto: &str,
    opensearch: Option<&str>,
    args: &[&str],
    stdin: &str,
    ok: &[i32],
) -> Output {
    let mut command = stream2search_testkit::moto::ddb(moto);
    command.args(args);
    if let Some(opensearch) = opensearch {
        command.env("OPENSEARCH_URL", opensearch);
    }
    stream2search_testkit::moto::run(&mut command, stdin, ok)
}

/// `dev/ddb.py ARGS`, which must succeed.
pub fn ddb(moto: &str, opensearch: &str, args: &[&str], stdin: &str) -> Output {
    ddb_with(moto, Some(opensearch), args, stdin, &[0])
}

/// `stream2search index create NAME`, which must succeed.
pub fn index_create(opensearch: &str, name: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args([
            "index",
            "create",
            name,
            "--endpoint",
            opensearch,
            "--allow-http",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "index create: {}",
        text(&out.stderr)
    );
}

/// `stream2search index create NAME`, which must succeed; the returned guard deletes it again.
pub fn created_index(opensearch: &OpenSearch, name: String) -> Generations<'_> {
    let guard = Generations(opensearch, name);
    index_create(opensearch.url(), &guard.1);
    guard
}

/// Deletes the generations of an `index create` setup (and with them its aliases), and an
/// index of the alias's own name, when dropped.
pub struct Generations<'a>(pub &'a OpenSearch, pub String);

impl Drop for Generations<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .request("DELETE", &format!("/{}-*", self.1), &[], b"");
        let _ = self.0.request("DELETE", &format!("/{}", self.1), &[], b"");
    }
}
