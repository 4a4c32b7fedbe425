//! Backfill: load what a table already holds into the index, one page at a time, from one
//! process or from many Lambda invocations.
//!
//! The stream carries changes from the moment it is enabled; a backfill reads the rest, either a
//! live table (a parallel Scan) or a DynamoDB export. The work is cut into [`Unit`]s, one Scan
//! segment or one export data file, and each unit is read page by page. One page is one
//! [`Backfiller::step`]:
//!
//! 1. `scan` reads the page (a Scan page of the segment from its `ExclusiveStartKey`), or
//!    [`export`] reads it (the next lines of the data file, from `s3://` through [`s3`] or
//!    from a local file; an open file is kept for the unit's next step, otherwise it is opened
//!    again and its durable lines skipped);
//! 2. `event` turns it into the DynamoDB Streams event the stream would have carried: one
//!    `INSERT` record per item, `Keys` by the key schema, `NewImage` the item's JSON text exactly
//!    as read, and `ApproximateCreationDateTime` the backfill's version second;
//! 3. the core [`Planner`] plans it and the [`Client`] sends it, as in the stream function;
//! 4. each item is classified: indexed, stale (the index already holds a newer version, written
//!    by the stream), dead (unconvertible, refused by OpenSearch, or an export line that is not
//!    an item: returned in [`Step::dead`] with its text exactly as read, never dropped), or not
//!    durable;
//! 5. the [`Step`] says where the unit stands: the next position when every item is durable or
//!    dead, the same position when some item is not durable (the page is read again).
//!
//! The same steps run in `stream2search backfill` (one process, many units at once) and in the
//! Lambda backfill handler ([`handler::BackfillHandler`], one invocation per unit and time
//! slice, fanned out by a Step Functions Distributed Map).
//!
//! # The version rule
//!
//! Every backfill document carries version `(version second) × 10^6`, `external_gte`, where the
//! version second is `floor(scan start) − 300` ([`version_seconds`]), or for an export
//! `floor(export time) − 300`. Any change the stream carries from the scan's start on has a
//! later second, so it wins over the backfill's write in any order of the writes; an item the
//! backfill reads after such a change carries that change's state anyway. One backfill keeps one
//! version across all its units and reruns ([`Job::version`]).
//!
//! # The wire format
//!
//! [`Job`] and [`Unit`] are the Lambda handler's input, serde JSON in camelCase; keep them
//! stable:
//!
//! ```json
//! {"unit":{"kind":"segment","table":"Products","segment":3,"totalSegments":8,
//!          "start":{"productId":{"S":"p-1041"}}},
//!  "version":1764489300,"keys":["productId"]}
//! {"unit":{"kind":"file","location":"s3://bucket/AWSDynamoDB/0176.../data/x.json.gz","skip":1200},
//!  "version":1764489300,"keys":["productId"]}
//! ```
//!
//! `start` is absent (or `null`) at a segment's beginning; it is the last page's
//! `LastEvaluatedKey`, DynamoDB JSON. `skip` is how many lines of the file are already durable.
//! [`Backfiller::segments`] and [`Backfiller::files`] (of [`Backfiller::export`]) make the
//! units at their beginning.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use stream2search::{Config, Planner};
//! use stream2search_client::{Client, Config as ClientConfig};
//! use stream2search_lambda::backfill::{Backfiller, Dynamo, Job, version_seconds};
//!
//! # async fn run(credentials: aws_credential_types::Credentials) -> Result<(), Box<dyn std::error::Error>> {
//! let planner = Planner::new(Config { index: "products".into(), ..Config::default() })?;
//! let client = Client::new(ClientConfig::new("https://search-products.example.com"))?;
//! let dynamo = Dynamo::new(
//!     "https://dynamodb.eu-west-1.amazonaws.com",
//!     "eu-west-1",
//!     credentials,
//!     Duration::from_secs(30),
//! )?;
//! let backfiller = Backfiller::new(planner, client).dynamo(dynamo).page_size(Some(500));
//!
//! let table = backfiller.describe("Products").await?;
//! let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
//! let version = version_seconds(now);
//! for unit in Backfiller::segments("Products", 4) {
//!     let mut job = Job { unit, version, keys: table.keys.clone() };
//!     loop {
//!         let step = backfiller.step(&job).await?;
//!         for dead in &step.dead {
//!             eprintln!("{}: {}: {}", dead.key.as_deref().unwrap_or("-"), dead.reason, dead.item);
//!         }
//!         if !step.not_durable.is_empty() {
//!             break; // read the same page again later: `job` still points at it
//!         }
//!         job.unit = step.next;
//!         if step.done {
//!             break;
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod event;
pub mod export;
pub mod handler;
pub mod s3;
mod scan;

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use stream2search::Planner;
use stream2search::backoff::Backoff;
use stream2search::checkpoint::RecordOutcome;
use stream2search::outcome::Applied;
use stream2search_client::Client;

