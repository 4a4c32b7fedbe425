//! `docs/outcomes.md`, proven against real answers: every response recorded from OpenSearch in
//! `tests/fixtures/opensearch*/` is classified here, item by item, with the outcome the table in
//! `docs/outcomes.md` gives it. The expectations are written by hand from that table; the probes
//! in `crates/stream2search-testkit/tests/probes/` check that the live server still answers as
//! recorded.
//!
//! Two more checks keep fixtures, tests and docs in step: a fixture that no test here classifies
//! fails, and so does a fixture that `docs/outcomes.md` cites but that was never recorded.

use std::path::{Path, PathBuf};

use serde_json::Value;
use stream2search::Action;
use stream2search::checkpoint::RecordOutcome;
use stream2search::outcome::{self, Applied, ItemOutcome, Response};

// ---------------------------------------------------------------------------------------------
// Reading recorded fixtures

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The directories of recorded responses: `opensearch/` (2.x, always) and `opensearch-<major>/`
/// when another major version answered differently and was recorded too.
fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .expect("the fixtures directory")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            path.is_dir()
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n == "opensearch" || n.starts_with("opensearch-"))
        })
        .collect();
    dirs.sort();
    assert!(
        dirs.iter().any(|d| d.ends_with("opensearch")),
        "no {FIXTURES}/opensearch"
    );
    dirs
}

/// The stem of every recorded fixture, in every fixture directory.
fn fixture_stems() -> Vec<(PathBuf, String)> {
    let mut stems = Vec::new();
    for dir in fixture_dirs() {
        for entry in std::fs::read_dir(&dir).expect("a fixture directory") {
            let path = entry.expect("a directory entry").path();
            assert_eq!(
                path.extension().and_then(|e| e.to_str()),
                Some("json"),
                "{} is not a fixture",
                path.display()
            );
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap();
            stems.push((path.clone(), stem.to_string()));
        }
    }
    stems.sort();
    stems
}

/// One recorded exchange: what was sent and what came back.
struct Recorded {
    path: PathBuf,
    actions: Vec<Action>,
    status: u16,
    body: Vec<u8>,
}

