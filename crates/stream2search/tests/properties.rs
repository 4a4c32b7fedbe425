//! Property tests: random DynamoDB Streams events, converted by the crate and by the reference
//! (`tests/reference`), must give the same records, items and NDJSON.
//!
//! The trees use all ten AttributeValue types, nest up to DynamoDB's 32 levels, carry any Unicode
//! (control characters, quotes, backslashes, `|`, emoji, U+2028) written with several escaping
//! styles, and numbers at DynamoDB's limits in every spelling it accepts (`+1`, `007`, `.5`, `5.`,
//! exponents). Broken numbers and base64 must fail only their own record.

mod reference;

use proptest::prelude::*;
use reference::harness;
use reference::json::{Escaping, write_string};
use reference::{Options, RESERVED_NAMES};
use stream2search::{RecordErrorKind, RecordStatus};

/// An AttributeValue as the generator builds it.
#[derive(Clone, Debug)]
enum Av {
    S(String),
    N(String),
    B(String),
    Ss(Vec<String>),
    Ns(Vec<String>),
    Bs(Vec<String>),
    M(Vec<(String, Av)>),
    L(Vec<Av>),
    Null,
    Bool(bool),
}

fn write_av(out: &mut String, av: &Av, how: Escaping) {
    let list = |out: &mut String, items: &[String]| {
        out.push('[');
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(out, s, how);
        }
        out.push(']');
    };
    let tag = |out: &mut String, t: &str| {
        out.push('{');
        write_string(out, t, how);
        out.push(':');
    };
    match av {
        Av::S(s) => {
            tag(out, "S");
            write_string(out, s, how);
        }
        Av::N(s) => {
            tag(out, "N");
            write_string(out, s, how);
        }
        Av::B(s) => {
            tag(out, "B");
            write_string(out, s, how);
        }
        Av::Ss(v) => {
            tag(out, "SS");
            list(out, v);
        }
        Av::Ns(v) => {
            tag(out, "NS");
            list(out, v);
        }
        Av::Bs(v) => {
            tag(out, "BS");
            list(out, v);
        }
        Av::Null => {
            tag(out, "NULL");
            out.push_str("true");
        }
        Av::Bool(b) => {
            tag(out, "BOOL");
            out.push_str(if *b { "true" } else { "false" });
        }
        Av::M(members) => {
            tag(out, "M");
            write_map(out, members, how);
        }
        Av::L(items) => {
            tag(out, "L");
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_av(out, item, how);
            }
            out.push(']');
        }
    }
    out.push('}');
}

fn write_map(out: &mut String, members: &[(String, Av)], how: Escaping) {
    out.push('{');
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, k, how);
        out.push(':');
        write_av(out, v, how);
    }
    out.push('}');
}

// ---------------------------------------------------------------------------------------------
// Strings

/// Characters that stress escaping and id building, plus any Unicode scalar.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => proptest::char::range('\u{0}', '\u{1f}'),
        1 => prop::sample::select(vec!['"', '\\', '/', '|', '\u{7f}', '\u{2028}', '\u{2029}', '\u{feff}']),
        1 => proptest::char::range('\u{1f600}', '\u{1f64f}'),
        1 => any::<char>(),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any_char(), 0..=max).prop_map(|v| v.into_iter().collect())
}

/// Attribute names: non-empty; now and then one OpenSearch reserves.
fn attr_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::collection::vec(any_char(), 1..=6).prop_map(|v| v.into_iter().collect()),
        1 => prop::sample::select(reserved_for_generation()).prop_map(str::to_string),
    ]
}

/// Names whose handling the crate and the reference disagree on; each must have a failing test of
/// its own in adversarial.rs, and is left out here so that one known disagreement cannot hide
/// others behind proptest's shrinking. Empty: none today.
const KNOWN_DISAGREEMENTS: &[&str] = &[];

