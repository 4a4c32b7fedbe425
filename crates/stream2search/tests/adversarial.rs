//! Adversarial tests, one per rule of the conversion and its outcomes, named as a sentence, in
//! the order of the pipeline: the event (1), the document (2), its id (3), the action (4), no
//! stale writes (5), bulk encoding and chunks (6), outcome classification (7), the checkpoint (8)
//! and backoff (9), then sharp edges. Expectations are written by hand from the rules in the
//! crate's documentation and `docs/`, and compared with the reference implementation where a
//! whole plan is compared. Every test asserts what must happen for its input, accepted or not.
//!
//! Events are built with [`Rec`], a small record builder; documents are read back with the
//! reference's strict JSON reader so numbers compare as exact decimals.

mod reference;

use std::time::Duration;

use reference::harness::{self, check_hashed_id, ndjson_lines};
use reference::json::{self, Json};
use reference::number;
use reference::{Options, RESERVED_NAMES};
use stream2search::backoff::Backoff;
use stream2search::checkpoint::{self, Checkpoint, RecordOutcome, RecordResult, SkipReason};
use stream2search::outcome::{self, Applied, ItemOutcome, Response};
use stream2search::{Action, Config, Plan, Planner, RecordErrorKind, RecordStatus, SequenceNumber};

// ---------------------------------------------------------------------------------------------
// Building events

/// One stream record, built from defaults: an INSERT of `{"pk":{"S":pk}}` into a
/// NEW_AND_OLD_IMAGES stream at 1700000000 seconds.
#[derive(Clone, Debug)]
struct Rec {
    name: String,
    keys: String,
    new_image: Option<String>,
    old_image: Option<String>,
    seq: Option<String>,
    timestamp: Option<String>,
    view: String,
    user_identity: Option<String>,
    /// Replaces the whole record text when set.
    raw: Option<String>,
}

impl Rec {
    fn insert(pk: &str) -> Rec {
        let key = format!("\"pk\":{{\"S\":{}}}", json::quote(pk));
        Rec {
            name: "INSERT".into(),
            keys: key.clone(),
            new_image: Some(key),
            old_image: None,
            seq: None,
            timestamp: Some("1700000000".into()),
            view: "NEW_AND_OLD_IMAGES".into(),
            user_identity: None,
            raw: None,
        }
    }

    fn modify(pk: &str) -> Rec {
        Rec {
            name: "MODIFY".into(),
            ..Rec::insert(pk)
        }
    }

    fn remove(pk: &str) -> Rec {
        let r = Rec::insert(pk);
        Rec {
            name: "REMOVE".into(),
            old_image: r.new_image.clone(),
            new_image: None,
            ..r
        }
    }

    fn raw(text: &str) -> Rec {
        Rec {
            raw: Some(text.into()),
            ..Rec::insert("unused")
        }
    }

    /// Add `"name": <attribute value JSON>` to the new image.
    fn attr(mut self, name: &str, av: &str) -> Rec {
        let image = self.new_image.get_or_insert_with(String::new);
        if !image.is_empty() {
            image.push(',');
        }
        image.push_str(&format!("{}:{av}", json::quote(name)));
        self
    }

    /// Replace the Keys members (and leave the image alone).
    fn keys(mut self, members: &str) -> Rec {
        self.keys = members.into();
        self
    }

    /// Replace the new image members.
    fn image(mut self, members: &str) -> Rec {
        self.new_image = Some(members.into());
        self
    }

    fn no_new_image(mut self) -> Rec {
        self.new_image = None;
        self
    }

    fn seq(mut self, s: &str) -> Rec {
        self.seq = Some(s.into());
        self
    }

    fn at(mut self, ts: &str) -> Rec {
        self.timestamp = Some(ts.into());
        self
    }

    fn no_timestamp(mut self) -> Rec {
        self.timestamp = None;
        self
    }

    fn view(mut self, v: &str) -> Rec {
        self.view = v.into();
        self
    }

    fn named(mut self, name: &str) -> Rec {
        self.name = name.into();
        self
    }

    fn by(mut self, identity: &str) -> Rec {
        self.user_identity = Some(identity.into());
        self
    }

    fn ttl(self) -> Rec {
        self.by(r#"{"type":"Service","principalId":"dynamodb.amazonaws.com"}"#)
    }

    fn json(&self, position: usize) -> String {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let seq = self
            .seq
            .clone()
            .unwrap_or_else(|| (100 + position).to_string());
        let mut ddb = String::new();
        if let Some(ts) = &self.timestamp {
            ddb.push_str(&format!("\"ApproximateCreationDateTime\":{ts},"));
        }
        ddb.push_str(&format!("\"Keys\":{{{}}},", self.keys));
        if let Some(img) = &self.new_image {
            ddb.push_str(&format!("\"NewImage\":{{{img}}},"));
        }
        if let Some(img) = &self.old_image {
            ddb.push_str(&format!("\"OldImage\":{{{img}}},"));
        }
        ddb.push_str(&format!(
            "\"SequenceNumber\":\"{seq}\",\"SizeBytes\":10,\"StreamViewType\":\"{}\"",
            self.view
        ));
        let who = match &self.user_identity {
            Some(u) => format!("\"userIdentity\":{u},"),
            None => String::new(),
        };
        format!(
            "{{\"eventID\":\"e{position}\",\"eventName\":{},\"eventVersion\":\"1.1\",\
             \"eventSource\":\"aws:dynamodb\",\"awsRegion\":\"us-east-1\",{who}\"dynamodb\":{{{ddb}}},\
             \"eventSourceARN\":\"arn:aws:dynamodb:us-east-1:1:table/t/stream/x\"}}",
            json::quote(&self.name)
        )
    }
}

fn event(records: &[Rec]) -> Vec<u8> {
    let parts: Vec<String> = records.iter().enumerate().map(|(i, r)| r.json(i)).collect();
    format!("{{\"Records\":[{}]}}", parts.join(",")).into_bytes()
}

fn opts() -> Options {
    Options::default()
}

fn plan_with(o: &Options, records: &[Rec]) -> Plan {
    harness::planner(o)
        .plan(&event(records), None)
        .expect("an event")
}

fn plan(records: &[Rec]) -> Plan {
    plan_with(&opts(), records)
}

/// The parsed document of the item that decides record `position`.
fn doc_of(plan: &Plan, position: usize) -> Json {
    let i = item_of(plan, position);
    let mut out = Vec::new();
    plan.encode(&[i], &mut out);
    let lines = ndjson_lines(&out).unwrap();
    assert_eq!(lines.len(), 2, "an index item has a document line");
    lines[1].clone()
}

fn item_of(plan: &Plan, position: usize) -> usize {
    plan.items()
        .iter()
        .position(|it| it.records.contains(&position))
        .unwrap_or_else(|| panic!("no item decides record {position}: {:?}", plan.records()))
}

/// The error of record `position`, which must be invalid.
fn error_of(plan: &Plan, position: usize) -> stream2search::RecordError {
    match &plan.records()[position].status {
        RecordStatus::Invalid(e) => e.clone(),
        other => panic!("record {position} should be invalid, is {other:?}"),
    }
}

fn is_planned(plan: &Plan, position: usize) -> bool {
    matches!(plan.records()[position].status, RecordStatus::Planned)
}

/// Records at `bad` are invalid with `kind`; every other record is planned and has its item.
fn assert_only_these_fail(plan: &Plan, bad: &[usize], kind: RecordErrorKind) {
    for (i, r) in plan.records().iter().enumerate() {
        if bad.contains(&i) {
            let e = error_of(plan, i);
            assert_eq!(e.kind(), kind, "record {i}: {e}");
        } else {
            assert!(
                is_planned(plan, i),
                "record {i} should convert: {:?}",
                r.status
            );
            item_of(plan, i);
        }
    }
}

/// `"name":{"S":"v"}` and friends, for readable tests.
fn s(v: &str) -> String {
    format!("{{\"S\":{}}}", json::quote(v))
}
fn n(v: &str) -> String {
    format!("{{\"N\":{}}}", json::quote(v))
}

/// The JSON value of a document field.
fn field<'a>(doc: &'a Json, name: &str) -> &'a Json {
    doc.get(name)
        .unwrap_or_else(|| panic!("no field {name:?} in {doc:?}"))
}

/// The document equals this JSON (members in any order, numbers as exact decimals).
fn assert_doc(doc: &Json, want: &str) {
    let want = reference::Expect::from_json(&json::parse(want).unwrap());
    harness::matches(&want, doc, "").unwrap_or_else(|e| panic!("{e}\ndocument: {doc:?}"));
}