impl Recorded {
    fn read(path: &Path) -> Recorded {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let json: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap();
        assert_eq!(json["rule"], stem, "{}: rule", path.display());
        let actions = json["actions"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no actions", path.display()))
            .iter()
            .map(|a| match a.as_str() {
                Some("index") => Action::Index,
                Some("delete") => Action::Delete,
                other => panic!("{}: action {other:?}", path.display()),
            })
            .collect();
        Recorded {
            path: path.to_path_buf(),
            actions,
            status: json["status"]
                .as_u64()
                .and_then(|s| s.try_into().ok())
                .unwrap(),
            body: json["body"].as_str().unwrap().as_bytes().to_vec(),
        }
    }

    /// The fields of item `i` of the response body, under its action's name.
    fn item(&self, i: usize) -> Value {
        let body: Value = serde_json::from_slice(&self.body).unwrap();
        let item = &body["items"][i];
        item.as_object()
            .and_then(|o| o.values().next())
            .unwrap_or_else(|| panic!("{}: item {i}: {item}", self.path.display()))
            .clone()
    }

    fn classify(&self) -> Response {
        outcome::classify(self.status, &self.body, &self.actions)
    }
}

/// Every recording of fixture `stem`: the 2.x one, and any from another major version.
fn recordings(stem: &str) -> Vec<Recorded> {
    let all: Vec<Recorded> = fixture_dirs()
        .iter()
        .map(|dir| dir.join(format!("{stem}.json")))
        .filter(|path| path.exists())
        .map(|path| Recorded::read(&path))
        .collect();
    assert!(
        all.iter()
            .any(|r| r.path.parent().unwrap().ends_with("opensearch")),
        "no recorded fixture {stem}.json in {FIXTURES}/opensearch"
    );
    all
}

// ---------------------------------------------------------------------------------------------
// What docs/outcomes.md says

/// The outcome docs/outcomes.md gives one item. For `Retryable` and `Rejected`, the item's status
/// and the server's error type, which the outcome's reason must begin with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Indexed,
    Deleted,
    AlreadyGone,
    Stale,
    Retryable(u16, &'static str),
    Rejected(u16, &'static str),
    /// The mapping is full: [`ItemOutcome::FieldLimit`].
    FieldLimit,
}

/// `reason` is the server's reason for an error of type `kind` (`type: reason`, or the type
/// alone when the server gave no reason).
fn is_reason_of(reason: &str, kind: &str) -> bool {
    reason == kind
        || reason
            .strip_prefix(kind)
            .is_some_and(|rest| rest.starts_with(": "))
}

fn is(got: &ItemOutcome, want: Want) -> bool {
    match (got, want) {
        (ItemOutcome::Applied(Applied::Indexed), Want::Indexed)
        | (ItemOutcome::Applied(Applied::Deleted), Want::Deleted)
        | (ItemOutcome::Applied(Applied::AlreadyGone), Want::AlreadyGone)
        | (ItemOutcome::Applied(Applied::Stale), Want::Stale) => true,
        (ItemOutcome::FieldLimit { reason }, Want::FieldLimit) => {
            reason == "illegal_argument_exception: Limit of total fields [5] has been exceeded"
        }
        (ItemOutcome::Retryable { status, reason }, Want::Retryable(s, kind))
        | (ItemOutcome::Rejected { status, reason }, Want::Rejected(s, kind)) => {
            *status == s && is_reason_of(reason, kind)
        }
        _ => false,
    }
}

/// Every recording of `stem` classifies to one outcome per item, exactly `want`.
fn assert_items(stem: &str, want: &[Want]) {
    for recorded in recordings(stem) {
        assert_items_of(&recorded, want);
    }
}

fn assert_items_of(recorded: &Recorded, want: &[Want]) {
    let name = recorded.path.display();
    let got = match recorded.classify() {
        Response::Items(items) => items,
        other => panic!("{name}: expected per-item outcomes, got {other:?}"),
    };
    assert_eq!(got.len(), want.len(), "{name}: {got:?}");
    for (i, (got, want)) in got.iter().zip(want).enumerate() {
        assert!(
            is(got, *want),
            "{name}: item {i} is {got:?}, expected {want:?}"
        );
    }
}

/// Every recording of `stem` classifies, as a whole response, as `check` says.
fn assert_response(stem: &str, check: impl Fn(&Response) -> bool) {
    for recorded in recordings(stem) {
        let got = recorded.classify();
        assert!(check(&got), "{}: {got:?}", recorded.path.display());
    }
}

/// The actions recorded for `stem` (the same in every recording).
fn actions(stem: &str) -> Vec<Action> {
    let all = recordings(stem);
    for r in &all {
        assert_eq!(r.actions, all[0].actions, "{}", r.path.display());
    }
    all[0].actions.clone()
}

// ---------------------------------------------------------------------------------------------
// The whole request

#[test]
fn a_413_with_its_empty_body_means_split() {
    assert_response("too_large", |r| matches!(r, Response::TooLarge));
}

#[test]
fn a_429_for_the_whole_request_means_retry_everything() {
    assert_response("rejected_execution_request", |r| {
        matches!(r, Response::RetryAll { status: 429, reason }
            if is_reason_of(reason, "rejected_execution_exception"))
    });
}

#[test]
fn an_id_over_512_bytes_rejects_every_item_of_the_request() {
    assert_response("id_too_long", |r| {
        matches!(r, Response::RejectAll { status: 400, reason }
            if is_reason_of(reason, "action_request_validation_exception"))
    });
}

#[test]
fn a_malformed_action_line_rejects_every_item_of_the_request() {
    assert_response("malformed_action", |r| {
        matches!(r, Response::RejectAll { status: 400, reason }
            if is_reason_of(reason, "illegal_argument_exception"))
    });
}

// ---------------------------------------------------------------------------------------------
// One item

#[test]
fn created_and_updated_items_are_indexed_including_at_an_equal_version() {
    use Want::Indexed;
    assert_items("indexed", &[Indexed, Indexed, Indexed]);
}

#[test]
fn a_gzip_request_is_answered_as_usual() {
    assert_items("gzip_request", &[Want::Indexed, Want::AlreadyGone]);
}

#[test]
fn a_delete_of_a_stored_document_is_deleted() {
    assert_items("deleted", &[Want::Deleted]);
}

#[test]
fn a_delete_of_a_missing_document_is_already_gone() {
    assert_items("delete_missing", &[Want::AlreadyGone]);
}

#[test]
fn an_older_index_is_stale() {
    assert_items("stale_index", &[Want::Stale]);
}

#[test]
fn an_older_delete_is_stale() {
    assert_items("stale_delete", &[Want::Stale]);
}

#[test]
fn an_older_index_after_a_newer_delete_inside_gc_deletes_is_stale() {
    assert_items("stale_index_after_delete", &[Want::Stale]);
}

#[test]
fn an_older_index_after_gc_deletes_expired_is_indexed() {
    // The server forgot the delete and created the document again: the core cannot tell this
    // from a fresh index, so it is `Indexed` (docs/outcomes.md explains `index.gc_deletes`).
    assert_items("older_index_after_gc_deletes", &[Want::Indexed]);
}

#[test]
fn a_full_write_queue_makes_its_items_retryable_and_the_others_indexed() {
    // Which items found the queue full depends on timing, so the expectation follows each
    // item's recorded status: 429 is retryable whatever else it says.
    for recorded in recordings("rejected_execution_item") {
        let want: Vec<Want> = (0..recorded.actions.len())
            .map(|i| match recorded.item(i)["status"].as_u64() {
                Some(429) => Want::Retryable(429, "rejected_execution_exception"),
                Some(200 | 201) => Want::Indexed,
                other => panic!("{}: item {i}: {other:?}", recorded.path.display()),
            })
            .collect();
        assert!(want.contains(&Want::Indexed), "some item was indexed");
        assert!(want.iter().any(|w| matches!(w, Want::Retryable(..))));
        assert_items_of(&recorded, &want);
    }
}

#[test]
fn a_flood_stage_block_makes_index_and_delete_retryable() {
    assert_eq!(
        actions("flood_stage_blocked"),
        [Action::Index, Action::Delete]
    );
    let block = Want::Retryable(429, "cluster_block_exception");
    assert_items("flood_stage_blocked", &[block, block]);
}

#[test]
fn an_operators_write_block_makes_its_items_retryable_not_rejected() {
    assert_eq!(
        actions("write_blocked"),
        [Action::Index, Action::Delete, Action::Index]
    );
    let block = Want::Retryable(403, "cluster_block_exception");
    assert_items("write_blocked", &[block, block, Want::Indexed]);
}

const MAPPER_PARSING: Want = Want::Rejected(400, "mapper_parsing_exception");

#[test]
fn mapping_conflicts_are_rejected_and_the_valid_item_indexed() {
    let m = MAPPER_PARSING;
    assert_items("mapper_parsing", &[m, m, m, m, Want::Indexed]);
}

#[test]
fn a_document_past_the_field_limit_is_field_limit_and_the_valid_item_indexed() {
    assert_items("field_limit", &[Want::FieldLimit, Want::Indexed]);
    // Not stopped (the index did not ask for it): the document ends rejected, not lost.
    let recorded = &recordings("field_limit")[0];
    let Response::Items(items) = recorded.classify() else {
        panic!("per-item outcomes expected");
    };
    assert!(matches!(
        RecordOutcome::from(items[0].clone()),
        RecordOutcome::Rejected { status: 400, .. }
    ));
}

#[test]
fn only_indexes_made_to_stop_dynamic_mapping_are_stopped() {
    let ours = br#"{"p-000001":{"mappings":{"_meta":{"stream2search":{"at_field_limit":"stop_dynamic_mapping"}}}}}"#;
    let theirs = br#"{"p-000001":{"mappings":{"_meta":{"stream2search":{"at_field_limit":"stop_dynamic_mapping"}}}},"other":{"mappings":{}}}"#;
    assert!(outcome::stops_dynamic_mapping(ours));
    assert!(!outcome::stops_dynamic_mapping(theirs));
    assert!(!outcome::stops_dynamic_mapping(br#"{}"#));
    assert!(!outcome::stops_dynamic_mapping(br#"{"error":"x"}"#));
    assert!(!outcome::stops_dynamic_mapping(b"not json"));
}

#[test]
fn a_truncated_document_is_rejected_and_the_valid_item_indexed() {
    assert_items("malformed_document", &[Want::Indexed, MAPPER_PARSING]);
}

#[test]
fn an_invalid_index_name_is_rejected_and_the_valid_item_indexed() {
    assert_items(
        "invalid_index_name",
        &[
            Want::Indexed,
            Want::Rejected(400, "invalid_index_name_exception"),
        ],
    );
}

#[test]
fn empty_and_badly_dotted_field_names_are_rejected_and_good_ones_indexed() {
    // "", {"o":{"":1}}, ".", "a..b", ".a"; then {"x":1,"x.y":2}; then "a.", " ", "a.b".
    let m = MAPPER_PARSING;
    let i = Want::Indexed;
    let merge = Want::Rejected(400, "illegal_argument_exception");
    assert_items("field_name", &[m, m, m, m, m, merge, i, i, i]);
}

#[test]
fn metadata_field_names_in_a_document_are_rejected_and_other_underscore_names_indexed() {
    // Written by hand from the probe's findings (docs/outcomes.md, "Metadata names inside a
    // document"); items are identified by their `_id`, the name tried.
    const REFUSED: [&str; 13] = [
        "_data_stream_timestamp",
        "_doc_count",
        "_feature",
        "_field_names",
        "_id",
        "_ignored",
        "_index",
        "_nested_path",
        "_routing",
        "_seq_no",
        "_source",
        "_version",
        "dotted-id",
    ];
    for recorded in recordings("metadata_field") {
        let ids: Vec<String> = (0..recorded.actions.len())
            .map(|i| recorded.item(i)["_id"].as_str().unwrap().to_string())
            .collect();
        for name in REFUSED
            .iter()
            .chain(&["_type", "_size", "_meta", "nested-id"])
        {
            assert!(ids.iter().any(|id| id == name), "{name} was not tried");
        }
        let want: Vec<Want> = ids
            .iter()
            .map(|id| match REFUSED.contains(&id.as_str()) {
                true => MAPPER_PARSING,
                false => Want::Indexed,
            })
            .collect();
        assert_items_of(&recorded, &want);
    }
}

#[test]
fn writes_to_an_index_broken_by_a_lucene_field_name_are_rejected_even_deletes() {
    // After a document with `_primary_term`, `_tombstone` or `__soft_deletes` was accepted, every
    // write to that index fails with 400 illegal_argument_exception: "anything else", poison.
    assert_eq!(
        actions("metadata_field_poison"),
        [Action::Index, Action::Delete].repeat(3)
    );
    let broken = Want::Rejected(400, "illegal_argument_exception");
    assert_items("metadata_field_poison", &[broken; 6]);
}

// ---------------------------------------------------------------------------------------------
// Fixtures, tests and docs in step

#[test]
fn every_recorded_fixture_is_classified_by_a_test_here() {
    // Without white space, so that a call the formatter wrapped still reads `f("stem"`.
    let source: String = include_str!("outcomes.rs").split_whitespace().collect();
    let stems = fixture_stems();
    assert!(stems.len() >= 21, "{stems:?}");
    for (path, stem) in stems {
        let called = [
            "assert_items(",
            "assert_response(",
            "recordings(",
            "actions(",
        ]
        .iter()
        .any(|call| source.contains(&format!("{call}\"{stem}\"")));
        assert!(
            called,
            "{} is not classified by any test in tests/outcomes.rs: add one with the outcome \
             docs/outcomes.md gives it",
            path.display()
        );
    }
}

/// Every backticked `*.json` name in a Markdown text.
fn cited_fixtures(markdown: &str) -> Vec<String> {
    markdown
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|code| code.ends_with(".json") && !code.contains('/'))
        .map(String::from)
        .collect()
}

#[test]
fn docs_outcomes_cites_every_recorded_fixture_and_no_other() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/outcomes.md");
    let docs = std::fs::read_to_string(path).expect("docs/outcomes.md");
    let cited = cited_fixtures(&docs);
    assert!(!cited.is_empty());
    let recorded = Path::new(FIXTURES).join("opensearch");
    for name in &cited {
        assert!(
            recorded.join(name).is_file(),
            "docs/outcomes.md cites {name}, which is not in {}",
            recorded.display()
        );
    }
    for (path, stem) in fixture_stems() {
        assert!(
            cited.contains(&format!("{stem}.json")),
            "docs/outcomes.md does not cite {}: add it to the row of its rule",
            path.display()
        );
    }
}

#[test]
fn cited_fixtures_are_read_from_backticked_names_only() {
    assert_eq!(
        cited_fixtures("| `a.json`, `b.json` | x.json | `tests/c.json` | `d` |"),
        ["a.json", "b.json"]
    );
}