/// Metadata-like names the generator puts into images: the reserved ones, one that OpenSearch
/// accepts as an ordinary field (`_type`), and dotted names under a reserved one.
fn reserved_for_generation() -> Vec<&'static str> {
    RESERVED_NAMES
        .iter()
        .copied()
        .chain(["_type", "_id.x", "_source.a"])
        .filter(|n| !KNOWN_DISAGREEMENTS.contains(n))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Numbers

/// How a number is written: everything but its value.
#[derive(Clone, Debug)]
struct Spelling {
    sign: &'static str,
    /// Digits before the point, counted from the first significant digit (may be ≤ 0: `.005`, or
    /// beyond the digits: `500.`).
    point: i64,
    leading_zeros: usize,
    trailing_zeros: usize,
    /// `5.` rather than `5` when nothing follows the point.
    bare_point: bool,
    marker: &'static str,
    exponent_plus: bool,
    exponent_zeros: usize,
    force_exponent: bool,
}

/// A valid DynamoDB number, spelled any way DynamoDB accepts: 1 to 38 significant digits, the
/// leading digit's power of ten from -130 to 125, optional sign (`+` too), leading zeros, trailing
/// zeros, the point anywhere (`.5`, `5.`), and an optional exponent.
fn valid_number() -> impl Strategy<Value = String> {
    let rest = prop_oneof![
        proptest::collection::vec(0u8..10, 0..=37),
        Just(vec![9u8; 37]),
        Just(vec![]),
    ];
    let adjusted =
        prop_oneof![3 => -130i64..=125, 1 => Just(-130i64), 1 => Just(125i64), 2 => -3i64..=20];
    let spelling = (
        (
            prop::sample::select(vec!["", "+", "-"]),
            -3i64..=45,
            0usize..=3,
            0usize..=3,
        ),
        (
            any::<bool>(),
            prop::sample::select(vec!["e", "E"]),
            any::<bool>(),
            0usize..=2,
            any::<bool>(),
        ),
    )
        .prop_map(
            |((sign, point, lz, tz), (bare, marker, plus, ez, force))| Spelling {
                sign,
                point,
                leading_zeros: lz,
                trailing_zeros: tz,
                bare_point: bare,
                marker,
                exponent_plus: plus,
                exponent_zeros: ez,
                force_exponent: force,
            },
        );
    (1u8..10, rest, adjusted, spelling).prop_map(|(first, rest, adjusted, how)| {
        let digits: String = std::iter::once(first)
            .chain(rest)
            .map(|d| char::from(b'0' + d))
            .collect();
        spell(&digits, adjusted, &how)
    })
}

/// Write `d1.d2d3... × 10^adjusted` as `how` says.
fn spell(digits: &str, adjusted: i64, how: &Spelling) -> String {
    let n = digits.len() as i64;
    let point = how.point;
    let (int_digits, frac_digits) = if point <= 0 {
        (
            String::new(),
            format!("{}{}", "0".repeat((-point) as usize), digits),
        )
    } else if point >= n {
        (
            format!("{}{}", digits, "0".repeat((point - n) as usize)),
            String::new(),
        )
    } else {
        (
            digits[..point as usize].to_string(),
            digits[point as usize..].to_string(),
        )
    };
    let int_part = format!("{}{}", "0".repeat(how.leading_zeros), int_digits);
    let frac_part = format!("{}{}", frac_digits, "0".repeat(how.trailing_zeros));
    let mut s = format!("{}{}", how.sign, int_part);
    if !frac_part.is_empty() {
        s.push('.');
        s.push_str(&frac_part);
    } else if how.bare_point {
        s.push('.');
    }
    // As written, the leading digit sits at power point-1; the exponent moves it to `adjusted`.
    let exponent = adjusted - (point - 1);
    if exponent != 0 || how.force_exponent {
        s.push_str(how.marker);
        if exponent < 0 {
            s.push('-');
        } else if how.exponent_plus {
            s.push('+');
        }
        s.push_str(&"0".repeat(how.exponent_zeros));
        s.push_str(&exponent.abs().to_string());
    }
    s
}

