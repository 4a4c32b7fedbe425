//! The four corpus files, generated: deterministic Lambda DynamoDB Streams events.
//!
//! Each file is exactly the JSON object Lambda hands to a DynamoDB Streams handler,
//! `{"Records":[...]}`, compact, UTF-8 with non-ASCII characters unescaped:
//!
//! - `small`: 100 product records (~1 KB items): 70% INSERT, 20% MODIFY, 10% REMOVE, with
//!   `NEW_AND_OLD_IMAGES`, so a MODIFY carries both images and a REMOVE its old one;
//! - `large`: the same mix, as many records as fit in 5.5 MB (Lambda's invocation payload limit
//!   is 6 MB);
//! - `wide`: 50 big `NEW_IMAGE` items: numbers at DynamoDB's limits, nesting 12 to 20 deep, a
//!   700-element list, a 24×24 matrix, a 1,300-member number set, 4 KB binary, a binary set;
//! - `edge`: one record per edge case (empty strings and containers, `BOOL false`, `NULL`,
//!   Unicode and escapes in values and names, `/` and `|` in keys, sets in maps, type-tag and
//!   `__proto__` names, long escaped strings, 38-digit numbers, a TTL expiry with
//!   `userIdentity`).
//!
//! Every AttributeValue type occurs. The random source is [`Rng`] seeded per file, so the bytes
//! never change unless this file does (the digests in `corpus` say when they have).

use crate::av::{Av, Item, item, item_size, m, n, s, set, write_item};
use crate::rng::Rng;

/// The seed every file's generator starts from (mixed with the file's name).
const SEED: u64 = 20_260_101;
const ARN: &str =
    "arn:aws:dynamodb:us-east-1:123456789012:table/Products/stream/2026-01-01T00:00:00.000";
/// 2026-01-01T00:00:00Z, the first record's `ApproximateCreationDateTime`.
const T0: u64 = 1_767_225_600;
/// The most bytes `large` may have.
pub const LARGE_LIMIT: usize = 5_500_000;

/// Words for product names (also the export generator's).
pub(crate) const WORDS: &[&str] = &[
    "ergonomic",
    "steel",
    "wireless",
    "compact",
    "premium",
    "organic",
    "vintage",
    "modular",
    "waterproof",
    "lightweight",
    "durable",
    "portable",
    "smart",
    "classic",
    "deluxe",
    "recycled",
    "bamboo",
    "ceramic",
    "carbon",
    "titanium",
    "cotton",
    "leather",
    "solar",
    "acoustic",
    "thermal",
];
const COLORS: &[&str] = &[
    "red", "green", "blue", "black", "white", "silver", "gold", "navy", "teal", "orange",
];
const CATEGORIES: &[&str] = &[
    "Electronics",
    "Home",
    "Garden",
    "Toys",
    "Sports",
    "Books",
    "Kitchen",
    "Outdoor",
    "Office",
    "Beauty",
];
const BRANDS: &[&str] = &[
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell",
    "Soylent",
];
const COUNTRIES: &[&str] = &["US", "DE", "JP", "VN", "MX"];

/// Valid DynamoDB numbers at or near its limits (38 digits, 1E+125, 1E-130).
const BIG_NUMBERS: &[&str] = &[
    "12345678901234567890123456789012345678",
    "-99999999999999999999999999999999999999",
    "0.12345678901234567890123456789012345678",
    "1234567890.1234567890123456789012345678",
    "1E+30",
    "-0.000001",
    "9007199254740993",
    "9.9999999999999999999999999999999999999E+125",
    "1E-130",
    "-1E+100",
    "3.141592653589793238462643383279502884",
];

/// The bytes of corpus file `name` (`"small"`, `"large"`, `"wide"` or `"edge"`).
///
/// # Panics
/// For any other name.
pub fn generate(name: &str) -> Vec<u8> {
    let mut rng = Rng::new(SEED ^ fnv1a(name));
    let records = match name {
        "small" => small(&mut rng),
        "large" => large(&mut rng),
        "wide" => wide(&mut rng),
        "edge" => edge(&mut rng),
        other => panic!("no corpus file {other:?}"),
    };
    event(&records).into_bytes()
}