pub use event::{event, version_seconds};
pub use handler::BackfillHandler;
pub use scan::{Dynamo, Table};

pub(crate) use self::event::{Event, key_of};
use self::export::{Export, Reader};
use self::s3::S3;
pub(crate) use self::scan::Scan;
use stream2search_client::aws::Fault;

/// Where a unit of backfill work stands.
///
/// Serialized with a `kind` tag, camelCase:
/// `{"kind":"segment","table":"T","segment":3,"totalSegments":8,"start":{...}}` or
/// `{"kind":"file","location":"s3://b/AWSDynamoDB/01.../data/x.json.gz","skip":1200}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Unit {
    /// One segment of a parallel Scan of a live table.
    Segment {
        /// The table.
        table: String,
        /// This segment (`Segment`, from 0)...
        segment: u32,
        /// ...of this many (`TotalSegments`).
        total_segments: u32,
        /// Where the next page starts (`ExclusiveStartKey`, DynamoDB JSON); `None` at the
        /// segment's beginning.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start: Option<serde_json::Value>,
    },
    /// One data file of a DynamoDB export (`DYNAMODB_JSON`).
    File {
        /// A local path, or `s3://bucket/key`.
        location: String,
        /// Lines of the file already durable.
        #[serde(default)]
        skip: u64,
    },
}

/// One unit of work, and what every page of it needs besides its position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// Where the unit stands.
    pub unit: Unit,
    /// The backfill's version second ([`version_seconds`]); documents carry `version × 10^6`.
    pub version: u64,
    /// The table's key attribute names, partition key first.
    pub keys: Vec<String>,
}

/// One page read, planned, sent and classified.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Step {
    /// The position after this page; the unit's position unchanged when some item was not
    /// durable (the page is read again).
    pub next: Unit,
    /// The unit has no more pages (never when some item was not durable).
    pub done: bool,
    /// Items read.
    pub items: u64,
    /// Bytes read (the Scan answer, or the lines).
    pub bytes: u64,
    /// Items indexed.
    pub indexed: u64,
    /// Items the index already held at a newer version.
    pub stale: u64,
    /// Items that cannot be indexed: unconvertible, or refused by OpenSearch.
    pub dead: Vec<DeadItem>,
    /// Items not durable, `(key, reason)`: sent again when the page is read again.
    pub not_durable: Vec<(String, String)>,
    /// Read capacity units the page consumed (`ConsumedCapacity`), to pace by.
    pub consumed_rcu: f64,
    /// Reads DynamoDB throttled (each retried after a backoff).
    pub throttled: u64,
}

/// An item that cannot be indexed, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadItem {
    /// Its key (`{"productId":{"S":"p-1"}}`), when it has one.
    pub key: Option<String>,
    /// Why it cannot be indexed.
    pub reason: String,
    /// The item's text exactly as read (a Scan item's DynamoDB JSON, or an export file's line).
    pub item: String,
}

/// Why a step (or a description) failed. Ask it questions rather than reading its message; no
/// credential appears in `Display` or `Debug`.
pub struct Error {
    kind: Box<Kind>,
}

