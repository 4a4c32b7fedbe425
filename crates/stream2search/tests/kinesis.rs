//! Kinesis Data Streams for DynamoDB: the Lambda Kinesis event of the same changes plans as the
//! DynamoDB Streams event does.
//!
//! The Kinesis events are written here from AWS's description of the format, independently of
//! the crate: each DynamoDB Streams record becomes the change record Kinesis carries (no
//! `SequenceNumber`, no `StreamViewType`, `tableName` and `recordFormat` added), written with
//! the reference's own JSON writer (member order and number text kept), base64-encoded by the
//! encoder below, inside an `aws:kinesis` record with a 56-digit `sequenceNumber`.

mod reference;

use std::path::{Path, PathBuf};

use reference::harness::{self, encode_all, ndjson_lines};
use reference::json::{self, Json};
use reference::number;
use reference::{Options, Status};
use stream2search::checkpoint::{self, RecordOutcome};
use stream2search::outcome::Applied;
use stream2search::{
    Action, Config, EventError, Planner, RecordErrorKind, RecordStatus, Source, TtlPolicy,
};

/// RFC 4648 base64, standard alphabet, padded.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn sequence_number(i: usize) -> String {
    format!("49590338271490256608559692538361571095921575989136{i:06}")
}

/// How the change record's `ApproximateCreationDateTime` is written.
#[derive(Clone, Copy, PartialEq)]
enum Time {
    /// As the DynamoDB Streams record has it.
    Kept,
    /// In whole milliseconds (floor), as Kinesis Data Streams for DynamoDB writes it by default.
    Millis,
}

/// A timestamp in whole milliseconds (seconds, below 10^11, are converted; milliseconds kept).
fn millis(text: &str) -> String {
    let t = number::parse_json(text).expect("a JSON number");
    let ms = if t.cmp_power_of_ten(11).is_ge() {
        t
    } else {
        t.scaled(3)
    };
    ms.floor_u64().expect("a usable timestamp").to_string()
}

/// The change record Kinesis Data Streams for DynamoDB writes for a DynamoDB Streams record.
fn change_record(record: &Json, time: Time) -> Json {
    let Some(members) = record.as_object() else {
        return record.clone();
    };
    let mut change = Vec::new();
    for (name, value) in members {
        match name.as_str() {
            "eventID" | "eventName" | "userIdentity" | "awsRegion" => {
                change.push((name.clone(), value.clone()));
            }
            "dynamodb" => {
                let mut dynamodb = Vec::new();
                for (name, value) in value.as_object().unwrap_or(&[]) {
                    match (name.as_str(), value, time) {
                        ("SequenceNumber" | "StreamViewType", _, _) => {}
                        ("ApproximateCreationDateTime", Json::Number(text), Time::Millis) => {
                            dynamodb.push((name.clone(), Json::Number(millis(text))));
                        }
                        _ => dynamodb.push((name.clone(), value.clone())),
                    }
                }
                change.push(("dynamodb".into(), Json::Object(dynamodb)));
            }
            _ => {}
        }
    }
    change.push((
        "recordFormat".into(),
        Json::String("application/json".into()),
    ));
    change.push(("tableName".into(), Json::String("products".into())));
    change.push(("eventSource".into(), Json::String("aws:dynamodb".into())));
    Json::Object(change)
}

/// The `aws:kinesis` Lambda record carrying `data`.
fn kinesis_record(data: &[u8], position: usize) -> String {
    let seq = sequence_number(position);
    format!(
        r#"{{"kinesis":{{"kinesisSchemaVersion":"1.0","partitionKey":"k{position}","sequenceNumber":"{seq}","data":"{}","approximateArrivalTimestamp":1700000000.123}},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000000000000:{seq}","eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::123456789012:role/r","awsRegion":"us-east-1","eventSourceARN":"arn:aws:kinesis:us-east-1:123456789012:stream/products"}}"#,
        base64(data)
    )
}

fn kinesis_event(records: &[String]) -> Vec<u8> {
    format!("{{\"Records\":[{}]}}", records.join(",")).into_bytes()
}

