//! A generated DynamoDB table export (`DYNAMODB_JSON`), for the backfill benchmarks.
//!
//! [`write()`] makes a directory laid out as DynamoDB's export to S3 lays out
//! `<prefix>/AWSDynamoDB/<export id>/`:
//!
//! - `manifest-summary.json`: one JSON object (`version`, `exportArn`, `startTime`, `endTime`,
//!   `tableArn`, `tableId`, `exportTime`, `s3Bucket`, `s3Prefix`, `s3SseAlgorithm`,
//!   `s3SseKmsKeyId`, `manifestFilesS3Key`, `billedSizeBytes`, `itemCount`, `outputFormat`
//!   `DYNAMODB_JSON`, `exportType` `FULL_EXPORT`);
//! - `manifest-files.json`: one JSON line per data file (`itemCount`, `md5Checksum` — the
//!   base64 MD5 of the file —, `etag` — as S3 gives a one-part multipart upload: the hex MD5 of
//!   that MD5, then `-1` —, `dataFileS3Key`, the file's key in the bucket);
//! - `data/<name>.json.gz`: gzip, one `{"Item":{...}}` line per item, in DynamoDB JSON (`B` and
//!   `BS` members as base64 text);
//! - `_started`, empty, as DynamoDB leaves it.
//!
//! The manifests are written last, the summary after the file list, so a directory with a
//! `manifest-summary.json` is complete.
//!
//! Every item is a product of exactly [`Spec::item_bytes`] bytes of compact DynamoDB JSON (the
//! description is cut to fit, when the rest leaves room), keyed by the hash key `pk`
//! (`PRODUCT#0000000042`), with all ten AttributeValue types: strings (some non-ASCII), numbers
//! whose text has trailing zeros (`12.50`, `1.250`), `BOOL`, `NULL`, `SS`, `NS`, `BS`, `B`, maps
//! and lists. Item `i` depends only on the seed and `i`, not on how many files there are.

use std::fs::{self, File};
use std::io::{self, BufRead as _, BufReader, BufWriter, Read as _, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use md5::{Digest as _, Md5};

use crate::av::{Av, Item, item, item_size, m, n, s, write_item};
use crate::rng::Rng;
use crate::shapes::WORDS;

/// The seed used when none is given.
pub const SEED: u64 = 20_260_401;
/// The table's only key attribute (a hash key, type S).
pub const KEY: &str = "pk";
/// The export's point in time, `exportTime`: 2026-01-01T00:00:00Z.
pub const EXPORT_TIME: &str = "2026-01-01T00:00:00.000Z";
const START_TIME: &str = "2026-01-01T00:00:00.000Z";
const END_TIME: &str = "2026-01-01T00:06:12.345Z";
const TABLE_ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/Products";
const BUCKET: &str = "bench-exports";
const PREFIX: &str = "products";

/// Names, some with non-ASCII letters (written as themselves, as DynamoDB exports them).
const NAMES: &[&str] = &[
    "Desk Lamp",
    "Café Grinder",
    "Crème Brûlée Torch",
    "Kettle",
    "Trail Shoe",
    "Smørrebrød Board",
    "Headphones",
    "Übergröße Jacket",
    "Water Bottle",
    "Notebook",
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

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Items in the whole export.
    pub items: u64,
    /// Data files (at least 1); item `i` of `n` goes to file `i * files / n`.
    pub files: u32,
    /// Bytes of compact DynamoDB JSON per item (its line, `{"Item":...}`, is 9 bytes longer
    /// without its newline). Items cannot be smaller than what they hold besides their
    /// description (about 800 bytes); below that they are as small as they go.
    pub item_bytes: usize,
    /// The random stream's seed.
    pub seed: u64,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            items: 100_000,
            files: 8,
            item_bytes: 1000,
            seed: SEED,
        }
    }
}

/// One data file as listed in `manifest-files.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// The path under the export directory: `data/<name>.json.gz`.
    pub path: String,
    /// Items (lines) in it.
    pub items: u64,
    /// Its size, gzipped.
    pub bytes: u64,
    /// The size of its lines, uncompressed.
    pub raw_bytes: u64,
}

/// What [`write()`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The export id (the directory's name in S3).
    pub export_id: String,
    /// The data files, in the order of `manifest-files.json`.
    pub files: Vec<DataFile>,
}

/// The export id and data file names of `spec`: the same for the same seed and file count.
fn names(spec: &Spec) -> (String, Vec<String>) {
    let mut rng = Rng::new(spec.seed ^ 0x6578_706f_7274);
    let export_id = format!("01767225600000-{:08x}", rng.next_u64() as u32);
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let files = (0..spec.files)
        .map(|_| {
            let name: String = (0..26)
                .map(|_| char::from(ALPHABET[rng.below(32) as usize]))
                .collect();
            format!("data/{name}.json.gz")
        })
        .collect();
    (export_id, files)
}