enum Kind {
    /// DynamoDB (or the export's store) refused, or did not answer after the retries.
    Source(String),
    /// The job cannot be run (a segment beyond the total, no key names...).
    Job(String),
    /// The backfiller lacks what the job needs (no DynamoDB client for a segment...).
    Setup(String),
    /// A variable is wrong (the handler's cold start).
    Config(crate::ConfigError),
    /// The handler's payload is neither a job nor a plan request.
    NotAJob(String),
    /// Items that cannot be indexed and that no dead-letter queue took.
    DeadItems(String),
    /// A page the invocation began with is not durable.
    NotDurable(String),
}

impl Error {
    fn source(message: impl Into<String>) -> Error {
        Kind::Source(message.into()).into()
    }

    fn job(message: impl Into<String>) -> Error {
        Kind::Job(message.into()).into()
    }

    fn setup(message: impl Into<String>) -> Error {
        Kind::Setup(message.into()).into()
    }

    /// Was it the table (or export) that failed: refused, missing, or not answering?
    pub fn is_source(&self) -> bool {
        matches!(&*self.kind, Kind::Source(_))
    }

    /// Is the job itself impossible (a bad unit, no key names), or the payload not a job?
    pub fn is_job(&self) -> bool {
        matches!(&*self.kind, Kind::Job(_) | Kind::NotAJob(_))
    }

    /// Is it a setting: a variable, or a client the job needs and the backfiller lacks?
    pub fn is_configuration(&self) -> bool {
        matches!(&*self.kind, Kind::Setup(_) | Kind::Config(_))
    }

    /// The environment variable at fault, for a cold start that read one wrong.
    pub fn variable(&self) -> Option<&str> {
        match &*self.kind {
            Kind::Config(e) => Some(e.variable()),
            _ => None,
        }
    }

    /// The `errorType` the Lambda handler reports: `Stream2Search.Source`, `Stream2Search.Job`,
    /// `Stream2Search.Config`, `Stream2Search.NotAJob`, `Stream2Search.DeadItems` or
    /// `Stream2Search.NotDurable`.
    pub fn error_type(&self) -> &'static str {
        match &*self.kind {
            Kind::Source(_) => "Stream2Search.Source",
            Kind::Job(_) => "Stream2Search.Job",
            Kind::Setup(_) | Kind::Config(_) => "Stream2Search.Config",
            Kind::NotAJob(_) => "Stream2Search.NotAJob",
            Kind::DeadItems(_) => "Stream2Search.DeadItems",
            Kind::NotDurable(_) => "Stream2Search.NotDurable",
        }
    }
}

impl From<Kind> for Error {
    fn from(kind: Kind) -> Error {
        Error {
            kind: Box::new(kind),
        }
    }
}

impl From<crate::ConfigError> for Error {
    fn from(e: crate::ConfigError) -> Error {
        Kind::Config(e).into()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            Kind::Config(e) => e.fmt(f),
            Kind::Source(m)
            | Kind::Job(m)
            | Kind::Setup(m)
            | Kind::NotAJob(m)
            | Kind::DeadItems(m)
            | Kind::NotDurable(m) => f.write_str(m),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("type", &self.error_type())
            .field("message", &self.to_string())
            .finish()
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(e: Error) -> lambda_runtime::Diagnostic {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().into(),
            error_message: e.to_string(),
        }
    }
}

impl std::error::Error for Error {}

/// Transient DynamoDB faults (no answer, HTTP 5xx) retried per page before the step fails.
/// Throttling is retried without limit.
pub const TRANSIENT_RETRIES: u32 = 8;

/// Most decompressed bytes of an export data file read as one page (a Scan page holds at most
/// 1 MB too).
pub const FILE_PAGE_BYTES: usize = 1024 * 1024;

/// Most items of an export page when no page size is set.
pub const FILE_PAGE_ITEMS: usize = 1000;

/// Reads, plans, sends and classifies pages. Build once; share it between tasks.
pub struct Backfiller {
    planner: Planner,
    client: Client,
    dynamo: Option<Dynamo>,
    s3: Option<S3>,
    /// Data files open at the position their last page ended, by location: the next step of
    /// the same unit reads on instead of opening the file again and skipping its lines.
    readers: Mutex<HashMap<String, (u64, Reader)>>,
    indexed_at: Option<String>,
    timeout: Duration,
    page_size: Option<u32>,
    consistent_read: bool,
    backoff: Backoff,
}

