//! Golden tests over every saved DynamoDB Streams fixture (`tests/fixtures/streams/`: public
//! upstream events and test vectors, each traced to its repository and commit in SOURCES.md).
//!
//! Two independent expectations: NDJSON written by hand in `tests/golden/` for the small AWS
//! events, and the reference implementation in `tests/reference/` for every fixture. The hand
//! files also check the reference itself.

mod reference;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use reference::harness::{self, check_ndjson, ndjson_lines};
use reference::json::{self, Json};
use reference::number;
use reference::{Expect, Options, Status};
use stream2search::RecordStatus;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/streams");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");

/// What a fixture is, written from SOURCES.md and by reading each file.
#[derive(Clone, Copy, Debug)]
enum Fixture {
    /// A real event: every record is valid and converts.
    Event,
    /// Not an event at all (a bare record, or a truncated file): a whole-event error.
    NotAnEvent,
    /// Wrapped AttributeValue vectors: one record per vector, `vec-N`; these N are invalid.
    Vectors(&'static [usize]),
}

const CATALOGUE: &[(&str, Fixture)] = &[
    ("awsdocs-lambda-guide__dynamodb-record.json", Fixture::Event),
    ("boto3__vectors.json", Fixture::Vectors(&[1, 2])),
    (
        "java-libs__dynamo_ddb_stream_record.json",
        Fixture::NotAnEvent,
    ),
    (
        "java-libs__dynamo_ddb_stream_record__wrapped.json",
        Fixture::Event,
    ),
    ("java-libs__dynamo_event.json", Fixture::Event),
    ("java-libs__dynamo_event_roundtrip.json", Fixture::Event),
    ("java-libs__dynamo_time_window_event.json", Fixture::Event),
    ("lambda-dotnet__dynamodb-event.json", Fixture::Event),
    (
        "lambda-dotnet__dynamodb-timewindow-event.json",
        Fixture::Event,
    ),
    ("lambda-dotnet__dynamodb-with-ms-event.json", Fixture::Event),
    (
        "lambda-dotnet__testtool-dynamodb-update.json",
        Fixture::Event,
    ),
    (
        "lambda-go__dynamodb-event-malformed.2.json",
        Fixture::NotAnEvent,
    ),
    ("lambda-go__dynamodb-time-window-event.json", Fixture::Event),
    ("powertools-java__dynamo_event.json", Fixture::Event),
    ("powertools-java__dynamo_event_big.json", Fixture::Event),
    ("powertools-python__dynamoStreamEvent.json", Fixture::Event),
    (
        "powertools-python__getting_started_dynamodb_event.json",
        Fixture::Event,
    ),
    (
        "powertools-python__pydantic_dynamodb_event.json",
        Fixture::Event,
    ),
    ("powertools-ts__parser-dynamodb-base.json", Fixture::Event),
    (
        "rust-runtime__example-dynamodb-event-record-with-optional-fields.json",
        Fixture::NotAnEvent,
    ),
    (
        "rust-runtime__example-dynamodb-event-record-with-optional-fields__wrapped.json",
        Fixture::Event,
    ),
    ("rust-runtime__example-dynamodb-event.json", Fixture::Event),
    ("sam-cli__DynamoDBUpdate.json", Fixture::Event),
    // 10: 5e-324 (below 1E-130); 12-14: NaN, Infinity, -Infinity; 16: 309 digits;
    // 44-46: unknown tags A, P, LS; 47: `{}`.
    ("sdk-js-v2__vectors.json", Fixture::Vectors(&[])),
    (
        "sdk-js-v3__vectors.json",
        Fixture::Vectors(&[10, 12, 13, 14, 16, 44, 45, 46, 47]),
    ),
];

fn fixture_path(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json_files(dir: &str, ext: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(ext))
        .collect()
}

#[test]
fn every_fixture_file_is_catalogued() {
    let on_disk = json_files(FIXTURES, ".json");
    let listed: BTreeSet<String> = CATALOGUE.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, listed);
    assert!(
        fixture_path("SOURCES.md").exists(),
        "SOURCES.md travels with the fixtures"
    );
}

