//! Editing a plan before it is sent: what a Lambda author's hooks do.

use stream2search::checkpoint::{RecordOutcome, SkipReason};
use stream2search::outcome::Applied;
use stream2search::{Action, Config, Planner, RecordError, RecordErrorKind, RecordStatus};

const EVENT: &str = "\u{feff}{\"Records\":[\
{\"eventID\":\"a\",\"eventName\":\"INSERT\",\"dynamodb\":{\"Keys\":{\"k\":{\"S\":\"1\"}},\"NewImage\":{\"k\":{\"S\":\"1\"},\"n\":{\"N\":\"5\"}},\"SequenceNumber\":\"10\"}},\
 {\"eventID\":\"b\",\"eventName\":\"REMOVE\",\"dynamodb\":{\"Keys\":{\"k\":{\"S\":\"2\"}},\"SequenceNumber\":\"11\"}},\
{\"eventID\":\"c\",\"eventName\":\"INSERT\",\"dynamodb\":{\"Keys\":{\"k\":{\"S\":\"3\"}},\"NewImage\":{\"k\":{\"S\":\"3\"}},\"SequenceNumber\":\"12\"}}]}";

fn plan() -> stream2search::Plan {
    let planner = Planner::new(Config {
        index: "docs".into(),
        versioning: false,
        ..Config::default()
    })
    .unwrap();
    planner.plan(EVENT.as_bytes(), None).unwrap()
}