impl fmt::Debug for Backfiller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backfiller")
            .field("dynamo", &self.dynamo)
            .field("s3", &self.s3.is_some())
            .field("indexed_at", &self.indexed_at)
            .field("timeout", &self.timeout)
            .field("page_size", &self.page_size)
            .field("consistent_read", &self.consistent_read)
            .finish_non_exhaustive()
    }
}

impl Backfiller {
    /// Plans with `planner` (its config must keep external versions on) and sends with
    /// `client`. Defaults: no DynamoDB or S3 client, the clock's time for the planner's `indexed_at`
    /// field, 60 s to send a page, DynamoDB's own page size, eventually consistent reads.
    pub fn new(planner: Planner, client: Client) -> Backfiller {
        Backfiller {
            planner,
            client,
            dynamo: None,
            s3: None,
            readers: Mutex::new(HashMap::new()),
            indexed_at: None,
            timeout: Duration::from_secs(60),
            page_size: None,
            consistent_read: false,
            backoff: Backoff::new(Duration::from_millis(50), Duration::from_secs(5))
                .expect("50 ms up to 5 s is a valid backoff"),
        }
    }

    /// The DynamoDB client that reads segments ([`Unit::Segment`]) and describes tables.
    pub fn dynamo(mut self, dynamo: Dynamo) -> Backfiller {
        self.dynamo = Some(dynamo);
        self
    }

    /// The S3 client that reads export data files at `s3://` locations ([`Unit::File`]; a
    /// local path needs none).
    pub fn s3(mut self, s3: S3) -> Backfiller {
        self.s3 = Some(s3);
        self
    }

    /// A fixed value for the planner's `indexed_at` field (RFC 3339); `None`: the time each
    /// page is planned.
    pub fn indexed_at(mut self, stamp: Option<String>) -> Backfiller {
        self.indexed_at = stamp;
        self
    }

    /// How long sending one page to OpenSearch may take, retries included.
    pub fn timeout(mut self, timeout: Duration) -> Backfiller {
        self.timeout = timeout;
        self
    }

    /// Most items per page (Scan's `Limit`; DynamoDB also ends a page at 1 MB). An export page
    /// holds at most this many lines ([`FILE_PAGE_ITEMS`] by default) and [`FILE_PAGE_BYTES`].
    pub fn page_size(mut self, items: Option<u32>) -> Backfiller {
        self.page_size = items;
        self
    }

    /// Strongly consistent Scans (twice the read capacity).
    pub fn consistent_read(mut self, on: bool) -> Backfiller {
        self.consistent_read = on;
        self
    }

    /// The planner.
    pub fn planner(&self) -> &Planner {
        &self.planner
    }

    /// The OpenSearch client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// DescribeTable: the key names (partition key first), `ItemCount` and `TableSizeBytes`.
    pub async fn describe(&self, table: &str) -> Result<Table, Error> {
        let dynamo = self.dynamo.as_ref().ok_or_else(no_dynamo)?;
        dynamo
            .describe(table)
            .await
            .map(|described| described.table)
            .map_err(|e| Error::source(format!("table {table}: {e}")))
    }

    /// The units of a parallel Scan of `table` in `segments` segments, each at its beginning.
    pub fn segments(table: &str, segments: u32) -> Vec<Unit> {
        (0..segments)
            .map(|segment| Unit::Segment {
                table: table.to_owned(),
                segment,
                total_segments: segments,
                start: None,
            })
            .collect()
    }

    /// Reads an export's manifests, or lists its data files ([`Export::open`]); S3 faults worth
    /// retrying are retried [`TRANSIENT_RETRIES`] times.
    pub async fn export(&self, location: &str) -> Result<Export, Error> {
        let mut attempt = 0u32;
        loop {
            match Export::open(location, self.s3.as_ref()).await {
                Ok(export) => return Ok(export),
                Err(e) if e.is_retryable() && attempt < TRANSIENT_RETRIES => {}
                Err(e) => return Err(Error::source(format!("export {location}: {e}"))),
            }
            tokio::time::sleep(self.backoff.delay(attempt, fastrand::f64())).await;
            attempt += 1;
        }
    }

