//! Verify: does the index hold exactly what the table holds? And, when asked, repair it.
//!
//! The data's way: `index` (every document through a point in time, kept as a digest per id) →
//! `table` (a parallel Scan, or a DynamoDB export's data files) → `expect` (each item → the
//! document the stream function would have written, same planner, same options) → compared by
//! digest (`value`); every suspected difference is read again on both sides, twice,
//! [`Options::settle`] apart, and reported only when it is still there and stopped changing
//! (`recheck`) → [`Report`]. With [`Options::repair`], the table's item is written (or the extra
//! document deleted) at version `(floor(read time) − 1 s) × 10^6`, `external_gte`: it wins over
//! the wrong document and loses to any change the stream makes after verify read the item.
//!
//! Memory: one entry per document (its id, a 128-bit digest of its `_source`, its version),
//! never the documents themselves.
//!
//! The `stream2search verify` command runs it once from a terminal; [`handler::VerifyHandler`]
//! runs it per invocation of a scheduled Lambda function (`examples/verify`), writing
//! `Missing`, `Extra`, `Different`, `Unconvertible`, `Repaired` and `Unverified` as EMF metrics.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use stream2search::{Config, Planner};
//! use stream2search_client::{Client, Config as ClientConfig, Service, SigV4};
//! use stream2search_lambda::verify::{Options, Source, Verifier};
//!
//! # async fn run(credentials: aws_credential_types::Credentials) -> Result<(), Box<dyn std::error::Error>> {
//! let planner = Planner::new(Config { index: "products".into(), ..Config::default() })?;
//! let client = Client::new(ClientConfig::new("https://search-products.example.com"))?;
//! let dynamo = stream2search_client::aws::client(
//!     "https://dynamodb.eu-west-1.amazonaws.com",
//!     SigV4::new(Service::DynamoDb, "eu-west-1", credentials),
//! )?;
//! let source = Source::Table { dynamo, name: "Products".into() };
//! let verifier = Verifier::open(client, planner, source, Duration::from_secs(60)).await?;
//! let report = verifier.check(&Options::default()).await?;
//! println!("{}", report.summary());
//! for difference in &report.differences {
//!     println!("{difference}");
//! }
//! # Ok(()) }
//! ```

mod expect;
pub mod handler;
mod index;
mod report;
mod table;
mod value;

use std::collections::VecDeque;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;
use stream2search::Planner;
use stream2search::checkpoint::RecordOutcome;
use stream2search::outcome::Applied;
use stream2search_client::Client;

use crate::backfill::export::{self, Export};
use crate::backfill::s3::S3;

use self::expect::Expected;
use self::index::{Hit, Place, Write};
pub use self::report::{Difference, Kind, Repair, Report};
use self::table::{Keys, Table};
use self::value::Value;

/// Why a run gave no verdict: the table or the index could not be read whole, or a setting is
/// wrong. Messages are not API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }
}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error { message }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Where the table's items come from.
pub enum Source {
    /// A live table, scanned in parallel segments; suspects are read again with a consistent
    /// GetItem, and a repair is possible.
    Table {
        /// A client signing for service `dynamodb` in the table's region
        /// (`stream2search_client::aws::client`).
        dynamo: Client,
        /// The table's name.
        name: String,
    },
    /// A DynamoDB export (`DYNAMODB_JSON`, full): a suspect is read again on the index side
    /// only, and a document written after the export's `exportTime` is not a difference. No
    /// repair.
    Export {
        /// `s3://bucket/prefix/AWSDynamoDB/<export-id>/`, or a local directory of that layout.
        location: String,
        /// The S3 client an `s3://` location needs.
        s3: Option<S3>,
        /// The key attribute names, partition key first: when `table` is not given.
        keys: Vec<String>,
        /// A client and the table's name, described for its key names instead of `keys`.
        table: Option<(Client, String)>,
    },
}

