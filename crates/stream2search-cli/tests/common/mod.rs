//! What the CLI's integration tests share: the repository, moto, `dev/ddb.py`, `index create`.
//! Each test file uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use stream2search_testkit::OpenSearch;

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