/// The items of file `f` of `spec`: `f * n / files .. (f + 1) * n / files`.
pub fn file_items(spec: &Spec, f: u32) -> std::ops::Range<u64> {
    let share =
        |f: u32| (u128::from(spec.items) * u128::from(f) / u128::from(spec.files.max(1))) as u64;
    share(f)..share(f + 1)
}

/// Writes the export `spec` describes into `dir` (created if needed; files of the same names
/// are replaced), streaming: memory does not grow with the item count.
pub fn write(dir: &Path, spec: &Spec) -> io::Result<Written> {
    if spec.files == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an export has at least one data file",
        ));
    }
    let (export_id, paths) = names(spec);
    // A rewrite starts from nothing: no manifest of an earlier run says "complete" meanwhile.
    for name in ["manifest-summary.json", "manifest-files.json"] {
        match fs::remove_file(dir.join(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    fs::create_dir_all(dir.join("data"))?;
    File::create(dir.join("_started"))?;
    let key_prefix = format!("{PREFIX}/AWSDynamoDB/{export_id}");

    let mut files = Vec::with_capacity(paths.len());
    let mut manifest = String::new();
    let mut billed = 0u64;
    let mut line = String::with_capacity(spec.item_bytes + 64);
    for (f, path) in (0..spec.files).zip(paths) {
        let out = Hashing::new(BufWriter::with_capacity(
            1 << 16,
            File::create(dir.join(&path))?,
        ));
        let mut gz = GzEncoder::new(out, Compression::default());
        let range = file_items(spec, f);
        let mut raw_bytes = 0u64;
        for i in range.clone() {
            let it = product(spec, i);
            billed += item_size(&it) as u64;
            line.clear();
            line.push_str("{\"Item\":");
            write_item(&mut line, &it);
            line.push_str("}\n");
            gz.write_all(line.as_bytes())?;
            raw_bytes += line.len() as u64;
        }
        let out = gz.finish()?;
        let (writer, md5, bytes) = out.finish();
        writer
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        let etag = hex(&Md5::digest(md5));
        let items = range.end - range.start;
        manifest.push_str(&format!(
            "{{\"itemCount\":{items},\"md5Checksum\":\"{}\",\"etag\":\"{etag}-1\",\
             \"dataFileS3Key\":\"{key_prefix}/{path}\"}}\n",
            STANDARD.encode(md5)
        ));
        files.push(DataFile {
            path,
            items,
            bytes,
            raw_bytes,
        });
    }
    fs::write(dir.join("manifest-files.json"), &manifest)?;
    let summary = format!(
        concat!(
            "{{\"version\":\"2020-06-30\",\"exportArn\":\"{table}/export/{id}\",",
            "\"startTime\":\"{start}\",\"endTime\":\"{end}\",\"tableArn\":\"{table}\",",
            "\"tableId\":\"3e5b1f0a-7c2d-4e8f-9a6b-1d2c3e4f5a6b\",\"exportTime\":\"{time}\",",
            "\"s3Bucket\":\"{bucket}\",\"s3Prefix\":\"{prefix}\",\"s3SseAlgorithm\":\"AES256\",",
            "\"s3SseKmsKeyId\":null,\"manifestFilesS3Key\":\"{keys}/manifest-files.json\",",
            "\"billedSizeBytes\":{billed},\"itemCount\":{count},",
            "\"outputFormat\":\"DYNAMODB_JSON\",\"exportType\":\"FULL_EXPORT\"}}\n"
        ),
        table = TABLE_ARN,
        id = export_id,
        start = START_TIME,
        end = END_TIME,
        time = EXPORT_TIME,
        bucket = BUCKET,
        prefix = PREFIX,
        keys = key_prefix,
        billed = billed,
        count = spec.items,
    );
    fs::write(dir.join("manifest-summary.json"), summary)?;
    Ok(Written { export_id, files })
}

/// The data files of the export in `dir`, in the order of its `manifest-files.json`, as paths
/// under `dir` (the part of each `dataFileS3Key` from `data/` on).
pub fn data_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let manifest = fs::read_to_string(dir.join("manifest-files.json"))?;
    manifest
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let key = l
                .split("\"dataFileS3Key\":\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .ok_or_else(|| bad(format!("no dataFileS3Key in {l}")))?;
            let at = key
                .rfind("/data/")
                .ok_or_else(|| bad(format!("{key} is not under data/")))?;
            Ok(dir.join(&key[at + 1..]))
        })
        .collect()
}

/// The lines of one data file, decompressed, without their newlines.
pub fn read_lines(path: &Path) -> io::Result<Vec<String>> {
    let mut lines = Vec::new();
    for line in BufReader::new(MultiGzDecoder::new(File::open(path)?)).lines() {
        lines.push(line?);
    }
    Ok(lines)
}