fn assert_number(j: &Json, want: &str) {
    match j {
        Json::Number(t) => assert_eq!(
            number::parse_json(t),
            number::parse_lenient(want),
            "{t} is not exactly {want}"
        ),
        other => panic!("expected the number {want}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Event: malformed records are per-record errors; only a non-event is a whole-event error

/// Neighbours around each bad record must still convert.
fn sandwich(bad: Rec) -> Plan {
    plan(&[Rec::insert("before"), bad, Rec::insert("after")])
}

#[test]
fn unknown_type_tag_fails_only_its_record() {
    for av in [
        r#"{"X":"a"}"#,
        r#"{"A":"data"}"#,
        r#"{"LS":"data"}"#,
        r#"{"SN":"1"}"#,
    ] {
        let p = sandwich(Rec::insert("bad").attr("v", av));
        assert_only_these_fail(&p, &[1], RecordErrorKind::TypeTag);
    }
}

#[test]
fn lower_case_type_tag_fails_only_its_record() {
    for av in [
        r#"{"s":"a"}"#,
        r#"{"n":"1"}"#,
        r#"{"bool":true}"#,
        r#"{"Null":true}"#,
        r#"{"m":{}}"#,
    ] {
        let p = sandwich(Rec::insert("bad").attr("v", av));
        assert_only_these_fail(&p, &[1], RecordErrorKind::TypeTag);
    }
}

#[test]
fn two_type_tags_fail_only_their_record() {
    for av in [
        r#"{"S":"a","N":"1"}"#,
        r#"{"NULL":true,"BOOL":false}"#,
        r#"{"S":"a","S":"b"}"#,
    ] {
        let p = sandwich(Rec::insert("bad").attr("v", av));
        assert_only_these_fail(&p, &[1], RecordErrorKind::TypeTag);
    }
}

#[test]
fn attribute_value_without_a_tag_fails_only_its_record() {
    let p = sandwich(Rec::insert("bad").attr("v", "{}"));
    assert_only_these_fail(&p, &[1], RecordErrorKind::TypeTag);
}

#[test]
fn tag_with_the_wrong_json_type_fails_only_its_record() {
    use RecordErrorKind::{TypeTag, Value};
    for (av, kind) in [
        (r#"{"S":1}"#, Value),
        (r#"{"N":1}"#, Value),
        (r#"{"B":null}"#, Value),
        (r#"{"BOOL":"true"}"#, Value),
        (r#"{"L":{}}"#, Value),
        (r#"{"M":[]}"#, Value),
        (r#"{"SS":"a"}"#, Value),
        (r#"{"NS":[1]}"#, Value),
        (r#""plain string""#, TypeTag),
        (r#"[]"#, TypeTag),
    ] {
        let p = sandwich(Rec::insert("bad").attr("v", av));
        assert_only_these_fail(&p, &[1], kind);
        assert!(error_of(&p, 1).to_string().contains("NewImage.v"), "{av}");
    }
    let p = sandwich(Rec::insert("k").attr("v", r#"{"S":"x"} "#));
    assert_only_these_fail(&p, &[], Value);
    assert_eq!(field(&doc_of(&p, 1), "v"), &Json::String("x".into()));
}

#[test]
fn missing_dynamodb_fails_only_its_record() {
    let bad = Rec::raw(r#"{"eventID":"x","eventName":"INSERT","eventSource":"aws:dynamodb"}"#);
    let p = sandwich(bad);
    assert_only_these_fail(&p, &[1], RecordErrorKind::Shape);
}

#[test]
fn dynamodb_that_is_not_an_object_fails_only_its_record() {
    let p = sandwich(Rec::raw(r#"{"eventName":"INSERT","dynamodb":"nope"}"#));
    assert_only_these_fail(&p, &[1], RecordErrorKind::Shape);
}

#[test]
fn bad_event_name_fails_only_its_record() {
    for name in ["UPSERT", "insert", "Remove", "", "INSERT "] {
        let p = sandwich(Rec::insert("bad").named(name));
        assert_only_these_fail(&p, &[1], RecordErrorKind::EventName);
    }
    let no_name = Rec::raw(
        r#"{"eventID":"x","dynamodb":{"Keys":{"pk":{"S":"k"}},"NewImage":{"pk":{"S":"k"}},"SequenceNumber":"5"}}"#,
    );
    let p = sandwich(no_name);
    assert_only_these_fail(&p, &[1], RecordErrorKind::EventName);
}

#[test]
fn record_that_is_not_an_object_fails_only_itself() {
    // The event is still `{"Records":[...]}`, so it is an event: the odd element is a record
    // error (a shape error, named by its position) and its neighbours convert.
    let bytes = format!(
        "{{\"Records\":[{},42,{}]}}",
        Rec::insert("a").json(0),
        Rec::insert("b").json(2)
    );
    let p = harness::planner(&opts())
        .plan(bytes.as_bytes(), None)
        .expect("an event whose second record is not an object is still an event");
    assert_eq!(p.records().len(), 3);
    assert_only_these_fail(&p, &[1], RecordErrorKind::Shape);
    assert_eq!(p.records()[1].position, 1);
    harness::check_event(bytes.as_bytes(), &opts(), None).unwrap();
}

#[test]
fn invalid_number_fails_only_its_record() {
    for bad in [
        "",
        "abc",
        "1e",
        "--1",
        "1.2.3",
        " 1",
        "1 ",
        "0x10",
        "NaN",
        "Infinity",
        "-Infinity",
        "1,5",
        "١",
        // 39 significant digits.
        "123456789012345678901234567890123456789",
        "1.00000000000000000000000000000000000001",
        // Beyond the range.
        "1E+126",
        "-1E+126",
        "1E-131",
        "9.9999999999999999999999999999999999999E-131",
        "10E+125",
    ] {
        for av in [n(bad), format!("{{\"NS\":[\"1\",{}]}}", json::quote(bad))] {
            let p = sandwich(Rec::insert("bad").attr("v", &av));
            assert_only_these_fail(&p, &[1], RecordErrorKind::Number);
        }
    }
}

#[test]
fn invalid_base64_fails_only_its_record() {
    for bad in [
        "!!!!", "A", "AAAAA", "A===", "====", "=AAA", "AA=A", "AA==AA==", "YW J j", "YW-j", "YW_j",
        "é",
    ] {
        for av in [
            format!("{{\"B\":{}}}", json::quote(bad)),
            format!("{{\"BS\":[\"AA==\",{}]}}", json::quote(bad)),
        ] {
            let p = sandwich(Rec::insert("bad").attr("v", &av));
            assert_only_these_fail(&p, &[1], RecordErrorKind::Base64);
        }
    }
}

#[test]
fn many_bad_records_in_one_event_each_fail_alone() {
    let records = vec![
        Rec::insert("ok0"),
        Rec::insert("bad1").attr("v", r#"{"s":"a"}"#),
        Rec::insert("ok2"),
        Rec::insert("bad3").named("UPSERT"),
        Rec::raw(r#"{"eventName":"INSERT"}"#),
        Rec::insert("bad5").attr("v", &n("1E+999")),
        Rec::insert("bad6").attr("v", r#"{"B":"!"}"#),
        Rec::insert("ok7"),
    ];
    let p = plan(&records);
    use RecordErrorKind::{Base64, EventName, Number, Shape, TypeTag};
    for (i, kind) in [
        (1, TypeTag),
        (3, EventName),
        (4, Shape),
        (5, Number),
        (6, Base64),
    ] {
        assert_eq!(error_of(&p, i).kind(), kind, "record {i}");
    }
    for i in [0, 2, 7] {
        assert!(is_planned(&p, i));
    }
    assert_eq!(p.items().len(), 3);
    harness::check_event(&event(&records), &opts(), None).unwrap();
}

#[test]
fn payloads_that_are_not_events_are_whole_event_errors() {
    let planner = harness::planner(&opts());
    for bad in [
        &b""[..],
        b"   ",
        b"null",
        b"[]",
        b"42",
        b"\"Records\"",
        b"{}",
        b"{\"records\":[]}",
        b"{\"Records\":{}}",
        b"{\"Records\":null}",
        b"{\"Records\":\"x\"}",
        b"{\"Records\":[]",
        b"{\"Records\":[]} trailing",
        b"{\"Records\":[]}{}",
        b"{\"Records\":[{\"eventName\":\"INSERT\"]}",
        b"\xff\xfe{\"Records\":[]}",
        b"{\"Records\":[{\"eventName\":\"\xff\"}]}",
        b"\xEF\xBB\xBF\xEF\xBB\xBF{\"Records\":[]}",
    ] {
        assert!(
            planner.plan(bad, None).is_err(),
            "{:?} should be a whole-event error",
            String::from_utf8_lossy(bad)
        );
    }
    // A bare record (no Records wrapper) is not an event either.
    assert!(
        planner
            .plan(Rec::insert("k").json(0).as_bytes(), None)
            .is_err()
    );
}

#[test]
fn event_with_no_records_is_an_empty_plan() {
    let p = harness::planner(&opts())
        .plan(b"{\"Records\":[]}", None)
        .unwrap();
    assert!(p.records().is_empty() && p.items().is_empty() && p.chunks().is_empty());
}

#[test]
fn leading_byte_order_mark_is_accepted() {
    let plain = event(&[Rec::insert("k").attr("v", &s("é"))]);
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(&plain);
    let a = harness::encode_all(&harness::planner(&opts()).plan(&plain, None).unwrap());
    let b = harness::encode_all(&harness::planner(&opts()).plan(&with_bom, None).unwrap());
    assert_eq!(a, b);
    harness::check_event(&with_bom, &opts(), None).unwrap();
}

#[test]
fn other_top_level_members_of_the_event_are_ignored() {
    let bytes = format!(
        "{{\"window\":{{\"start\":\"x\"}},\"Records\":[{}],\"shardId\":\"s\",\"isFinalInvokeForWindow\":false}}",
        Rec::insert("k").json(0)
    );
    let p = harness::planner(&opts())
        .plan(bytes.as_bytes(), None)
        .unwrap();
    assert!(is_planned(&p, 0));
}

#[test]
fn sequence_number_of_40_digits_is_kept_as_text() {
    let forty = "1234567890123456789012345678901234567890";
    let p = plan(&[Rec::insert("k").seq(forty)]);
    assert_eq!(harness::sequence_text(&p, 0).as_deref(), Some(forty));
    assert!(forty.parse::<u128>().is_err(), "wider than u128");
}

#[test]
fn sequence_numbers_are_ordered_numerically_not_as_text() {
    let sn = |t: &str| SequenceNumber::parse(t).unwrap();
    assert!(sn("9") < sn("10"));
    assert!(sn("99") < sn("100"));
    assert!(
        sn("340282366920938463463374607431768211455")
            < sn("340282366920938463463374607431768211456")
    );
    assert!(
        sn("999999999999999999999999999999999999999")
            < sn("1000000000000000000000000000000000000000")
    );
    assert!(sn("4421584500000000017450439092") > sn("1405400000000002063282832"));
    assert!(SequenceNumber::parse("").is_none());
    assert!(SequenceNumber::parse("12a").is_none());
    assert!(SequenceNumber::parse("-1").is_none());
}

#[test]
fn sequence_number_that_is_not_digits_fails_its_record() {
    // A checkpoint could not name such a record: it is a record error, and no empty or
    // malformed identifier is kept for it.
    for bad in ["", "abc", "-5", "1.5"] {
        let p = sandwich(Rec::insert("k").seq(bad));
        assert_only_these_fail(&p, &[1], RecordErrorKind::SequenceNumber);
        assert_eq!(harness::sequence_text(&p, 1), None, "{bad:?}");
    }
}

#[test]
fn version_is_the_timestamp_in_microseconds_at_its_own_precision_for_every_form() {
    for (ts, want) in [
        // Seconds (DynamoDB Streams): whole, or with a fraction, cut off below a microsecond.
        ("1700000000", 1_700_000_000_000_000u64),
        ("1700000000.0", 1_700_000_000_000_000),
        ("1700000000.999999999999999999999", 1_700_000_000_999_999),
        ("1.635734407123456789E9", 1_635_734_407_123_456),
        ("1.635734407999999999999E+9", 1_635_734_407_999_999),
        ("1.4285376E9", 1_428_537_600_000_000),
        ("16357344079.99e-1", 1_635_734_407_999_000),
        // Milliseconds (Kinesis Data Streams for DynamoDB's default).
        ("1480642020000", 1_480_642_020_000_000),
        ("1480642020999", 1_480_642_020_999_000),
        ("1480642020999.9", 1_480_642_020_999_900),
        ("1.480642020999E12", 1_480_642_020_999_000),
        // Microseconds (Kinesis Data Streams for DynamoDB's MICROSECOND precision).
        ("1480642020999123", 1_480_642_020_999_123),
        ("1480642020999123.7", 1_480_642_020_999_123),
        ("1.480642020999123E15", 1_480_642_020_999_123),
        ("0", 0),
    ] {
        let p = plan(&[Rec::insert("k").at(ts)]);
        assert_eq!(p.items()[0].version, Some(want), "timestamp {ts}");
        assert_eq!(
            reference::version_of(ts),
            Ok(want),
            "the reference agrees on {ts}"
        );
    }
}

#[test]
fn no_version_when_the_timestamp_is_absent() {
    let p = plan(&[Rec::insert("k").no_timestamp()]);
    assert_eq!(p.items()[0].version, None);
    let line = &ndjson_lines(&harness::encode_all(&p)).unwrap()[0];
    let meta = line.get("index").unwrap();
    assert!(
        meta.get("version").is_none() && meta.get("version_type").is_none(),
        "{line:?}"
    );
}

#[test]
fn versioning_can_be_turned_off() {
    let o = Options {
        versioning: false,
        ..opts()
    };
    let p = plan_with(&o, &[Rec::insert("k"), Rec::remove("j")]);
    let lines = ndjson_lines(&harness::encode_all(&p)).unwrap();
    assert_eq!(
        lines,
        [
            r#"{"index":{"_index":"documents","_id":"k"}}"#,
            r#"{"pk":"k"}"#,
            r#"{"delete":{"_index":"documents","_id":"j"}}"#,
        ]
        .map(|line| json::parse(line).unwrap())
    );
    assert!(p.items().iter().all(|i| i.version.is_none()));
}

#[test]
fn version_lines_carry_external_gte() {
    let p = plan(&[Rec::insert("k"), Rec::remove("j")]);
    let lines = ndjson_lines(&harness::encode_all(&p)).unwrap();
    assert_eq!(
        lines[0],
        json::parse(r#"{"index":{"_index":"documents","_id":"k","version":1700000000000000,"version_type":"external_gte"}}"#).unwrap()
    );
    assert_eq!(
        lines[2],
        json::parse(r#"{"delete":{"_index":"documents","_id":"j","version":1700000000000000,"version_type":"external_gte"}}"#).unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Document

#[test]
fn every_attribute_type_converts_to_plain_json() {
    let r = Rec::insert("k")
        .attr("s", &s("text"))
        .attr("n", &n("19.990"))
        .attr("b", r#"{"B":"AAEqQQ=="}"#)
        .attr("ss", r#"{"SS":["a","b"]}"#)
        .attr("ns", r#"{"NS":["1","-2.50"]}"#)
        .attr("bs", r#"{"BS":["AA==","AQ=="]}"#)
        .attr("m", r#"{"M":{"x":{"N":"1"},"y":{"M":{}}}}"#)
        .attr("l", r#"{"L":[{"S":"a"},{"N":"2"},{"NULL":true},{"L":[]}]}"#)
        .attr("null", r#"{"NULL":true}"#)
        .attr("t", r#"{"BOOL":true}"#)
        .attr("f", r#"{"BOOL":false}"#)
        .attr("empty", &s(""));
    let p = plan(std::slice::from_ref(&r));
    assert_doc(
        &doc_of(&p, 0),
        r#"{"pk":"k","s":"text","n":19.990,"b":"AAEqQQ==","ss":["a","b"],"ns":[1,-2.5],
            "bs":["AA==","AQ=="],"m":{"x":1,"y":{}},"l":["a",2,null,[]],"null":null,
            "t":true,"f":false,"empty":""}"#,
    );
    harness::check_event(&event(&[r]), &opts(), None).unwrap();
}

#[test]
fn bool_false_and_empty_string_are_values_not_objects() {
    let p = plan(&[Rec::insert("k")
        .attr("f", r#"{"BOOL":false}"#)
        .attr("e", &s(""))]);
    let d = doc_of(&p, 0);
    assert_eq!(field(&d, "f"), &Json::Bool(false));
    assert_eq!(field(&d, "e"), &Json::String(String::new()));
}

#[test]
fn numbers_keep_their_exact_decimal_value_in_any_spelling() {
    for text in [
        "+1",
        "007",
        ".5",
        "5.",
        "-.5",
        "+.5e1",
        "00.000",
        "-0",
        "1e5",
        "1E+5",
        "1e-0005",
        "12345678901234567890123456789012345678",
        "-12345678901234567890123456789012345678",
        "1234567890123456789012345678901234567800000",
        "0.00000000000000000000000000000000000012345678901234567890123456789012345678",
        "1E-130",
        "-1E-130",
        "9.9999999999999999999999999999999999999E+125",
        "-9.9999999999999999999999999999999999999E+125",
        "9007199254740993",
        "0.1",
        "3.141592653589793238462643383279502884",
    ] {
        let p = plan(&[Rec::insert("k").attr("v", &n(text))]);
        assert!(is_planned(&p, 0), "{text}: {:?}", p.records()[0].status);
        assert_number(field(&doc_of(&p, 0), "v"), text);
    }
}

#[test]
fn numbers_already_valid_json_are_written_as_given() {
    for text in ["19.990", "1E+5", "-0.0", "1e-7", "9007199254740993"] {
        let p = plan(&[Rec::insert("k").attr("v", &n(text))]);
        assert_eq!(
            field(&doc_of(&p, 0), "v"),
            &Json::Number(text.into()),
            "{text}"
        );
    }
}

#[test]
fn nesting_32_levels_deep_converts() {
    for outer in ["M", "L"] {
        let av = nest(32, outer, &s("leaf"));
        let p = sandwich(Rec::insert("deep").attr("v", &av));
        assert!(is_planned(&p, 1), "{outer}: {:?}", p.records()[1].status);
        harness::check_event(&event(&[Rec::insert("deep").attr("v", &av)]), &opts(), None).unwrap();
    }
}

#[test]
fn nesting_33_levels_deep_is_a_record_error() {
    for outer in ["M", "L"] {
        let p = sandwich(Rec::insert("deep").attr("v", &nest(33, outer, &s("leaf"))));
        assert_only_these_fail(&p, &[1], RecordErrorKind::Depth);
    }
}

#[test]
fn nesting_10000_levels_deep_is_a_record_error_not_a_stack_overflow() {
    for outer in ["M", "L"] {
        let av = nest(10_000, outer, &s("leaf"));
        let p = sandwich(Rec::insert("deep").attr("v", &av));
        assert_only_these_fail(&p, &[1], RecordErrorKind::Depth);
    }
    // Unbalanced too: deep and then cut off is a broken payload, never a crash.
    let deep = format!("{{\"Records\":[{}", "[".repeat(100_000));
    assert!(
        harness::planner(&opts())
            .plan(deep.as_bytes(), None)
            .is_err()
    );
}

/// `depth` containers, alternating M and L starting with `outer`, around `leaf`.
fn nest(depth: usize, outer: &str, leaf: &str) -> String {
    let mut kinds: Vec<&str> = (0..depth)
        .map(|i| {
            if (i % 2 == 0) == (outer == "M") {
                "M"
            } else {
                "L"
            }
        })
        .collect();
    kinds.reverse();
    let mut v = leaf.to_string();
    for k in kinds {
        v = if k == "M" {
            format!("{{\"M\":{{\"a\":{v}}}}}")
        } else {
            format!("{{\"L\":[{v}]}}")
        };
    }
    v
}

#[test]
fn chosen_number_paths_are_rendered_as_strings() {
    let o = Options {
        numbers_as_strings: vec![
            "big".into(),
            "dims.weight".into(),
            "list".into(),
            "set".into(),
        ],
        ..opts()
    };
    let r = Rec::insert("k")
        .attr("big", &n("123456789012345678901234567890"))
        .attr("small", &n("5"))
        .attr(
            "dims",
            r#"{"M":{"weight":{"N":"+007.50"},"height":{"N":"2"}}}"#,
        )
        .attr("list", r#"{"L":[{"N":"1"},{"N":"99999999999999999999"}]}"#)
        .attr("set", r#"{"NS":["1","2"]}"#);
    let p = plan_with(&o, std::slice::from_ref(&r));
    let d = doc_of(&p, 0);
    assert_eq!(
        field(&d, "big"),
        &Json::String("123456789012345678901234567890".into())
    );
    assert_number(field(&d, "small"), "5");
    let dims = field(&d, "dims");
    match field(dims, "weight") {
        Json::String(t) => assert_eq!(number::parse_lenient(t), number::parse_lenient("7.5")),
        other => panic!("weight should be a string: {other:?}"),
    }
    assert_number(field(dims, "height"), "2");
    for (name, want) in [("list", ["1", "99999999999999999999"]), ("set", ["1", "2"])] {
        let got = field(&d, name).as_array().unwrap();
        assert_eq!(
            got,
            &[Json::String(want[0].into()), Json::String(want[1].into())][..],
            "{name}"
        );
    }
    harness::check_event(&event(&[r]), &o, None).unwrap();
}

#[test]
fn include_keeps_only_the_listed_top_level_attributes() {
    let o = Options {
        include: Some(vec!["pk".into(), "keep".into()]),
        ..opts()
    };
    let r = Rec::insert("k")
        .attr("keep", r#"{"M":{"drop":{"S":"nested stays"}}}"#)
        .attr("drop", &s("x"));
    let d = doc_of(&plan_with(&o, std::slice::from_ref(&r)), 0);
    assert_doc(&d, r#"{"pk":"k","keep":{"drop":"nested stays"}}"#);
    harness::check_event(&event(&[r]), &o, None).unwrap();
}

#[test]
fn exclude_drops_the_listed_top_level_attributes() {
    let o = Options {
        exclude: vec!["secret".into()],
        ..opts()
    };
    let r = Rec::insert("k")
        .attr("secret", &s("x"))
        .attr("m", r#"{"M":{"secret":{"S":"y"}}}"#);
    let d = doc_of(&plan_with(&o, std::slice::from_ref(&r)), 0);
    assert_doc(&d, r#"{"pk":"k","m":{"secret":"y"}}"#);
    harness::check_event(&event(&[r]), &o, None).unwrap();
}

#[test]
fn indexed_at_holds_the_timestamp_the_caller_passes() {
    let o = Options {
        indexed_at: Some("indexed_at".into()),
        ..opts()
    };
    let bytes = event(&[Rec::insert("k"), Rec::remove("j")]);
    let p = harness::planner(&o)
        .plan(&bytes, Some("2026-11-26T00:00:00Z"))
        .unwrap();
    let d = doc_of(&p, 0);
    assert_eq!(
        field(&d, "indexed_at"),
        &Json::String("2026-11-26T00:00:00Z".into())
    );
    harness::check_event(&bytes, &o, Some("2026-11-26T00:00:00Z")).unwrap();
    // Deletes have no document to stamp.
    assert_eq!(p.items()[item_of(&p, 1)].action, Action::Delete);
}

#[test]
fn reserved_top_level_names_are_renamed_with_the_ddb_prefix() {
    for name in RESERVED_NAMES {
        let p = plan(&[Rec::insert("k").attr(name, &s("v"))]);
        let d = doc_of(&p, 0);
        assert_eq!(
            field(&d, &format!("ddb{name}")),
            &Json::String("v".into()),
            "{name}"
        );
        assert!(d.get(name).is_none(), "{name} must not reach OpenSearch");
    }
}

#[test]
fn attribute_named_doc_count_is_renamed_because_opensearch_parses_it_as_metadata() {
    // OpenSearch 2.19.1 refuses {"_doc_count":"x"} ("metadata
    // field", tests/fixtures/opensearch/metadata_field.json) and would read a positive integer as
    // an aggregation weight.
    for name in ["_doc_count", "_feature"] {
        let d = doc_of(&plan(&[Rec::insert("k").attr(name, &s("x"))]), 0);
        assert!(d.get(name).is_none(), "{name} reached the document: {d:?}");
        assert_eq!(field(&d, &format!("ddb{name}")), &Json::String("x".into()));
    }
}

#[test]
fn dotted_names_under_a_reserved_name_are_renamed_too() {
    // The real server refuses a top-level "_id.x" as well
    // (tests/fixtures/opensearch/metadata_field.json, item "dotted-id").
    let d = doc_of(&plan(&[Rec::insert("k").attr("_id.x", &s("v"))]), 0);
    assert!(d.get("_id.x").is_none(), "{d:?}");
    assert_eq!(field(&d, "ddb_id.x"), &Json::String("v".into()));
}

#[test]
fn names_opensearch_accepts_are_not_renamed() {
    // OpenSearch 2.19.1 stores {"_type":"x"} as an ordinary
    // field (metadata_field.json), so renaming it changes the user's data for nothing.
    for name in [
        "_type", "_size", "_meta", "_all", "_", "_custom", "id", "ddb_id",
    ] {
        let d = doc_of(&plan(&[Rec::insert("k").attr(name, &s("v"))]), 0);
        assert_eq!(
            field(&d, name),
            &Json::String("v".into()),
            "{name} was renamed: {d:?}"
        );
    }
}

#[test]
fn reserved_names_below_the_top_level_are_kept() {
    let r = Rec::insert("k").attr("o", r#"{"M":{"_id":{"S":"x"},"_source":{"L":[]}}}"#);
    let d = doc_of(&plan(&[r]), 0);
    assert_doc(field(&d, "o"), r#"{"_id":"x","_source":[]}"#);
}

#[test]
fn reserved_names_use_the_configured_prefix() {
    let o = Options {
        reserved_prefix: Some("meta".into()),
        ..opts()
    };
    let d = doc_of(&plan_with(&o, &[Rec::insert("k").attr("_id", &s("v"))]), 0);
    assert_eq!(field(&d, "meta_id"), &Json::String("v".into()));
}

#[test]
fn reserved_names_fail_the_record_under_the_reject_policy() {
    let o = Options {
        reserved_prefix: None,
        ..opts()
    };
    let p = plan_with(
        &o,
        &[
            Rec::insert("a"),
            Rec::insert("k").attr("_source", &s("v")),
            Rec::insert("b"),
        ],
    );
    assert_only_these_fail(&p, &[1], RecordErrorKind::ReservedName);
}

#[test]
fn renaming_onto_an_existing_attribute_fails_the_record_instead_of_losing_one() {
    let r = Rec::insert("k")
        .attr("_id", &s("renamed"))
        .attr("ddb_id", &s("original"));
    let p = sandwich(r);
    assert_only_these_fail(&p, &[1], RecordErrorKind::ReservedName);
}

// ---------------------------------------------------------------------------------------------
// 3. Document id

fn id_of(o: &Options, keys: &str) -> String {
    let p = plan_with(o, &[Rec::insert("unused").keys(keys)]);
    assert!(is_planned(&p, 0), "{keys}: {:?}", p.records()[0].status);
    p.items()[0].id.clone()
}

#[test]
fn id_orders_keys_by_unicode_code_point() {
    // Code point order puts U+FFFD before U+1F600; UTF-16 order would not.
    let keys = format!(
        "\"😀\":{},\"\u{fffd}\":{},\"é\":{},\"Z\":{},\"a\":{}",
        s("5"),
        s("4"),
        s("3"),
        s("1"),
        s("2")
    );
    assert_eq!(id_of(&opts(), &keys), "1|2|3|4|5");
}

#[test]
fn id_escapes_backslash_and_pipe_inside_parts() {
    assert_eq!(id_of(&opts(), &format!("\"pk\":{}", s("a|b"))), "a\\|b");
    assert_eq!(id_of(&opts(), &format!("\"pk\":{}", s("a\\b"))), "a\\\\b");
    assert_eq!(
        id_of(&opts(), &format!("\"pk\":{},\"sk\":{}", s("x\\"), s("|y"))),
        "x\\\\|\\|y"
    );
}

#[test]
fn keys_that_differ_only_in_escaping_never_share_an_id() {
    // Every pair of parts over {a, |, \} up to three characters: all ids distinct.
    let mut parts = vec![String::new()];
    for len in 1..=3 {
        let mut next = Vec::new();
        for p in parts.iter().filter(|p| p.chars().count() == len - 1) {
            for c in ['a', '|', '\\'] {
                next.push(format!("{p}{c}"));
            }
        }
        parts.extend(next);
    }
    let mut records = Vec::new();
    for pk in &parts {
        for sk in &parts {
            records.push(Rec::insert(pk).keys(&format!("\"pk\":{},\"sk\":{}", s(pk), s(sk))));
        }
    }
    let p = plan(&records);
    assert_eq!(
        p.items().len(),
        records.len(),
        "two different keys shared an id"
    );
    let mut ids: Vec<&str> = p.items().iter().map(|i| i.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), records.len());
}

#[test]
fn number_keys_use_their_literal_text_and_binary_keys_their_base64() {
    assert_eq!(id_of(&opts(), &format!("\"pk\":{}", n("1.50"))), "1.50");
    assert_eq!(id_of(&opts(), r#""pk":{"B":"AAEqQQ=="}"#), "AAEqQQ==");
    assert_eq!(
        id_of(
            &opts(),
            &format!("\"a\":{},\"b\":{{\"B\":\"AA==\"}}", n("-7"))
        ),
        "-7|AA=="
    );
}

#[test]
fn explicit_key_order_is_followed() {
    let o = Options {
        id_keys: Some(vec!["sk".into(), "pk".into()]),
        ..opts()
    };
    assert_eq!(
        id_of(&o, &format!("\"pk\":{},\"sk\":{}", s("p"), s("s"))),
        "s|p"
    );
}

#[test]
fn explicit_key_missing_from_the_record_is_a_record_error() {
    let o = Options {
        id_keys: Some(vec!["sk".into(), "pk".into()]),
        ..opts()
    };
    let both = format!("\"pk\":{},\"sk\":{}", s("p"), s("s"));
    let p = plan_with(
        &o,
        &[
            Rec::insert("a").keys(&both),
            Rec::insert("b"),
            Rec::insert("c").keys(&both),
        ],
    );
    assert_eq!(error_of(&p, 1).kind(), RecordErrorKind::Id);
    assert!(is_planned(&p, 0) && is_planned(&p, 2));
}

#[test]
fn id_of_exactly_512_bytes_is_kept() {
    let pk = "k".repeat(512);
    assert_eq!(id_of(&opts(), &format!("\"pk\":{}", s(&pk))), pk);
    // Escaping counts: 256 pipes become 512 bytes.
    let pipes = "|".repeat(256);
    assert_eq!(
        id_of(&opts(), &format!("\"pk\":{}", s(&pipes))),
        "\\|".repeat(256)
    );
}

#[test]
fn id_over_512_bytes_is_hashed_deterministically_with_a_readable_prefix() {
    for long in [
        "k".repeat(513),
        "é".repeat(400),
        "|".repeat(257),
        "x".repeat(100_000),
    ] {
        let keys = format!("\"pk\":{}", s(&long));
        let a = id_of(&opts(), &keys);
        let b = id_of(&opts(), &keys);
        assert_eq!(a, b, "deterministic");
        let original = long.replace('\\', "\\\\").replace('|', "\\|");
        check_hashed_id(&a, &original).unwrap();
    }
}

#[test]
fn long_ids_that_share_a_prefix_get_different_hashes() {
    let base = "p".repeat(600);
    let a = id_of(&opts(), &format!("\"pk\":{}", s(&format!("{base}a"))));
    let b = id_of(&opts(), &format!("\"pk\":{}", s(&format!("{base}b"))));
    let c = id_of(&opts(), &format!("\"pk\":{},\"sk\":{}", s(&base), s("a")));
    assert_ne!(a, b);
    assert_ne!(a, c);
    assert_ne!(b, c);
}

#[test]
fn long_id_cannot_collide_with_a_short_one_written_to_look_hashed() {
    let long = "q".repeat(600);
    let hashed = id_of(&opts(), &format!("\"pk\":{}", s(&long)));
    // A key whose text is the hashed id itself gets an escaped (different) id, or the same text
    // only if that text has no characters to escape; in that case the two must still differ.
    let mimic = id_of(&opts(), &format!("\"pk\":{}", s(&hashed)));
    assert_ne!(
        mimic, hashed,
        "key text equal to a hashed id produced the same _id"
    );
}

#[test]
fn long_ids_fail_the_record_under_the_reject_policy() {
    let o = Options {
        long_ids_reject: true,
        ..opts()
    };
    let long = format!("\"pk\":{}", s(&"k".repeat(513)));
    let p = plan_with(
        &o,
        &[
            Rec::insert("a"),
            Rec::insert("b").keys(&long),
            Rec::insert("c"),
        ],
    );
    assert_eq!(error_of(&p, 1).kind(), RecordErrorKind::Id);
    assert!(is_planned(&p, 0) && is_planned(&p, 2));
}

// ---------------------------------------------------------------------------------------------
// 4. Actions

#[test]
fn insert_and_modify_index_the_new_image_and_remove_deletes() {
    let p = plan(&[Rec::insert("a"), Rec::modify("b"), Rec::remove("c")]);
    let actions: Vec<Action> = p.items().iter().map(|i| i.action).collect();
    assert_eq!(actions, [Action::Index, Action::Index, Action::Delete]);
    let lines = ndjson_lines(&harness::encode_all(&p)).unwrap();
    assert_eq!(lines.len(), 5, "two documents and three action lines");
}

#[test]
fn ttl_deletes_are_deleted_by_default() {
    let p = plan(&[Rec::remove("k").ttl()]);
    assert_eq!(p.items()[0].action, Action::Delete);
}

#[test]
fn ttl_deletes_are_skipped_under_the_skip_policy() {
    let o = Options {
        ttl_skip: true,
        ..opts()
    };
    let p = plan_with(
        &o,
        &[
            Rec::insert("a"),
            Rec::remove("k").ttl(),
            Rec::remove("user-delete"),
        ],
    );
    assert!(
        matches!(
            p.records()[1].status,
            RecordStatus::Skipped(SkipReason::Ttl)
        ),
        "{:?}",
        p.records()[1].status
    );
    assert_eq!(p.items().len(), 2);
    assert!(p.items().iter().all(|i| !i.records.contains(&1)));
    assert_eq!(
        p.items()[item_of(&p, 2)].action,
        Action::Delete,
        "a user's delete is still sent"
    );
}

#[test]
fn only_the_dynamodb_service_counts_as_ttl() {
    let o = Options {
        ttl_skip: true,
        ..opts()
    };
    for who in [
        r#"{"type":"Service","principalId":"someone.amazonaws.com"}"#,
        r#"{"type":"User","principalId":"dynamodb.amazonaws.com"}"#,
        r#"{"principalId":"dynamodb.amazonaws.com"}"#,
        r#"null"#,
    ] {
        let p = plan_with(&o, &[Rec::remove("k").by(who)]);
        assert_eq!(
            p.items().len(),
            1,
            "{who} is not TTL: the delete must be sent"
        );
    }
}

#[test]
fn ttl_identity_on_an_insert_does_not_skip_it() {
    let o = Options {
        ttl_skip: true,
        ..opts()
    };
    let p = plan_with(&o, &[Rec::insert("k").ttl()]);
    assert_eq!(p.items()[0].action, Action::Index);
}

#[test]
fn insert_without_new_image_names_the_view_type_and_the_fix() {
    for view in ["KEYS_ONLY", "OLD_IMAGE"] {
        for name in ["INSERT", "MODIFY"] {
            let bad = Rec::insert("k").named(name).no_new_image().view(view);
            let p = sandwich(bad);
            let e = error_of(&p, 1);
            assert_eq!(e.kind(), RecordErrorKind::MissingImage);
            let msg = e.to_string();
            assert!(
                msg.contains(view),
                "message names the view type {view}: {msg}"
            );
            assert!(
                msg.contains("NEW_IMAGE") || msg.contains("NEW_AND_OLD_IMAGES"),
                "and the fix: {msg}"
            );
            assert!(is_planned(&p, 0) && is_planned(&p, 2));
        }
    }
}

#[test]
fn remove_needs_only_keys() {
    let r = Rec::remove("k").view("KEYS_ONLY");
    let r = Rec {
        old_image: None,
        ..r
    };
    assert_eq!(plan(&[r]).items()[0].action, Action::Delete);
}

fn templated(template: &str, prefix: Option<&str>) -> Options {
    Options {
        index: template.into(),
        index_prefix: prefix.map(str::to_string),
        ..opts()
    }
}

fn with_tenant(rec: Rec, tenant: &str) -> Rec {
    let keys = format!("\"pk\":{},\"tenant\":{}", s("k"), s(tenant));
    let r = rec.keys(&keys);
    match r.name.as_str() {
        "REMOVE" => Rec {
            old_image: Some(keys),
            ..r
        },
        _ => r.image(&keys),
    }
}

#[test]
fn templated_index_name_is_built_from_record_attributes() {
    let o = templated("orders-{tenant}", None);
    let p = plan_with(
        &o,
        &[
            with_tenant(Rec::insert("k"), "acme"),
            with_tenant(Rec::remove("k"), "beta"),
        ],
    );
    assert_eq!(p.items()[item_of(&p, 0)].index, "orders-acme");
    assert_eq!(p.items()[item_of(&p, 1)].index, "orders-beta");
}

#[test]
fn templated_index_name_cannot_be_steered_to_another_index() {
    let o = templated("orders-{tenant}", None);
    for evil in [
        "x,customers",
        "x/../customers",
        "*",
        "x*",
        "a b",
        "a#b",
        "a:b",
        "a\"b",
        "a\\b",
        "a|b",
        "a?b",
        "a<b",
        "a>b",
        "É",
        "ǅ",
        "İ",
        "Ω",
        "",
        &"x".repeat(300),
    ] {
        let p = plan_with(
            &o,
            &[
                with_tenant(Rec::insert("k"), evil),
                with_tenant(Rec::insert("k2"), "fine"),
            ],
        );
        match &p.records()[0].status {
            RecordStatus::Invalid(e) => {
                assert_eq!(e.kind(), RecordErrorKind::Index, "{evil:?}: {e}")
            }
            RecordStatus::Planned => {
                let index = &p.items()[item_of(&p, 0)].index;
                assert!(
                    index.starts_with("orders-"),
                    "{evil:?} steered to {index:?}"
                );
                assert!(
                    reference::is_valid_index_name(index),
                    "{evil:?} made the invalid name {index:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(is_planned(&p, 1));
    }
}

#[test]
fn templated_index_name_must_stay_under_the_allowed_prefix() {
    let o = templated("{tenant}", Some("orders-"));
    let p = plan_with(
        &o,
        &[
            with_tenant(Rec::insert("k"), "customers"),
            with_tenant(Rec::insert("k"), "orders-eu"),
        ],
    );
    assert_eq!(error_of(&p, 0).kind(), RecordErrorKind::Index);
    assert_eq!(p.items()[item_of(&p, 1)].index, "orders-eu");
}

#[test]
fn templated_index_name_is_lower_cased() {
    // `Config::index`: values filled into a template are lower-cased (OpenSearch refuses
    // upper-case index names, tests/fixtures/opensearch/invalid_index_name.json); the id keeps
    // the value as it is.
    let o = templated("orders-{tenant}", None);
    let records = [with_tenant(Rec::insert("k"), "ACME")];
    let p = plan_with(&o, &records);
    assert!(is_planned(&p, 0), "{:?}", p.records()[0].status);
    assert_eq!(p.items()[item_of(&p, 0)].index, "orders-acme");
    assert_eq!(p.items()[item_of(&p, 0)].id, "k|ACME");
    harness::check_event(&event(&records), &o, None).unwrap();
}

#[test]
fn templated_index_attribute_missing_is_a_record_error() {
    let o = templated("orders-{tenant}", None);
    let p = plan_with(
        &o,
        &[Rec::insert("k"), with_tenant(Rec::insert("k"), "acme")],
    );
    assert_only_these_fail(&p, &[0], RecordErrorKind::Index);
}

#[test]
fn same_id_in_different_indices_are_different_items() {
    let o = templated("orders-{tenant}", None);
    let p = plan_with(
        &o,
        &[
            with_tenant(Rec::insert("k"), "a"),
            with_tenant(Rec::insert("k"), "b"),
        ],
    );
    assert_eq!(p.items().len(), 2);
}

#[test]
fn routing_comes_from_a_key_attribute_for_index_and_delete() {
    let o = Options {
        routing: Some("tenant".into()),
        ..opts()
    };
    let p = plan_with(
        &o,
        &[
            with_tenant(Rec::insert("a"), "t1"),
            with_tenant(Rec::remove("a"), "t2"),
        ],
    );
    assert_eq!(p.items()[item_of(&p, 0)].routing.as_deref(), Some("t1"));
    assert_eq!(p.items()[item_of(&p, 1)].routing.as_deref(), Some("t2"));
    let lines = ndjson_lines(&harness::encode_all(&p)).unwrap();
    assert_eq!(
        lines[0].get("index").unwrap().get("routing"),
        Some(&Json::String("t1".into()))
    );
    assert_eq!(
        lines[2].get("delete").unwrap().get("routing"),
        Some(&Json::String("t2".into()))
    );
    harness::check_event(
        &event(&[
            with_tenant(Rec::insert("a"), "t1"),
            with_tenant(Rec::remove("a"), "t2"),
        ]),
        &o,
        None,
    )
    .unwrap();
}

#[test]
fn a_delete_is_never_sent_without_its_routing() {
    // Routing from a non-key attribute: the index gets it from NewImage. A delete sent without it
    // would go to the wrong shard, find nothing (404, "already gone") and leave the document in
    // place, so it must carry the OldImage value or fail as a record error.
    let o = Options {
        routing: Some("tenant".into()),
        ..opts()
    };
    let ins = Rec::insert("a").attr("tenant", &s("t1"));
    let rem = Rec {
        old_image: Some(format!("\"pk\":{},\"tenant\":{}", s("b"), s("t2"))),
        ..Rec::remove("b")
    };
    let keys_only = Rec {
        old_image: None,
        ..Rec::remove("c").view("KEYS_ONLY")
    };
    let records = [ins, rem, keys_only];
    let p = plan_with(&o, &records);
    // The insert and the delete with an OldImage carry their routing; the KEYS_ONLY delete has
    // no image to read it from and is a routing error, never a delete without routing.
    assert_only_these_fail(&p, &[2], RecordErrorKind::Routing);
    assert_eq!(p.items()[item_of(&p, 0)].routing.as_deref(), Some("t1"));
    let delete = &p.items()[item_of(&p, 1)];
    assert_eq!(delete.action, Action::Delete);
    assert_eq!(delete.routing.as_deref(), Some("t2"));
    assert_eq!(p.items().len(), 2, "{:?}", p.items());
    harness::check_event(&event(&records), &o, None).unwrap();
}

#[test]
fn routing_attribute_missing_is_a_record_error() {
    let o = Options {
        routing: Some("tenant".into()),
        ..opts()
    };
    let p = plan_with(&o, &[Rec::insert("a"), with_tenant(Rec::insert("b"), "t")]);
    assert_eq!(error_of(&p, 0).kind(), RecordErrorKind::Routing);
    assert!(is_planned(&p, 1));
}

// ---------------------------------------------------------------------------------------------
// 5. No stale writes: dedup within a batch, superseded outcomes follow the sent item

#[test]
fn only_the_last_action_per_id_is_sent() {
    let p = plan(&[
        Rec::insert("k").attr("v", &n("1")),
        Rec::insert("other"),
        Rec::modify("k").attr("v", &n("2")).at("1700000001"),
        Rec::remove("k").at("1700000002"),
        Rec::insert("k").attr("v", &n("3")).at("1700000003"),
    ]);
    assert_eq!(p.items().len(), 2);
    let k = &p.items()[item_of(&p, 0)];
    assert_eq!(
        k.records,
        vec![0, 2, 3, 4],
        "every record of k is decided by the one item"
    );
    assert_eq!(k.action, Action::Index);
    assert_eq!(k.version, Some(1_700_000_003_000_000));
    assert_number(field(&doc_of(&p, 0), "v"), "3");
}

#[test]
fn a_later_delete_supersedes_an_insert_and_a_later_insert_supersedes_a_delete() {
    let p = plan(&[
        Rec::insert("a"),
        Rec::remove("a"),
        Rec::remove("b"),
        Rec::insert("b"),
    ]);
    assert_eq!(p.items()[item_of(&p, 0)].action, Action::Delete);
    assert_eq!(p.items()[item_of(&p, 2)].action, Action::Index);
    assert_eq!(p.items().len(), 2);
}

#[test]
fn invalid_and_skipped_records_do_not_supersede() {
    let o = Options {
        ttl_skip: true,
        ..opts()
    };
    let p = plan_with(
        &o,
        &[
            Rec::insert("k").attr("v", &n("1")),
            Rec::modify("k").attr("v", &n("NaN")),
            Rec::remove("k").ttl(),
        ],
    );
    assert_eq!(p.items().len(), 1);
    assert_eq!(p.items()[0].records, vec![0]);
    assert_eq!(p.items()[0].action, Action::Index);
}

#[test]
fn superseded_records_follow_the_outcome_of_the_sent_item() {
    let p = plan(&[
        Rec::insert("k"),
        Rec::insert("x"),
        Rec::modify("k"),
        Rec::insert("bad").named("BAD"),
    ]);
    let k = item_of(&p, 0);
    let x = item_of(&p, 1);
    let finals_for = |kf: RecordOutcome, xf: RecordOutcome| {
        let mut f = vec![RecordOutcome::Applied(Applied::Indexed); p.items().len()];
        f[k] = kf;
        f[x] = xf;
        f
    };
    let results = p.resolve(&finals_for(
        RecordOutcome::Applied(Applied::Stale),
        RecordOutcome::Applied(Applied::Indexed),
    ));
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].outcome, RecordOutcome::Applied(Applied::Stale));
    assert_eq!(results[2].outcome, RecordOutcome::Applied(Applied::Stale));
    assert_eq!(results[1].outcome, RecordOutcome::Applied(Applied::Indexed));
    assert!(matches!(results[3].outcome, RecordOutcome::Invalid(_)));

    let nd = RecordOutcome::NotDurable {
        reason: "timeout".into(),
    };
    let results = p.resolve(&finals_for(nd, RecordOutcome::Applied(Applied::Indexed)));
    assert!(!results[0].outcome.is_durable() && !results[2].outcome.is_durable());
    assert!(results[1].outcome.is_durable());

    let rejected = RecordOutcome::Rejected {
        status: 400,
        reason: "mapper_parsing_exception".into(),
    };
    let results = p.resolve(&finals_for(
        rejected,
        RecordOutcome::Applied(Applied::Indexed),
    ));
    assert!(matches!(
        results[0].outcome,
        RecordOutcome::Rejected { status: 400, .. }
    ));
    assert!(matches!(
        results[2].outcome,
        RecordOutcome::Rejected { status: 400, .. }
    ));

    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.position, i);
        assert_eq!(
            r.sequence_number.as_ref().map(|s| s.as_str().to_string()),
            Some((100 + i).to_string())
        );
    }
}

#[test]
fn skipped_records_resolve_as_skipped_and_durable() {
    let o = Options {
        ttl_skip: true,
        ..opts()
    };
    let p = plan_with(&o, &[Rec::remove("k").ttl()]);
    let results = p.resolve(&[]);
    assert_eq!(results[0].outcome, RecordOutcome::Skipped(SkipReason::Ttl));
    assert!(results[0].outcome.is_durable());
}

#[test]
fn a_missing_final_leaves_its_records_not_durable() {
    let p = plan(&[Rec::insert("a"), Rec::insert("b")]);
    let results = p.resolve(&[RecordOutcome::Applied(Applied::Indexed)]);
    assert!(results[0].outcome.is_durable());
    assert!(!results[1].outcome.is_durable());
}

// ---------------------------------------------------------------------------------------------
// 6. Bulk encoding and chunks

fn many(count: usize, attr_bytes: usize) -> Vec<Rec> {
    (0..count)
        .map(|i| Rec::insert(&format!("k{i}")).attr("v", &s(&"x".repeat(attr_bytes))))
        .collect()
}

fn encoded_len(p: &Plan, range: std::ops::Range<usize>) -> usize {
    let mut out = Vec::new();
    p.encode(&range.collect::<Vec<_>>(), &mut out);
    out.len()
}

/// Chunks are non-empty, contiguous, in order, cover every item, and respect both limits (a
/// single oversized item may exceed the byte limit, alone).
fn assert_chunks_ok(p: &Plan, max_bytes: usize, max_actions: usize) {
    let chunks = p.chunks();
    let mut next = 0;
    for c in &chunks {
        assert_eq!(
            c.start, next,
            "chunks are contiguous and in order: {chunks:?}"
        );
        assert!(!c.is_empty(), "no empty chunk: {chunks:?}");
        assert!(
            c.len() <= max_actions,
            "{c:?} has more than {max_actions} actions"
        );
        let bytes = encoded_len(p, c.clone());
        assert!(
            bytes <= max_bytes || c.len() == 1,
            "{c:?} has {bytes} bytes > {max_bytes}"
        );
        next = c.end;
    }
    assert_eq!(next, p.items().len(), "chunks cover every item");
}

#[test]
fn chunks_respect_the_action_limit() {
    let p = plan(&many(2500, 1));
    assert_chunks_ok(&p, 5 * 1024 * 1024, 1000);
    let sizes: Vec<usize> = p.chunks().iter().map(|c| c.len()).collect();
    assert_eq!(sizes, [1000, 1000, 500]);
}

#[test]
fn chunks_respect_the_byte_limit() {
    let o = Options {
        max_chunk_bytes: 4096,
        max_chunk_actions: 1000,
        ..opts()
    };
    let p = plan_with(&o, &many(100, 300));
    assert_chunks_ok(&p, 4096, 1000);
    assert!(p.chunks().len() > 5);
    // Greedy enough: no two neighbouring chunks would fit together.
    for w in p.chunks().windows(2) {
        assert!(
            encoded_len(&p, w[0].start..w[1].end) > 4096,
            "{:?} and {:?} fit in one",
            w[0],
            w[1]
        );
    }
}

#[test]
fn oversized_document_goes_alone() {
    let o = Options {
        max_chunk_bytes: 2048,
        ..opts()
    };
    let mut recs = many(10, 50);
    recs.insert(5, Rec::insert("huge").attr("v", &s(&"h".repeat(10_000))));
    let p = plan_with(&o, &recs);
    assert_chunks_ok(&p, 2048, 1000);
    let huge = item_of(&p, 5);
    let alone = p.chunks().into_iter().find(|c| c.contains(&huge)).unwrap();
    assert_eq!(alone, huge..huge + 1);
}

#[test]
fn every_ndjson_line_ends_with_a_newline() {
    let p = plan(&[
        Rec::insert("a"),
        Rec::remove("b"),
        Rec::insert("c").attr("t", &s("line\nbreak")),
    ]);
    let out = harness::encode_all(&p);
    assert!(out.ends_with(b"\n"));
    let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
    assert_eq!(lines.len(), 6, "5 lines and nothing after the last newline");
    assert!(lines[5].is_empty());
    for line in &lines[..5] {
        json::parse_bytes(line).unwrap();
    }
}

#[test]
fn any_subset_of_items_encodes_in_the_order_asked() {
    let p = plan(&[Rec::insert("a"), Rec::remove("b"), Rec::insert("c")]);
    let one = |i: usize| {
        let mut out = Vec::new();
        p.encode(&[i], &mut out);
        out
    };
    let mut picked = Vec::new();
    p.encode(&[2, 0], &mut picked);
    assert_eq!(picked, [one(2), one(0)].concat());
    let mut all = Vec::new();
    p.encode(&[0, 1, 2], &mut all);
    assert_eq!(all, [one(0), one(1), one(2)].concat());
    // encode appends.
    let mut buf = b"keep".to_vec();
    p.encode(&[1], &mut buf);
    assert_eq!(buf, [b"keep".to_vec(), one(1)].concat());
}

#[test]
fn action_line_i_belongs_to_item_i() {
    let p = plan(&[
        Rec::insert("a"),
        Rec::remove("b"),
        Rec::insert("c"),
        Rec::insert("a"),
    ]);
    for (i, item) in p.items().iter().enumerate() {
        let mut out = Vec::new();
        p.encode(&[i], &mut out);
        let line = &ndjson_lines(&out).unwrap()[0];
        let verb = if item.action == Action::Index {
            "index"
        } else {
            "delete"
        };
        let meta = line
            .get(verb)
            .unwrap_or_else(|| panic!("item {i}: {line:?}"));
        assert_eq!(meta.get("_id"), Some(&Json::String(item.id.clone())));
        assert_eq!(meta.get("_index"), Some(&Json::String(item.index.clone())));
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Outcome classification: hand-written bodies for what a healthy single node cannot be made
//    to answer (every recorded OpenSearch response is classified in tests/outcomes.rs)

/// One response item: the action name, its status and its error type (empty: none).
type ItemSpec = (&'static str, u16, &'static str);

/// Whether an outcome is the one a rule expects.
type IsExpected = fn(&ItemOutcome) -> bool;

fn body_of(items: &[ItemSpec]) -> Vec<u8> {
    let parts: Vec<String> = items
        .iter()
        .map(|(verb, status, error)| {
            // Successful items carry `result` as OpenSearch writes it; failed ones an error.
            let err = match (*status, error.is_empty()) {
                (200..=299, _) if *verb == "delete" => ",\"result\":\"deleted\"".to_string(),
                (200..=299, _) => ",\"result\":\"created\"".to_string(),
                (404, true) => ",\"result\":\"not_found\"".to_string(),
                (_, true) => String::new(),
                _ => format!(",\"error\":{{\"type\":\"{error}\",\"reason\":\"r\"}}"),
            };
            format!("{{\"{verb}\":{{\"_index\":\"i\",\"_id\":\"x\",\"status\":{status}{err}}}}}")
        })
        .collect();
    format!(
        "{{\"took\":1,\"errors\":true,\"items\":[{}]}}",
        parts.join(",")
    )
    .into_bytes()
}

#[test]
fn item_rules_for_hand_written_bodies() {
    use Action::{Delete, Index};
    let cases: &[(ItemSpec, Action, IsExpected)] = &[
        (("index", 201, ""), Index, |o| {
            *o == ItemOutcome::Applied(Applied::Indexed)
        }),
        (("index", 200, ""), Index, |o| {
            *o == ItemOutcome::Applied(Applied::Indexed)
        }),
        (("delete", 200, ""), Delete, |o| {
            *o == ItemOutcome::Applied(Applied::Deleted)
        }),
        (("delete", 404, ""), Delete, |o| {
            *o == ItemOutcome::Applied(Applied::AlreadyGone)
        }),
        (
            ("index", 409, "version_conflict_engine_exception"),
            Index,
            |o| *o == ItemOutcome::Applied(Applied::Stale),
        ),
        (
            ("delete", 409, "version_conflict_engine_exception"),
            Delete,
            |o| *o == ItemOutcome::Applied(Applied::Stale),
        ),
        (
            ("index", 429, "es_rejected_execution_exception"),
            Index,
            |o| matches!(o, ItemOutcome::Retryable { .. }),
        ),
        (("index", 429, "circuit_breaking_exception"), Index, |o| {
            matches!(o, ItemOutcome::Retryable { .. })
        }),
        (("index", 503, "circuit_breaking_exception"), Index, |o| {
            matches!(o, ItemOutcome::Retryable { .. })
        }),
        (("index", 500, "internal_server_error"), Index, |o| {
            matches!(o, ItemOutcome::Retryable { status: 500, .. })
        }),
        (("index", 503, "unavailable_shards_exception"), Index, |o| {
            matches!(o, ItemOutcome::Retryable { status: 503, .. })
        }),
        (("index", 400, "mapper_parsing_exception"), Index, |o| {
            matches!(o, ItemOutcome::Rejected { status: 400, .. })
        }),
        (("index", 400, "illegal_argument_exception"), Index, |o| {
            matches!(o, ItemOutcome::Rejected { status: 400, .. })
        }),
    ];
    for (item, action, check) in cases {
        let body = body_of(&[*item]);
        match outcome::classify(200, &body, &[*action]) {
            Response::Items(v) => assert!(v.len() == 1 && check(&v[0]), "{item:?}: {v:?}"),
            other => panic!("{item:?}: {other:?}"),
        }
    }
}

#[test]
fn whole_request_rules_for_hand_written_bodies() {
    let err = br#"{"error":{"type":"x","reason":"y"},"status":0}"#;
    let acts = [Action::Index];
    for status in [429, 502, 503, 504] {
        assert!(
            matches!(
                outcome::classify(status, err, &acts),
                Response::RetryAll { .. }
            ),
            "{status}"
        );
    }
    for status in [401, 403] {
        assert!(
            matches!(
                outcome::classify(status, err, &acts),
                Response::Unauthorized { .. }
            ),
            "{status}"
        );
    }
    for status in [400, 404, 405, 422] {
        assert!(
            matches!(
                outcome::classify(status, err, &acts),
                Response::RejectAll { .. }
            ),
            "{status}"
        );
    }
    assert!(matches!(
        outcome::classify(413, b"", &acts),
        Response::TooLarge
    ));
    for garbage in [
        &b""[..],
        b"<html>bad gateway</html>",
        b"{\"items\":",
        b"\xff",
    ] {
        assert!(
            matches!(
                outcome::classify(200, garbage, &acts),
                Response::RetryAll { .. }
            ),
            "unparsable 200 body {:?}",
            String::from_utf8_lossy(garbage)
        );
    }
}

#[test]
fn item_count_mismatch_is_a_whole_response_error_not_a_guess() {
    let two = body_of(&[("index", 201, ""), ("index", 201, "")]);
    for actions in [
        &[Action::Index][..],
        &[Action::Index, Action::Index, Action::Index][..],
    ] {
        let r = outcome::classify(200, &two, actions);
        assert!(
            !matches!(r, Response::Items(_)),
            "{} actions, 2 items: {r:?}",
            actions.len()
        );
    }
    let none = br#"{"took":1,"errors":false}"#;
    let r = outcome::classify(200, none, &[Action::Index]);
    assert!(!matches!(r, Response::Items(_)), "no items at all: {r:?}");
    // The action in the response must be the one sent.
    let swapped = body_of(&[("index", 201, "")]);
    let r = outcome::classify(200, &swapped, &[Action::Delete]);
    assert!(
        !matches!(r, Response::Items(ref v) if v == &[ItemOutcome::Applied(Applied::Deleted)]),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Checkpoint

fn result(position: usize, seq: Option<&str>, outcome: RecordOutcome) -> RecordResult {
    RecordResult {
        position,
        sequence_number: seq.map(|s| SequenceNumber::parse(s).unwrap()),
        event_id: None,
        outcome,
    }
}

fn not_durable() -> RecordOutcome {
    RecordOutcome::NotDurable {
        reason: "timeout".into(),
    }
}

/// The response as Lambda would read it: serialized by the crate's `serde::Serialize`, read back
/// by our strict reader.
fn response_json(cp: &Checkpoint) -> Option<Json> {
    cp.response()
        .map(|r| json::parse(&serde_json::to_string(&r).unwrap()).unwrap())
}

#[test]
fn all_durable_gives_an_empty_failure_list() {
    let results = [
        result(0, Some("1"), RecordOutcome::Applied(Applied::Indexed)),
        result(1, Some("2"), RecordOutcome::Applied(Applied::Deleted)),
        result(2, Some("3"), RecordOutcome::Applied(Applied::Stale)),
        result(3, Some("4"), RecordOutcome::Applied(Applied::AlreadyGone)),
        result(4, Some("5"), RecordOutcome::Skipped(SkipReason::Ttl)),
    ];
    let cp = checkpoint::checkpoint(&results, |r| r.outcome.is_durable());
    assert_eq!(cp, Checkpoint::Complete);
    assert_eq!(
        response_json(&cp),
        Some(json::parse(r#"{"batchItemFailures":[]}"#).unwrap())
    );
}

#[test]
fn checkpoint_names_the_lowest_non_durable_sequence_number_numerically() {
    let results = [
        result(0, Some("20"), RecordOutcome::Applied(Applied::Indexed)),
        result(1, Some("300"), not_durable()),
        result(2, Some("1000"), not_durable()),
        result(3, Some("4000"), RecordOutcome::Applied(Applied::Indexed)),
    ];
    let cp = checkpoint::checkpoint(&results, |r| r.outcome.is_durable());
    assert_eq!(
        response_json(&cp),
        Some(json::parse(r#"{"batchItemFailures":[{"itemIdentifier":"300"}]}"#).unwrap())
    );
    // Out of order in the batch, numeric order still decides.
    let shuffled = [
        result(0, Some("1000"), not_durable()),
        result(1, Some("300"), not_durable()),
        result(2, Some("99"), RecordOutcome::Applied(Applied::Indexed)),
    ];
    let cp = checkpoint::checkpoint(&shuffled, |r| r.outcome.is_durable());
    assert_eq!(
        cp,
        Checkpoint::ResumeFrom(SequenceNumber::parse("300").unwrap())
    );
}

#[test]
fn checkpoint_orders_40_digit_sequence_numbers() {
    let a = "9999999999999999999999999999999999999999";
    let b = "10000000000000000000000000000000000000000";
    let results = [
        result(0, Some(b), not_durable()),
        result(1, Some(a), not_durable()),
    ];
    let cp = checkpoint::checkpoint(&results, |r| r.outcome.is_durable());
    assert_eq!(
        cp,
        Checkpoint::ResumeFrom(SequenceNumber::parse(a).unwrap())
    );
}

#[test]
fn checkpoint_never_names_an_empty_identifier() {
    // A record that is not durable and has no SequenceNumber: resume at the SequenceNumber before
    // it (which re-delivers it), or, when none precedes it, fail the whole batch.
    let five = SequenceNumber::parse("5").unwrap();
    for (results, want, response) in [
        (
            vec![result(0, None, not_durable())],
            Checkpoint::RetryBatch { position: 0 },
            None,
        ),
        (
            vec![
                result(0, Some("5"), RecordOutcome::Applied(Applied::Indexed)),
                result(1, None, not_durable()),
            ],
            Checkpoint::ResumeFrom(five),
            Some(r#"{"batchItemFailures":[{"itemIdentifier":"5"}]}"#),
        ),
        (
            vec![
                result(0, None, not_durable()),
                result(1, Some("7"), RecordOutcome::Applied(Applied::Indexed)),
            ],
            Checkpoint::RetryBatch { position: 0 },
            None,
        ),
    ] {
        let cp = checkpoint::checkpoint(&results, |r| r.outcome.is_durable());
        assert_eq!(cp, want, "{results:?}");
        assert_eq!(
            response_json(&cp),
            response.map(|r| json::parse(r).unwrap()),
            "{results:?}"
        );
    }
}

#[test]
fn batch_response_serializes_to_the_lambda_shape() {
    let cp = Checkpoint::ResumeFrom(SequenceNumber::parse("0042").unwrap());
    assert_eq!(
        response_json(&cp),
        Some(json::parse(r#"{"batchItemFailures":[{"itemIdentifier":"0042"}]}"#).unwrap())
    );
}

#[test]
fn checkpoint_with_the_real_plan_end_to_end() {
    let p = plan(&[
        Rec::insert("a").seq("10"),
        Rec::insert("b").seq("11"),
        Rec::insert("c").seq("12"),
        Rec::insert("a").seq("13"),
    ]);
    let mut finals = vec![RecordOutcome::Applied(Applied::Indexed); p.items().len()];
    finals[item_of(&p, 0)] = RecordOutcome::NotDurable {
        reason: "429".into(),
    };
    let results = p.resolve(&finals);
    let cp = checkpoint::checkpoint(&results, |r| r.outcome.is_durable());
    // Record 0 ("10") was superseded by record 3, whose item failed: resume at 10.
    assert_eq!(
        cp,
        Checkpoint::ResumeFrom(SequenceNumber::parse("10").unwrap())
    );
}

// ---------------------------------------------------------------------------------------------
// 9. Backoff

#[test]
fn backoff_delay_stays_within_full_jitter_bounds() {
    let base = Duration::from_millis(50);
    let cap = Duration::from_secs(5);
    let b = Backoff::new(base, cap).unwrap();
    for attempt in [0u32, 1, 2, 3, 5, 7, 10, 20, 31, 32, 63, 64, 1000, u32::MAX] {
        let ceiling = base
            .checked_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
            .unwrap_or(cap)
            .min(cap);
        for r in [0.0, 1e-9, 0.25, 0.5, 0.999_999] {
            let d = b.delay(attempt, r);
            assert!(
                d <= ceiling,
                "attempt {attempt}, random {r}: {d:?} > {ceiling:?}"
            );
            assert!(d <= cap);
        }
        assert_eq!(
            b.delay(attempt, 0.0),
            Duration::ZERO,
            "full jitter reaches zero"
        );
        let high = b.delay(attempt, 0.999_999);
        assert!(
            high >= ceiling.mul_f64(0.99),
            "attempt {attempt}: {high:?} is not near {ceiling:?}"
        );
    }
}

#[test]
fn backoff_grows_until_the_cap() {
    let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2)).unwrap();
    let at = |a| b.delay(a, 0.5);
    assert!(at(0) < at(1) && at(1) < at(2) && at(2) < at(3));
    assert_eq!(at(10), at(11), "capped");
    assert_eq!(at(10), Duration::from_secs(1));
}

#[test]
fn backoff_is_monotonic_in_the_random_draw() {
    let b = Backoff::new(Duration::from_millis(10), Duration::from_secs(1)).unwrap();
    let mut last = Duration::ZERO;
    for i in 0..100 {
        let d = b.delay(4, f64::from(i) / 100.0);
        assert!(d >= last);
        last = d;
    }
}

#[test]
fn backoff_with_out_of_range_randomness_stays_within_the_cap() {
    let b = Backoff::new(Duration::from_millis(10), Duration::from_secs(1)).unwrap();
    for r in [-1.0, 1.0, 2.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(b.delay(3, r) <= Duration::from_millis(80), "{r}");
    }
}

#[test]
fn backoff_base_and_cap_are_checked_when_built() {
    assert!(
        Backoff::new(Duration::ZERO, Duration::from_secs(1)).is_err(),
        "zero base"
    );
    assert!(
        Backoff::new(Duration::from_secs(2), Duration::from_secs(1)).is_err(),
        "cap below base"
    );
    assert!(
        Backoff::new(Duration::from_secs(1), Duration::from_secs(1)).is_ok(),
        "cap equal to base"
    );
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn planner_refuses_configurations_that_cannot_work() {
    for bad in [
        Config {
            max_chunk_actions: 0,
            ..Config::default()
        },
        Config {
            max_chunk_bytes: 0,
            ..Config::default()
        },
        Config {
            index: String::new(),
            ..Config::default()
        },
        Config {
            index: "UPPER".into(),
            ..Config::default()
        },
        Config {
            index: "a,b".into(),
            ..Config::default()
        },
        Config {
            index: "orders-{tenant".into(),
            ..Config::default()
        },
    ] {
        assert!(Planner::new(bad.clone()).is_err(), "{bad:?}");
    }
}

#[test]
fn each_refused_configuration_names_the_one_setting_at_fault() {
    use stream2search::{ReservedNames, Setting};
    let cases: Vec<(Config, Setting, &str)> = vec![
        (
            Config {
                max_chunk_bytes: 0,
                ..Config::default()
            },
            Setting::MaxChunkBytes,
            "max_chunk_bytes must be positive",
        ),
        (
            Config {
                max_chunk_actions: 0,
                ..Config::default()
            },
            Setting::MaxChunkActions,
            "max_chunk_actions must be positive",
        ),
        (
            Config {
                index: "UPPER".into(),
                ..Config::default()
            },
            Setting::Index,
            "lower case",
        ),
        (
            Config {
                index: "{tenant}".into(),
                ..Config::default()
            },
            Setting::Index,
            "starts with a placeholder",
        ),
        (
            // A prefix taken from the template's text is the template's fault.
            Config {
                index: "Orders-{tenant}".into(),
                ..Config::default()
            },
            Setting::Index,
            "lower case",
        ),
        (
            Config {
                index: "orders-{tenant}".into(),
                index_prefix: Some("Orders-".into()),
                ..Config::default()
            },
            Setting::IndexPrefix,
            "lower case",
        ),
        (
            Config {
                index: "orders-{tenant}".into(),
                index_prefix: Some(String::new()),
                ..Config::default()
            },
            Setting::IndexPrefix,
            "must not be empty",
        ),
        (
            Config {
                id_keys: Some(Vec::new()),
                ..Config::default()
            },
            Setting::IdKeys,
            "at least one key",
        ),
        (
            Config {
                reserved: ReservedNames::Rename {
                    prefix: "_x".into(),
                },
                ..Config::default()
            },
            Setting::Reserved,
            "reserved-name prefix",
        ),
        (
            Config {
                indexed_at: Some("_id".into()),
                ..Config::default()
            },
            Setting::IndexedAt,
            "not a usable name",
        ),
        (
            Config {
                numbers_as_strings: vec!["a..b".into()],
                ..Config::default()
            },
            Setting::NumbersAsStrings,
            "empty segment",
        ),
    ];
    for (config, setting, says) in cases {
        let e = Planner::new(config.clone()).unwrap_err();
        assert_eq!(e.setting(), setting, "{config:?}: {e}");
        assert!(e.to_string().contains(says), "{config:?}: {e}");
    }
    let e = Backoff::new(Duration::ZERO, Duration::from_secs(1)).unwrap_err();
    assert_eq!(e.setting(), Setting::BackoffBase, "{e}");
    let e = Backoff::new(Duration::from_secs(2), Duration::from_secs(1)).unwrap_err();
    assert_eq!(e.setting(), Setting::BackoffCap, "{e}");
    assert_eq!(Setting::MaxChunkBytes.name(), "max_chunk_bytes");
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = Config::default();
    assert!(c.versioning);
    assert_eq!(c.max_chunk_bytes, 5 * 1024 * 1024);
    assert_eq!(c.max_chunk_actions, 1000);
    assert_eq!(c.ttl, stream2search::TtlPolicy::Delete);
    assert_eq!(
        c.reserved,
        stream2search::ReservedNames::Rename {
            prefix: "ddb".into()
        }
    );
    assert_eq!(c.long_ids, stream2search::LongIdPolicy::Hash);
}

// ---------------------------------------------------------------------------------------------
// Input that is not quite JSON, and other sharp edges

/// The whole-event error for raw event bytes, which must not be an event.
fn event_error(bytes: &[u8]) -> stream2search::EventError {
    match harness::planner(&opts()).plan(bytes, None) {
        Err(e) => e,
        Ok(p) => panic!(
            "{:?} should be a whole-event error, planned {:?}",
            String::from_utf8_lossy(bytes),
            p.records()
        ),
    }
}

/// An event with `raw` spliced in, unescaped, as an attribute value, an attribute name or a key
/// value.
fn event_with_raw(raw: &str, place: &str) -> Vec<u8> {
    let record = Rec::insert("k").json(0);
    let record = match place {
        "value" => record.replacen(
            "\"NewImage\":{",
            &format!("\"NewImage\":{{\"v\":{{\"S\":\"{raw}\"}},"),
            1,
        ),
        "name" => record.replacen(
            "\"NewImage\":{",
            &format!("\"NewImage\":{{\"{raw}\":{{\"S\":\"v\"}},"),
            1,
        ),
        _ => record.replacen(
            "\"Keys\":{\"pk\":{\"S\":\"k\"}}",
            &format!("\"Keys\":{{\"pk\":{{\"S\":\"{raw}\"}}}}"),
            1,
        ),
    };
    assert!(record.contains(raw), "{place}: {record}");
    format!("{{\"Records\":[{record}]}}").into_bytes()
}

#[test]
fn raw_control_characters_inside_strings_make_the_event_invalid_json() {
    // RFC 8259 forbids them unescaped; copied verbatim, a raw newline would split an NDJSON line
    // and shift every later action onto the wrong item. The event is not JSON, so nothing of it
    // is planned.
    for c in ['\n', '\r', '\u{0}', '\u{1f}', '\t'] {
        for place in ["value", "name", "key"] {
            let text = event_with_raw(&format!("a{c}b"), place);
            match event_error(&text) {
                stream2search::EventError::Syntax { what, .. } => {
                    assert_eq!(what, "control character in string", "{c:?} in {place}")
                }
                other => panic!("{c:?} in {place}: {other}"),
            }
            harness::check_event(&text, &opts(), None).unwrap();
        }
    }
    // Escaped, the same characters are ordinary text and come out escaped.
    let p = plan(&[Rec::insert("k").attr("a\nb", &s("x\u{0}y"))]);
    assert_eq!(
        field(&doc_of(&p, 0), "a\nb"),
        &Json::String("x\u{0}y".into())
    );
    assert_output_is_strict(&p);
}

/// Every NDJSON line the plan encodes is strict JSON (no raw control characters, valid escapes,
/// valid UTF-8), and the line count matches the items.
fn assert_output_is_strict(p: &Plan) {
    let out = harness::encode_all(p);
    let lines = ndjson_lines(&out).unwrap_or_else(|e| panic!("{e}"));
    let docs = p
        .items()
        .iter()
        .filter(|i| i.action == Action::Index)
        .count();
    assert_eq!(lines.len(), p.items().len() + docs);
}

#[test]
fn invalid_escapes_inside_strings_make_the_event_invalid_json() {
    for (bad, what) in [
        (r"a\x41b", "invalid escape in string"),
        (r"a\u12b", "invalid \\u escape"),
        (r"a\u12G4b", "invalid \\u escape"),
        (r"a\'b", "invalid escape in string"),
        (r"a\ab", "invalid escape in string"),
        (r"a\U0041b", "invalid escape in string"),
    ] {
        for place in ["value", "name", "key"] {
            match event_error(&event_with_raw(bad, place)) {
                stream2search::EventError::Syntax { what: got, .. } => {
                    assert_eq!(got, what, "{bad} in {place}")
                }
                other => panic!("{bad} in {place}: {other}"),
            }
        }
    }
    // A backslash just before the closing quote escapes the quote: the string never ends where
    // it should, and the event is not JSON either.
    for place in ["value", "name", "key"] {
        let text = event_with_raw(r"a\", place);
        assert!(
            matches!(event_error(&text), stream2search::EventError::Syntax { .. }),
            "{place}"
        );
        harness::check_event(&text, &opts(), None).unwrap();
    }
}

#[test]
fn invalid_utf8_inside_a_record_makes_the_event_invalid() {
    let at = event(&[Rec::insert("k").attr("v", &s("@@"))])
        .windows(2)
        .position(|w| w == b"@@")
        .unwrap();
    for bytes in [
        &b"\xff"[..],
        b"\xc3",
        b"\xed\xa0\x80",
        b"\xf8\x88\x80\x80\x80",
        b"\xc0\xaf",
    ] {
        let mut text = event(&[Rec::insert("k").attr("v", &s("@@"))]);
        text.splice(at..at + 2, bytes.iter().copied());
        assert_eq!(
            event_error(&text),
            stream2search::EventError::Utf8 { offset: at },
            "{bytes:?}"
        );
        harness::check_event(&text, &opts(), None).unwrap();
    }
}

#[test]
fn escaped_strings_come_out_as_the_same_text() {
    let r = Rec::insert("k")
        .attr(
            "v",
            r#"{"S":"\u00e9\ud83d\ude00\/\"\\\b\f\n\r\t\u0000\u001f\u2028"}"#,
        )
        .image(concat!(
            r#""pk":{"S":"k"},"\u0041\n":{"S":"name escapes"},"#,
            r#""v":{"S":"\u00e9\ud83d\ude00\/\"\\\b\f\n\r\t\u0000\u001f\u2028"}"#
        ));
    let p = plan(std::slice::from_ref(&r));
    let d = doc_of(&p, 0);
    assert_eq!(
        field(&d, "v"),
        &Json::String("é😀/\"\\\u{8}\u{c}\n\r\t\u{0}\u{1f}\u{2028}".into())
    );
    assert_eq!(field(&d, "A\n"), &Json::String("name escapes".into()));
    harness::check_event(&event(&[r]), &opts(), None).unwrap();
}

#[test]
fn json_white_space_of_every_kind_is_accepted() {
    let compact = String::from_utf8(event(&[
        Rec::insert("k").attr("v", r#"{"L":[{"N":"1"},{"S":"x"}]}"#)
    ]))
    .unwrap();
    let spaced = compact
        .replace(':', " \t:\r\n ")
        .replace(',', "\r\n\t,  ")
        .replace('{', "{ \n")
        .replace('[', "[\t");
    // Only between tokens: the replacements above also hit string contents, so compare through
    // the reference rather than with the compact plan.
    harness::check_event(format!(" \n{spaced}\r\n").as_bytes(), &opts(), None).unwrap();
}

#[test]
fn long_runs_of_zeros_in_numbers_keep_the_exact_value() {
    let zeros = "0".repeat(5000);
    for (text, valid) in [
        (format!("{zeros}1"), true),
        (format!("1.{zeros}"), true),
        (format!("-{zeros}.{zeros}1E+{}", 5001 - 3), true),
        (format!("1{zeros}"), false),
        (format!("0.{}1", "0".repeat(129)), true),
        (format!("0.{}1", "0".repeat(130)), false),
        (
            "10000000000000000000000000000000000000000E-40".to_string(),
            true,
        ),
        (
            "123456789012345678901234567890123456780000000E-7".to_string(),
            true,
        ),
        ("1E+0000000000000000000000000125".to_string(), true),
        ("1E+9223372036854775808".to_string(), false),
        ("1E-9223372036854775809".to_string(), false),
        ("1E99999999999999999999999999".to_string(), false),
        (format!("0.{zeros}1E+5000"), true),
    ] {
        let p = plan(&[Rec::insert("k").attr("v", &n(&text))]);
        assert_eq!(
            is_planned(&p, 0),
            valid,
            "{}…: {:?}",
            &text[..text.len().min(40)],
            p.records()[0].status
        );
        assert_eq!(
            reference::number::is_valid_n(&text),
            valid,
            "reference on {}",
            &text[..text.len().min(40)]
        );
        if valid {
            assert_number(field(&doc_of(&p, 0), "v"), &text);
        } else {
            assert_eq!(error_of(&p, 0).kind(), RecordErrorKind::Number);
        }
    }
}

#[test]
fn zero_with_any_exponent_is_zero() {
    for text in ["0e999", "0E-999", "-0.000e+130", "00000.00000"] {
        // DynamoDB's range (1E-130 to 9.99E+125) bounds non-zero magnitudes only.
        let p = plan(&[Rec::insert("k").attr("v", &n(text))]);
        assert!(is_planned(&p, 0), "{text}: {:?}", p.records()[0].status);
        assert_number(field(&doc_of(&p, 0), "v"), "0");
        assert!(reference::number::is_valid_n(text), "reference on {text}");
    }
}

#[test]
fn timestamp_beyond_the_version_range_is_a_record_error_not_a_wrapped_version() {
    for ts in [
        "1e30",
        "18446744073709551616",
        "1.8446744073709551616E19",
        "-5",
        "-1700000000",
        // Exponents past i64: saturated, neither wrapped nor looped over (found by fuzzing).
        "1e99999999999999999999999",
        "176722999999999999999999994e772999999999999999919",
        "\"1E9223372036854775807\"",
    ] {
        let p = sandwich(Rec::insert("k").at(ts));
        assert!(is_planned(&p, 0) && is_planned(&p, 2));
        match &p.records()[1].status {
            RecordStatus::Invalid(e) => {
                assert_eq!(e.kind(), RecordErrorKind::Timestamp, "{ts}: {e}")
            }
            other => panic!(
                "{ts}: {other:?}, version {:?}",
                p.items()[item_of(&p, 1)].version
            ),
        }
    }
}

#[test]
fn timestamp_that_is_a_numeric_string_is_read_exactly() {
    // The crate reads a string that spells a number as that number (`event::read_micros`),
    // which is lenient and harmless; the reference is stricter here, so this is pinned by hand.
    for (ts, want) in [
        ("\"1700000000\"", 1_700_000_000_000_000u64),
        ("\"1.7E9\"", 1_700_000_000_000_000),
        ("\"1700000000.9\"", 1_700_000_000_900_000),
        ("\"1700000000900\"", 1_700_000_000_900_000),
    ] {
        let p = sandwich(Rec::insert("k").at(ts));
        assert_only_these_fail(&p, &[], RecordErrorKind::Timestamp);
        assert_eq!(p.items()[item_of(&p, 1)].version, Some(want), "{ts}");
    }
}

#[test]
fn timestamp_that_is_not_a_number_is_a_record_error() {
    // Never planned, least of all silently without a version.
    for ts in ["true", "{}", "[1700000000]", "\"soon\"", "\"\""] {
        let p = sandwich(Rec::insert("k").at(ts));
        assert_only_these_fail(&p, &[1], RecordErrorKind::Timestamp);
        harness::check_event(&event(&[Rec::insert("k").at(ts)]), &opts(), None).unwrap();
    }
}

#[test]
fn attributes_that_would_break_the_index_are_renamed() {
    // Accepted once by OpenSearch 2.19, then every later write to that index fails for good
    // (tests/fixtures/opensearch/metadata_field_poison.json): "the core must never send these
    // names at the top level of a document".
    for name in ["_primary_term", "_tombstone", "__soft_deletes"] {
        let d = doc_of(&plan(&[Rec::insert("k").attr(name, &s("x"))]), 0);
        assert!(d.get(name).is_none(), "{name} reached the document: {d:?}");
        assert_eq!(
            field(&d, &format!("ddb{name}")),
            &Json::String("x".into()),
            "{name}"
        );
    }
}

#[test]
fn key_values_must_be_scalar_s_n_or_b() {
    use RecordErrorKind::{Base64, Id, Number, Shape, TypeTag};
    for (keys, kind) in [
        (r#""pk":{"M":{}}"#, TypeTag),
        (r#""pk":{"L":[]}"#, TypeTag),
        (r#""pk":{"BOOL":true}"#, TypeTag),
        (r#""pk":{"NULL":true}"#, TypeTag),
        (r#""pk":{"SS":["a"]}"#, TypeTag),
        (r#""pk":{"N":"1e999"}"#, Number),
        (r#""pk":{"N":"abc"}"#, Number),
        (r#""pk":{"B":"!!"}"#, Base64),
        (r#""pk":{"s":"a"}"#, TypeTag),
        ("", Id),
    ] {
        let p = sandwich(Rec::insert("k").keys(keys));
        assert_only_these_fail(&p, &[1], kind);
    }
    let no_keys = Rec::raw(
        r#"{"eventName":"INSERT","dynamodb":{"NewImage":{"pk":{"S":"k"}},"SequenceNumber":"7"}}"#,
    );
    assert_only_these_fail(&sandwich(no_keys), &[1], Shape);
}

#[test]
fn indexed_at_never_duplicates_an_attribute_of_the_same_name() {
    // Two members with one name: OpenSearch refuses the document ("Duplicate field").
    let o = Options {
        indexed_at: Some("updated".into()),
        ..opts()
    };
    let bytes = event(&[Rec::insert("k").attr("updated", &s("from dynamodb"))]);
    let p = harness::planner(&o)
        .plan(&bytes, Some("2026-11-26T00:00:00Z"))
        .unwrap();
    // Neither value may win silently: the record is refused, naming the attribute.
    let e = error_of(&p, 0);
    assert_eq!(e.kind(), RecordErrorKind::ReservedName, "{e}");
    assert!(e.to_string().contains("`updated`"), "{e}");
    assert!(p.items().is_empty());
    // Without an indexed-at value there is no field to collide with.
    let p = harness::planner(&o).plan(&bytes, None).unwrap();
    assert_doc(&doc_of(&p, 0), r#"{"pk":"k","updated":"from dynamodb"}"#);
}

/// With `indexed_at = "ddb_id"` an attribute `_id` is renamed onto the same name: the document
/// must not carry `ddb_id` twice, which OpenSearch refuses ("Duplicate field").
#[test]
fn renamed_reserved_name_never_duplicates_the_indexed_at_field() {
    let o = Options {
        indexed_at: Some("ddb_id".into()),
        ..opts()
    };
    let bytes = event(&[Rec::insert("k").attr("_id", &s("x"))]);
    let planner = Planner::new(harness::config(&o)).expect("`ddb_id` is a valid field name");
    let p = planner.plan(&bytes, Some("2026-11-26T00:00:00Z")).unwrap();
    let e = error_of(&p, 0);
    assert_eq!(e.kind(), RecordErrorKind::ReservedName, "{e}");
    assert!(e.to_string().contains("`ddb_id`"), "{e}");
    assert!(p.items().is_empty());
    // A record without `_id` gets the field once.
    let p = planner
        .plan(&event(&[Rec::insert("k")]), Some("2026-11-26T00:00:00Z"))
        .unwrap();
    assert_doc(
        &doc_of(&p, 0),
        r#"{"pk":"k","ddb_id":"2026-11-26T00:00:00Z"}"#,
    );
}

#[test]
fn deeply_nested_json_in_members_that_are_not_converted_is_no_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_obj = format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    for (place, value) in [
        ("extra", &deep),
        ("extra", &deep_obj),
        ("userIdentity", &deep),
    ] {
        let rec = Rec::insert("k")
            .json(1)
            .replacen('{', &format!("{{\"{place}\":{value},"), 1);
        let bytes = format!(
            "{{\"Records\":[{},{rec},{}]}}",
            Rec::insert("a").json(0),
            Rec::insert("b").json(2)
        );
        let p = harness::planner(&opts())
            .plan(bytes.as_bytes(), None)
            .expect("balanced JSON is an event");
        // Members the conversion does not read are skipped, however deep.
        assert_only_these_fail(&p, &[], RecordErrorKind::Depth);
    }
    // Deep in an OldImage of an INSERT, which is not converted.
    let old = format!("\"x\":{}", nest(10_000, "L", &s("leaf")));
    let ins = Rec {
        old_image: Some(old),
        ..Rec::insert("k")
    };
    let p = plan(&[Rec::insert("a"), ins, Rec::insert("b")]);
    assert_only_these_fail(&p, &[], RecordErrorKind::Depth);
    // Deep in Keys: a key value must be S, N or B.
    let p = sandwich(Rec::insert("k").keys(&format!("\"pk\":{}", nest(10_000, "M", &s("x")))));
    assert_only_these_fail(&p, &[1], RecordErrorKind::TypeTag);
}

#[test]
fn chunk_limits_of_one_put_every_action_alone() {
    for o in [
        Options {
            max_chunk_actions: 1,
            ..opts()
        },
        Options {
            max_chunk_bytes: 1,
            ..opts()
        },
    ] {
        let p = plan_with(&o, &many(5, 10));
        let chunks = p.chunks();
        assert_eq!(chunks, (0..5).map(|i| i..i + 1).collect::<Vec<_>>());
    }
}

#[test]
fn number_paths_reach_through_lists_of_maps() {
    let o = Options {
        numbers_as_strings: vec!["rows.price".into()],
        ..opts()
    };
    let r = Rec::insert("k").attr(
        "rows",
        r#"{"L":[{"M":{"price":{"N":"1"},"qty":{"N":"2"}}},{"M":{"price":{"NS":["3"]}}}]}"#,
    );
    let d = doc_of(&plan_with(&o, std::slice::from_ref(&r)), 0);
    assert_doc(
        &d,
        r#"{"pk":"k","rows":[{"price":"1","qty":2},{"price":["3"]}]}"#,
    );
    harness::check_event(&event(&[r]), &o, None).unwrap();
}

#[test]
fn timestamps_from_1e11_on_are_milliseconds_and_from_1e14_on_microseconds() {
    for (ts, want) in [
        ("99999999999", 99_999_999_999_000_000u64),
        ("99999999999.999", 99_999_999_999_999_000),
        ("100000000000", 100_000_000_000_000),
        ("1E11", 100_000_000_000_000),
        ("100000000999.5", 100_000_000_999_500),
        ("99999999999999", 99_999_999_999_999_000),
        ("99999999999999.9999", 99_999_999_999_999_999),
        ("100000000000000", 100_000_000_000_000),
        ("1E14", 100_000_000_000_000),
        ("100000000000000.9", 100_000_000_000_000),
        ("9223372036854775807", 9_223_372_036_854_775_807),
    ] {
        let p = plan(&[Rec::insert("k").at(ts)]);
        assert_eq!(p.items()[0].version, Some(want), "{ts}");
    }
}

#[test]
fn exclude_does_not_change_the_id() {
    let o = Options {
        exclude: vec!["pk".into()],
        ..opts()
    };
    let p = plan_with(&o, &[Rec::insert("k").attr("v", &s("x"))]);
    assert_eq!(p.items()[0].id, "k");
    assert_doc(&doc_of(&p, 0), r#"{"v":"x"}"#);
}

#[test]
fn indexed_at_without_a_timestamp_adds_nothing_and_never_panics() {
    let o = Options {
        indexed_at: Some("indexed_at".into()),
        ..opts()
    };
    let p = harness::planner(&o)
        .plan(&event(&[Rec::insert("k")]), None)
        .unwrap();
    assert_doc(&doc_of(&p, 0), r#"{"pk":"k"}"#);
    harness::check_event(&event(&[Rec::insert("k")]), &o, None).unwrap();
    // A timestamp that needs escaping is written as a JSON string.
    let p = harness::planner(&o)
        .plan(&event(&[Rec::insert("k")]), Some("a\"b\\c\n"))
        .unwrap();
    assert_eq!(
        field(&doc_of(&p, 0), "indexed_at"),
        &Json::String("a\"b\\c\n".into())
    );
}

#[test]
fn a_modify_that_changes_the_routing_deletes_the_copy_under_the_old_routing() {
    // The old copy lives in the shard of the old routing: the delete there and the index under
    // the new routing are two targets, and the batch dedup must keep both (it once kept only the
    // index, leaving the old copy behind as a second document with the same id).
    let event = r#"{"Records":[{"eventID":"1","eventName":"MODIFY","dynamodb":{"ApproximateCreationDateTime":1767225600,"Keys":{"pk":{"S":"p-1"}},"NewImage":{"pk":{"S":"p-1"},"tenant":{"S":"b"}},"OldImage":{"pk":{"S":"p-1"},"tenant":{"S":"a"}},"SequenceNumber":"1"}},{"eventID":"2","eventName":"MODIFY","dynamodb":{"ApproximateCreationDateTime":1767225601,"Keys":{"pk":{"S":"p-2"}},"NewImage":{"pk":{"S":"p-2"},"tenant":{"S":"a"}},"OldImage":{"pk":{"S":"p-2"},"tenant":{"S":"a"}},"SequenceNumber":"2"}}]}"#;
    let planner = stream2search::Planner::new(stream2search::Config {
        index: "products".into(),
        routing: Some("tenant".into()),
        ..Default::default()
    })
    .unwrap();
    let plan = planner.plan(event.as_bytes(), None).unwrap();
    let all: Vec<usize> = (0..plan.items().len()).collect();
    let mut body = Vec::new();
    plan.encode(&all, &mut body);
    let body = String::from_utf8(body).unwrap();
    assert_eq!(
        body,
        "{\"delete\":{\"_index\":\"products\",\"_id\":\"p-1\",\"version\":1767225600000000,\"version_type\":\"external_gte\",\"routing\":\"a\"}}\n\
         {\"index\":{\"_index\":\"products\",\"_id\":\"p-1\",\"version\":1767225600000000,\"version_type\":\"external_gte\",\"routing\":\"b\"}}\n\
         {\"pk\":\"p-1\",\"tenant\":\"b\"}\n\
         {\"index\":{\"_index\":\"products\",\"_id\":\"p-2\",\"version\":1767225601000000,\"version_type\":\"external_gte\",\"routing\":\"a\"}}\n\
         {\"pk\":\"p-2\",\"tenant\":\"a\"}\n"
    );
}