/// FNV-1a, to turn a file name into a seed (and `kinesis` a key into a partition key).
pub(crate) fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `{"Records":[` + the records, comma-separated + `]}`.
fn event(records: &[String]) -> String {
    let mut out = String::with_capacity(records.iter().map(|r| r.len() + 1).sum::<usize>() + 16);
    out.push_str("{\"Records\":[");
    out.push_str(&records.join(","));
    out.push_str("]}");
    out
}

fn words(rng: &mut Rng, count: usize) -> String {
    let picked: Vec<&str> = (0..count).map(|_| rng.pick(WORDS)).collect();
    picked.join(" ")
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// `count` random words, each capitalized.
fn title(rng: &mut Rng, count: usize) -> String {
    let picked: Vec<String> = (0..count).map(|_| capitalized(rng.pick(WORDS))).collect();
    picked.join(" ")
}

/// A random price, as [`price`] writes it.
fn money(rng: &mut Rng) -> String {
    let whole = rng.range(1, 999);
    let cents = rng.range(0, 99);
    price(whole, cents)
}

/// A price such as `939.68`, `77.8` or `12`: trailing zeros dropped, as a person types it.
fn price(whole: i64, cents: i64) -> String {
    let text = format!("{whole}.{cents:02}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `units / 10^scale` as decimal text with at least one fractional digit: `19.437`, `5.0`, `-0.05`.
fn decimal(units: i64, scale: u32) -> String {
    let div = 10_i64.pow(scale);
    let sign = if units < 0 { "-" } else { "" };
    let (whole, frac) = (
        units.unsigned_abs() / div as u64,
        units.unsigned_abs() % div as u64,
    );
    let frac = format!("{frac:0width$}", width = scale as usize);
    let frac = frac.trim_end_matches('0');
    let frac = if frac.is_empty() { "0" } else { frac };
    format!("{sign}{whole}.{frac}")
}

/// An ISO-8601 UTC timestamp in 2025 with milliseconds.
fn iso(rng: &mut Rng) -> String {
    format!(
        "2025-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        rng.range(1, 12),
        rng.range(1, 28),
        rng.range(0, 23),
        rng.range(0, 59),
        rng.range(0, 59),
        rng.range(0, 999)
    )
}

/// A ~1 KB product item.
fn product(rng: &mut Rng, i: usize, version: u32) -> Item {
    let name = format!(
        "{} {} {}",
        rng.pick(BRANDS),
        title(rng, 2),
        rng.range(1, 9000)
    );
    let description_words = rng.range(12, 24) as usize;
    let description = format!("{}.", capitalized(&words(rng, description_words)));
    let tag_count = rng.range(2, 5) as usize;
    let mut tags = rng.sample(WORDS, tag_count);
    tags.sort_unstable();
    let sizes: std::collections::BTreeSet<String> = (0..rng.range(1, 4))
        .map(|_| rng.range(30, 50).to_string())
        .collect();
    let variants: Vec<Av> = (0..rng.range(1, 3))
        .map(|j| {
            m([
                ("sku", s(format!("V-{i}-{j}"))),
                ("color", s(rng.pick(COLORS))),
                ("price", n(money(rng))),
                ("inStock", Av::Bool(rng.percent(70))),
            ])
        })
        .collect();
    let care: Vec<Av> = (0..rng.range(0, 3)).map(|_| s(words(rng, 3))).collect();
    item([
        ("pk", s(format!("PRODUCT#{i:07}"))),
        ("sk", s(format!("SKU#{:03}", i % 97))),
        ("name", s(name)),
        ("brand", s(rng.pick(BRANDS))),
        ("category", s(rng.pick(CATEGORIES))),
        ("description", s(description)),
        ("price", n(money(rng))),
        ("currency", s("USD")),
        ("stock", n(rng.range(0, 5000))),
        ("rating", n(decimal(rng.range(10, 50), 1))),
        ("weightKg", n(decimal(rng.range(1, 20_000), 3))),
        ("active", Av::Bool(rng.percent(80))),
        ("featured", Av::Bool(rng.percent(20))),
        (
            "discontinuedAt",
            if rng.percent(85) {
                Av::Null
            } else {
                s(iso(rng))
            },
        ),
        (
            "dimensions",
            m([
                ("lengthCm", n(rng.range(1, 200))),
                ("widthCm", n(rng.range(1, 200))),
                ("heightCm", n(decimal(rng.range(1, 2000), 1))),
                ("unit", s("cm")),
            ]),
        ),
        (
            "tags",
            Av::Ss(tags.into_iter().map(str::to_owned).collect()),
        ),
        ("sizes", Av::Ns(sizes.into_iter().collect())),
        ("variants", Av::L(variants)),
        (
            "attributes",
            m([
                ("material", s(rng.pick(WORDS))),
                (
                    "origin",
                    m([
                        ("country", s(rng.pick(COUNTRIES))),
                        ("factory", s(format!("F-{}", rng.range(1, 99)))),
                    ]),
                ),
                ("care", Av::L(care)),
            ]),
        ),
        ("createdAt", s(iso(rng))),
        ("updatedAt", s(iso(rng))),
        ("version", n(version)),
    ])
}

fn keys_of(it: &Item) -> Item {
    it.iter()
        .filter(|(k, _)| k == "pk" || k == "sk")
        .cloned()
        .collect()
}

/// Builds stream records with increasing sequence numbers and timestamps.
struct Stream {
    view: &'static str,
    sequence: u128,
    time: u64,
}

impl Stream {
    fn new(rng: &mut Rng, view: &'static str) -> Self {
        Stream {
            view,
            sequence: 400_000_000_000_000_000_000 + u128::from(rng.below(1_000_000_001)),
            time: T0,
        }
    }

    /// One record's compact JSON. `old` is left out unless the view keeps old images;
    /// `extra` is appended verbatim as further members (already JSON).
    fn record(
        &mut self,
        rng: &mut Rng,
        name: &str,
        keys: &Item,
        new: Option<&Item>,
        old: Option<&Item>,
        extra: &str,
    ) -> String {
        self.sequence += u128::from(rng.range(1, 5000) as u64) * 100;
        self.time += rng.below(3);
        let old = old.filter(|_| self.view == "NEW_AND_OLD_IMAGES");
        let size = item_size(keys) + new.map_or(0, item_size) + old.map_or(0, item_size);
        let event_id = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());

        let mut out = String::with_capacity(2048);
        out.push_str(&format!(
            concat!(
                r#"{{"eventID":"{:032x}","eventName":"{}","eventVersion":"1.1","#,
                r#""eventSource":"aws:dynamodb","awsRegion":"us-east-1","#,
                r#""dynamodb":{{"ApproximateCreationDateTime":{},"Keys":"#
            ),
            event_id, name, self.time
        ));
        write_item(&mut out, keys);
        if let Some(new) = new {
            out.push_str(r#","NewImage":"#);
            write_item(&mut out, new);
        }
        if let Some(old) = old {
            out.push_str(r#","OldImage":"#);
            write_item(&mut out, old);
        }
        out.push_str(&format!(
            concat!(
                r#","SequenceNumber":"{}","SizeBytes":{},"StreamViewType":"{}"}},"#,
                r#""eventSourceARN":"{}"{}}}"#
            ),
            self.sequence, size, self.view, ARN, extra
        ));
        out
    }
}

/// 70% INSERT, 20% MODIFY (price, stock and updatedAt change), 10% REMOVE.
fn product_record(stream: &mut Stream, rng: &mut Rng, i: usize) -> String {
    let x = rng.below(100);
    if x < 70 {
        let it = product(rng, i, 1);
        return stream.record(rng, "INSERT", &keys_of(&it), Some(&it), None, "");
    }
    // The old image is the new one before the change: drawn from the same random state.
    let old = product(&mut rng.clone(), i, 1);
    let mut new = product(rng, i, 2);
    set(&mut new, "price", n(money(rng)));
    set(&mut new, "stock", n(rng.range(0, 5000)));
    set(&mut new, "updatedAt", s(iso(rng)));
    if x < 90 {
        stream.record(rng, "MODIFY", &keys_of(&new), Some(&new), Some(&old), "")
    } else {
        stream.record(rng, "REMOVE", &keys_of(&old), None, Some(&old), "")
    }
}

fn small(rng: &mut Rng) -> Vec<String> {
    let mut stream = Stream::new(rng, "NEW_AND_OLD_IMAGES");
    (0..100)
        .map(|i| product_record(&mut stream, rng, i))
        .collect()
}

fn large(rng: &mut Rng) -> Vec<String> {
    let mut stream = Stream::new(rng, "NEW_AND_OLD_IMAGES");
    let mut records = Vec::new();
    let mut size = event(&[]).len();
    loop {
        let record = product_record(&mut stream, rng, 100_000 + records.len());
        // The record plus the comma before it (one too many for the first: never over).
        let grown = size + record.len() + 1;
        if grown > LARGE_LIMIT {
            return records;
        }
        records.push(record);
        size = grown;
    }
}

/// Alternating `L` / `M` nesting `depth` levels deep, with mixed leaves.
fn deep(rng: &mut Rng, depth: u32) -> Av {
    if depth == 0 {
        return match rng.below(5) {
            0 => s(words(rng, 2)),
            1 => n(rng.pick(BIG_NUMBERS)),
            2 => Av::Bool(false),
            3 => Av::Null,
            _ => s(""),
        };
    }
    let child = deep(rng, depth - 1);
    if depth % 2 == 1 {
        Av::L(vec![n(depth), child, s(format!("level-{depth}"))])
    } else {
        m([
            ("depth", n(depth)),
            ("child", child),
            ("flag", Av::Bool(depth.is_multiple_of(4))),
        ])
    }
}

fn wide_item(rng: &mut Rng, i: usize) -> Item {
    let mut it = item([
        ("pk", s(format!("WIDE#{i:04}"))),
        ("sk", s("SNAPSHOT")),
        ("title", s(words(rng, 8))),
    ]);
    for (k, number) in BIG_NUMBERS.iter().enumerate() {
        it.push((format!("num{k}"), n(*number)));
    }
    let depth = rng.range(12, 20) as u32;
    it.push(("deep".into(), deep(rng, depth)));
    it.push(("deep20".into(), deep(rng, 20)));
    let long_list = (0..700)
        .map(|j| {
            if j % 3 == 0 {
                s(words(rng, 2))
            } else {
                n(rng.range(-1_000_000, 1_000_000))
            }
        })
        .collect();
    it.push(("longList".into(), Av::L(long_list)));
    let matrix = (0..24)
        .map(|_| {
            Av::L(
                (0..24)
                    .map(|_| n(decimal(rng.range(-999, 999), 2)))
                    .collect(),
            )
        })
        .collect();
    it.push(("matrix".into(), Av::L(matrix)));
    let mut numbers: std::collections::BTreeSet<String> = (0..1300)
        .map(|_| rng.range(0, 1_000_000_000).to_string())
        .collect();
    numbers.extend(["1E+30", "-0.000001", BIG_NUMBERS[0]].map(String::from));
    it.push(("bigNS".into(), Av::Ns(numbers.into_iter().collect())));
    let tags: std::collections::BTreeSet<String> = (0..150).map(|_| words(rng, 2)).collect();
    it.push(("tags".into(), Av::Ss(tags.into_iter().collect())));
    it.push(("blob".into(), Av::B(rng.bytes(4096))));
    let blobs: std::collections::BTreeSet<Vec<u8>> = (0..20)
        .map(|_| {
            let len = rng.range(16, 300) as usize;
            rng.bytes(len)
        })
        .collect();
    it.push(("blobs".into(), Av::Bs(blobs.into_iter().collect())));
    let events = (0..100)
        .map(|_| {
            m([
                ("at", s(iso(rng))),
                ("type", s(rng.pick(WORDS))),
                ("ok", Av::Bool(rng.percent(50))),
                ("score", n(decimal(rng.range(0, 1_000_000), 3))),
                ("note", Av::Null),
            ])
        })
        .collect();
    it.push(("events".into(), Av::L(events)));
    let flags = (0..40).map(|j| (format!("f{j}"), Av::Bool(j % 2 == 0)));
    it.push(("flags".into(), m(flags)));
    it
}

fn wide(rng: &mut Rng) -> Vec<String> {
    let mut stream = Stream::new(rng, "NEW_IMAGE");
    (0..50)
        .map(|i| {
            let it = wide_item(rng, i);
            let name = match i {
                _ if i % 10 == 9 => "REMOVE",
                _ if i % 3 == 1 => "MODIFY",
                _ => "INSERT",
            };
            let new = (name != "REMOVE").then_some(&it);
            stream.record(rng, name, &keys_of(&it), new, None, "")
        })
        .collect()
}

fn keys(pk: &str, sk: &str) -> Item {
    item([("pk", s(pk)), ("sk", s(sk))])
}

/// The hand-written edge cases: (eventName, keys, image); ids are unique. A REMOVE has no image.
fn edge_cases() -> Vec<(&'static str, Item, Option<Item>)> {
    let bools = |v: &[bool]| Av::L(v.iter().map(|b| Av::Bool(*b)).collect());
    let strings = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let long_escaped = "tab\t\"q\"\\ \u{1} é 😀 ".repeat(300).trim().to_owned();
    vec![
        (
            "INSERT",
            keys("EDGE#01", "empty-string"),
            Some(item([("title", s("")), ("note", s("not empty"))])),
        ),
        (
            "INSERT",
            keys("EDGE#02", "bool-false"),
            Some(item([("flag", Av::Bool(false)), ("other", Av::Bool(true))])),
        ),
        (
            "INSERT",
            keys("EDGE#03", "n-zero"),
            Some(item([
                ("count", n("0")),
                ("neg", n("-1")),
                ("frac", n("0.5")),
            ])),
        ),
        (
            "INSERT",
            keys("EDGE#04", "null"),
            Some(item([("nothing", Av::Null), ("something", s("x"))])),
        ),
        (
            "INSERT",
            keys("EDGE#05", "unicode"),
            Some(item([
                ("fr", s("héllo wörld")),
                ("ja", s("日本語テキスト")),
                ("emoji", s("😀🚀 👩\u{200d}💻 🇺🇸")),
                ("ar", s("مرحبا")),
                ("combining", s("e\u{301}")),
                ("bmp_edge", s("\u{ffff}\u{e000}")),
            ])),
        ),
        (
            "INSERT",
            keys("EDGE#06", "escapes"),
            Some(item([
                ("quote", s("say \"hi\"")),
                ("backslash", s("C:\\path\\to\\")),
                ("ctrl", s("a\u{1}b\u{1f}c\u{7f}d")),
                ("nul", s("nul\u{0}byte")),
                ("newlines", s("line1\nline2\r\n\tend")),
                ("seps", s("\u{2028}\u{2029}")),
                ("slash", s("</script>")),
                ("backspace", s("\u{8}\u{c}")),
            ])),
        ),
        (
            "INSERT",
            keys("EDGE#07", "attr-names"),
            Some(item([
                ("a.b.c", s("dots")),
                ("with space", s("spaces")),
                ("naïve", s("non-ascii")),
                ("日本", n("1")),
                ("emoji😀", Av::Bool(true)),
                ("q\"uote", s("x")),
                ("back\\slash", s("y")),
                ("tab\tname", s("z")),
            ])),
        ),
        (
            "INSERT",
            keys("EDGE#08", "empty-containers"),
            Some(item([
                ("emptyMap", m::<&str>([])),
                ("emptyList", Av::L(vec![])),
                (
                    "nested",
                    m([("e", m::<&str>([])), ("l", Av::L(vec![Av::L(vec![])]))]),
                ),
            ])),
        ),
        (
            "INSERT",
            keys("PRODUCT/2026|A", "sku|red/XL"),
            Some(item([("name", s("slash and pipe key"))])),
        ),
        (
            "MODIFY",
            keys("EDGE#10", "nested-falsy"),
            Some(item([
                (
                    "list",
                    Av::L(vec![
                        Av::Bool(false),
                        s(""),
                        n("0"),
                        Av::Null,
                        m::<&str>([]),
                        Av::L(vec![]),
                    ]),
                ),
                (
                    "map",
                    m([
                        ("f", Av::Bool(false)),
                        ("e", s("")),
                        ("z", n("0")),
                        ("n", Av::Null),
                    ]),
                ),
            ])),
        ),
        (
            "INSERT",
            keys("EDGE#11", "sets"),
            Some(item([
                ("ss", Av::Ss(strings(&["a", "b", "ünï", "😀"]))),
                (
                    "ns",
                    Av::Ns(strings(&["0", "-1.5", "1E+30", BIG_NUMBERS[0]])),
                ),
                ("bs", Av::Bs(vec![vec![0, 1], vec![0xff; 7]])),
            ])),
        ),
        (
            "INSERT",
            keys("EDGE#12", "binary"),
            Some(item([
                ("bin", Av::B(vec![0, 1, 0xfe, 0xff])),
                ("empty", Av::B(vec![])),
                ("text", Av::B("hello 🌍".as_bytes().to_vec())),
            ])),
        ),
        (
            "INSERT",
            keys("EDGE#13", "numbers"),
            Some(item([
                ("big", n(BIG_NUMBERS[0])),
                ("bigneg", n(BIG_NUMBERS[1])),
                ("exp", n("1E+30")),
                ("tiny", n("-0.000001")),
                ("safeplus1", n("9007199254740993")),
                ("frac", n("0.1")),
                ("long_frac", n(BIG_NUMBERS[2])),
                ("max", n(BIG_NUMBERS[7])),
                ("min", n("1E-130")),
                ("trailing0", n("1.50")),
                ("int", n("-42")),
            ])),
        ),
        (
            "INSERT",
            keys("EDGE#14", "numberish-strings"),
            Some(item([
                ("zip", s("01234")),
                ("e", s("1e5")),
                ("t", s("true")),
                ("n", s("null")),
                ("sp", s(" ")),
            ])),
        ),
        (
            "INSERT",
            keys("EDGE#15", "proto-names"),
            Some(item([
                ("__proto__", m([("polluted", Av::Bool(true))])),
                ("constructor", s("c")),
                ("toString", n("1")),
            ])),
        ),
        ("REMOVE", keys("PRODUCT/2026|B", "sku|blue/S"), None),
        (
            "MODIFY",
            keys("EDGE#17", "long-escaped"),
            Some(item([("blob", s(long_escaped))])),
        ),
        (
            "INSERT",
            keys("EDGE#18", "deep-falsy"),
            Some(item([("d", deep(&mut Rng::new(18), 20))])),
        ),
        (
            "INSERT",
            keys("EDGE#19", "type-tag-names"),
            Some(item([
                ("S", s("x")),
                ("N", n("1")),
                ("BOOL", Av::Bool(false)),
                ("M", m([("L", Av::L(vec![])), ("NULL", Av::Null)])),
            ])),
        ),
        (
            "INSERT",
            keys("EDGE#20", "only-false"),
            Some(item([("isDeleted", Av::Bool(false))])),
        ),
        (
            "INSERT",
            keys("EDGE#21", "null-in-list"),
            Some(item([("xs", Av::L(vec![Av::Null, Av::Null, s("a")]))])),
        ),
        (
            "INSERT",
            keys("PRODUCT#ü😀", "v|1/2"),
            Some(item([("k", s("unicode key"))])),
        ),
        (
            "INSERT",
            keys("EDGE#23", "set-in-map"),
            Some(item([(
                "m",
                m([
                    ("tags", Av::Ss(strings(&["x", "y"]))),
                    ("nums", Av::Ns(strings(&["1", "2.5"]))),
                    ("bin", Av::B(vec![1])),
                ]),
            )])),
        ),
        (
            "INSERT",
            keys("EDGE#24", "bool-list"),
            Some(item([("bs", bools(&[true, false, false]))])),
        ),
        // One peculiarity per record, so that a converter which drops a whole record on its
        // first bad attribute still shows what it does with the others.
        (
            "INSERT",
            keys("EDGE#25", "negative-fraction"),
            Some(item([("delta", n("-0.5")), ("tiny", n("-0.000001"))])),
        ),
        (
            "INSERT",
            keys("EDGE#26", "int-38-digits"),
            Some(item([("big", n(BIG_NUMBERS[0]))])),
        ),
        (
            "INSERT",
            keys("EDGE#27", "exponent"),
            Some(item([("exp", n("1E+30"))])),
        ),
        (
            "INSERT",
            keys("EDGE#28", "2^53+1"),
            Some(item([("n", n("9007199254740993"))])),
        ),
        (
            "INSERT",
            keys("EDGE#29", "string-set-only"),
            Some(item([
                ("ss", Av::Ss(strings(&["x", "y"]))),
                ("ns", Av::Ns(strings(&["1", "2"]))),
            ])),
        ),
    ]
}

fn edge(rng: &mut Rng) -> Vec<String> {
    let mut stream = Stream::new(rng, "NEW_AND_OLD_IMAGES");
    let mut records: Vec<String> = edge_cases()
        .into_iter()
        .map(|(name, keys, image)| {
            let new = image.map(|img| keys.iter().cloned().chain(img).collect::<Item>());
            let old = (name != "INSERT").then(|| {
                keys.iter()
                    .cloned()
                    .chain([("v".into(), n("0"))])
                    .collect::<Item>()
            });
            stream.record(rng, name, &keys, new.as_ref(), old.as_ref(), "")
        })
        .collect();
    // A TTL expiry: a REMOVE by the service, which carries userIdentity.
    let ttl_keys = keys("EDGE#ttl", "expired");
    let ttl_old: Item = ttl_keys
        .iter()
        .cloned()
        .chain([("ttl".into(), n(T0))])
        .collect();
    records.push(stream.record(
        rng,
        "REMOVE",
        &ttl_keys,
        None,
        Some(&ttl_old),
        r#","userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"}"#,
    ));
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_with_one_fractional_digit_at_least() {
        assert_eq!(decimal(19_437, 3), "19.437");
        assert_eq!(decimal(7_000, 3), "7.0");
        assert_eq!(decimal(20, 3), "0.02");
        assert_eq!(decimal(-5, 2), "-0.05");
        assert_eq!(decimal(0, 2), "0.0");
        assert_eq!(decimal(27, 1), "2.7");
    }

    #[test]
    fn prices_drop_trailing_zeros_only_after_the_point() {
        assert_eq!(price(939, 68), "939.68");
        assert_eq!(price(10, 50), "10.5");
        assert_eq!(price(5, 5), "5.05");
        assert_eq!(price(100, 0), "100");
        assert_eq!(price(1, 0), "1");
    }

    #[test]
    fn capitalized_upper_cases_the_first_letter_only() {
        assert_eq!(capitalized("steel wireless"), "Steel wireless");
        assert_eq!(capitalized(""), "");
    }
}