fn zero_number() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "0",
        "-0",
        "+0",
        "000",
        "0.0",
        ".0",
        "0.",
        "0e5",
        "0E-7",
        "-0.000e+3",
    ])
    .prop_map(str::to_string)
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![9 => valid_number(), 1 => zero_number()]
}

/// Numbers DynamoDB refuses: too precise, too large or small, or not numbers at all.
fn invalid_number() -> impl Strategy<Value = String> {
    let too_precise = proptest::collection::vec(0u8..10, 38..=45).prop_map(|rest| {
        let mut s = String::from("1");
        s.extend(rest.iter().map(|d| char::from(b'0' + d)));
        s.push('1'); // ends in a non-zero digit: 40+ significant digits
        s
    });
    let too_large = (1u8..10, 126i64..=400).prop_map(|(d, e)| format!("{d}E{e}"));
    let too_small = (1u8..10, -500i64..=-131).prop_map(|(d, e)| format!("{d}e{e}"));
    let junk = prop::sample::select(vec![
        "",
        "+",
        "-",
        ".",
        "e5",
        "1e",
        "1e+",
        "--1",
        "+-1",
        "1.2.3",
        " 1",
        "1 ",
        "0x1F",
        "1_000",
        "NaN",
        "Infinity",
        "-Infinity",
        "inf",
        "١",
        "1,5",
        "1e5.5",
        "\u{0}",
        "true",
    ])
    .prop_map(str::to_string);
    prop_oneof![too_precise, too_large, too_small, junk]
}

// ---------------------------------------------------------------------------------------------
// Binary

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn binary() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), 0..=24).prop_map(|b| base64(&b))
}

/// Text that is not standard padded base64 under any reading.
fn invalid_base64() -> impl Strategy<Value = String> {
    let wrong_length = binary()
        .prop_filter("non-empty", |s| !s.is_empty())
        .prop_map(|s| format!("{}A", s.trim_end_matches('=')))
        .prop_filter("length 1 mod 4", |s| s.len() % 4 == 1);
    let bad_char = (
        binary(),
        prop::sample::select(vec!["!", "*", "-", "_", " ", "\n", "é", "\"", ".", "\u{0}"]),
    )
        .prop_map(|(s, c)| {
            let s = if s.is_empty() { "AAAA".to_string() } else { s };
            format!("{c}{}", &s[1..])
        });
    let bad_padding =
        prop::sample::select(vec!["====", "A===", "=AAA", "AA=A", "AAAA=", "AA==AAAA"])
            .prop_map(str::to_string);
    prop_oneof![wrong_length, bad_char, bad_padding]
}

// ---------------------------------------------------------------------------------------------
// Trees

fn leaf() -> impl Strategy<Value = Av> {
    prop_oneof![
        text(12).prop_map(Av::S),
        number().prop_map(Av::N),
        binary().prop_map(Av::B),
        proptest::collection::vec(text(6), 0..4).prop_map(Av::Ss),
        proptest::collection::vec(number(), 0..4).prop_map(Av::Ns),
        proptest::collection::vec(binary(), 0..4).prop_map(Av::Bs),
        Just(Av::Null),
        any::<bool>().prop_map(Av::Bool),
    ]
}

/// Map members with distinct names.
fn members(
    inner: impl Strategy<Value = Av>,
    max: usize,
) -> impl Strategy<Value = Vec<(String, Av)>> {
    proptest::collection::vec((attr_name(), inner), 0..=max).prop_map(dedup_names)
}

fn dedup_names(mut v: Vec<(String, Av)>) -> Vec<(String, Av)> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|(k, _)| seen.insert(k.clone()));
    v
}

/// Random trees: bushy and shallow.
fn tree() -> impl Strategy<Value = Av> {
    leaf().prop_recursive(8, 48, 4, |inner| {
        prop_oneof![
            members(inner.clone(), 4).prop_map(Av::M),
            proptest::collection::vec(inner, 0..4).prop_map(Av::L),
        ]
    })
}

