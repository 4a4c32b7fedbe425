//! Building bulk requests like the core's, and reading the answers.

use stream2search_testkit::fixture::{Compare, Fixture};
use stream2search_testkit::{OpenSearch, Response, TestIndex};

/// A version as the core computes it: `floor(secs) * 1_000_000` (2023-11-14T22:13:20Z).
pub const VERSION: u64 = 1_700_000_000_000_000;
/// One second before [`VERSION`].
pub const OLDER: u64 = VERSION - 1_000_000;
/// One second after [`VERSION`].
pub const NEWER: u64 = VERSION + 1_000_000;

/// A bulk request body built line by line, remembering each item's action.
#[derive(Default)]
pub struct Bulk {
    pub ndjson: String,
    pub actions: Vec<&'static str>,
}

impl Bulk {
    pub fn index(mut self, index: &str, id: &str, version: Option<u64>, doc: &str) -> Bulk {
        self.action("index", index, id, version);
        self.ndjson.push_str(doc);
        self.ndjson.push('\n');
        self
    }

    pub fn delete(mut self, index: &str, id: &str, version: Option<u64>) -> Bulk {
        self.action("delete", index, id, version);
        self
    }

    fn action(&mut self, action: &'static str, index: &str, id: &str, version: Option<u64>) {
        let version = version
            .map(|v| format!(r#","version":{v},"version_type":"external_gte""#))
            .unwrap_or_default();
        self.ndjson.push_str(&format!(
            r#"{{"{action}":{{"_index":"{index}","_id":"{id}"{version}}}}}"#
        ));
        self.ndjson.push('\n');
        self.actions.push(action);
    }

    pub fn send(&self, opensearch: &OpenSearch) -> Response {
        opensearch.bulk(self.ndjson.as_bytes())
    }

    /// Records `response` as the fixture of `rule` (`STREAM2SEARCH_RECORD_FIXTURES=1`), or
    /// checks that it answers item by item as the committed fixture does.
    pub fn record(&self, opensearch: &OpenSearch, rule: &str, note: &str, response: &Response) {
        self.record_as(opensearch, rule, note, &self.ndjson, response);
    }

    /// [`Bulk::record`] with the request shown as `request` (abbreviated).
    pub fn record_as(
        &self,
        opensearch: &OpenSearch,
        rule: &str,
        note: &str,
        request: &str,
        response: &Response,
    ) {
        self.record_comparing(opensearch, rule, note, request, response, Compare::Items);
    }

    /// [`Bulk::record_as`], comparing with the committed fixture as `compare` says.
    pub fn record_comparing(
        &self,
        opensearch: &OpenSearch,
        rule: &str,
        note: &str,
        request: &str,
        response: &Response,
        compare: Compare,
    ) {
        Fixture::new(
            opensearch,
            rule,
            note,
            request.as_bytes(),
            &self.actions,
            response,
        )
        .record_or_compare(compare);
    }
}

/// The `(status, error type)` of each item of a 200 bulk response, checked to be as many as
/// the actions sent and each under the action sent.
pub fn items(bulk: &Bulk, response: &Response) -> Vec<(u64, Option<String>)> {
    assert_eq!(response.status, 200, "bulk failed: {}", response.text());
    let json = response.json();
    let items = json["items"].as_array().expect("items");
    assert_eq!(items.len(), bulk.actions.len(), "{}", response.text());
    items
        .iter()
        .zip(&bulk.actions)
        .map(|(item, action)| {
            let item = &item[*action];
            let status = item["status"].as_u64().expect("item status");
            let error = item["error"]["type"].as_str().map(String::from);
            (status, error)
        })
        .collect()
}

pub fn ok(status: u64) -> (u64, Option<String>) {
    (status, None)
}

pub fn err(status: u64, kind: &str) -> (u64, Option<String>) {
    (status, Some(kind.to_string()))
}

/// The top-level `error.type` of a whole-request failure.
pub fn request_error(response: &Response) -> String {
    response.json()["error"]["type"]
        .as_str()
        .expect("error.type")
        .to_string()
}

pub fn result_of(response: &Response, n: usize, action: &str) -> String {
    response.json()["items"][n][action]["result"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Writes `doc` as `id` at `version` and checks it was stored.
pub fn seed(opensearch: &OpenSearch, index: &TestIndex, id: &str, version: u64) {
    let bulk = Bulk::default().index(index.name(), id, Some(version), r#"{"a":1}"#);
    let response = bulk.send(opensearch);
    assert_eq!(items(&bulk, &response), [ok(201)], "{}", response.text());
}