/// The fixture files SOURCES.md names: the backticked `.json` in the first cell of its tables.
fn listed_in_sources() -> BTreeSet<String> {
    sources_rows()
        .into_iter()
        .filter_map(|cells| backticked(cells.first()?).map(str::to_owned))
        .filter(|name| name.ends_with(".json"))
        .collect()
}

/// The cells of every table row in SOURCES.md (without the header and separator rows).
fn sources_rows() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(fixture_path("SOURCES.md")).expect("SOURCES.md");
    text.lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

/// The text of a cell that is one code span, `` `like this` ``.
fn backticked(cell: &str) -> Option<&str> {
    cell.strip_prefix('`')?.strip_suffix('`')
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn every_fixture_is_traced_in_sources_md_and_every_traced_file_is_here() {
    let listed = listed_in_sources();
    let on_disk = json_files(FIXTURES, ".json");
    assert_eq!(listed, on_disk, "SOURCES.md and the directory disagree");
}

/// SOURCES.md records a SHA-256 prefix of each verbatim upstream file, taken when it was saved:
/// the in-tree copy is still the upstream file byte for byte.
#[test]
fn verbatim_fixtures_still_have_the_upstream_digest_recorded_in_sources_md() {
    let mut checked = 0;
    for cells in sources_rows() {
        let (Some(name), Some(prefix)) = (
            cells.first().and_then(|c| backticked(c)),
            cells.last().and_then(|c| backticked(c)),
        ) else {
            continue;
        };
        if !name.ends_with(".json") || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let digest = sha256_hex(&fixture(name));
        assert!(
            digest.starts_with(prefix),
            "{name}: sha256 {digest}, SOURCES.md says {prefix}..."
        );
        checked += 1;
    }
    assert_eq!(checked, 20, "the 20 verbatim upstream files of section 1");
}

/// Every fixture file, derived ones included, has the SHA-256 pinned in `SHA256SUMS` (the
/// `sha256sum` format), so that an edit to a fixture fails here. Changing a fixture is
/// deliberate: update SOURCES.md, then `sha256sum *.json > SHA256SUMS` in the fixture directory.
#[test]
fn every_fixture_has_its_pinned_sha256() {
    let sums = std::fs::read_to_string(fixture_path("SHA256SUMS")).expect("SHA256SUMS");
    let mut pinned = BTreeSet::new();
    for line in sums.lines() {
        let (digest, name) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("not a sha256sum line: {line:?}"));
        assert_eq!(sha256_hex(&fixture(name)), digest, "{name} changed");
        pinned.insert(name.to_owned());
    }
    assert_eq!(
        pinned,
        json_files(FIXTURES, ".json"),
        "SHA256SUMS covers every fixture"
    );
}

/// SOURCES.md section 2: a wrapped copy is `{"Records": [` + the bare record + `]}`. (The
/// java-libs record's CRLF line ends are LF in its wrapped copy, hence the comparison after
/// normalising them.)
#[test]
fn wrapped_copies_hold_the_bare_record() {
    let lf = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap().replace("\r\n", "\n");
    let mut wrapped = 0;
    for (name, _) in CATALOGUE {
        let Some(bare) = name.strip_suffix("__wrapped.json") else {
            continue;
        };
        let text = lf(fixture(name));
        let inner = text
            .trim_end()
            .strip_prefix("{\"Records\": [")
            .and_then(|t| t.strip_suffix("]}"))
            .unwrap_or_else(|| panic!("{name} is not the record in a Records array"));
        assert_eq!(
            inner.trim(),
            lf(fixture(&format!("{bare}.json"))).trim(),
            "{name}"
        );
        wrapped += 1;
    }
    assert_eq!(wrapped, 2);
}