/// `event` (a DynamoDB Streams event) as the Lambda Kinesis event of the same changes.
fn wrap(event: &Json, time: Time) -> Vec<u8> {
    let records: Vec<String> = event
        .get("Records")
        .and_then(Json::as_array)
        .unwrap_or(&[])
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut data = String::new();
            json::write(&change_record(r, time), &mut data);
            kinesis_record(data.as_bytes(), i)
        })
        .collect();
    kinesis_event(&records)
}

/// Every saved DynamoDB Streams event in the repository.
fn stream_events() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in [
        "crates/stream2search/tests/fixtures/streams",
        "crates/stream2search-lambda/tests/fixtures",
        "examples/events",
        "examples/products/events",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).expect(dir) {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A line of the bulk body, with an action line's `version` removed.
fn without_version(line: &Json) -> Json {
    match line {
        Json::Object(members) if members.len() == 1 => {
            let (action, meta) = &members[0];
            let meta = match meta {
                Json::Object(m) => {
                    Json::Object(m.iter().filter(|(k, _)| k != "version").cloned().collect())
                }
                other => other.clone(),
            };
            Json::Object(vec![(action.clone(), meta)])
        }
        other => other.clone(),
    }
}

fn statuses(plan: &stream2search::Plan) -> Vec<String> {
    plan.records()
        .iter()
        .map(|r| match &r.status {
            RecordStatus::Invalid(e) => format!("invalid {:?}: {e}", e.kind()),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn every_stream_fixture_wrapped_as_kinesis_plans_the_same_documents() {
    let opts = Options::default();
    let planner = harness::planner(&opts);
    let mut compared = 0;
    let mut records = 0;
    for path in stream_events() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let Ok(streams) = planner.plan(&bytes, None) else {
            continue; // not an event (a bare record, a truncated file): nothing to wrap
        };
        if streams.records().is_empty() || streams.source() != Some(Source::DynamoDbStreams) {
            continue; // no records, or already a Kinesis event (examples/events/products-kinesis.json)
        }
        let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let event = json::parse_bytes(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        for time in [Time::Kept, Time::Millis] {
            let wrapped = wrap(&event, time);
            let kinesis = planner
                .plan(&wrapped, None)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(kinesis.source(), Some(Source::Kinesis), "{name}");
            assert_eq!(streams.source(), Some(Source::DynamoDbStreams), "{name}");
            // The same outcome per record; an error's path starts at the Kinesis data.
            let unwrapped: Vec<String> = statuses(&kinesis)
                .iter()
                .map(|s| s.replace(": kinesis.data.", ": "))
                .collect();
            assert_eq!(unwrapped, statuses(&streams), "{name}");
            for (i, r) in kinesis.records().iter().enumerate() {
                assert_eq!(
                    r.sequence_number.as_ref().map(|s| s.as_str().to_string()),
                    Some(sequence_number(i)),
                    "{name} record {i}"
                );
                assert_eq!(
                    r.event_id,
                    Some(format!("shardId-000000000000:{}", sequence_number(i)))
                );
                assert_eq!(r.event_name, streams.records()[i].event_name, "{name}");
            }
            let got = ndjson_lines(&encode_all(&kinesis)).unwrap();
            let want = ndjson_lines(&encode_all(&streams)).unwrap();
            assert_eq!(got.len(), want.len(), "{name}");
            for (g, w) in got.iter().zip(&want) {
                if time == Time::Kept {
                    // The same timestamps: the same versions, too.
                    assert_eq!(g, w, "{name}");
                } else {
                    assert_eq!(without_version(g), without_version(w), "{name}");
                }
            }
            // Milliseconds: each version is the newest record's time in whole ms, in µs.
            if time == Time::Millis {
                // The newest of an item's changes is sent: the highest version.
                let all = event.get("Records").unwrap().as_array().unwrap();
                for item in kinesis.items() {
                    // Each record's version, in event order; a later one replaces the one
                    // kept unless both have versions and the kept one is higher.
                    let versions = item.records.iter().map(|&p| {
                        match all[p]
                            .get("dynamodb")
                            .and_then(|d| d.get("ApproximateCreationDateTime"))
                        {
                            Some(Json::Number(text)) => reference::version_of(&millis(text)).ok(),
                            _ => None,
                        }
                    });
                    let newest = versions
                        .reduce(|kept, this| match (kept, this) {
                            (Some(k), Some(t)) if k > t => kept,
                            _ => this,
                        })
                        .flatten();
                    assert_eq!(item.version, newest, "{name}");
                }
            }
        }
        compared += 1;
        records += streams.records().len();
    }
    // 22 upstream events and vectors, 5 of the Lambda crate, 3 examples: 146 records.
    assert_eq!((compared, records), (30, 146));
}

fn change(name: &str, id: &str, time: &str, extra: &str) -> String {
    let image = match name {
        "REMOVE" => String::new(),
        _ => format!(r#","NewImage":{{"pk":{{"S":"{id}"}},"price":{{"N":"1.50"}}{extra}}}"#),
    };
    format!(
        r#"{{"awsRegion":"us-east-1","eventID":"e-{id}","eventName":"{name}","userIdentity":null,"recordFormat":"application/json","tableName":"products","dynamodb":{{"ApproximateCreationDateTime":{time},"Keys":{{"pk":{{"S":"{id}"}}}}{image},"SizeBytes":40}},"eventSource":"aws:dynamodb"}}"#
    )
}

fn planner() -> Planner {
    Planner::new(Config {
        index: "products".into(),
        ..Config::default()
    })
    .unwrap()
}

#[test]
fn milliseconds_and_microseconds_make_versions_at_their_precision() {
    let records = [
        kinesis_record(change("INSERT", "a", "1700000000123", "").as_bytes(), 0),
        kinesis_record(change("INSERT", "b", "1700000000123456", "").as_bytes(), 1),
        kinesis_record(change("INSERT", "c", "1700000000.5", "").as_bytes(), 2),
    ];
    let plan = planner().plan(&kinesis_event(&records), None).unwrap();
    let versions: Vec<(&str, Option<u64>)> = plan
        .items()
        .iter()
        .map(|i| (i.id.as_str(), i.version))
        .collect();
    assert_eq!(
        versions,
        [
            ("a", Some(1_700_000_000_123_000)),
            ("b", Some(1_700_000_000_123_456)),
            ("c", Some(1_700_000_000_500_000)),
        ]
    );
}

#[test]
fn changes_of_one_item_out_of_order_and_twice_resolve_to_the_newest() {
    // The newest change first, then an older one, then the newest again (a duplicate).
    let records = [
        kinesis_record(
            change("MODIFY", "a", "1700000000300", r#","v":{"N":"3"}"#).as_bytes(),
            0,
        ),
        kinesis_record(
            change("MODIFY", "a", "1700000000200", r#","v":{"N":"2"}"#).as_bytes(),
            1,
        ),
        kinesis_record(change("REMOVE", "a", "1700000000100", "").as_bytes(), 2),
        kinesis_record(
            change("MODIFY", "a", "1700000000300", r#","v":{"N":"3"}"#).as_bytes(),
            3,
        ),
    ];
    let plan = planner().plan(&kinesis_event(&records), None).unwrap();
    assert_eq!(plan.items().len(), 1);
    let item = &plan.items()[0];
    assert_eq!(
        (item.action, item.version, item.records.clone()),
        // The superseded records, then the one whose change is sent (the duplicate, the later of
        // the two equal versions).
        (Action::Index, Some(1_700_000_000_300_000), vec![1, 2, 0, 3])
    );
    let body = encode_all(&plan);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        concat!(
            r#"{"index":{"_index":"products","_id":"a","version":1700000000300000,"version_type":"external_gte"}}"#,
            "\n",
            r#"{"pk":"a","price":1.50,"v":3}"#,
            "\n"
        )
    );
    // And the newest first with a delete: the delete stays.
    let records = [
        kinesis_record(change("REMOVE", "a", "1700000000300", "").as_bytes(), 0),
        kinesis_record(change("INSERT", "a", "1700000000100", "").as_bytes(), 1),
    ];
    let plan = planner().plan(&kinesis_event(&records), None).unwrap();
    assert_eq!(plan.items().len(), 1);
    assert_eq!(plan.items()[0].action, Action::Delete);
    assert_eq!(plan.items()[0].records, [1, 0]);
}

#[test]
fn bad_data_fails_only_its_record_and_names_it() {
    let good = |i| {
        kinesis_record(
            change("INSERT", &format!("g{i}"), "1700000000000", "").as_bytes(),
            i,
        )
    };
    let bad: [(&str, String, &str); 9] = [
        (
            "not base64",
            kinesis_record(b"", 1).replace(r#""data":"""#, r#""data":"not base64!""#),
            "is not base64",
        ),
        (
            "not UTF-8",
            kinesis_record(b"{\"a\":\"\xff\"}", 1),
            "is not UTF-8",
        ),
        (
            "not JSON",
            kinesis_record(b"{\"eventName\":\"INSERT\",", 1),
            "is not JSON",
        ),
        (
            "a JSON array",
            kinesis_record(b"[1,2]", 1),
            "not a JSON object",
        ),
        (
            "no dynamodb",
            kinesis_record(br#"{"eventName":"INSERT","eventSource":"aws:dynamodb"}"#, 1),
            "no `dynamodb` member",
        ),
        (
            "another source",
            kinesis_record(
                change("INSERT", "x", "1700000000000", "")
                    .replace("aws:dynamodb", "aws:sqs")
                    .as_bytes(),
                1,
            ),
            "not a DynamoDB change",
        ),
        (
            "text after it",
            kinesis_record(
                format!("{} {{}}", change("INSERT", "x", "1", "")).as_bytes(),
                1,
            ),
            "text after the change record",
        ),
        (
            "data not a string",
            kinesis_record(b"", 1).replace(r#""data":"""#, r#""data":42"#),
            "must be a string",
        ),
        (
            "no data",
            kinesis_record(b"", 1).replace(r#""data":"","#, ""),
            "has no kinesis.data",
        ),
    ];
    for (what, record, message) in bad {
        let event = kinesis_event(&[good(0), record, good(2)]);
        let plan = planner()
            .plan(&event, None)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(plan.records().len(), 3, "{what}");
        let RecordStatus::Invalid(e) = &plan.records()[1].status else {
            panic!("{what}: {:?}", plan.records()[1].status);
        };
        assert_eq!(e.kind(), RecordErrorKind::Data, "{what}: {e}");
        assert!(e.to_string().contains(message), "{what}: {e}");
        assert_eq!(
            e.to_string().matches("kinesis.data").count(),
            1,
            "{what}: {e}"
        );
        // Named by its Kinesis sequence number, and the rest goes on.
        assert_eq!(
            plan.records()[1]
                .sequence_number
                .as_ref()
                .map(|s| s.as_str()),
            Some(sequence_number(1).as_str()),
            "{what}"
        );
        assert_eq!(plan.records()[0].status, RecordStatus::Planned, "{what}");
        assert_eq!(plan.records()[2].status, RecordStatus::Planned, "{what}");
        let ids: Vec<&str> = plan.items().iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["g0", "g2"], "{what}");
        // Its span is the Kinesis record as delivered (what a dead letter keeps).
        let span = plan.records()[1].span.clone();
        assert!(event[span].starts_with(b"{\"kinesis\""), "{what}");
    }
    // A change record that is a DynamoDB change but a bad one: the usual kinds, within data.
    let event = kinesis_event(&[
        good(0),
        kinesis_record(
            change("INSERT", "x", "1700000000000", r#","n":{"N":"1e200"}"#).as_bytes(),
            1,
        ),
        kinesis_record(change("UPSERT", "y", "1700000000000", "").as_bytes(), 2),
    ]);
    let plan = planner().plan(&event, None).unwrap();
    let kinds: Vec<Option<RecordErrorKind>> = plan
        .records()
        .iter()
        .map(|r| match &r.status {
            RecordStatus::Invalid(e) => Some(e.kind()),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        [
            None,
            Some(RecordErrorKind::Number),
            Some(RecordErrorKind::EventName)
        ]
    );
}

#[test]
fn a_mixed_or_unknown_source_fails_the_whole_event() {
    let streams = r#"{"eventID":"s","eventName":"INSERT","eventSource":"aws:dynamodb","dynamodb":{"Keys":{"pk":{"S":"s"}},"NewImage":{"pk":{"S":"s"}},"SequenceNumber":"1"}}"#;
    let kinesis = kinesis_record(change("INSERT", "k", "1700000000000", "").as_bytes(), 1);
    let event = kinesis_event(&[streams.to_string(), kinesis.clone()]);
    assert_eq!(
        planner().plan(&event, None).unwrap_err(),
        EventError::MixedSources {
            position: 1,
            first: Source::DynamoDbStreams,
            found: Source::Kinesis
        }
    );
    let event = kinesis_event(&[kinesis, streams.to_string()]);
    let err = planner().plan(&event, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "record 1 is a DynamoDB Streams record in an event of Kinesis records"
    );
    let sqs = r#"{"messageId":"m","body":"{}","eventSource":"aws:sqs"}"#;
    assert_eq!(
        planner()
            .plan(&kinesis_event(&[sqs.to_string()]), None)
            .unwrap_err(),
        EventError::UnknownSource {
            position: 0,
            event_source: "aws:sqs".into()
        }
    );
}

#[test]
fn the_partial_batch_response_names_the_lowest_kinesis_sequence_number_not_durable() {
    let records: Vec<String> = (0..4)
        .map(|i| {
            kinesis_record(
                change("INSERT", &format!("p{i}"), "1700000000000", "").as_bytes(),
                i,
            )
        })
        .collect();
    let plan = planner().plan(&kinesis_event(&records), None).unwrap();
    let results: Vec<_> = plan
        .records()
        .iter()
        .map(|r| checkpoint::RecordResult {
            position: r.position,
            sequence_number: r.sequence_number.clone(),
            event_id: r.event_id.clone(),
            outcome: if r.position >= 2 {
                RecordOutcome::NotDurable {
                    reason: "503".into(),
                }
            } else {
                RecordOutcome::Applied(Applied::Indexed)
            },
        })
        .collect();
    let cp = checkpoint::checkpoint(&results, |r| r.outcome.is_durable());
    assert_eq!(
        serde_json::to_string(&cp.response().unwrap()).unwrap(),
        format!(
            r#"{{"batchItemFailures":[{{"itemIdentifier":"{}"}}]}}"#,
            sequence_number(2)
        )
    );
}

#[test]
fn a_ttl_delete_inside_kinesis_data_follows_the_ttl_policy() {
    let ttl = r#"{"eventID":"t","eventName":"REMOVE","userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"},"dynamodb":{"ApproximateCreationDateTime":1700000000000,"Keys":{"pk":{"S":"t"}}},"eventSource":"aws:dynamodb"}"#;
    let event = kinesis_event(&[kinesis_record(ttl.as_bytes(), 0)]);
    let skip = Planner::new(Config {
        index: "products".into(),
        ttl: TtlPolicy::Skip,
        ..Config::default()
    })
    .unwrap();
    let plan = skip.plan(&event, None).unwrap();
    assert!(plan.items().is_empty());
    assert!(matches!(plan.records()[0].status, RecordStatus::Skipped(_)));
    let plan = planner().plan(&event, None).unwrap();
    assert_eq!(plan.items()[0].action, Action::Delete);
}

/// The reference agrees with the wrapped events of its own generator's statuses: a record that
/// is invalid as a DynamoDB Streams record is invalid inside Kinesis data, too.
#[test]
fn the_reference_statuses_hold_for_wrapped_vectors() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/streams/boto3__vectors.json");
    let bytes = std::fs::read(path).unwrap();
    let expected = reference::expect(&bytes, &Options::default(), None).unwrap();
    let event = json::parse_bytes(&bytes).unwrap();
    let plan = harness::planner(&Options::default())
        .plan(&wrap(&event, Time::Millis), None)
        .unwrap();
    assert_eq!(plan.records().len(), expected.statuses.len());
    for (got, want) in plan.records().iter().zip(&expected.statuses) {
        let invalid = matches!(got.status, RecordStatus::Invalid(_));
        assert_eq!(
            invalid,
            matches!(want, Status::Invalid(_)),
            "{:?} vs {want:?}",
            got.status
        );
    }
}