/// How one run reads, rechecks, reports and repairs. The default is the command's defaults: 4
/// segments, 2 at once, pages of 1000 documents, 5 s settle, 3 reads, 100 differences listed,
/// no repair.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Scan segments (TotalSegments).
    pub segments: u32,
    /// Segments (or export files) read at once.
    pub concurrency: u32,
    /// Most items per Scan page (Scan's Limit).
    pub page_size: Option<u32>,
    /// Strongly consistent Scan reads. The recheck always reads consistently.
    pub consistent_read: bool,
    /// Documents per search page of the index.
    pub index_page: u32,
    /// Time between two reads of a suspected difference.
    pub settle: Duration,
    /// Most reads of a suspected difference (at least 2).
    pub rechecks: u32,
    /// Most differences listed in the report (all are counted).
    pub max_report: usize,
    /// Write the table's item for every missing or different document, delete every extra one.
    pub repair: bool,
    /// For tests: after reading the index, say `verify: index read` on stderr and wait this
    /// long before reading the table.
    pub pause_after_index: Option<Duration>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            segments: 4,
            concurrency: 2,
            page_size: None,
            consistent_read: false,
            index_page: 1000,
            settle: Duration::from_secs(5),
            rechecks: 3,
            max_report: 100,
            repair: false,
            pause_after_index: None,
        }
    }
}

/// A table (or export) and the index the planner names (its name or alias, or a template such
/// as `products-{category}`: every index the template can name is read, `products-*`) to
/// compare: build once, [`check`](Verifier::check) as often
/// as needed.
pub struct Verifier {
    ctx: Arc<Context>,
    /// The table's name or the export's location, for the report.
    name: String,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Describes the table for its key names (or opens the export: its manifests read, or its
    /// data files listed). `timeout` bounds each request. `planner` must be the stream
    /// function's, with the same options.
    pub async fn open(
        client: Client,
        planner: Planner,
        source: Source,
        timeout: Duration,
    ) -> Result<Verifier, Error> {
        let (table, export, keys, name) = match source {
            Source::Table { dynamo, name } => {
                let table = Table::new(dynamo, name.clone(), timeout);
                let keys = table
                    .keys()
                    .await
                    .map_err(|e| Error::new(format!("table {name}: {e}")))?;
                (Some(table), None, keys, name)
            }
            Source::Export {
                location,
                s3,
                keys,
                table,
            } => {
                let keys = match table {
                    Some((dynamo, name)) => Table::new(dynamo, name.clone(), timeout)
                        .keys()
                        .await
                        .map_err(|e| Error::new(format!("table {name}: {e}")))?,
                    None if (1..=2).contains(&keys.len()) => Keys {
                        types: vec!["S".into(); keys.len()],
                        names: keys,
                    },
                    None => {
                        return Err(Error::new(
                            "keys: one or two attribute names, partition key first",
                        ));
                    }
                };
                let export = Export::open(&location, s3.as_ref())
                    .await
                    .map_err(|e| Error::new(format!("export {location}: {e}")))?;
                (None, Some((export, s3)), keys, location)
            }
        };
        let config = planner.config();
        let ctx = Context {
            client,
            table,
            export,
            keys,
            indexed_at: config.indexed_at.clone(),
            id_keys: config.id_keys.clone(),
            templated: config.index.contains('{'),
            planner,
            timeout,
        };
        Ok(Verifier {
            ctx: Arc::new(ctx),
            name,
        })
    }

    /// One run: reads the index, then the table, rechecks, and with `options.repair` repairs.
    /// An error means no verdict (nothing is known about what was not read).
    pub async fn check(&self, options: &Options) -> Result<Report, Error> {
        if options.repair && self.ctx.export.is_some() {
            return Err(Error::new(
                "an export cannot be repaired from: verify the table",
            ));
        }
        if options.repair && !self.ctx.planner.config().versioning {
            return Err(Error::new(
                "a repair writes with external versions (they must lose to the stream's later \
                 changes): versioning must be on",
            ));
        }
        let mut report = check(&self.ctx, options, Instant::now()).await?;
        report.table = self.name.clone();
        Ok(report)
    }
}

/// One document of the index, as remembered while the table is read: 56 bytes and its id.
struct Seen {
    /// Its id (with a template: its index, a newline, its id).
    slot: Box<str>,
    /// The digest of its `_source`, as two words (a `u128` would align the entry to 16).
    digest: [u64; 2],
    /// Into `Snapshot::indexes`.
    index: u32,
    /// A table item made the document at this slot: not extra.
    matched: bool,
    routing: Option<Box<str>>,
}

/// The index as a digest per document, sorted by slot (a sorted vector: no hash table's spare
/// capacity, and the index answers in `_id` order already).
#[derive(Default)]
struct Snapshot {
    docs: Vec<Seen>,
    indexes: Vec<String>,
}

fn words(digest: u128) -> [u64; 2] {
    [(digest >> 64) as u64, digest as u64]
}

impl Snapshot {
    /// Sorts by slot (when the answers were not in that order) and refuses a slot seen twice.
    fn seal(&mut self) -> Result<(), String> {
        if !self.docs.is_sorted_by(|a, b| a.slot <= b.slot) {
            self.docs.sort_unstable_by(|a, b| a.slot.cmp(&b.slot));
        }
        if let Some(w) = self.docs.windows(2).find(|w| w[0].slot == w[1].slot) {
            return Err(format!("search: document {:?} came twice", w[0].slot));
        }
        self.docs.shrink_to_fit();
        Ok(())
    }