#[test]
fn some_fixtures_start_with_a_byte_order_mark() {
    let with_bom = CATALOGUE
        .iter()
        .filter(|(n, _)| fixture(n).starts_with(b"\xEF\xBB\xBF"));
    assert_eq!(
        with_bom.count(),
        3,
        "the three lambda-dotnet events carry a BOM"
    );
}

#[test]
fn bare_records_and_the_truncated_event_are_whole_event_errors() {
    let planner = harness::planner(&Options::default());
    for (name, kind) in CATALOGUE {
        if let Fixture::NotAnEvent = kind {
            let result = planner.plan(&fixture(name), None);
            assert!(result.is_err(), "{name} should be a whole-event error");
            assert!(reference::expect(&fixture(name), &Options::default(), None).is_err());
        }
    }
}

#[test]
fn every_record_of_the_real_events_converts() {
    let planner = harness::planner(&Options::default());
    for (name, kind) in CATALOGUE {
        if let Fixture::Event = kind {
            let plan = planner
                .plan(&fixture(name), None)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!plan.records().is_empty(), "{name}");
            for r in plan.records() {
                assert!(
                    matches!(r.status, RecordStatus::Planned),
                    "{name} record {}: {:?}",
                    r.position,
                    r.status
                );
            }
        }
    }
}