/// A chain of `depth` nested M/L containers around a tree: reaches DynamoDB's 32 levels.
fn chain(max_depth: usize) -> impl Strategy<Value = Av> {
    (
        proptest::collection::vec((any::<bool>(), text(3)), 1..=max_depth),
        leaf(),
    )
        .prop_map(|(shape, leaf)| {
            shape.into_iter().fold(leaf, |inner, (is_map, name)| {
                if is_map {
                    Av::M(vec![(name, inner)])
                } else {
                    Av::L(vec![Av::Null, inner])
                }
            })
        })
}

/// Depth of M/L containers (a top-level `{"M":{}}` is 1).
fn depth(av: &Av) -> usize {
    match av {
        Av::M(m) => 1 + m.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
        Av::L(l) => 1 + l.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn value() -> impl Strategy<Value = Av> {
    prop_oneof![4 => tree(), 1 => chain(32)]
}

// ---------------------------------------------------------------------------------------------
// Records and events

#[derive(Clone, Debug)]
enum KeyValue {
    S(String),
    N(String),
    B(String),
}

impl KeyValue {
    fn av(&self) -> Av {
        match self {
            KeyValue::S(s) => Av::S(s.clone()),
            KeyValue::N(s) => Av::N(s.clone()),
            KeyValue::B(s) => Av::B(s.clone()),
        }
    }
}

fn key_value() -> impl Strategy<Value = KeyValue> {
    prop_oneof![
        3 => text(8).prop_map(KeyValue::S),
        1 => valid_number().prop_map(KeyValue::N),
        1 => binary().prop_map(KeyValue::B),
        // Parts that differ only in escaping must never share an id.
        1 => prop::sample::select(vec!["a|b", "a\\|b", "a\\", "|", "\\", "\\\\|", ""])
            .prop_map(|s| KeyValue::S(s.to_string())),
    ]
}

#[derive(Clone, Debug)]
struct RecordSpec {
    name: &'static str,
    ttl_identity: bool,
    timestamp: Option<String>,
    /// (pk, optional sk); chosen from a small pool so that records collide and get deduplicated.
    keys: (KeyValue, Option<KeyValue>),
    image: Vec<(String, Av)>,
}

fn timestamp() -> impl Strategy<Value = Option<String>> {
    let secs = 1_000_000_000u64..2_000_000_000;
    prop_oneof![
        1 => Just(None),
        3 => secs.clone().prop_map(|s| Some(s.to_string())),
        1 => (secs.clone(), proptest::collection::vec(0u8..10, 1..=20)).prop_map(|(s, f)| {
            Some(format!("{s}.{}", f.iter().map(|d| char::from(b'0' + d)).collect::<String>()))
        }),
        1 => (secs.clone(), 0u32..1_000_000_000).prop_map(|(s, f)| {
            let t = format!("{s}{f:09}");
            Some(format!("{}.{}E9", &t[..1], &t[1..]))
        }),
        1 => (secs, 0u32..1000).prop_map(|(s, ms)| Some(format!("{s}{ms:03}"))),
    ]
}

fn record_spec(pool: Vec<(KeyValue, Option<KeyValue>)>) -> impl Strategy<Value = RecordSpec> {
    (
        prop::sample::select(vec!["INSERT", "MODIFY", "REMOVE"]),
        any::<bool>(),
        timestamp(),
        prop::sample::select(pool),
        proptest::collection::vec((attr_name(), value()), 0..5),
    )
        .prop_map(|(name, ttl, timestamp, keys, attrs)| RecordSpec {
            name,
            ttl_identity: ttl,
            timestamp,
            keys,
            image: dedup_names(attrs),
        })
}

fn key_pool() -> impl Strategy<Value = Vec<(KeyValue, Option<KeyValue>)>> {
    proptest::collection::vec((key_value(), proptest::option::of(key_value())), 1..=4)
}

/// The record's JSON. `poison` (if any) is put into the new image in place of one attribute.
fn record_json(
    r: &RecordSpec,
    position: usize,
    seq_prefix: &str,
    how: Escaping,
    ws: &str,
) -> String {
    let mut keys = vec![("pk".to_string(), r.keys.0.av())];
    if let Some(sk) = &r.keys.1 {
        keys.push(("sk".to_string(), sk.av()));
    }
    // The image holds the keys too; generated names never equal "pk"/"sk" by construction
    // (they are at most 6 chars of any kind, so they might: drop such clashes).
    let mut image = keys.clone();
    image.extend(
        r.image
            .iter()
            .filter(|(k, _)| k != "pk" && k != "sk")
            .cloned(),
    );
    let mut s = String::new();
    s.push_str(&format!(
        "{{{ws}\"eventID\":\"e{position}\",{ws}\"eventName\":\"{}\",",
        r.name
    ));
    s.push_str(
        "\"eventVersion\":\"1.1\",\"eventSource\":\"aws:dynamodb\",\"awsRegion\":\"us-east-1\",",
    );
    if r.ttl_identity {
        s.push_str(&format!(
            "\"userIdentity\":{{{ws}\"type\":\"Service\",\"principalId\":\"dynamodb.amazonaws.com\"}},"
        ));
    }
    s.push_str(&format!("{ws}\"dynamodb\":{{{ws}"));
    if let Some(t) = &r.timestamp {
        s.push_str(&format!("\"ApproximateCreationDateTime\":{t},{ws}"));
    }
    s.push_str("\"Keys\":");
    write_map(&mut s, &keys, how);
    s.push(',');
    s.push_str(ws);
    if r.name == "REMOVE" {
        s.push_str("\"OldImage\":");
    } else {
        s.push_str("\"NewImage\":");
    }
    write_map(&mut s, &image, how);
    s.push_str(&format!(
        ",{ws}\"SequenceNumber\":\"{seq_prefix}{position:010}\",\"SizeBytes\":100,\"StreamViewType\":\"NEW_AND_OLD_IMAGES\"{ws}}},"
    ));
    s.push_str("\"eventSourceARN\":\"arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000\"}");
    s
}

#[derive(Clone, Debug)]
struct EventSpec {
    records: Vec<RecordSpec>,
    seq_prefix: String,
    how: Escaping,
    pretty: bool,
    bom: bool,
}

impl EventSpec {
    fn text(&self) -> String {
        let ws = if self.pretty { "\n  " } else { "" };
        let records: Vec<String> = self
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| record_json(r, i, &self.seq_prefix, self.how, ws))
            .collect();
        let bom = if self.bom { "\u{feff}" } else { "" };
        format!(
            "{bom}{{\"Records\":[{ws}{}{ws}]}}",
            records.join(&format!(",{ws}"))
        )
    }
}

fn escaping() -> impl Strategy<Value = Escaping> {
    prop::sample::select(vec![Escaping::Minimal, Escaping::Ascii, Escaping::Heavy])
}

/// A SequenceNumber prefix: with the 10-digit counter, 11 to 40 digits.
fn seq_prefix() -> impl Strategy<Value = String> {
    (1u8..10, proptest::collection::vec(0u8..10, 0..=29)).prop_map(|(f, r)| {
        std::iter::once(f)
            .chain(r)
            .map(|d| char::from(b'0' + d))
            .collect()
    })
}

fn event() -> impl Strategy<Value = EventSpec> {
    key_pool()
        .prop_flat_map(|pool| {
            (
                proptest::collection::vec(record_spec(pool), 1..=6),
                seq_prefix(),
                escaping(),
                any::<bool>(),
                any::<bool>(),
            )
        })
        .prop_map(|(records, seq_prefix, how, pretty, bom)| EventSpec {
            records,
            seq_prefix,
            how,
            pretty,
            bom,
        })
}

/// Option sets the properties run under.
fn options() -> impl Strategy<Value = (Options, Option<&'static str>)> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0u8..6,
    )
        .prop_map(
            |(versioning, ttl_skip, reject_reserved, indexed_at, extra)| {
                let mut o = Options {
                    versioning,
                    ttl_skip,
                    ..Options::default()
                };
                if reject_reserved {
                    o.reserved_prefix = None;
                }
                if extra == 1 {
                    o.reserved_prefix = Some("x".into());
                }
                if extra == 2 {
                    o.id_keys = Some(vec!["sk".into(), "pk".into()]);
                }
                if extra == 3 {
                    o.numbers_as_strings = vec!["a".into(), "b".into()];
                }
                if extra == 4 {
                    o.routing = Some("pk".into());
                }
                if extra == 5 {
                    // Random key text as an index name: mostly refused, never steered.
                    o.index = "t-{sk}".into();
                }
                let ts = if indexed_at {
                    o.indexed_at = Some("indexed_at".into());
                    Some("2026-11-26T00:00:00Z")
                } else {
                    None
                };
                (o, ts)
            },
        )
}

