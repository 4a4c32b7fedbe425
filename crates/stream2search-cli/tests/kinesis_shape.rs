//! `stream2search encode` and `replay` of the Lambda Kinesis event (Kinesis Data Streams for
//! DynamoDB), against the DynamoDB Streams event of the same changes.
//!
//! Every DynamoDB Streams event in the repository (the core's upstream fixtures that are events,
//! and the CLI's sample) is rewritten as a Kinesis event by the testkit (`kinesis::wrap_event`,
//! written from AWS's documentation, apart from the core), and both shapes go through the same
//! command. The Streams event is the expectation: it has its own golden tests.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use stream2search_testkit::kinesis::{change_record, lambda_record, sequence_number, wrap_event};
use stream2search_testkit::{OpenSearch, TestIndex, workspace};

/// Timestamps at or above this are milliseconds, in a DynamoDB Streams event as in a Kinesis
/// one (the year 5138 in seconds).
const MILLIS_FROM: u64 = 100_000_000_000;

/// One DynamoDB Streams event of the repository: where it is, its bytes, and its JSON.
struct Fixture {
    name: String,
    bytes: Vec<u8>,
    event: Value,
}

/// Every file of the core's upstream fixtures that is an event with `Records` (a bare record
/// and the truncated file are not), and the CLI's sample event.
fn streams_events() -> Vec<Fixture> {
    let root = workspace();
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(root.join("crates/stream2search/tests/fixtures/streams"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
    paths.sort();
    paths.push(root.join("examples/events/products.json"));
    let fixtures: Vec<Fixture> = paths
        .iter()
        .filter_map(|path| {
            let bytes = std::fs::read(path).unwrap();
            let json = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
            let event: Value = serde_json::from_slice(json).ok()?;
            event.get("Records")?.as_array()?;
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            Some(Fixture { name, bytes, event })
        })
        .collect();
    // 25 upstream files, of which 3 are not events (two bare records, one truncated file), and
    // the sample.
    assert_eq!(fixtures.len(), 23, "events found");
    fixtures
}

/// The Kinesis event of the same changes as `event`, each record's whole-second timestamp
/// written in milliseconds as Kinesis writes it (a timestamp in milliseconds, or none, is kept).
/// `None` when some record's timestamp is a fraction of a second.
fn wrap_in_milliseconds(event: &Value) -> Option<Value> {
    let mut records = Vec::new();
    for (i, record) in event["Records"].as_array().unwrap().iter().enumerate() {
        let creation = match record["dynamodb"].get("ApproximateCreationDateTime") {
            None => None,
            Some(t) => match whole(t)? {
                seconds if seconds < MILLIS_FROM => Some(json!(seconds * 1000)),
                _ => None,
            },
        };
        let data = change_record(record, "products", creation).to_string();
        records.push(lambda_record(
            data.as_bytes(),
            &sequence_number(i as u64),
            &format!("k{i}"),
        ));
    }
    Some(json!({ "Records": records }))
}

/// `t` when it is a whole non-negative number (`1693997155.0` included).
fn whole(t: &Value) -> Option<u64> {
    t.as_u64().or_else(|| {
        t.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15)
            .map(|f| f as u64)
    })
}

/// `stream2search encode --index products OPTIONS -` of `event`.
fn encode_with(options: &[&str], event: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["encode", "--index", "products"])
        .args(options)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(event).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

/// `value` (JSON text) in one canonical form, so that two texts of the same JSON compare equal:
/// members sorted by name, strings decoded, numbers kept as their exact text (a 38-digit number
/// would not survive `f64`).
fn canonical(value: &str) -> String {
    let value = value.trim();
    match value.as_bytes().first() {
        Some(b'{') => {
            let members: BTreeMap<String, Box<RawValue>> = serde_json::from_str(value).unwrap();
            let members: Vec<String> = members
                .iter()
                .map(|(name, v)| format!("{name:?}:{}", canonical(v.get())))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Some(b'[') => {
            let elements: Vec<Box<RawValue>> = serde_json::from_str(value).unwrap();
            let elements: Vec<String> = elements.iter().map(|v| canonical(v.get())).collect();
            format!("[{}]", elements.join(","))
        }
        Some(b'"') => format!("{:?}", serde_json::from_str::<String>(value).unwrap()),
        _ => value.to_string(),
    }
}

/// The bulk body's lines in canonical form, with each action's `version` taken out (and
/// returned alongside, in order).
fn without_versions(ndjson: &str) -> (Vec<String>, Vec<Option<u64>>) {
    let mut lines = Vec::new();
    let mut versions = Vec::new();
    let mut document_next = false;
    for line in ndjson.lines() {
        if document_next {
            lines.push(canonical(line));
            document_next = false;
            continue;
        }
        let mut action: Value = serde_json::from_str(line).unwrap();
        let (op, meta) = action.as_object_mut().unwrap().iter_mut().next().unwrap();
        document_next = op != "delete";
        versions.push(
            meta.as_object_mut()
                .unwrap()
                .remove("version")
                .map(|v| v.as_u64().unwrap()),
        );
        lines.push(canonical(&action.to_string()));
    }
    assert!(!document_next, "an action without its document: {ndjson}");
    (lines, versions)
}

/// A per-record line on stderr: `record POSITION SEQUENCE: MESSAGE`.
fn record_line(line: &str) -> (usize, &str, &str) {
    let rest = line
        .strip_prefix("record ")
        .unwrap_or_else(|| panic!("{line}"));
    let (position, rest) = rest.split_once(' ').unwrap();
    let (sequence, message) = rest.split_once(": ").unwrap();
    (position.parse().unwrap(), sequence, message)
}

/// The Streams record's sequence number as `encode` and `replay` print it.
fn streams_sequence(event: &Value, position: usize) -> &str {
    event["Records"][position]["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap_or("-")
}

/// Checks that the per-record lines of the two shapes name the same records with the same
/// messages (the Kinesis one placed within `kinesis.data`), each by its own sequence number
/// (`index_names` maps the Kinesis run's index name to the Streams run's, which a rejection's
/// reason may mention). Returns the number of lines.
fn same_record_lines(
    fixture: &Fixture,
    streams: &str,
    kinesis: &str,
    index_names: Option<(&str, &str)>,
) -> usize {
    let streams: Vec<&str> = streams.lines().collect();
    let kinesis: Vec<&str> = kinesis.lines().collect();
    assert_eq!(
        streams.len(),
        kinesis.len(),
        "{}: records reported\n{streams:#?}\n{kinesis:#?}",
        fixture.name
    );
    for (s, k) in streams.iter().zip(&kinesis) {
        let (s_position, s_sequence, s_message) = record_line(s);
        let (k_position, k_sequence, k_message) = record_line(k);
        assert_eq!(s_position, k_position, "{}: {s} / {k}", fixture.name);
        assert_eq!(
            s_sequence,
            streams_sequence(&fixture.event, s_position),
            "{}: {s}",
            fixture.name
        );
        assert_eq!(
            k_sequence,
            sequence_number(k_position as u64),
            "{}: {k}",
            fixture.name
        );
        let k_message = match index_names {
            Some((kinesis_index, streams_index)) => k_message.replace(kinesis_index, streams_index),
            None => k_message.to_string(),
        };
        // A fault found inside the change record is placed within `kinesis.data` (after
        // replay's outcome word).
        let (outcome, fault) = s_message
            .strip_prefix("invalid: ")
            .map_or(("", s_message), |fault| ("invalid: ", fault));
        assert!(
            [
                s_message.to_string(),
                format!("{outcome}kinesis.data.{fault}"),
                format!("{outcome}kinesis.data: {fault}"),
            ]
            .contains(&k_message),
            "{}: {s} / {k}",
            fixture.name
        );
    }
    streams.len()
}

#[test]
fn every_streams_fixture_as_a_kinesis_event_encodes_to_the_same_documents_apart_from_versions() {
    // The defaults, and skipping TTL deletes (told by `userIdentity`, which the change record
    // carries too: two of the events hold one).
    let option_sets: [&[&str]; 2] = [&[], &["--ttl", "skip"]];
    let (mut records, mut lines, mut reported) = (0, 0, 0);
    for options in option_sets {
        for fixture in streams_events() {
            let kinesis = wrap_event(&fixture.event);

            let streams_out = encode_with(options, &fixture.bytes);
            let kinesis_out = encode_with(options, kinesis.to_string().as_bytes());

            let name = format!("{} {options:?}", fixture.name);
            assert_eq!(
                streams_out.status.code(),
                kinesis_out.status.code(),
                "{name}: exit status\n{}\n{}",
                text(&streams_out.stderr),
                text(&kinesis_out.stderr)
            );
            assert!(
                matches!(streams_out.status.code(), Some(0 | 1)),
                "{name}: {}",
                text(&streams_out.stderr)
            );
            let (streams_lines, _) = without_versions(text(&streams_out.stdout));
            let (kinesis_lines, _) = without_versions(text(&kinesis_out.stdout));
            assert_eq!(streams_lines, kinesis_lines, "{name}");
            reported += same_record_lines(
                &fixture,
                text(&streams_out.stderr),
                text(&kinesis_out.stderr),
                None,
            );
            records += fixture.event["Records"].as_array().unwrap().len();
            lines += streams_lines.len();
        }
    }
    // The events hold 134 records; some are refused (test vectors the core cannot take), in
    // both shapes alike.
    assert_eq!(records, 2 * 134);
    // Not nothing: the Streams events give some 160 bulk lines per option set and refuse a
    // dozen records (their own golden tests say which).
    assert!(lines > 200, "{lines} bulk lines compared");
    assert!(reported > 10, "{reported} records refused");
}

#[test]
fn with_timestamps_in_milliseconds_the_kinesis_bulk_body_is_byte_for_byte_the_streams_one() {
    let mut compared = 0;
    for fixture in streams_events() {
        let Some(kinesis) = wrap_in_milliseconds(&fixture.event) else {
            continue; // fractions of a second: compared apart from versions above
        };
        // The Streams event as the testkit read it (members in name order), so that both
        // shapes carry every image in the same order.
        let streams_out = encode_with(&[], fixture.event.to_string().as_bytes());
        let kinesis_out = encode_with(&[], kinesis.to_string().as_bytes());

        assert_eq!(
            text(&kinesis_out.stdout),
            text(&streams_out.stdout),
            "{}",
            fixture.name
        );
        assert_eq!(
            streams_out.status.code(),
            kinesis_out.status.code(),
            "{}",
            fixture.name
        );
        same_record_lines(
            &fixture,
            text(&streams_out.stderr),
            text(&kinesis_out.stderr),
            None,
        );
        let (_, versions) = without_versions(text(&kinesis_out.stdout));
        if versions.iter().any(Option::is_some) {
            compared += 1;
        }
    }
    // Every event but the four with fractions of a second (three java-libs events and the
    // CLI's sample), of which some carry no timestamps at all.
    assert_eq!(compared, 10, "events with versions compared");
}

/// A Kinesis event of five records: an INSERT, data that is not base64, base64 of text that is
/// not JSON, base64 of JSON that is not a change record, and a REMOVE; timestamps in
/// milliseconds.
fn event_with_bad_data() -> Value {
    let insert = concat!(
        r#"{"awsRegion":"us-east-1","eventID":"e-1","eventName":"INSERT","recordFormat":"application/json","#,
        r#""tableName":"products","dynamodb":{"ApproximateCreationDateTime":1700000000123,"#,
        r#""Keys":{"productId":{"S":"p-1"}},"NewImage":{"productId":{"S":"p-1"},"price":{"N":"19.90"}},"#,
        r#""SizeBytes":40},"eventSource":"aws:dynamodb"}"#
    );
    let remove = concat!(
        r#"{"awsRegion":"us-east-1","eventID":"e-4","eventName":"REMOVE","recordFormat":"application/json","#,
        r#""tableName":"products","dynamodb":{"ApproximateCreationDateTime":1700000001456,"#,
        r#""Keys":{"productId":{"S":"p-2"}},"OldImage":{"productId":{"S":"p-2"}},"#,
        r#""SizeBytes":20},"eventSource":"aws:dynamodb"}"#
    );
    let mut not_base64 = lambda_record(b"", &sequence_number(1), "k1");
    not_base64["kinesis"]["data"] = json!("eyJhd3NSZWdpb24i!!not base64");
    json!({"Records": [
        lambda_record(insert.as_bytes(), &sequence_number(0), "k0"),
        not_base64,
        lambda_record(b"INSERT p-3 price=7", &sequence_number(2), "k2"),
        lambda_record(br#"{"hello":"world"}"#, &sequence_number(3), "k3"),
        lambda_record(remove.as_bytes(), &sequence_number(4), "k4"),
    ]})
}

#[test]
fn kinesis_data_that_is_not_base64_json_or_a_change_names_its_record_and_the_rest_is_written() {
    let out = encode_with(&[], event_with_bad_data().to_string().as_bytes());

    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // Written by hand: milliseconds × 1000 are the versions.
    assert_eq!(
        text(&out.stdout),
        concat!(
            r#"{"index":{"_index":"products","_id":"p-1","version":1700000000123000,"version_type":"external_gte"}}"#,
            "\n",
            r#"{"productId":"p-1","price":19.90}"#,
            "\n",
            r#"{"delete":{"_index":"products","_id":"p-2","version":1700000001456000,"version_type":"external_gte"}}"#,
            "\n",
        )
    );
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    for (line, (position, about)) in lines
        .iter()
        .zip([(1, "base64"), (2, "JSON"), (3, "DynamoDB")])
    {
        assert!(
            line.starts_with(&format!(
                "record {position} {}: ",
                sequence_number(position)
            )),
            "{err}"
        );
        assert!(line.contains(about), "{line}");
    }
}

static FILES: AtomicUsize = AtomicUsize::new(0);

/// Writes `contents` to a fresh file under the target directory's scratch space.
fn file(contents: &[u8]) -> PathBuf {
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kinesis-shape-{}-{n}.json", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

fn replay(opensearch: &OpenSearch, index: &TestIndex, file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["replay", "--allow-http", "--timeout", "60"])
        .args(["--endpoint", opensearch.url(), "--index", index.name()])
        .arg(file)
        .output()
        .unwrap()
}

#[derive(Deserialize)]
struct Search {
    hits: Hits,
}

#[derive(Deserialize)]
struct Hits {
    hits: Vec<Hit>,
}

#[derive(Deserialize)]
struct Hit {
    _id: String,
    _source: Box<RawValue>,
}

/// Every document the index holds: id → `_source` in canonical form.
fn documents(opensearch: &OpenSearch, index: &TestIndex) -> BTreeMap<String, String> {
    index.refresh();
    let response = opensearch.get(&format!("/{index}/_search?size=1000"));
    if response.status == 404 {
        return BTreeMap::new(); // nothing was written, so the index was never made
    }
    assert_eq!(response.status, 200, "{}", response.text());
    let search: Search = serde_json::from_str(response.text()).unwrap();
    search
        .hits
        .hits
        .into_iter()
        .map(|hit| (hit._id, canonical(hit._source.get())))
        .collect()
}

/// The summary line without its file name, and where it resumes (`None`: complete).
fn summary<'a>(stdout: &'a str, file: &Path) -> (&'a str, Option<&'a str>) {
    let line = stdout
        .strip_prefix(&format!("{}: ", file.display()))
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{stdout}"));
    let (counts, end) = line.rsplit_once("; ").unwrap();
    (counts, end.strip_prefix("resume at "))
}

#[test]
fn replaying_every_fixture_as_a_kinesis_event_leaves_the_documents_the_streams_event_leaves() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let mut documents_compared = 0;
    for fixture in streams_events() {
        let name = &fixture.name;
        let streams_index = opensearch.index("kinesis shape streams");
        let kinesis_index = opensearch.index("kinesis shape kinesis");
        let streams_file = file(&fixture.bytes);
        let kinesis_file = file(wrap_event(&fixture.event).to_string().as_bytes());

        let streams_out = replay(&opensearch, &streams_index, &streams_file);
        let kinesis_out = replay(&opensearch, &kinesis_index, &kinesis_file);

        assert_eq!(
            streams_out.status.code(),
            kinesis_out.status.code(),
            "{name}: exit status\n{}\n{}",
            text(&streams_out.stderr),
            text(&kinesis_out.stderr)
        );
        let (streams_counts, streams_resume) = summary(text(&streams_out.stdout), &streams_file);
        let (kinesis_counts, kinesis_resume) = summary(text(&kinesis_out.stdout), &kinesis_file);
        assert_eq!(streams_counts, kinesis_counts, "{name}");
        // Both resume at the same record, each named by its own sequence number.
        let resume_position = |resume: &str, of: fn(&Fixture, usize) -> String| {
            (0..fixture.event["Records"].as_array().unwrap().len())
                .find(|&p| of(&fixture, p) == resume)
                .unwrap_or_else(|| panic!("{name}: no record {resume}"))
        };
        match (streams_resume, kinesis_resume) {
            (None, None) => {}
            (Some(s), Some(k)) => assert_eq!(
                resume_position(s, |f, p| streams_sequence(&f.event, p).to_string()),
                resume_position(k, |_, p| sequence_number(p as u64)),
                "{name}: resume at {s} / {k}"
            ),
            (s, k) => panic!("{name}: resume at {s:?} / {k:?}"),
        }
        same_record_lines(
            &fixture,
            text(&streams_out.stderr),
            text(&kinesis_out.stderr),
            Some((kinesis_index.name(), streams_index.name())),
        );
        let streams_documents = documents(&opensearch, &streams_index);
        assert_eq!(
            documents(&opensearch, &kinesis_index),
            streams_documents,
            "{name}"
        );
        documents_compared += streams_documents.len();
    }
    assert!(
        documents_compared > 20,
        "{documents_compared} documents compared"
    );
}

#[test]
fn replay_of_kinesis_data_that_is_not_a_change_resumes_at_its_kinesis_sequence_number() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("kinesis shape bad data");
    let events = file(event_with_bad_data().to_string().as_bytes());

    let out = replay(&opensearch, &index, &events);

    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: 5 records, indexed 1, deleted 0, already gone 1, stale 0, skipped 0, \
             rejected 0, invalid 3, not durable 0; resume at {}\n",
            events.display(),
            sequence_number(1)
        )
    );
    let err = text(&out.stderr);
    let lines: Vec<(usize, &str, &str)> = err.lines().map(record_line).collect();
    assert_eq!(
        lines
            .iter()
            .map(|&(p, s, _)| (p, s.to_string()))
            .collect::<Vec<_>>(),
        [
            (1, sequence_number(1)),
            (2, sequence_number(2)),
            (3, sequence_number(3))
        ],
        "{err}"
    );
    let stored = documents(&opensearch, &index);
    assert_eq!(
        stored,
        BTreeMap::from([(
            "p-1".to_string(),
            canonical(r#"{"productId":"p-1","price":19.90}"#)
        )])
    );
    let doc = index.get_doc("p-1").json();
    assert_eq!(doc["_version"], 1_700_000_000_123_000u64);
}
