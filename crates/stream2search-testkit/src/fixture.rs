//! Recording real responses as fixtures for the core's classifier, one file per rule, and
//! checking that the live server still answers as recorded.
//!
//! Written only when `STREAM2SEARCH_RECORD_FIXTURES=1`; otherwise [`Fixture::record_or_check`]
//! compares the live answer with the committed fixture, field by field for every field the
//! core's classification reads (see [`Shape`]), and leaves the file alone.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

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

    /// Records the fixture when `STREAM2SEARCH_RECORD_FIXTURES=1`; otherwise checks that the
    /// committed fixture of this rule has the same [`Shape`] as this answer, item by item, and
    /// panics with both shapes when it does not.
    pub fn record_or_check(&self) {
        self.record_or_compare(Compare::Items);
    }

    /// Like [`Fixture::record_or_check`], or as `compare` says.
    pub fn record_or_compare(&self, compare: Compare) {
        if self.record().is_some() {
            return;
        }
        let (path, committed) = committed(&self.opensearch, &self.rule);
        let want = Shape::of(committed.status, committed.body.as_bytes());
        let got = Shape::of(self.status, self.body.as_bytes());
        let same = match compare {
            Compare::Items => got == want,
            Compare::KindsOfItems => got.kinds().iter().all(|k| want.kinds().contains(k)),
        };
        assert!(
            same,
            "OpenSearch {} no longer answers as {} (recorded from {}) in what the classification \
             reads ({compare:?}).\nrecorded: {want:?}\nlive:     {got:?}\nlive body: {}\n\
             Re-record with {RECORD_VAR}=1 if the change is expected, and update the core's \
             expectations.",
            self.opensearch,
            path.display(),
            committed.opensearch,
            self.body,
        );
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

/// How [`Fixture::record_or_compare`] compares a live answer with the committed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// The [`Shape`]s are equal: same HTTP status, same items in the same order.
    Items,
    /// Every kind of item the live server answers (action, 2xx or the exact status, error
    /// type) is one the fixture has: for responses where which item gets which answer depends
    /// on timing (a full write queue).
    KindsOfItems,
}

/// What the core's classification reads of a bulk response (`outcome::classify`): the HTTP
/// status and, for a 2xx, each item's action, status, `result` and error type; for any other
/// status, the error type of the whole request. Not compared: error reasons, index names,
/// `took`, sequence numbers and shard counts, which differ between runs and between OpenSearch
/// versions without changing any outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The HTTP status.
    pub status: u16,
    /// The body, reduced to what is compared.
    pub body: BodyShape,
}

/// The compared part of a response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyShape {
    /// No body at all (413).
    Empty,
    /// Not JSON.
    NotJson,
    /// JSON with an `items` array.
    Items(Vec<ItemShape>),
    /// JSON without `items`: the whole request's `error.type`, if any.
    Error(Option<String>),
}

/// The compared part of one bulk response item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemShape {
    /// The action it answers (`index`, `delete`), or what the item holds instead.
    pub action: String,
    /// Its status.
    pub status: u64,
    /// Its `result` (`created`, `updated`, `deleted`, `not_found`), if any.
    pub result: Option<String>,
    /// Its `error.type`, if any.
    pub error: Option<String>,
}

impl Shape {
    /// The shape of a response with this status and body.
    pub fn of(status: u16, body: &[u8]) -> Shape {
        let body = if body.is_empty() {
            BodyShape::Empty
        } else {
            match serde_json::from_slice::<Value>(body) {
                Err(_) => BodyShape::NotJson,
                Ok(json) => match json["items"].as_array() {
                    Some(items) => BodyShape::Items(items.iter().map(ItemShape::of).collect()),
                    None => BodyShape::Error(json["error"]["type"].as_str().map(String::from)),
                },
            }
        };
        Shape { status, body }
    }

    /// The distinct kinds of item: action, status (any 2xx as 200) and error type.
    fn kinds(&self) -> Vec<(String, u64, Option<String>)> {
        let BodyShape::Items(items) = &self.body else {
            return vec![(String::new(), u64::from(self.status), None)];
        };
        let mut kinds: Vec<_> = items
            .iter()
            .map(|i| {
                let status = if (200..300).contains(&i.status) {
                    200
                } else {
                    i.status
                };
                (i.action.clone(), status, i.error.clone())
            })
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }
}