    /// The units of an export: one per data file, each at its first line.
    pub fn files(export: &Export) -> Vec<Unit> {
        export
            .files
            .iter()
            .map(|f| Unit::File {
                location: f.location.clone(),
                skip: 0,
            })
            .collect()
    }

    /// Reads, plans, sends and classifies the job's next page.
    pub async fn step(&self, job: &Job) -> Result<Step, Error> {
        self.step_until(job, None).await
    }

    /// [`step`](Backfiller::step), ended by `end`: the page's Scan and its send end by it (or
    /// sooner, by their timeouts), and failed reads are not retried past it; a step out of time
    /// returns the unit's position unchanged, with `done` false and no items. (An export data
    /// file's reads end within the S3 client's own timeout.)
    pub async fn step_until(&self, job: &Job, end: Option<Instant>) -> Result<Step, Error> {
        if !self.planner.config().versioning {
            return Err(Error::setup(
                "backfill needs external versions: its documents must lose to the stream's \
                 later changes",
            ));
        }
        if job.keys.is_empty() {
            return Err(Error::job("the job names no key attributes"));
        }
        match &job.unit {
            Unit::Segment {
                table,
                segment,
                total_segments,
                start,
            } => {
                if segment >= total_segments {
                    return Err(Error::job(format!(
                        "segment {segment} of {total_segments}: no such segment"
                    )));
                }
                let scan = Scan {
                    table,
                    segment: *segment,
                    total: *total_segments,
                    limit: self.page_size,
                    consistent: self.consistent_read,
                    start: start.as_ref(),
                };
                self.segment_page(job, &scan, end).await
            }
            Unit::File { location, skip } => self.file_page(job, location, *skip, end).await,
        }
    }