/// 256 cases per property unless `PROPTEST_CASES` says otherwise; no persistence files in the tree.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The heart of it: any valid event converts exactly as the reference says.
    #[test]
    fn random_events_convert_exactly_as_the_reference_says(ev in event()) {
        let text = ev.text();
        let r = harness::check_event(text.as_bytes(), &Options::default(), None);
        prop_assert!(r.is_ok(), "{}\nevent: {}", r.unwrap_err(), text);
    }

    /// The same under other options (versioning off, TTL skip, reserved names rejected or
    /// renamed with another prefix, explicit key order, numbers as strings, indexed_at).
    #[test]
    fn random_events_under_random_options_match_the_reference(ev in event(), (opts, ts) in options()) {
        let text = ev.text();
        let r = harness::check_event(text.as_bytes(), &opts, ts);
        prop_assert!(r.is_ok(), "{}\noptions: {opts:?}\nevent: {}", r.unwrap_err(), text);
    }

    /// Every generated number is valid and comes out as a JSON number of exactly the same value.
    #[test]
    fn numbers_at_dynamodb_limits_keep_their_exact_value(n in number(), how in escaping()) {
        prop_assert!(reference::number::is_valid_n(&n), "generator made an invalid number {n}");
        let ev = single_value_event(&Av::N(n.clone()), how);
        let r = harness::check_event(ev.as_bytes(), &Options::default(), None);
        prop_assert!(r.is_ok(), "{}\nnumber: {n}", r.unwrap_err());
    }

    /// Chains of containers up to 32 deep convert.
    #[test]
    fn nesting_up_to_32_levels_converts(av in chain(32)) {
        prop_assert!(depth(&av) <= 32);
        let ev = single_value_event(&av, Escaping::Minimal);
        let plan = harness::planner(&Options::default()).plan(ev.as_bytes(), None).unwrap();
        prop_assert!(matches!(plan.records()[0].status, RecordStatus::Planned), "{:?}", plan.records()[0].status);
        let r = harness::check_event(ev.as_bytes(), &Options::default(), None);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    /// An invalid number anywhere in one record's image fails that record only.
    #[test]
    fn an_invalid_number_fails_only_its_record(
        ev in event(),
        bad in invalid_number(),
        victim in any::<prop::sample::Index>(),
        place in 0u8..4,
    ) {
        prop_assume!(!reference::number::is_valid_n(&bad));
        let poison = place_poison(Av::N(bad.clone()), Av::Ns(vec!["1".into(), bad.clone()]), place);
        check_poisoned(ev, poison, victim, RecordErrorKind::Number)?;
    }

    /// Invalid base64 anywhere in one record's image fails that record only.
    #[test]
    fn invalid_base64_fails_only_its_record(
        ev in event(),
        bad in invalid_base64(),
        victim in any::<prop::sample::Index>(),
        place in 0u8..4,
    ) {
        prop_assume!(!reference::is_base64(&bad));
        let poison = place_poison(Av::B(bad.clone()), Av::Bs(vec!["AA==".into(), bad.clone()]), place);
        check_poisoned(ev, poison, victim, RecordErrorKind::Base64)?;
    }
}