/// The main golden check: for every fixture and a few option sets, the crate's records, items and
/// NDJSON equal the reference's.
#[test]
fn every_fixture_matches_the_reference() {
    let option_sets = [
        ("default", Options::default()),
        (
            "no versioning",
            Options {
                versioning: false,
                ..Options::default()
            },
        ),
        (
            "ttl skip",
            Options {
                ttl_skip: true,
                ..Options::default()
            },
        ),
        (
            "indexed_at",
            Options {
                indexed_at: Some("indexed_at".into()),
                ..Options::default()
            },
        ),
    ];
    let mut failures = Vec::new();
    for (name, _) in CATALOGUE {
        for (label, opts) in &option_sets {
            let ts = opts.indexed_at.as_ref().map(|_| "2026-11-26T00:00:00Z");
            if let Err(e) = harness::check_event(&fixture(name), opts, ts) {
                failures.push(format!("{name} ({label}): {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Which fixture and options a golden file is for: `<fixture stem>[.<variant>].ndjson`.
fn golden_case(file: &str) -> (String, Options) {
    let stem = file.strip_suffix(".ndjson").unwrap();
    let (fixture_stem, variant) = match stem.split_once('.') {
        Some((f, v)) => (f, Some(v)),
        None => (stem, None),
    };
    let opts = match variant {
        None => Options::default(),
        Some("ttl-skip") => Options {
            ttl_skip: true,
            ..Options::default()
        },
        Some("no-version") => Options {
            versioning: false,
            ..Options::default()
        },
        Some(v) => panic!("unknown golden variant {v} in {file}"),
    };
    (format!("{fixture_stem}.json"), opts)
}

fn golden(file: &str) -> Vec<u8> {
    std::fs::read(Path::new(GOLDEN).join(file)).unwrap()
}

#[test]
fn there_are_at_least_four_hand_written_goldens() {
    assert!(json_files(GOLDEN, ".ndjson").len() >= 4);
}

/// Hand-written NDJSON, compared line by line with exact numbers.
#[test]
fn output_equals_the_hand_written_goldens() {
    let mut failures = Vec::new();
    for file in json_files(GOLDEN, ".ndjson") {
        let (name, opts) = golden_case(&file);
        let plan = harness::planner(&opts).plan(&fixture(&name), None).unwrap();
        let got = harness::encode_chunks(&plan);
        if let Err(e) = same_ndjson(&golden(&file), &got) {
            failures.push(format!(
                "{file}: {e}\n--- got:\n{}",
                String::from_utf8_lossy(&got)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The reference agrees with the hand-written goldens too (so it can be trusted elsewhere).
#[test]
fn reference_agrees_with_the_hand_written_goldens() {
    for file in json_files(GOLDEN, ".ndjson") {
        let (name, opts) = golden_case(&file);
        let expected = reference::expect(&fixture(&name), &opts, None).unwrap();
        let items: Vec<_> = expected.items.iter().collect();
        check_ndjson(&items, &golden(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

/// Both sides are NDJSON: same number of lines, each line the same JSON (exact numbers, members
/// in any order), every line ending in `\n`.
fn same_ndjson(want: &[u8], got: &[u8]) -> Result<(), String> {
    let want = ndjson_lines(want)?;
    let got = ndjson_lines(got)?;
    if want.len() != got.len() {
        return Err(format!("{} lines, expected {}", got.len(), want.len()));
    }
    for (n, (w, g)) in want.iter().zip(&got).enumerate() {
        harness::matches(&Expect::from_json(w), g, "").map_err(|e| format!("line {n}: {e}"))?;
    }
    Ok(())
}

/// For the vector files: each `vec-N` record is invalid exactly when N is listed, and every other
/// record still converts (to what the reference says, checked above).
#[test]
fn invalid_vectors_are_record_errors_and_their_neighbours_still_convert() {
    let planner = harness::planner(&Options::default());
    for (name, kind) in CATALOGUE {
        let Fixture::Vectors(invalid) = kind else {
            continue;
        };
        let bytes = fixture(name);
        let plan = planner.plan(&bytes, None).unwrap();
        let expected = reference::expect(&bytes, &Options::default(), None).unwrap();
        for (i, r) in plan.records().iter().enumerate() {
            let n = i + 1;
            let should_fail = invalid.contains(&n);
            let failed = matches!(r.status, RecordStatus::Invalid(_));
            assert_eq!(failed, should_fail, "{name} vec-{n}: {:?}", r.status);
            assert_eq!(
                matches!(expected.statuses[i], Status::Invalid(_)),
                should_fail,
                "reference disagrees on {name} vec-{n}"
            );
            assert_eq!(
                harness::sequence_text(&plan, i),
                Some((1000 + n).to_string())
            );
        }
        let planned = plan.records().len() - invalid.len();
        assert_eq!(
            plan.items().len(),
            planned,
            "{name}: one item per valid vector"
        );
        for item in plan.items() {
            assert_eq!(
                item.version,
                Some(1_700_000_000_000_000),
                "{name} {}",
                item.id
            );
        }
    }
}

/// Numbers in the sdk-js-v3 vectors come out with exactly the value written, however long.
#[test]
fn vector_numbers_keep_their_exact_decimal_value() {
    let bytes = fixture("sdk-js-v3__vectors.json");
    let plan = harness::planner(&Options::default())
        .plan(&bytes, None)
        .unwrap();
    let lines = ndjson_lines(&harness::encode_all(&plan)).unwrap();
    let value_of = |id: &str| -> Json {
        let at = lines
            .iter()
            .position(|l| {
                l.get("index")
                    .and_then(|m| m.get("_id"))
                    .and_then(Json::as_str)
                    == Some(id)
            })
            .unwrap_or_else(|| panic!("{id} not in output"));
        lines[at + 1].get("value").unwrap().clone()
    };
    for (id, text) in [
        ("vec-5", "9007199254740991"),
        ("vec-8", "3.141592653589793"),
        ("vec-11", "2.220446049250313e-16"),
        ("vec-20", "1E-20"),
        ("vec-23", "1000000000000000"),
        ("vec-24", "9007199254740992.1"),
        ("vec-25", "-9007199254740992.1"),
    ] {
        match value_of(id) {
            Json::Number(t) => assert_eq!(
                number::parse_json(&t),
                number::parse_lenient(text),
                "{id}: {t} is not {text}"
            ),
            other => panic!("{id}: not a number: {other:?}"),
        }
    }
    assert_eq!(
        value_of("vec-32"),
        json::parse(r#"["one",1.01,9007199254740996]"#).unwrap(),
        "list numbers are written as given"
    );
}

/// Reference self-checks: the strict JSON reader and exact decimals behave as the tests assume.
#[test]
fn reference_json_reader_is_strict_and_keeps_number_text() {
    for bad in [
        "01",
        "+1",
        ".5",
        "5.",
        "1e",
        "-",
        "[1,]",
        "{\"a\":1,}",
        "\"\\ud800\"",
        "\"\t\"",
        "nul",
        "1 2",
    ] {
        assert!(json::parse(bad).is_err(), "{bad:?} should not parse");
    }
    assert_eq!(
        json::parse(" -0.5E+3 ").unwrap(),
        Json::Number("-0.5E+3".into())
    );
    assert_eq!(
        json::parse("\"\\ud83d\\ude00\\u00e9\\/\"").unwrap(),
        Json::String("😀é/".into())
    );
    let s = "a\"b\\c/\u{0}\u{1f}\n é 😀 \u{2028}";
    for how in [
        json::Escaping::Minimal,
        json::Escaping::Ascii,
        json::Escaping::Heavy,
    ] {
        let mut out = String::new();
        json::write_string(&mut out, s, how);
        assert_eq!(
            json::parse(&out).unwrap(),
            Json::String(s.into()),
            "{how:?}: {out}"
        );
    }
}

#[test]
fn reference_decimals_are_exact() {
    let d = number::parse_lenient;
    assert_eq!(d("+007.500e1"), d("75"));
    assert_eq!(d(".5"), d("0.5"));
    assert_eq!(d("5."), d("5"));
    assert_eq!(d("-0"), d("0"));
    assert_eq!(d("0e99999999999999999999"), d("0"));
    assert_ne!(d("1.0000000000000000000000000000000000001"), d("1"));
    assert!(number::is_valid_n(
        "9.9999999999999999999999999999999999999E+125"
    ));
    assert!(!number::is_valid_n("1E+126"));
    assert!(number::is_valid_n("1E-130"));
    assert!(!number::is_valid_n(
        "9.9999999999999999999999999999999999999E-131"
    ));
    assert!(number::is_valid_n("12345678901234567890123456789012345678"));
    assert!(!number::is_valid_n(
        "123456789012345678901234567890123456789"
    ));
    assert!(number::is_valid_n(
        "1234567890123456789012345678901234567800000"
    ));
    assert!(number::is_valid_n(
        "0.00000000000000000000000000000000000001"
    ));
    for bad in [
        "", "+", ".", "e5", "1e", "1.2.3", " 1", "1 ", "0x10", "NaN", "Infinity", "--1",
    ] {
        assert!(!number::is_valid_n(bad), "{bad:?}");
    }
    assert_eq!(
        reference::version_of("1480642020"),
        Ok(1_480_642_020_000_000)
    );
    assert_eq!(
        reference::version_of("1480642020000"),
        Ok(1_480_642_020_000_000)
    );
    assert_eq!(
        reference::version_of("1480642020123"),
        Ok(1_480_642_020_123_000)
    );
    assert_eq!(
        reference::version_of("1480642020123456"),
        Ok(1_480_642_020_123_456)
    );
    assert_eq!(
        reference::version_of("1.635734407123456789E9"),
        Ok(1_635_734_407_123_456)
    );
    assert_eq!(
        reference::version_of("1693997155.0"),
        Ok(1_693_997_155_000_000)
    );
    assert_eq!(
        reference::version_of("1.4285376E9"),
        Ok(1_428_537_600_000_000)
    );
    assert_eq!(
        number::cmp_sequence_numbers("99", "100"),
        std::cmp::Ordering::Less,
        "numeric, not text, order"
    );
}