    /// One page of an export data file from line `skip + 1` on.
    async fn file_page(
        &self,
        job: &Job,
        location: &str,
        skip: u64,
        end: Option<Instant>,
    ) -> Result<Step, Error> {
        let mut attempt = 0u32;
        let (reader, page) = loop {
            let kept = self.lock_readers().remove(location);
            let read = async {
                let mut reader = match kept {
                    Some((at, reader)) if at == skip => reader,
                    _ => Reader::open(location, skip, self.s3.as_ref()).await?,
                };
                let items = self.page_size.map_or(FILE_PAGE_ITEMS, |n| n as usize);
                let page = reader.page(items, FILE_PAGE_BYTES).await?;
                Ok::<_, export::Error>((reader, page))
            };
            let e = match read.await {
                Ok(read) => break read,
                Err(e) => e,
            };
            if !e.is_retryable() || attempt >= TRANSIENT_RETRIES {
                return Err(Error::source(e.to_string()));
            }
            let delay = self.backoff.delay(attempt, fastrand::f64());
            if end.is_some_and(|end| Instant::now() + delay >= end) {
                return Ok(Step::unchanged(&job.unit, 0));
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
        };
        let items: Vec<&str> = page.items.iter().map(|i| i.item.get()).collect();
        let (mut step, dead_at) = self.send(job, &items, end).await?;
        step.items += page.bad.len() as u64;
        step.bytes = page.compressed_bytes;
        // Lines that are not items, in line order with the unconvertible and refused items.
        let mut dead: Vec<(u64, DeadItem)> = page
            .bad
            .into_iter()
            .map(|b| {
                let key = line_key(&b.text, &job.keys);
                let reason = format!("{location} line {}: {}", b.line, b.reason);
                (
                    b.line,
                    DeadItem {
                        key,
                        reason,
                        item: b.text,
                    },
                )
            })
            .collect();
        for (mut d, at) in std::mem::take(&mut step.dead).into_iter().zip(dead_at) {
            let line = page.items[at].line;
            d.reason = format!("{location} line {line}: {}", d.reason);
            dead.push((line, d));
        }
        dead.sort_by_key(|(line, _)| *line);
        step.dead = dead.into_iter().map(|(_, d)| d).collect();
        if step.not_durable.is_empty() {
            step.done = page.done;
            step.next = Unit::File {
                location: location.to_owned(),
                skip: page.next,
            };
            if !page.done {
                self.lock_readers()
                    .insert(location.to_owned(), (page.next, reader));
            }
        }
        Ok(step)
    }

    fn lock_readers(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Reader)>> {
        self.readers.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn segment_page(
        &self,
        job: &Job,
        scan: &Scan<'_>,
        end: Option<Instant>,
    ) -> Result<Step, Error> {
        let dynamo = self.dynamo.as_ref().ok_or_else(no_dynamo)?;
        let mut attempt = 0u32;
        let mut failures = 0u32;
        let mut throttled = 0u64;
        let (page, bytes) = loop {
            if end.is_some_and(|end| Instant::now() >= end) {
                return Ok(Step::unchanged(&job.unit, throttled));
            }
            let fault: Fault = match dynamo.scan(scan, end).await {
                Ok(answer) => break answer,
                Err(e) => e,
            };
            if fault.is_throttling() {
                throttled += 1;
            } else if fault.is_transient() && failures < TRANSIENT_RETRIES {
                failures += 1;
            } else {
                return Err(Error::source(format!(
                    "table {} segment {} of {}: {fault}",
                    scan.table, scan.segment, scan.total
                )));
            }
            let delay = self.backoff.delay(attempt, fastrand::f64());
            if end.is_some_and(|end| Instant::now() + delay >= end) {
                // Out of time: the position stays.
                return Ok(Step::unchanged(&job.unit, throttled));
            }
            tokio::time::sleep(delay).await;
            attempt = attempt.saturating_add(1);
        };
        let items: Vec<&str> = page.items.iter().map(|i| i.get()).collect();
        let (mut step, _) = self.send(job, &items, end).await?;
        step.bytes = bytes as u64;
        step.throttled = throttled;
        step.consumed_rcu = page.consumed.map_or(0.0, |c| c.units);
        if step.not_durable.is_empty() {
            let Unit::Segment {
                table,
                segment,
                total_segments,
                ..
            } = &job.unit
            else {
                unreachable!("a segment's page")
            };
            step.done = page.last.is_none();
            step.next = Unit::Segment {
                table: table.clone(),
                segment: *segment,
                total_segments: *total_segments,
                start: page.last,
            };
        }
        Ok(step)
    }

    /// Plans and sends one page of items, and classifies every item. `next` is the job's unit
    /// and `done` false: the caller moves them when everything is durable. With the step, the
    /// index in `items` of each of its dead items.
    async fn send(
        &self,
        job: &Job,
        items: &[&str],
        end: Option<Instant>,
    ) -> Result<(Step, Vec<usize>), Error> {
        let event = Event::of(items, &job.keys, job.version);
        let stamp = self.indexed_at.clone().unwrap_or_else(|| {
            stream2search::time::rfc3339(
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default(),
            )
        });
        let plan = self
            .planner
            .plan(&event.bytes, Some(&stamp))
            .map_err(|e| Error::job(format!("planning a page: {e}")))?;
        let mut deadline = Instant::now() + self.timeout;
        if let Some(end) = end {
            deadline = deadline.min(end);
        }
        let sent = if plan.items().is_empty() {
            // An empty page (DynamoDB may answer one with a LastEvaluatedKey): nothing to send.
            Ok(Vec::new())
        } else {
            self.client.send(&plan, deadline).await.map(|r| r.finals)
        };
        let finals = match sent {
            Ok(finals) => finals,
            Err(e) => vec![
                RecordOutcome::NotDurable {
                    reason: e.to_string()
                };
                plan.items().len()
            ],
        };
        let results = plan.resolve(&finals);
        let mut step = Step::unchanged(&job.unit, 0);
        step.items = items.len() as u64;
        // Unconvertible before planning (no key), then each record's outcome, in page order.
        let mut dead: Vec<(usize, String)> = event
            .keys
            .iter()
            .enumerate()
            .filter_map(|(i, k)| k.as_ref().err().map(|e| (i, format!("invalid: {e}"))))
            .collect();
        let mut not_durable = Vec::new();
        for r in &results {
            let item = event.items[r.position];
            match &r.outcome {
                RecordOutcome::Applied(Applied::Indexed) => step.indexed += 1,
                RecordOutcome::Applied(Applied::Stale) => step.stale += 1,
                o if o.is_poison() => dead.push((item, o.to_string())),
                o if !o.is_durable() => not_durable.push((item, o.to_string())),
                _ => {}
            }
        }
        dead.sort_unstable();
        not_durable.sort_unstable();
        let key = |i: usize| event.keys[i].as_ref().ok().cloned();
        let dead_at = dead.iter().map(|(i, _)| *i).collect();
        step.dead = dead
            .into_iter()
            .map(|(i, reason)| DeadItem {
                key: key(i),
                reason,
                item: items[i].to_owned(),
            })
            .collect();
        step.not_durable = not_durable
            .into_iter()
            .map(|(i, reason)| (key(i).unwrap_or_else(|| "-".into()), reason))
            .collect();
        Ok((step, dead_at))
    }
}

impl Step {
    /// Nothing moved: the unit stays where it is.
    fn unchanged(unit: &Unit, throttled: u64) -> Step {
        Step {
            next: unit.clone(),
            done: false,
            items: 0,
            bytes: 0,
            indexed: 0,
            stale: 0,
            dead: Vec::new(),
            not_durable: Vec::new(),
            consumed_rcu: 0.0,
            throttled,
        }
    }
}

/// The key of a bad line, when it has one: `{"Item":{...}}` with something wrong around the
/// item, or an item object on its own.
fn line_key(text: &str, keys: &[String]) -> Option<String> {
    #[derive(Deserialize)]
    struct Line<'a> {
        #[serde(rename = "Item", borrow)]
        item: &'a serde_json::value::RawValue,
    }
    match serde_json::from_str::<Line<'_>>(text) {
        Ok(line) => key_of(line.item.get(), keys).ok(),
        Err(_) => key_of(text, keys).ok(),
    }
}