/// The whole decompressed content of one data file.
pub fn read_raw(path: &Path) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    MultiGzDecoder::new(File::open(path)?).read_to_end(&mut out)?;
    Ok(out)
}

fn bad(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A writer that hashes (MD5) and counts what passes through it.
struct Hashing<W> {
    inner: W,
    md5: Md5,
    bytes: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            md5: Md5::new(),
            bytes: 0,
        }
    }

    fn finish(self) -> (W, [u8; 16], u64) {
        (self.inner, self.md5.finalize().into(), self.bytes)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.md5.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn words(rng: &mut Rng, count: usize) -> String {
    let picked: Vec<&str> = (0..count).map(|_| rng.pick(WORDS)).collect();
    picked.join(" ")
}

/// A price typed with its cents, trailing zeros kept: `12.50`, `7.00`, `939.68`.
fn price(rng: &mut Rng) -> String {
    let cents = if rng.percent(40) {
        rng.range(0, 9) * 10
    } else {
        rng.range(0, 99)
    };
    format!("{}.{cents:02}", rng.range(1, 999))
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

/// Item `i` of `spec`: its own random stream, so it does not depend on the items before it.
pub fn product(spec: &Spec, i: u64) -> Item {
    let mut rng = Rng::new(spec.seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let rng = &mut rng;
    let tag_count = rng.range(1, 3) as usize;
    let mut tags = rng.sample(WORDS, tag_count);
    tags.sort_unstable();
    let sizes: std::collections::BTreeSet<i64> =
        (0..rng.range(1, 4)).map(|_| rng.range(30, 50)).collect();
    // Distinct by their first byte.
    let thumbnails: Vec<Vec<u8>> = (0..rng.range(1, 2))
        .map(|j| {
            let mut b = rng.bytes(9);
            b[0] = j as u8;
            b
        })
        .collect();
    let variant = m([
        ("sku", s(format!("V-{i}-0"))),
        ("color", s(rng.pick(COLORS))),
        ("price", n(price(rng))),
        ("inStock", Av::Bool(rng.percent(70))),
    ]);
    let care: Vec<Av> = (0..rng.range(0, 1)).map(|_| s(words(rng, 2))).collect();
    let mut it = item([
        (KEY, s(format!("PRODUCT#{i:010}"))),
        (
            "name",
            s(format!(
                "{} {} {}",
                rng.pick(BRANDS),
                rng.pick(NAMES),
                rng.range(1, 9000)
            )),
        ),
        ("brand", s(rng.pick(BRANDS))),
        ("category", s(rng.pick(CATEGORIES))),
        ("description", s("")),
        ("price", n(price(rng))),
        ("stock", n(rng.range(0, 5000))),
        (
            "rating",
            n(format!("{}.{}0", rng.range(1, 4), rng.range(0, 9))),
        ),
        (
            "weightKg",
            n(format!("{}.{:03}", rng.range(0, 40), rng.range(0, 99) * 10)),
        ),
        ("active", Av::Bool(rng.percent(80))),
        (
            "discontinuedAt",
            if rng.percent(85) {
                Av::Null
            } else {
                s(iso(rng))
            },
        ),
        ("image", Av::B(rng.bytes(24))),
        ("thumbnails", Av::Bs(thumbnails)),
        (
            "dimensions",
            m([
                ("lengthCm", n(rng.range(1, 200))),
                ("widthCm", n(rng.range(1, 200))),
                (
                    "heightCm",
                    n(format!("{}.{}", rng.range(1, 200), rng.range(0, 9))),
                ),
            ]),
        ),
        (
            "tags",
            Av::Ss(tags.into_iter().map(str::to_owned).collect()),
        ),
        (
            "sizes",
            Av::Ns(sizes.into_iter().map(|x| x.to_string()).collect()),
        ),
        ("variants", Av::L(vec![variant])),
        (
            "attributes",
            m([
                ("material", s(rng.pick(WORDS))),
                (
                    "origin",
                    m([
                        ("country", s(rng.pick(&["US", "DE", "JP", "VN", "MX"]))),
                        ("factory", s(format!("F-{}", rng.range(1, 99)))),
                    ]),
                ),
                ("care", Av::L(care)),
            ]),
        ),
        ("createdAt", s(iso(rng))),
        ("version", n(rng.range(1, 40))),
    ]);
    let mut json = String::with_capacity(spec.item_bytes + 64);
    write_item(&mut json, &it);
    // The description fills the item up to its size: ASCII words, cut to the byte.
    let room = spec.item_bytes.saturating_sub(json.len()).max(1);
    let mut description = String::with_capacity(room + 16);
    while description.len() < room {
        if !description.is_empty() {
            description.push(' ');
        }
        description.push_str(rng.pick(WORDS));
    }
    description.truncate(room);
    it[4].1 = s(description);
    it
}
