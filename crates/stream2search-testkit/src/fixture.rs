//! Recording real responses as fixtures for the core's classifier, one file per rule.
//!
//! Written only when `STREAM2SEARCH_RECORD_FIXTURES=1`; otherwise a probe asserts the facts
//! and leaves the committed fixtures alone.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use crate::{OpenSearch, Response};

/// Set to `1` to (re)write fixtures.
pub const RECORD_VAR: &str = "STREAM2SEARCH_RECORD_FIXTURES";

/// One recorded bulk exchange, as stored in
/// `crates/stream2search/tests/fixtures/opensearch/<rule>.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Fixture {
    /// The server version that answered, e.g. `2.19.1`.
    pub opensearch: String,
    /// The classification rule this response exemplifies (the file name).
    pub rule: String,
    /// What was sent and what the response shows.
    pub note: String,
    /// The NDJSON sent, exactly (uncompressed; abbreviated only where the note says so).
    pub request: String,
    /// The action of each item sent, in order (`index` or `delete`).
    pub actions: Vec<String>,
    /// The HTTP status.
    pub status: u16,
    /// The exact response body.
    pub body: String,
}

impl Fixture {
    /// A fixture of `response` to `request` from `opensearch`.
    pub fn new(
        opensearch: &OpenSearch,
        rule: &str,
        note: &str,
        request: &[u8],
        actions: &[&str],
        response: &Response,
    ) -> Fixture {
        Fixture {
            opensearch: opensearch.version().to_string(),
            rule: rule.to_string(),
            note: note.to_string(),
            request: String::from_utf8(request.to_vec()).expect("the request is UTF-8"),
            actions: actions.iter().map(|a| a.to_string()).collect(),
            status: response.status,
            body: response.text().to_string(),
        }
    }

    /// Writes the fixture if recording is on; returns where it was written.
    pub fn record(&self) -> Option<PathBuf> {
        if !recording() {
            return None;
        }
        let dir = dir(&self.opensearch);
        std::fs::create_dir_all(&dir).expect("create the fixture directory");
        let path = dir.join(format!("{}.json", self.rule));
        let mut json = serde_json::to_string_pretty(self).expect("a fixture serializes");
        json.push('\n');
        std::fs::write(&path, json).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        let _ = writeln!(std::io::stderr(), "recorded {}", path.display());
        Some(path)
    }
}

/// Whether `STREAM2SEARCH_RECORD_FIXTURES=1`.
pub fn recording() -> bool {
    std::env::var(RECORD_VAR).is_ok_and(|v| v == "1")
}

/// Where fixtures of a server version go: `opensearch/` for 2.x, `opensearch-<major>/` for
/// other majors.
pub fn dir(version: &str) -> PathBuf {
    let major = version.split('.').next().unwrap_or_default();
    let name = match major {
        "2" => "opensearch".to_string(),
        _ => format!("opensearch-{major}"),
    };
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../stream2search/tests/fixtures")
        .join(name)
}