fn no_dynamo() -> Error {
    Error::setup("no DynamoDB client: a segment needs one (Backfiller::dynamo)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_jobs_have_the_documented_wire_format() {
        let job = Job {
            unit: Unit::Segment {
                table: "Products".into(),
                segment: 3,
                total_segments: 8,
                start: Some(serde_json::json!({"productId": {"S": "p-1041"}})),
            },
            version: 1_764_489_300,
            keys: vec!["productId".into()],
        };
        let text = r#"{"unit":{"kind":"segment","table":"Products","segment":3,"totalSegments":8,"start":{"productId":{"S":"p-1041"}}},"version":1764489300,"keys":["productId"]}"#;
        assert_eq!(serde_json::to_string(&job).unwrap(), text);
        assert_eq!(serde_json::from_str::<Job>(text).unwrap(), job);
        let beginning: Unit = serde_json::from_str(
            r#"{"kind":"segment","table":"T","segment":0,"totalSegments":1,"start":null}"#,
        )
        .unwrap();
        assert_eq!(beginning, Backfiller::segments("T", 1)[0]);
        assert_eq!(
            serde_json::to_string(&beginning).unwrap(),
            r#"{"kind":"segment","table":"T","segment":0,"totalSegments":1}"#
        );
        let file: Unit = serde_json::from_str(
            r#"{"kind":"file","location":"s3://b/AWSDynamoDB/1/data/x.json.gz"}"#,
        )
        .unwrap();
        assert_eq!(
            file,
            Unit::File {
                location: "s3://b/AWSDynamoDB/1/data/x.json.gz".into(),
                skip: 0
            }
        );
        assert!(serde_json::from_str::<Unit>(r#"{"kind":"table","table":"T"}"#).is_err());
    }
}