/// Put a bad scalar at the top level, in a set, inside a map, or deep in a list.
fn place_poison(scalar: Av, set: Av, place: u8) -> Av {
    match place {
        0 => scalar,
        1 => set,
        2 => Av::M(vec![("inner".into(), Av::L(vec![Av::Null, scalar]))]),
        _ => (0..20).fold(scalar, |inner, _| Av::L(vec![inner])),
    }
}

/// Make the victim an INSERT whose image carries the poison; it must be invalid with `kind`, the
/// error naming the poisoned attribute, and every other record must convert as the reference says.
fn check_poisoned(
    mut ev: EventSpec,
    poison: Av,
    victim: prop::sample::Index,
    kind: RecordErrorKind,
) -> Result<(), TestCaseError> {
    let v = victim.index(ev.records.len());
    ev.records[v].name = "INSERT";
    ev.records[v].image.push(("poison".into(), poison));
    let text = ev.text();
    let plan = harness::planner(&Options::default()).plan(text.as_bytes(), None);
    let plan = plan.map_err(|e| TestCaseError::fail(format!("whole-event error {e}\n{text}")))?;
    match &plan.records()[v].status {
        RecordStatus::Invalid(e) => {
            prop_assert_eq!(e.kind(), kind, "record {}: {}\n{}", v, e, text);
            prop_assert!(
                e.to_string().contains("NewImage.poison"),
                "record {}: {}\n{}",
                v,
                e,
                text
            );
        }
        other => prop_assert!(
            false,
            "record {} should be invalid: {:?}\n{}",
            v,
            other,
            text
        ),
    }
    let r = harness::check_event(text.as_bytes(), &Options::default(), None);
    prop_assert!(r.is_ok(), "{}\nevent: {}", r.unwrap_err(), text);
    Ok(())
}

