//! Locating the OpenSearch node the project runs, and talking to it.

use std::env;
use std::io::Write;

use crate::TestIndex;
use crate::http::{self, Response};

/// Set to `1` to make a missing or unreachable OpenSearch a test failure instead of a skip.
pub const REQUIRE_VAR: &str = "STREAM2SEARCH_REQUIRE_OPENSEARCH";

/// A reachable OpenSearch node (plain HTTP, no auth).
#[derive(Debug, Clone)]
pub struct OpenSearch {
    authority: String,
    url: String,
    version: String,
}

impl OpenSearch {
    /// The node every integration test uses, from `OPENSEARCH_URL`
    /// (`dev/opensearch start` prints it).
    ///
    /// Returns `None` after printing `SKIPPED: ...` to stderr when the variable is unset or the
    /// server does not answer; panics instead under `STREAM2SEARCH_REQUIRE_OPENSEARCH=1`.
    pub fn from_env() -> Option<OpenSearch> {
        Self::locate("OPENSEARCH_URL", "dev/opensearch start")
    }

    /// The constrained node (a write thread pool of one thread and a queue of one, a 1 MiB
    /// indexing pressure limit), from `OPENSEARCH_CONSTRAINED_URL`; only the probes that
    /// provoke 429 use it.
    ///
    /// Unlike [`OpenSearch::from_env`], an unset variable is a loud skip even under
    /// `STREAM2SEARCH_REQUIRE_OPENSEARCH=1`: that node is optional. Set but unreachable, it
    /// fails like the main node.
    pub fn constrained_from_env() -> Option<OpenSearch> {
        Self::locate(
            "OPENSEARCH_CONSTRAINED_URL",
            "dev/opensearch start --profile constrained",
        )
    }

    /// Connects to `url` (`http://host:port`) and asks the server for its version.
    pub fn connect(url: &str) -> Result<OpenSearch, String> {
        let authority = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?} is not an http:// URL"))?
            .trim_end_matches('/')
            .to_string();
        if authority.is_empty() || authority.contains('/') {
            return Err(format!("{url:?} is not of the form http://host:port"));
        }
        let root = http::request(&authority, "GET", "/", &[], b"")
            .map_err(|e| format!("{url} does not answer: {e}"))?;
        let version = (root.status == 200)
            .then(|| root.json()["version"]["number"].as_str().map(String::from))
            .flatten()
            .ok_or_else(|| format!("{url} is not OpenSearch: {} {:?}", root.status, root.text()))?;
        Ok(OpenSearch {
            url: format!("http://{authority}"),
            authority,
            version,
        })
    }

    fn locate(var: &str, start: &str) -> Option<OpenSearch> {
        let optional = var != "OPENSEARCH_URL";
        let (found, may_skip) = match env::var(var) {
            Ok(url) => (Self::connect(&url), false),
            Err(_) => (Err(format!("{var} is not set")), optional),
        };
        match found {
            Ok(opensearch) => Some(opensearch),
            Err(why) if !may_skip && env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") => {
                panic!(
                    "OpenSearch is required ({REQUIRE_VAR}=1) but {why}; start it with `{start}`"
                )
            }
            Err(why) => {
                let thread = std::thread::current();
                let test = thread.name().unwrap_or("a test");
                // Straight to the stderr handle: libtest captures eprintln! of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: {test}: {why}; start OpenSearch with `{start}` and export what it prints"
                );
                None
            }
        }
    }

    /// `host:port`.
    pub(crate) fn authority(&self) -> &str {
        &self.authority
    }

    /// The base URL, e.g. `http://127.0.0.1:9200`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The environment of a function writing `index` on this server: `OPENSEARCH_ENDPOINT`,
    /// `OPENSEARCH_ALLOW_HTTP=true` (the server is plain HTTP on loopback), `OPENSEARCH_AUTH=none`
    /// and `OPENSEARCH_INDEX`.
    pub fn function_env<'a>(&'a self, index: &'a str) -> [(&'static str, &'a str); 4] {
        [
            ("OPENSEARCH_ENDPOINT", &self.url),
            ("OPENSEARCH_ALLOW_HTTP", "true"),
            ("OPENSEARCH_AUTH", "none"),
            ("OPENSEARCH_INDEX", index),
        ]
    }

    /// The server's version number, e.g. `2.19.1`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A new uniquely named index (not yet created: the first write creates it, or call
    /// [`TestIndex::create`]), deleted when the returned guard is dropped.
    pub fn index(&self, purpose: &str) -> TestIndex {
        TestIndex::new(self.clone(), purpose)
    }

    /// Sends one request; panics if the server cannot be reached (never on an HTTP status).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        http::request(&self.authority, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {}{path} failed: {e}", self.url))
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    /// `method path` with a JSON body.
    pub fn send_json(&self, method: &str, path: &str, body: &serde_json::Value) -> Response {
        let body = serde_json::to_vec(body).expect("a JSON value serializes");
        self.request(method, path, &[("Content-Type", "application/json")], &body)
    }

    /// `POST /_bulk` with an NDJSON body, as the core sends it.
    pub fn bulk(&self, ndjson: &[u8]) -> Response {
        self.request(
            "POST",
            "/_bulk",
            &[("Content-Type", "application/x-ndjson")],
            ndjson,
        )
    }
}
