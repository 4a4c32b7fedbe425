//! Locating (and on first use generating) the benchmark corpus.
//!
//! Order of lookup:
//! 1. `$STREAM2SEARCH_CORPUS`, a directory holding `small.json`, `large.json`, ...;
//! 2. `<workspace>/target/bench-corpus/`, generated there on first use by running
//!    `python3 <workspace>/../shared/bench/gen.py` (CI lays `shared/` beside the clone).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

/// The corpus files the generator writes, without the `.json` suffix.
pub const NAMES: [&str; 4] = ["small", "large", "wide", "edge"];

/// The workspace root (the parent of this crate's directory).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ has a parent directory")
        .to_path_buf()
}

/// The directory holding the corpus, generating it if needed.
///
/// # Panics
/// When `$STREAM2SEARCH_CORPUS` names a directory without the corpus, or the
/// generator cannot be found or fails: a benchmark cannot run without its input.
pub fn dir() -> PathBuf {
    if let Some(dir) = env::var_os("STREAM2SEARCH_CORPUS") {
        let dir = PathBuf::from(dir);
        assert!(
            is_complete(&dir),
            "STREAM2SEARCH_CORPUS={} lacks one of {NAMES:?} (.json)",
            dir.display()
        );
        return dir;
    }
    let dir = workspace_root().join("target").join("bench-corpus");
    if !is_complete(&dir) {
        generate(&dir);
    }
    dir
}

/// The bytes of corpus file `name` (`"small"`, `"large"`, `"wide"` or `"edge"`).
///
/// # Panics
/// When the corpus cannot be found or generated (see [`dir`]).
pub fn load(name: &str) -> Vec<u8> {
    let path = dir().join(format!("{name}.json"));
    fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn is_complete(dir: &Path) -> bool {
    NAMES
        .iter()
        .all(|name| dir.join(format!("{name}.json")).is_file())
}

/// Runs the generator into a fresh temporary directory beside `dir`, then
/// renames it into place, so a concurrent or interrupted run never leaves a
/// half-written corpus behind.
fn generate(dir: &Path) {
    let script = workspace_root()
        .join("..")
        .join("shared")
        .join("bench")
        .join("gen.py");
    assert!(
        script.is_file(),
        "no corpus: set STREAM2SEARCH_CORPUS or provide {}",
        script.display()
    );
    let parent = dir.parent().expect("corpus dir has a parent");
    fs::create_dir_all(parent).expect("create target/");
    let tmp = parent.join(format!("bench-corpus.tmp-{}", std::process::id()));
    let status = Command::new("python3")
        .arg(&script)
        .arg(&tmp)
        .status()
        .unwrap_or_else(|e| panic!("running python3 {}: {e}", script.display()));
    assert!(status.success(), "{} failed: {status}", script.display());
    if fs::rename(&tmp, dir).is_err() {
        // Another run won the race; its corpus is identical (the generator is deterministic).
        let _ = fs::remove_dir_all(&tmp);
        assert!(
            is_complete(dir),
            "corpus at {} is incomplete",
            dir.display()
        );
    }
}