    /// The document at `slot` that no item has matched yet, now matched.
    fn take(&mut self, slot: &str) -> Option<&Seen> {
        let at = self
            .docs
            .binary_search_by(|s| s.slot.as_ref().cmp(slot))
            .ok()?;
        let seen = &mut self.docs[at];
        if seen.matched {
            return None;
        }
        seen.matched = true;
        Some(seen)
    }
}

/// A difference as first seen, before the recheck.
struct Suspect {
    /// With --export: the item as exported (what it is compared with again).
    item: Option<Box<RawValue>>,
    /// The item's key, when known (an extra document's is derived from its id).
    key: Option<String>,
    /// Where its document is, or should be.
    place: Place,
}

/// What the whole run shares.
struct Context {
    client: Client,
    /// The table, when it is read live (not with --export).
    table: Option<Table>,
    /// With --export: the export, and the S3 client its `s3://` files need.
    export: Option<(Export, Option<S3>)>,
    keys: Keys,
    planner: Planner,
    indexed_at: Option<String>,
    id_keys: Option<Vec<String>>,
    templated: bool,
    timeout: Duration,
}

/// The index pattern a template reads: every `{attribute}` a `*`.
fn pattern(index: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in index.chars() {
        match c {
            '{' => {
                inside = true;
                out.push('*');
            }
            '}' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

impl Context {
    /// The key documents are matched by: the id, and with a template the index too.
    fn slot(&self, index: &str, id: &str) -> Box<str> {
        if self.templated {
            format!("{index}\n{id}").into_boxed_str()
        } else {
            id.into()
        }
    }

    /// The document `_source` as a value, without the indexed-at stamp.
    fn value(&self, source: &str) -> Result<Value, String> {
        Ok(Value::parse(source)?.without(self.indexed_at.as_deref()))
    }
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

async fn check(ctx: &Arc<Context>, args: &Options, started: Instant) -> Result<Report, String> {
    let index_name = ctx.planner.config().index.clone();
    let pattern = pattern(&index_name);
    index::refresh(&ctx.client, &pattern, ctx.timeout).await;
    let snapshot = read_index(ctx, &pattern, args.index_page).await?;
    let documents = snapshot.docs.len() as u64;
    if let Some(pause) = args.pause_after_index {
        eprintln!("verify: index read");
        tokio::time::sleep(pause).await;
    }
    let shared = Arc::new(Scanning {
        ctx: Arc::clone(ctx),
        snapshot: Mutex::new(snapshot),
        suspects: Mutex::new(Vec::new()),
        unkeyed: Mutex::new(Vec::new()),
        queue: Mutex::new(match &ctx.export {
            Some((export, _)) => export
                .files
                .iter()
                .map(|f| Work::File(f.location.clone()))
                .collect(),
            None => (0..args.segments).map(Work::Segment).collect(),
        }),
        items: AtomicU64::new(0),
        segments: args.segments,
        page_size: args.page_size,
        consistent: args.consistent_read,
    });
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        tasks.spawn(scan_worker(Arc::clone(&shared)));
    }
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => failure = failure.or(Some(format!("a segment task failed: {e}"))),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let items = shared.items.load(Ordering::Relaxed);
    let scan_seconds = started.elapsed().as_secs_f64();
    let mut suspects = std::mem::take(&mut *shared.suspects.lock().expect("suspects lock"));
    let unkeyed = std::mem::take(&mut *shared.unkeyed.lock().expect("unkeyed lock"));
    let snapshot = std::mem::take(&mut *shared.snapshot.lock().expect("snapshot lock"));
    for seen in snapshot.docs.into_iter().filter(|s| !s.matched) {
        let id = match seen.slot.split_once('\n') {
            Some((_, id)) if ctx.templated => id.to_string(),
            _ => seen.slot.to_string(),
        };
        let key = ctx.keys.of_id(&id, ctx.id_keys.as_deref());
        suspects.push(Suspect {
            item: None,
            key,
            place: Place {
                index: snapshot.indexes[seen.index as usize].clone(),
                id,
                routing: seen.routing.map(String::from),
            },
        });
    }
    suspects.sort_by(|a, b| a.place.id.cmp(&b.place.id));
    let rechecked = suspects.len() as u64;
    let (mut found, settled) = recheck(ctx, suspects, args).await?;
    found.extend(unkeyed);
    // An item reported unconvertible on the scan and again through an extra document's key.
    let mut seen_keys = std::collections::HashSet::new();
    found.retain(|f| {
        f.difference.kind != Kind::Unconvertible
            || f.difference
                .key
                .as_ref()
                .is_none_or(|k| seen_keys.insert(serde_json::from_str::<serde_json::Value>(k).ok()))
    });
    let repair = if args.repair {
        Some(repair(ctx, &mut found).await)
    } else {
        None
    };
    let count = |k: Kind| found.iter().filter(|f| f.difference.kind == k).count() as u64;
    let equal = found.iter().all(|f| f.difference.repaired);
    let mut report = Report {
        index: index_name,
        items,
        documents,
        missing: count(Kind::Missing),
        extra: count(Kind::Extra),
        different: count(Kind::Different),
        unconvertible: count(Kind::Unconvertible),
        rechecked,
        settled,
        repair,
        unlisted: found.len().saturating_sub(args.max_report) as u64,
        seconds: started.elapsed().as_secs_f64(),
        items_per_second: items as f64 / scan_seconds.max(0.001),
        equal,
        ..Report::default()
    };
    report.differences = found
        .into_iter()
        .take(args.max_report)
        .map(|f| f.difference)
        .collect();
    Ok(report)
}

/// Every document of the index, as a digest per id.
async fn read_index(ctx: &Context, pattern: &str, page: u32) -> Result<Snapshot, String> {
    let mut snapshot = Snapshot::default();
    let mut reader = index::Reader::open(&ctx.client, pattern, page, ctx.timeout).await?;
    let result: Result<(), String> = async {
        loop {
            let hits = reader.next().await?;
            if hits.is_empty() {
                return Ok(());
            }
            for hit in hits {
                remember(ctx, &mut snapshot, hit)?;
            }
        }
    }
    .await;
    reader.close().await;
    result?;
    snapshot.seal()?;
    Ok(snapshot)
}

fn remember(ctx: &Context, snapshot: &mut Snapshot, hit: Hit) -> Result<(), String> {
    let digest = hit
        .source
        .as_ref()
        .and_then(|s| ctx.value(s.get()).ok())
        .map_or(0, |v| v.digest());
    let index = match snapshot.indexes.iter().position(|i| *i == hit.index) {
        Some(at) => at,
        None => {
            snapshot.indexes.push(hit.index.clone());
            snapshot.indexes.len() - 1
        }
    };
    snapshot.docs.push(Seen {
        slot: ctx.slot(&hit.index, &hit.id),
        digest: words(digest),
        index: index as u32,
        matched: false,
        routing: hit.routing.map(String::into_boxed_str),
    });
    Ok(())
}

/// What the scan's tasks share.
struct Scanning {
    ctx: Arc<Context>,
    snapshot: Mutex<Snapshot>,
    suspects: Mutex<Vec<Suspect>>,
    /// Items with no key: reported as they are, nothing to read again.
    unkeyed: Mutex<Vec<Found>>,
    queue: Mutex<VecDeque<Work>>,
    items: AtomicU64,
    segments: u32,
    page_size: Option<u32>,
    consistent: bool,
}

/// One part of the table's items: a Scan segment, or an export's data file.
enum Work {
    Segment(u32),
    File(String),
}

/// Most lines of an export page, and their most bytes.
const EXPORT_PAGE: (usize, usize) = (1000, 4 * 1024 * 1024);

async fn scan_worker(shared: Arc<Scanning>) -> Result<(), String> {
    loop {
        let Some(work) = shared.queue.lock().expect("queue lock").pop_front() else {
            return Ok(());
        };
        match work {
            Work::Segment(segment) => scan_segment(&shared, segment).await?,
            Work::File(location) => read_file(&shared, &location).await?,
        }
    }
}

async fn scan_segment(shared: &Scanning, segment: u32) -> Result<(), String> {
    let Some(table) = &shared.ctx.table else {
        return Err("no table to scan".into());
    };
    let mut start: Option<serde_json::Value> = None;
    loop {
        let page = table
            .scan(
                segment,
                shared.segments,
                shared.page_size,
                shared.consistent,
                start.as_ref(),
            )
            .await
            .map_err(|e| format!("segment {segment}: {e}"))?;
        shared
            .items
            .fetch_add(page.items.len() as u64, Ordering::Relaxed);
        let texts: Vec<&str> = page.items.iter().map(|i| i.get()).collect();
        compare_page(shared, &texts);
        match page.last {
            Some(last) => start = Some(last),
            None => return Ok(()),
        }
    }
}

/// Reads one data file of the export page by page; a line that is not an item is an
/// unconvertible difference naming the file and line.
async fn read_file(shared: &Scanning, location: &str) -> Result<(), String> {
    let s3 = shared.ctx.export.as_ref().and_then(|(_, s3)| s3.as_ref());
    let mut reader = export::Reader::open(location, 0, s3)
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let page = reader
            .page(EXPORT_PAGE.0, EXPORT_PAGE.1)
            .await
            .map_err(|e| e.to_string())?;
        shared.items.fetch_add(
            (page.items.len() + page.bad.len()) as u64,
            Ordering::Relaxed,
        );
        let texts: Vec<&str> = page.items.iter().map(|i| i.item.get()).collect();
        compare_page(shared, &texts);
        if !page.bad.is_empty() {
            let mut unkeyed = shared.unkeyed.lock().expect("unkeyed lock");
            for bad in page.bad {
                let reason = format!("{location} line {}: {}", bad.line, bad.reason);
                unkeyed.push(Found {
                    difference: difference(Kind::Unconvertible, None, None, Some(reason)),
                    write: None,
                });
            }
        }
        if page.done {
            return Ok(());
        }
    }
}

/// Matches a page's items with the index's digests; what does not match is a suspect.
fn compare_page(shared: &Scanning, items: &[&str]) {
    let ctx = &shared.ctx;
    let seconds = now().as_secs();
    let expected = expect::documents(&ctx.planner, &ctx.keys, items, seconds, None);
    // With --export the item is kept for the recheck (the table is not read again).
    let exported = |at: usize| {
        ctx.export
            .as_ref()
            .and_then(|_| RawValue::from_string(items[at].to_string()).ok())
    };
    let mut suspects = Vec::new();
    let mut unkeyed = Vec::new();
    {
        let mut snapshot = shared.snapshot.lock().expect("snapshot lock");
        for e in expected {
            match e {
                Expected::Document {
                    key,
                    item,
                    place,
                    document,
                } => {
                    let digest = expect::digest(&document, ctx.indexed_at.as_deref());
                    let seen = snapshot.take(&ctx.slot(&place.index, &place.id));
                    if seen.is_some_and(|s| Some(s.digest) == digest.map(words)) {
                        continue;
                    }
                    // Missing or different: the recheck tells which.
                    suspects.push(Suspect {
                        item: exported(item),
                        key: Some(key),
                        place,
                    });
                }
                // Read again from the live table: it may have been fixed meanwhile.
                Expected::Unconvertible {
                    key: Some(key),
                    reason: _,
                } if ctx.table.is_some() => suspects.push(Suspect {
                    item: None,
                    key: Some(key),
                    place: Place {
                        index: String::new(),
                        id: String::new(),
                        routing: None,
                    },
                }),
                // An export does not change, and an item without a key cannot be read again:
                // reported as read.
                Expected::Unconvertible { key, reason } => unkeyed.push(Found {
                    difference: difference(Kind::Unconvertible, None, key, Some(reason)),
                    write: None,
                }),
            }
        }
    }
    shared
        .suspects
        .lock()
        .expect("suspects lock")
        .extend(suspects);
    shared.unkeyed.lock().expect("unkeyed lock").extend(unkeyed);
}

fn difference(
    kind: Kind,
    place: Option<&Place>,
    key: Option<String>,
    reason: Option<String>,
) -> Difference {
    Difference {
        kind,
        id: place.filter(|p| !p.id.is_empty()).map(|p| p.id.clone()),
        index: place
            .filter(|p| !p.index.is_empty())
            .map(|p| p.index.clone()),
        key,
        path: None,
        table: None,
        index_value: None,
        reason,
        repair: None,
        repaired: false,
    }
}

/// A difference that stood the recheck, and the write that would repair it.
struct Found {
    difference: Difference,
    write: Option<Write>,
}

/// One read of a suspect: equal after all, or how it differs now.
enum Verdict {
    Equal,
    Differs {
        found: Box<Found>,
        /// What was read (item text, document version and presence): equal fingerprints in
        /// two reads `--settle` apart mean nothing moved in between.
        fingerprint: u64,
    },
}

/// Reads every suspect again, `--settle` apart, until two reads in a row agree (reported) or it
/// is equal (settled); after `--rechecks` reads, what still differs is reported as it stands.
/// Returns the differences, and how many suspects settled.
async fn recheck(
    ctx: &Context,
    suspects: Vec<Suspect>,
    args: &Options,
) -> Result<(Vec<Found>, u64), String> {
    let mut pending: Vec<(Suspect, Option<u64>)> =
        suspects.into_iter().map(|s| (s, None)).collect();
    let mut found = Vec::new();
    let mut settled = 0;
    for round in 0..args.rechecks {
        if pending.is_empty() {
            break;
        }
        if round > 0 {
            tokio::time::sleep(args.settle).await;
        }
        let last = round + 1 == args.rechecks;
        let verdicts = read_again(ctx, &pending).await?;
        let mut next = Vec::new();
        for ((suspect, before), verdict) in pending.into_iter().zip(verdicts) {
            match verdict {
                Verdict::Equal => settled += 1,
                Verdict::Differs {
                    found: f,
                    fingerprint,
                } if before == Some(fingerprint) => found.push(*f),
                Verdict::Differs { found: mut f, .. } if last => {
                    f.difference.reason = Some(match f.difference.reason.take() {
                        Some(r) => format!("{r}; still changing"),
                        None => "still changing".into(),
                    });
                    found.push(*f);
                }
                Verdict::Differs { fingerprint, .. } => next.push((suspect, Some(fingerprint))),
            }
        }
        pending = next;
    }
    Ok((found, settled))
}

/// One read of every pending suspect: the item (consistent GetItem), what it plans into, and
/// the documents where it is and where it should be (real-time `_mget`).
async fn read_again(
    ctx: &Context,
    pending: &[(Suspect, Option<u64>)],
) -> Result<Vec<Verdict>, String> {
    // Taken before any read: a repair's version lies before every change made after them.
    let read_at = now();
    let version = read_at.as_secs().saturating_sub(1) * 1_000_000;
    let stamp = stream2search::time::rfc3339(read_at);
    let mut items = Vec::with_capacity(pending.len());
    for (suspect, _) in pending {
        items.push(match (&ctx.table, &suspect.key) {
            (Some(table), Some(key)) => Some(table.get(key).await?),
            // --export: the item as exported (an extra document's is not known: not read).
            (None, _) => suspect.item.clone().map(Some),
            (Some(_), None) => None,
        });
    }
    let expected: Vec<Option<Expected>> = items
        .iter()
        .map(|item| {
            let item = item.as_ref()?.as_ref()?;
            expect::documents(
                &ctx.planner,
                &ctx.keys,
                &[item.get()],
                read_at.as_secs(),
                Some(&stamp),
            )
            .into_iter()
            .next()
        })
        .collect();
    // Per suspect: where its document is (if anywhere), and where it should be (if elsewhere).
    let mut places: Vec<&Place> = Vec::new();
    let mut at: Vec<(Option<usize>, Option<usize>)> = Vec::with_capacity(pending.len());
    for ((suspect, _), e) in pending.iter().zip(&expected) {
        let own = (!suspect.place.id.is_empty()).then(|| {
            places.push(&suspect.place);
            places.len() - 1
        });
        let should = match e {
            Some(Expected::Document { place, .. }) => {
                let same = own.is_some()
                    && ctx.slot(&place.index, &place.id)
                        == ctx.slot(&suspect.place.index, &suspect.place.id);
                if same {
                    own
                } else {
                    places.push(place);
                    Some(places.len() - 1)
                }
            }
            _ => None,
        };
        at.push((own, should));
    }
    let docs = index::get(&ctx.client, &places, ctx.timeout).await?;
    let mut verdicts = Vec::with_capacity(pending.len());
    for (i, ((suspect, _), e)) in pending.iter().zip(expected).enumerate() {
        let (own, should) = at[i];
        let item = items[i].as_ref().and_then(Option::as_ref);
        let mut print = std::collections::hash_map::DefaultHasher::new();
        item.map(|it| it.get()).hash(&mut print);
        for p in [own, should].into_iter().flatten() {
            docs[p].as_ref().map(|h| h.version).hash(&mut print);
        }
        let fingerprint = print.finish();
        let differs = |found: Found| Verdict::Differs {
            found: Box::new(found),
            fingerprint,
        };
        // A document where the item's document is not: extra (when no other finding wins).
        let extra = |own: Option<usize>| {
            let hit = docs[own?].as_ref()?;
            let place = Place {
                index: hit.index.clone(),
                id: hit.id.clone(),
                routing: hit.routing.clone(),
            };
            Some(Found {
                difference: difference(Kind::Extra, Some(&place), suspect.key.clone(), None),
                write: Some(Write {
                    place,
                    version,
                    document: None,
                }),
            })
        };
        let verdict = match e {
            Some(Expected::Unconvertible { reason, .. }) => differs(Found {
                difference: difference(
                    Kind::Unconvertible,
                    None,
                    suspect.key.clone(),
                    Some(reason),
                ),
                write: None,
            }),
            // The suspect is a document where the item's document does not belong (another index
            // of a template): extra while it is there. Where the item's document belongs is
            // judged by the item's own suspect, from the scan.
            Some(Expected::Document { .. }) if own.is_some() && own != should => match extra(own) {
                Some(found) => differs(found),
                None => Verdict::Equal,
            },
            Some(Expected::Document {
                key,
                place,
                document,
                ..
            }) => {
                let p = should.expect("a document's place is read");
                let write = Write {
                    place: place.clone(),
                    version,
                    document: Some(document.clone()),
                };
                match &docs[p] {
                    None => differs(Found {
                        difference: difference(Kind::Missing, Some(&place), Some(key), None),
                        write: Some(write),
                    }),
                    Some(hit) => match mismatch(ctx, item.map(|i| &**i), &document, hit) {
                        Some(m) => {
                            let mut d = difference(Kind::Different, Some(&place), Some(key), None);
                            d.path = Some(m.path);
                            d.table = Some(value::truncate(&m.table, 200));
                            d.index_value = Some(value::truncate(&m.index, 200));
                            differs(Found {
                                difference: d,
                                write: Some(write),
                            })
                        }
                        None => Verdict::Equal,
                    },
                }
            }
            // No item (or it plans into no document): whatever is at the suspect's place is
            // extra.
            None => match extra(own) {
                Some(found) => differs(found),
                None => Verdict::Equal,
            },
        };
        // A document written after the export was made is newer than what is compared with it.
        let newer = |p: Option<usize>| {
            let t = ctx.export.as_ref().and_then(|(e, _)| e.export_time);
            let version = p.and_then(|p| docs[p].as_ref()).and_then(|h| h.version);
            matches!((t, version), (Some(t), Some(v)) if u64::try_from(v).is_ok_and(|v| v > t.saturating_mul(1_000_000)))
        };
        let verdict = match verdict {
            Verdict::Differs { found, .. }
                if (found.difference.kind == Kind::Different && newer(should))
                    || (found.difference.kind == Kind::Extra && newer(own)) =>
            {
                Verdict::Equal
            }
            v => v,
        };
        verdicts.push(verdict);
    }
    Ok(verdicts)
}

/// Where the index's document differs from the planned one (sets as sets, the indexed-at
/// stamp left out), or `None`.
fn mismatch(
    ctx: &Context,
    item: Option<&serde_json::value::RawValue>,
    document: &[u8],
    hit: &Hit,
) -> Option<value::Mismatch> {
    let want = ctx.value(&String::from_utf8_lossy(document));
    let got = hit.source.as_ref().map(|s| ctx.value(s.get()));
    let (want, got) = match (want, got) {
        (Ok(w), Some(Ok(g))) => (w, g),
        (_, got) => {
            return Some(value::Mismatch {
                path: "(document)".into(),
                table: String::from_utf8_lossy(document).into_owned(),
                index: match got {
                    Some(Err(e)) => format!("unreadable: {e}"),
                    _ => "no _source".into(),
                },
            });
        }
    };
    let item = item.and_then(|i| Value::parse(i.get()).ok());
    let prefix = match &ctx.planner.config().reserved {
        stream2search::ReservedNames::Rename { prefix } => Some(prefix.clone()),
        _ => None,
    };
    let renamed = |name: &str| {
        let rest = name.strip_prefix(prefix.as_deref()?)?;
        stream2search::document::is_reserved(rest).then(|| rest.to_string())
    };
    let is_set = |path: &[value::Step]| {
        item.as_ref()
            .is_some_and(|item| value::is_set_in(item, path, &renamed))
    };
    value::first_difference(&want, &got, &is_set)
}

/// Writes the table's item for every missing or different document and deletes every extra
/// one; notes on each difference what became of it.
async fn repair(ctx: &Context, found: &mut [Found]) -> Repair {
    let mut report = Repair::default();
    let at: Vec<usize> = (0..found.len())
        .filter(|&i| found[i].write.is_some())
        .collect();
    let writes: Vec<Write> = at.iter().filter_map(|&i| found[i].write.take()).collect();
    let finals = index::apply(&ctx.client, &writes, ctx.timeout).await;
    for (&i, f) in at.iter().zip(finals) {
        let d = &mut found[i].difference;
        match &f {
            RecordOutcome::Applied(Applied::Indexed) => report.written += 1,
            RecordOutcome::Applied(Applied::Deleted | Applied::AlreadyGone) => report.deleted += 1,
            RecordOutcome::Applied(Applied::Stale) => report.stale += 1,
            _ => {}
        }
        d.repaired = matches!(
            f,
            RecordOutcome::Applied(Applied::Indexed | Applied::Deleted | Applied::AlreadyGone)
        );
        d.repair = Some(match f {
            RecordOutcome::Applied(Applied::Indexed) => "written".into(),
            RecordOutcome::Applied(Applied::Stale) => {
                "not repaired: the index holds a newer version (a change after \
                             verify read the item: verify again)"
                    .into()
            }
            f => f.to_string(),
        });
    }
    for f in found.iter_mut() {
        if f.difference.repair.is_none() {
            f.difference.repair = Some("not repaired: unconvertible".into());
        }
    }
    report.left = found.iter().filter(|f| !f.difference.repaired).count() as u64;
    report
}