impl ItemShape {
    fn of(item: &Value) -> ItemShape {
        let Some((action, body)) = item.as_object().and_then(|o| o.iter().next()) else {
            return ItemShape {
                action: item.to_string(),
                status: 0,
                result: None,
                error: None,
            };
        };
        ItemShape {
            action: action.clone(),
            status: body["status"].as_u64().unwrap_or_default(),
            result: body["result"].as_str().map(String::from),
            error: body["error"]["type"].as_str().map(String::from),
        }
    }
}

/// A committed fixture, as read back.
struct Committed {
    opensearch: String,
    status: u16,
    body: String,
}

/// The committed fixture of `rule` for a server `version`: the one recorded from that major
/// version if there is one (see [`dir`]), else the one recorded from 2.x, which the core's tests
/// classify. Panics when there is none.
fn committed(version: &str, rule: &str) -> (PathBuf, Committed) {
    let own = dir(version).join(format!("{rule}.json"));
    let path = if own.exists() {
        own
    } else {
        dir("2").join(format!("{rule}.json"))
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "no committed fixture {} ({e}): record it with {RECORD_VAR}=1",
            path.display()
        )
    });
    let json: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let field = |name: &str| {
        json[name]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no {name}", path.display()))
            .to_string()
    };
    let committed = Committed {
        opensearch: field("opensearch"),
        status: json["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or_else(|| panic!("{}: no status", path.display())),
        body: field("body"),
    };
    (path, committed)
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

#[cfg(test)]
mod tests {
    use super::*;

    const CONFLICT: &str = r#"{"took":3,"errors":true,"items":[{"index":{"_index":"a","_id":"k","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[k]: version conflict, current version [2] is higher"}}}]}"#;

    #[test]
    fn reasons_index_names_and_timings_are_not_compared() {
        let other_words = r#"{"took":90,"errors":true,"items":[{"index":{"_index":"b","_id":"k","status":409,"error":{"type":"version_conflict_engine_exception","reason":"worded otherwise"}}}]}"#;
        assert_eq!(
            Shape::of(200, CONFLICT.as_bytes()),
            Shape::of(200, other_words.as_bytes())
        );
    }

    #[test]
    fn status_result_and_error_type_of_every_item_are_compared() {
        let want = Shape::of(200, CONFLICT.as_bytes());
        for changed in [
            CONFLICT.replace("409", "429"),
            CONFLICT.replace("version_conflict_engine", "mapper_parsing"),
            CONFLICT.replace(r#"{"index""#, r#"{"delete""#),
            CONFLICT.replace(r#""status":409"#, r#""result":"x","status":409"#),
            CONFLICT.replace(r#""items":[{"#, r#""items":[{"index":{"status":201}},{"#),
        ] {
            assert_ne!(Shape::of(200, changed.as_bytes()), want, "{changed}");
        }
        assert_ne!(Shape::of(207, CONFLICT.as_bytes()), want);
        assert_eq!(Shape::of(413, b"").body, BodyShape::Empty);
        assert_eq!(
            Shape::of(
                429,
                br#"{"error":{"type":"rejected_execution_exception"},"status":429}"#
            )
            .body,
            BodyShape::Error(Some("rejected_execution_exception".into()))
        );
    }

    #[test]
    fn kinds_of_items_ignore_order_repeats_and_which_2xx() {
        let item = |status: u64, error: Option<&str>| ItemShape {
            action: "index".into(),
            status,
            result: None,
            error: error.map(String::from),
        };
        let shape = |items: Vec<ItemShape>| Shape {
            status: 200,
            body: BodyShape::Items(items),
        };
        let full = Some("rejected_execution_exception");
        let recorded = shape(vec![item(201, None), item(429, full), item(201, None)]);
        let live = shape(vec![item(429, full), item(429, full), item(200, None)]);
        assert_eq!(live.kinds(), recorded.kinds());
        let other = shape(vec![item(429, Some("circuit_breaking_exception"))]);
        assert!(!recorded.kinds().contains(&other.kinds()[0]));
    }
}