fn body(plan: &stream2search::Plan) -> String {
    let mut out = Vec::new();
    plan.encode(&(0..plan.items().len()).collect::<Vec<_>>(), &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn record_spans_point_at_each_record_in_the_input_bom_included() {
    let p = plan();
    let bytes = EVENT.as_bytes();
    let texts: Vec<&str> = p
        .records()
        .iter()
        .map(|r| std::str::from_utf8(&bytes[r.span.clone()]).unwrap())
        .collect();
    assert!(
        texts[0].starts_with("{\"eventID\":\"a\"") && texts[0].ends_with("}}"),
        "{}",
        texts[0]
    );
    assert!(texts[1].starts_with("{\"eventID\":\"b\""), "{}", texts[1]);
    for t in &texts {
        serde_json::from_str::<serde_json::Value>(t).unwrap();
    }
}

#[test]
fn a_replaced_document_is_what_gets_sent() {
    let mut p = plan();
    p.set_document(0, br#" {"k":"1","extra":[1,2]} "#).unwrap();
    assert_eq!(
        body(&p),
        concat!(
            "{\"index\":{\"_index\":\"docs\",\"_id\":\"1\"}}\n{\"k\":\"1\",\"extra\":[1,2]}\n",
            "{\"delete\":{\"_index\":\"docs\",\"_id\":\"2\"}}\n",
            "{\"index\":{\"_index\":\"docs\",\"_id\":\"3\"}}\n{\"k\":\"3\"}\n"
        )
    );
}

#[test]
fn replacement_documents_must_be_one_json_object_for_an_index_item() {
    let mut p = plan();
    for bad in [&b"[1]"[..], b"{", b"{} {}", b"\"x\"", b"", b"{\"a\":1}x"] {
        assert!(
            p.set_document(0, bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(
        p.set_document(1, b"{}").is_err(),
        "a delete has no document"
    );
    assert!(p.set_document(9, b"{}").is_err());
}

#[test]
fn a_chosen_index_is_validated_and_used() {
    let mut p = plan();
    assert!(p.set_index(0, "Bad,Name").is_err());
    assert!(p.set_index(0, "_hidden").is_err());
    p.set_index(0, "docs-2026").unwrap();
    assert!(body(&p).starts_with("{\"index\":{\"_index\":\"docs-2026\",\"_id\":\"1\"}}\n"));
    assert_eq!(p.items()[0].index, "docs-2026");
}

#[test]
fn removed_items_leave_their_records_filtered_or_refused() {
    let mut p = plan();
    p.remove(2, RecordStatus::Invalid(RecordError::refused("no drafts")))
        .unwrap();
    p.remove(0, RecordStatus::Skipped(SkipReason::Filtered))
        .unwrap();
    assert_eq!(p.items().len(), 1);
    assert_eq!(p.items()[0].action, Action::Delete);
    let results = p.resolve(&[RecordOutcome::Applied(Applied::Deleted)]);
    assert_eq!(
        results[0].outcome,
        RecordOutcome::Skipped(SkipReason::Filtered)
    );
    assert_eq!(results[1].outcome, RecordOutcome::Applied(Applied::Deleted));
    match &results[2].outcome {
        RecordOutcome::Invalid(e) => {
            assert_eq!(e.kind(), RecordErrorKind::Refused);
            assert_eq!(e.to_string(), "no drafts");
        }
        other => panic!("{other:?}"),
    }
    assert!(results[0].outcome.is_durable() && !results[2].outcome.is_durable());
    assert!(p.remove(5, RecordStatus::Planned).is_err());
}

#[test]
fn an_index_item_can_become_a_delete_of_the_same_document() {
    let mut p = plan();
    p.set_delete(0).unwrap();
    assert_eq!(p.items()[0].action, Action::Delete);
    assert_eq!(p.document(0), None);
    assert!(body(&p).starts_with("{\"delete\":{\"_index\":\"docs\",\"_id\":\"1\"}}\n{\"delete\""));
    assert!(p.set_delete(7).is_err());
    assert_eq!(p.document(7), None);
}

/// `Plan::body` gives exactly the bytes `Plan::encode` writes, for any items in any order and
/// after any edit; it borrows only when the items lie in the plan as one run.
#[test]
fn body_is_what_encode_writes_and_borrows_only_a_run() {
    use std::borrow::Cow;
    let check = |p: &stream2search::Plan, items: &[usize], borrowed: bool| {
        let mut want = Vec::new();
        p.encode(items, &mut want);
        let got = p.body(items);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{items:?}"
        );
        assert_eq!(matches!(got, Cow::Borrowed(_)), borrowed, "{items:?}");
    };
    let p = plan();
    check(&p, &[0, 1, 2], true);
    check(&p, &[1, 2], true);
    check(&p, &[1], true);
    check(&p, &[], true);
    check(&p, &[0, 2], false);
    check(&p, &[2, 1], false);
    check(&p, &[0, 0], false);

    let mut edited = plan();
    edited.set_document(0, br#"{"k":"1","x":true}"#).unwrap();
    check(&edited, &[0, 1, 2], false);
    check(&edited, &[1, 2], true);
    let mut edited = plan();
    edited.set_index(2, "other").unwrap();
    check(&edited, &[0, 1, 2], false);
    check(&edited, &[0, 1], true);
    let mut edited = plan();
    edited.set_delete(0).unwrap();
    check(&edited, &[0, 1, 2], false);
    let mut edited = plan();
    edited
        .remove(1, RecordStatus::Skipped(SkipReason::Filtered))
        .unwrap();
    check(&edited, &[0, 1], false);

    // A superseded item leaves a gap: the items around it are not one run.
    let record = |k: u8, seq: u8| {
        format!(
            "{{\"eventName\":\"INSERT\",\"dynamodb\":{{\"Keys\":{{\"k\":{{\"S\":\"{k}\"}}}},\"NewImage\":{{\"k\":{{\"S\":\"{k}\"}},\"s\":{{\"N\":\"{seq}\"}}}},\"SequenceNumber\":\"{seq}\"}}}}"
        )
    };
    let superseded = format!(
        "{{\"Records\":[{},{},{},{}]}}",
        record(1, 1),
        record(2, 2),
        record(3, 3),
        record(2, 4)
    );
    let p = Planner::new(Config {
        index: "docs".into(),
        ..Config::default()
    })
    .unwrap()
    .plan(superseded.as_bytes(), None)
    .unwrap();
    let ids: Vec<&str> = p.items().iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["1", "3", "2"]);
    check(&p, &[0, 1, 2], false);
    check(&p, &[0, 1], false);
    check(&p, &[1, 2], true);
}
