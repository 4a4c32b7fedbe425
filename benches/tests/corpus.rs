//! The generated corpus: deterministic, pinned, and a valid Lambda DynamoDB Streams event of
//! the promised shape, checked with parsers other than the generator (serde_json,
//! aws_lambda_events) and with what stream2search plans from it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use stream2search::{Action, Config, Planner, RecordStatus};
use stream2search_benches::corpus::{self, NAMES};
use stream2search_benches::shapes::{self, LARGE_LIMIT};

const ALL_TYPES: [&str; 10] = ["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "M", "L"];

fn records(bytes: &[u8]) -> Vec<Value> {
    let event: Value = serde_json::from_slice(bytes).expect("the corpus is JSON");
    let object = event.as_object().expect("an event is an object");
    assert_eq!(
        object.keys().collect::<Vec<_>>(),
        ["Records"],
        "only Records"
    );
    object["Records"]
        .as_array()
        .expect("Records is an array")
        .clone()
}

fn event_names(records: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in records {
        *counts
            .entry(r["eventName"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    counts
}

/// Adds the type tag of `av` and of every value inside it to `tags`.
fn collect_tags(av: &Value, tags: &mut BTreeSet<String>) {
    let object = av.as_object().expect("an AttributeValue is an object");
    assert_eq!(object.len(), 1, "one type tag: {av}");
    let (tag, inner) = object.iter().next().unwrap();
    tags.insert(tag.clone());
    match tag.as_str() {
        "M" => inner
            .as_object()
            .unwrap()
            .values()
            .for_each(|v| collect_tags(v, tags)),
        "L" => inner
            .as_array()
            .unwrap()
            .iter()
            .for_each(|v| collect_tags(v, tags)),
        _ => {}
    }
}

fn image_tags(records: &[Value]) -> BTreeSet<String> {
    let mut tags = BTreeSet::new();
    for r in records {
        for image in ["Keys", "NewImage", "OldImage"] {
            if let Some(item) = r["dynamodb"].get(image) {
                for av in item.as_object().unwrap().values() {
                    collect_tags(av, &mut tags);
                }
            }
        }
    }
    tags
}

/// White space outside strings, which compact JSON does not have.
fn has_white_space_between_tokens(bytes: &[u8]) -> bool {
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b.is_ascii_whitespace() {
            return true;
        }
    }
    false
}

#[test]
fn generating_twice_gives_identical_bytes() {
    for name in NAMES {
        assert!(shapes::generate(name) == shapes::generate(name), "{name}");
    }
}

/// Regenerating these digests is a deliberate act: it changes every benchmark's input. Update
/// `corpus::DIGESTS` only together with the generator change that explains it (and expect the
/// numbers in docs/performance.md to shift).
#[test]
fn generated_files_have_the_pinned_digests() {
    for name in NAMES {
        assert_eq!(
            corpus::sha256_hex(&shapes::generate(name)),
            corpus::pinned(name),
            "{name}.json changed"
        );
    }
}

#[test]
fn writing_the_corpus_is_idempotent_and_repairs_a_changed_file() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-write-test");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(corpus::write(&dir).unwrap(), NAMES);
    for name in NAMES {
        let bytes = std::fs::read(dir.join(format!("{name}.json"))).unwrap();
        assert!(bytes == shapes::generate(name), "{name} on disk");
    }
    assert!(corpus::write(&dir).unwrap().is_empty(), "nothing to redo");
    std::fs::write(dir.join("wide.json"), b"{\"Records\":[]}").unwrap();
    std::fs::remove_file(dir.join("edge.json")).unwrap();
    assert_eq!(corpus::write(&dir).unwrap(), ["wide", "edge"]);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".json") || n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_have_the_promised_shapes() {
    let small = records(&shapes::generate("small"));
    assert_eq!(small.len(), 100);
    let wide = records(&shapes::generate("wide"));
    assert_eq!(wide.len(), 50);
    // Every tenth record a REMOVE, of the others every third from the second a MODIFY.
    assert_eq!(
        event_names(&wide),
        BTreeMap::from([
            ("INSERT".into(), 30),
            ("MODIFY".into(), 15),
            ("REMOVE".into(), 5)
        ])
    );
    let edge = records(&shapes::generate("edge"));
    assert_eq!(edge.len(), 30);
    assert_eq!(
        event_names(&edge),
        BTreeMap::from([
            ("INSERT".into(), 26),
            ("MODIFY".into(), 2),
            ("REMOVE".into(), 2)
        ])
    );
    let ttl = edge.last().unwrap();
    assert_eq!(ttl["userIdentity"]["principalId"], "dynamodb.amazonaws.com");

    // small and large: the 70 / 20 / 10 mix, within what chance allows.
    for (name, records) in [
        ("small", &small),
        ("large", &records(&shapes::generate("large"))),
    ] {
        let counts = event_names(records);
        let share = |e: &str| counts.get(e).copied().unwrap_or(0) as f64 / records.len() as f64;
        let tolerance = if name == "small" { 0.12 } else { 0.03 };
        for (event, expected) in [("INSERT", 0.7), ("MODIFY", 0.2), ("REMOVE", 0.1)] {
            assert!(
                (share(event) - expected).abs() < tolerance,
                "{name}: {event} {:.3}",
                share(event)
            );
        }
        for r in records.iter() {
            let d = &r["dynamodb"];
            let has = |k: &str| d.get(k).is_some();
            match r["eventName"].as_str().unwrap() {
                "INSERT" => assert!(has("NewImage") && !has("OldImage")),
                "MODIFY" => assert!(has("NewImage") && has("OldImage")),
                _ => assert!(!has("NewImage") && has("OldImage")),
            }
        }
    }
}

#[test]
fn large_fills_but_stays_within_the_lambda_payload_limit() {
    let large = shapes::generate("large");
    assert!(large.len() <= LARGE_LIMIT, "{} bytes", large.len());
    const { assert!(LARGE_LIMIT < 6_000_000, "Lambda invokes with at most 6 MB") };
    // Records are 1 to 3 KB: one more would not have fitted.
    assert!(large.len() > LARGE_LIMIT - 4_000, "{} bytes", large.len());
}

#[test]
fn files_are_compact_utf8_with_unescaped_non_ascii() {
    for name in NAMES {
        let bytes = shapes::generate(name);
        let text = std::str::from_utf8(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!has_white_space_between_tokens(&bytes), "{name}");
        assert!(
            !text.contains("\\u00e9") && !text.contains("\\ud83d"),
            "{name}"
        );
    }
    let edge = String::from_utf8(shapes::generate("edge")).unwrap();
    for raw in ["日本語テキスト", "😀", "\u{2028}", "\u{7f}", "naïve"] {
        assert!(edge.contains(raw), "{raw:?} written as itself");
    }
    for escaped in [
        r"\u0000",
        r"\u0001",
        r"\u001f",
        r#"\"hi\""#,
        r"\\path",
        r"\n",
        r"\t",
        r"\b\f",
    ] {
        assert!(edge.contains(escaped), "{escaped} escaped");
    }
}

#[test]
fn every_attribute_value_type_occurs() {
    let product_types = ["S", "N", "BOOL", "NULL", "M", "L", "SS", "NS"];
    for name in ["small", "large"] {
        let tags = image_tags(&records(&shapes::generate(name)));
        assert_eq!(tags, product_types.map(String::from).into(), "{name}");
    }
    for name in ["wide", "edge"] {
        let tags = image_tags(&records(&shapes::generate(name)));
        assert_eq!(tags, ALL_TYPES.map(String::from).into(), "{name}");
    }
}

#[test]
fn sequence_numbers_increase_and_times_never_go_back() {
    for name in NAMES {
        let records = records(&shapes::generate(name));
        let mut last: Option<(u128, u64)> = None;
        for r in &records {
            let d = &r["dynamodb"];
            let seq: u128 = d["SequenceNumber"].as_str().unwrap().parse().unwrap();
            let at = d["ApproximateCreationDateTime"].as_u64().unwrap();
            if let Some((s, t)) = last {
                assert!(
                    seq > s && at >= t,
                    "{name}: {seq} after {s}, {at} after {t}"
                );
            }
            last = Some((seq, at));
        }
    }
}

#[test]
fn aws_lambda_events_reads_every_file() {
    for name in NAMES {
        let bytes = shapes::generate(name);
        let event: aws_lambda_events::event::dynamodb::Event =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(event.records.len(), records(&bytes).len(), "{name}");
    }
}

/// stream2search converts every record: one item per distinct key, a delete per REMOVE, and a
/// bulk body of two lines per index and one per delete.
#[test]
fn stream2search_plans_every_record() {
    let planner = Planner::new(Config {
        index: "products".into(),
        ..Config::default()
    })
    .unwrap();
    for name in NAMES {
        let bytes = shapes::generate(name);
        let expected = records(&bytes);
        let plan = planner
            .plan(&bytes, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plan.records().len(), expected.len(), "{name}");
        for r in plan.records() {
            assert!(
                matches!(r.status, RecordStatus::Planned),
                "{name} record {}: {:?}",
                r.position,
                r.status
            );
        }
        let keys: BTreeSet<String> = expected
            .iter()
            .map(|r| r["dynamodb"]["Keys"].to_string())
            .collect();
        assert_eq!(plan.items().len(), keys.len(), "{name}: one item per key");
        let deletes = plan
            .items()
            .iter()
            .filter(|i| i.action == Action::Delete)
            .count();
        let removes = event_names(&expected).get("REMOVE").copied().unwrap_or(0);
        assert_eq!(
            deletes, removes,
            "{name}: keys are unique, so one delete per REMOVE"
        );
        let all: Vec<usize> = (0..plan.items().len()).collect();
        let mut body = Vec::new();
        plan.encode(&all, &mut body);
        let lines = body.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(lines, 2 * (keys.len() - deletes) + deletes, "{name}");
    }
}