/// One INSERT whose image is `{"pk":{"S":"k"},"v":<av>}`.
fn single_value_event(av: &Av, how: Escaping) -> String {
    let spec = EventSpec {
        records: vec![RecordSpec {
            name: "INSERT",
            ttl_identity: false,
            timestamp: Some("1700000000".into()),
            keys: (KeyValue::S("k".into()), None),
            image: vec![("v".into(), av.clone())],
        }],
        seq_prefix: "1".into(),
        how,
        pretty: false,
        bom: false,
    };
    spec.text()
}

#[test]
fn the_number_speller_writes_what_it_means() {
    use reference::number::parse_lenient as d;
    let plain = Spelling {
        sign: "",
        point: 1,
        leading_zeros: 0,
        trailing_zeros: 0,
        bare_point: false,
        marker: "e",
        exponent_plus: false,
        exponent_zeros: 0,
        force_exponent: false,
    };
    assert_eq!(spell("123", 0, &plain), "1.23");
    assert_eq!(
        spell(
            "5",
            0,
            &Spelling {
                bare_point: true,
                ..plain.clone()
            }
        ),
        "5."
    );
    assert_eq!(
        spell(
            "5",
            -1,
            &Spelling {
                point: 0,
                ..plain.clone()
            }
        ),
        ".5"
    );
    assert_eq!(
        spell(
            "7",
            0,
            &Spelling {
                sign: "+",
                leading_zeros: 2,
                ..plain.clone()
            }
        ),
        "+007"
    );
    let exp = Spelling {
        exponent_plus: true,
        exponent_zeros: 2,
        marker: "E",
        ..plain.clone()
    };
    assert_eq!(spell("42", 125, &exp), "4.2E+00125");
    assert_eq!(
        spell(
            "1",
            -130,
            &Spelling {
                point: 3,
                ..plain.clone()
            }
        ),
        "100e-132"
    );
    assert_eq!(
        d(&spell(
            "1",
            -130,
            &Spelling {
                point: 3,
                ..plain.clone()
            }
        )),
        d("1E-130")
    );
    assert_eq!(base64(b"\x00"), "AA==");
    assert_eq!(base64(b"\x00\x01\x2a\x41"), "AAEqQQ==");
    assert_eq!(base64(b"abc"), "YWJj");
}
