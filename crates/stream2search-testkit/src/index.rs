//! Throwaway indices: one unique name per test, deleted afterwards.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{OpenSearch, Response, http};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A uniquely named index, `s2s-test-<purpose>-<pid>-<n>`, deleted (if it exists) on drop.
#[derive(Debug)]
pub struct TestIndex {
    opensearch: OpenSearch,
    name: String,
}

impl TestIndex {
    pub(crate) fn new(opensearch: OpenSearch, purpose: &str) -> TestIndex {
        let purpose: String = purpose
            .chars()
            .map(|c| match c.to_ascii_lowercase() {
                c @ ('a'..='z' | '0'..='9') => c,
                _ => '-',
            })
            .take(40)
            .collect();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("s2s-test-{purpose}-{}-{n}", std::process::id());
        TestIndex { opensearch, name }
    }

    /// The index name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates the index with this body (settings, mappings); panics unless the server agrees.
    pub fn create(&self, body: serde_json::Value) -> &TestIndex {
        let response = self
            .opensearch
            .send_json("PUT", &format!("/{}", self.name), &body);
        assert_eq!(
            response.status,
            200,
            "creating index {}: {}",
            self.name,
            response.text()
        );
        self
    }

    /// Updates dynamic index settings; panics unless the server agrees.
    pub fn put_settings(&self, settings: serde_json::Value) {
        let response =
            self.opensearch
                .send_json("PUT", &format!("/{}/_settings", self.name), &settings);
        assert_eq!(
            response.status,
            200,
            "settings of {}: {}",
            self.name,
            response.text()
        );
    }

    /// Makes recent writes visible to search (and lets the engine prune expired delete
    /// tombstones).
    pub fn refresh(&self) -> Response {
        self.opensearch
            .request("POST", &format!("/{}/_refresh", self.name), &[], b"")
    }

    /// `GET /<index>/_doc/<id>`.
    pub fn get_doc(&self, id: &str) -> Response {
        self.opensearch.get(&format!("/{}/_doc/{id}", self.name))
    }
}

impl fmt::Display for TestIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Drop for TestIndex {
    fn drop(&mut self) {
        // A probe may leave a block on the index; `read_only` even blocks deleting it.
        // Never panic here: this may run while a failed test unwinds.
        let delete = || {
            http::request(
                self.opensearch.authority(),
                "DELETE",
                &format!("/{}", self.name),
                &[],
                b"",
            )
        };
        let mut outcome = delete();
        if outcome
            .as_ref()
            .is_ok_and(|r| r.status != 200 && r.status != 404)
        {
            let unblock = br#"{"index.blocks.read_only_allow_delete":null}"#;
            let unblock_rest = br#"{"index.blocks.read_only":null,"index.blocks.write":null}"#;
            for body in [&unblock[..], &unblock_rest[..]] {
                let _ = http::request(
                    self.opensearch.authority(),
                    "PUT",
                    &format!("/{}/_settings", self.name),
                    &[("Content-Type", "application/json")],
                    body,
                );
            }
            outcome = delete();
        }
        match outcome {
            Ok(r) if r.status == 200 || r.status == 404 => {}
            Ok(r) => eprintln!(
                "could not delete test index {}: {} {:?}",
                self.name,
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
            Err(e) => eprintln!("could not delete test index {}: {e}", self.name),
        }
    }
}
