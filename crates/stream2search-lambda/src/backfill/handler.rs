//! The Lambda backfill handler: one invocation runs one [`Job`] for a slice of time, or plans a
//! backfill.
//!
//! Two requests, JSON:
//!
//! - **A job** (`{"unit":{...},"version":V,"keys":[...]}`, see [`Job`]): the handler steps
//!   through the unit page by page ([`Backfiller::step_until`]) while at least
//!   `STREAM2SEARCH_BACKFILL_MIN_STEP_SECS` (default 10) are left before the invocation's
//!   requests must end (Lambda's deadline less the client's margin and a quarter second; an
//!   unknown deadline, as `cargo lambda watch` sends, gets `STREAM2SEARCH_FALLBACK_BUDGET_SECS`).
//!   The first page always runs, within the deadline. It answers
//!   `{"job":JOB,"done":BOOL,"pages":..,"items":..,"bytes":..,"indexed":..,"stale":..,
//!   "deadLettered":..,"throttled":..,"consumedRcu":..}`, the job advanced past every durable
//!   page: invoke it again with `job` until `done`.
//! - **A plan** of a live table (`{"plan":{"table":"T","segments":N}}`): DescribeTable, then
//!   `{"version":V,"keys":[...],"itemCount":..,"sizeBytes":..,"jobs":[JOB,...]}`, one job per
//!   segment at its beginning, at the version `floor(now) − 300`: a state machine maps over
//!   `jobs`.
//! - **A plan** of a DynamoDB export
//!   (`{"plan":{"export":"s3://bucket/prefix/AWSDynamoDB/<export-id>/","table":"T"}}`, or
//!   `"keys":["pk","sk"]` instead of `"table"`): the export's manifests (or its `data/`
//!   listing), then one job per data file, at the version `exportTime − 300`. Without
//!   `manifest-summary.json`, `"exportTime"` (whole seconds since the epoch) must say when the
//!   export was made; given with one, it must agree.
//!
//! Dead items (unconvertible, or refused by OpenSearch) go to the dead-letter queue
//! (`STREAM2SEARCH_DLQ_URL`), one message each:
//! `{"source":"stream2search-backfill","unit":UNIT,"version":V,"key":KEY,"reason":TEXT,"item":ITEM}`,
//! the item exactly as read (a JSON value when it is one, else its text as a JSON string).
//! Without a queue, or when the queue does not take them all, they are not dropped: the page
//! counts as not done, like a page with items not durable. A page with items not durable is
//! read again, and its dead items are dead-lettered then.
//!
//! A page that is not done, or that cannot be read (`Stream2Search.Source`, after the retries),
//! stops the invocation there. If the invocation had already advanced the job, it answers
//! normally with the job as advanced so far (`done` false, `stopped` the reason); if it was the
//! invocation's first page, the invocation fails (`Stream2Search.DeadItems`,
//! `Stream2Search.NotDurable` or `Stream2Search.Source`, naming the items and reasons), so
//! that the state machine's retry with backoff decides, and the job's position never passes an
//! item that is neither indexed nor dead-lettered.
//!
//! Settings: those of the stream function ([`Settings`]: `OPENSEARCH_*`, the dead-letter queue,
//! metrics), and `AWS_REGION`, the credentials Lambda sets, the DynamoDB endpoint
//! (`AWS_ENDPOINT_URL_DYNAMODB`, then `AWS_ENDPOINT_URL`, else
//! `https://dynamodb.<region>.amazonaws.com`), the S3 endpoint for `s3://` exports
//! (`AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`, else AWS),
//! `STREAM2SEARCH_BACKFILL_PAGE_SIZE` (Scan's `Limit`, and the most lines of an export page),
//! `STREAM2SEARCH_BACKFILL_CONSISTENT_READ`, `STREAM2SEARCH_BACKFILL_MIN_STEP_SECS` and
//! `STREAM2SEARCH_BACKFILL_TIMEOUT_SECS` (most time for one DynamoDB or S3 call, and to send one
//! page, default 60).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::{LambdaEvent, tracing};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::s3::S3;
use super::{Backfiller, DeadItem, Dynamo, Error, Job, Kind, Step, Unit, version_seconds};
use crate::config::{self, ConfigError, Settings, TableAccess};
use crate::dead_letter::{self, Message, cut};
use crate::deadline;
use crate::sqs::Queue;

/// The Lambda backfill handler: build it once at cold start, call it per request. Clones share
/// everything. A `tower` [`Service`], so `lambda_runtime::run(handler)` serves it.
///
/// [`Service`]: lambda_runtime::Service
#[derive(Clone)]
pub struct BackfillHandler {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    backfiller: Backfiller,
    queue: Option<Queue>,
    min_step: Duration,
}

impl fmt::Debug for BackfillHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackfillHandler")
            .field("settings", &self.inner.settings)
            .field("backfiller", &self.inner.backfiller)
            .field("queue", &self.inner.queue)
            .field("min_step", &self.inner.min_step)
            .finish()
    }
}

/// A plan request's body: `{"table":"T","segments":N}` for a live table,
/// `{"export":"s3://...","table":"T"}` (or `"keys"` instead of `"table"`) for an export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct PlanRequest {
    /// The table: scanned, or with `export` described for its key names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Scan segments: one job each (a live table only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<u32>,
    /// A DynamoDB export (`DYNAMODB_JSON`): `s3://bucket/prefix/AWSDynamoDB/<export-id>/`, or
    /// a local directory of that layout. One job per data file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<String>,
    /// The key attribute names, partition key first: with `export`, instead of `table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// When the export was made, in whole seconds since the epoch: needed when the export has
    /// no `manifest-summary.json`, refused when it disagrees with the manifest's `exportTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_time: Option<u64>,
}

/// The answer to a plan request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PlanAnswer {
    /// The backfill's version second, shared by every job.
    pub version: u64,
    /// The key attribute names, partition key first.
    pub keys: Vec<String>,
    /// The table's `ItemCount`, or the export manifest's `itemCount` (`None`: unknown).
    pub item_count: Option<u64>,
    /// The table's `TableSizeBytes` (`None` for an export).
    pub size_bytes: Option<u64>,
    /// One job per unit, at its beginning.
    pub jobs: Vec<Job>,
}

/// The answer to a job: where it stands, and what this invocation did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct JobAnswer {
    /// The job, advanced past every page this invocation made durable.
    pub job: Job,
    /// The unit is finished.
    pub done: bool,
    /// Why the invocation stopped before its time was up and before the unit's end, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// What this invocation did.
    #[serde(flatten)]
    pub counts: Counts,
}

/// What one backfill invocation did: logged as one line and written as EMF metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Counts {
    /// Pages made durable.
    pub pages: u64,
    /// Items read.
    pub items: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Items indexed.
    pub indexed: u64,
    /// Items the index already held at a newer version.
    pub stale: u64,
    /// Dead items the dead-letter queue took.
    pub dead_lettered: u64,
    /// Throttled reads, retried.
    pub throttled: u64,
    /// Read capacity units consumed.
    pub consumed_rcu: f64,
}

impl Counts {
    fn add(&mut self, step: &Step) {
        self.items += step.items;
        self.bytes += step.bytes;
        self.indexed += step.indexed;
        self.stale += step.stale;
        self.throttled += step.throttled;
        self.consumed_rcu += step.consumed_rcu;
    }

    /// One CloudWatch Embedded Metric Format line.
    fn emf(
        &self,
        namespace: &str,
        function_name: &str,
        timestamp_ms: u64,
        duration_ms: u64,
    ) -> String {
        let names = [
            "BackfillPages",
            "BackfillItems",
            "BackfillBytes",
            "BackfillIndexed",
            "BackfillStale",
            "BackfillDeadLettered",
            "BackfillThrottled",
            "BackfillConsumedRcu",
        ];
        let mut metrics: Vec<Value> = names
            .iter()
            .map(|name| {
                let unit = if *name == "BackfillBytes" {
                    "Bytes"
                } else {
                    "Count"
                };
                serde_json::json!({"Name": name, "Unit": unit})
            })
            .collect();
        metrics.push(serde_json::json!({"Name": "BackfillDurationMs", "Unit": "Milliseconds"}));
        serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": metrics,
                }],
            },
            "FunctionName": function_name,
            "BackfillPages": self.pages,
            "BackfillItems": self.items,
            "BackfillBytes": self.bytes,
            "BackfillIndexed": self.indexed,
            "BackfillStale": self.stale,
            "BackfillDeadLettered": self.dead_lettered,
            "BackfillThrottled": self.throttled,
            "BackfillConsumedRcu": self.consumed_rcu,
            "BackfillDurationMs": duration_ms,
        })
        .to_string()
    }
}

/// The payload: a plan request or a job.
enum Request {
    Plan(PlanRequest),
    Job(Job),
}

fn request(payload: &str) -> Result<Request, Error> {
    #[derive(Deserialize)]
    struct Planning {
        plan: PlanRequest,
    }
    let value: Value = serde_json::from_str(payload)
        .map_err(|e| Kind::NotAJob(format!("the payload is not JSON: {e}")))?;
    if value.get("plan").is_some() {
        let planning: Planning = serde_json::from_value(value).map_err(|e| {
            Kind::NotAJob(format!(
                "not a plan request ({{\"plan\":{{\"table\":T,\"segments\":N}}}} or \
                 {{\"plan\":{{\"export\":LOCATION,\"table\":T}}}}): {e}"
            ))
        })?;
        return Ok(Request::Plan(planning.plan));
    }
    serde_json::from_value(value)
        .map(Request::Job)
        .map_err(|e| {
            Kind::NotAJob(format!(
                "neither a job ({{\"unit\":..,\"version\":..,\"keys\":..}}) nor a plan request: {e}"
            ))
            .into()
        })
}

/// Runs the backfill function as its `main` would: sets up logging
/// ([`init_logging`](crate::init_logging)), reads the environment, builds the handler and serves
/// requests until the sandbox ends. A failed cold start is one log line naming the variable, and
/// exit status 1.
pub async fn run() -> std::process::ExitCode {
    crate::init_logging();
    let handler = match BackfillHandler::from_env() {
        Ok(handler) => handler,
        Err(e) => {
            tracing::error!(error_type = e.error_type(), "cold start failed: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match lambda_runtime::run(handler).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("the Lambda runtime stopped: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

impl BackfillHandler {
    /// Reads the process environment and builds the handler (see
    /// [`BackfillHandler::from_lookup`]).
    pub fn from_env() -> Result<BackfillHandler, Error> {
        BackfillHandler::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` and builds the handler. Every mistake names its
    /// variable. Needs no network.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<BackfillHandler, Error> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let settings = Settings::from_lookup(&lookup)?;
        if !settings.plan.versioning {
            return Err(ConfigError::new(
                "STREAM2SEARCH_VERSIONING",
                "a backfill needs external versions, so that the stream's later changes win",
            )
            .into());
        }
        let (planner, client) = config::planner_and_client(&settings, &lookup)?;
        let queue_variable = if get("STREAM2SEARCH_SQS_ENDPOINT").is_some() {
            "STREAM2SEARCH_SQS_ENDPOINT"
        } else {
            "STREAM2SEARCH_DLQ_URL"
        };
        let queue = settings
            .dead_letter
            .as_ref()
            .map(|target| {
                Queue::new(
                    target.clone(),
                    settings.aws_credentials.as_ref().map(|c| c.0.clone()),
                )
            })
            .transpose()
            .map_err(|e| ConfigError::new(queue_variable, e.to_string()))?;

        let TableAccess {
            region,
            credentials,
            endpoint,
            endpoint_variable,
        } = TableAccess::from_lookup(get)?;
        let seconds = |name: &str, default: u64| -> Result<Duration, ConfigError> {
            match get(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
                    _ => Err(ConfigError::new(
                        name,
                        "must be a positive number of seconds",
                    )),
                },
            }
        };
        let timeout = seconds("STREAM2SEARCH_BACKFILL_TIMEOUT_SECS", 60)?;
        let min_step = seconds("STREAM2SEARCH_BACKFILL_MIN_STEP_SECS", 10)?;
        let page_size = match get("STREAM2SEARCH_BACKFILL_PAGE_SIZE") {
            None => None,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(ConfigError::new(
                        "STREAM2SEARCH_BACKFILL_PAGE_SIZE",
                        "must be a positive number of items",
                    )
                    .into());
                }
            },
        };
        let consistent = match get("STREAM2SEARCH_BACKFILL_CONSISTENT_READ") {
            None => false,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(ConfigError::new(
                        "STREAM2SEARCH_BACKFILL_CONSISTENT_READ",
                        "must be true or false",
                    )
                    .into());
                }
            },
        };
        let dynamo = Dynamo::new(&endpoint, region.trim(), credentials, timeout).map_err(|e| {
            let message = e.to_string();
            let message = message
                .strip_prefix("invalid client configuration: ")
                .unwrap_or(&message)
                .to_owned();
            ConfigError::new(endpoint_variable, message)
        })?;
        let s3_endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .into_iter()
            .find_map(|name| get(name).map(|e| (name, e)));
        let credentials = stream2search_client::credentials_from_env(get).map_err(|missing| {
            ConfigError::new(missing.variable(), "not set, needed to read the export")
        })?;
        let s3 = S3::new(
            s3_endpoint.as_ref().map(|(_, e)| e.as_str()),
            region.trim(),
            credentials,
            timeout,
        )
        .map_err(|e| {
            ConfigError::new(
                s3_endpoint.as_ref().map_or("AWS_REGION", |(name, _)| name),
                e.to_string(),
            )
        })?;
        let backfiller = Backfiller::new(planner, client)
            .dynamo(dynamo)
            .s3(s3)
            .timeout(timeout)
            .page_size(page_size)
            .consistent_read(consistent);
        Ok(BackfillHandler {
            inner: Arc::new(Inner {
                settings,
                backfiller,
                queue,
                min_step,
            }),
        })
    }

    /// The backfiller it steps with.
    pub fn backfiller(&self) -> &Backfiller {
        &self.inner.backfiller
    }

    /// Handles one request from the Lambda runtime: a job's or a plan's answer, as JSON.
    pub async fn call(&self, event: LambdaEvent<Box<RawValue>>) -> Result<Value, Error> {
        let deadline = deadline::deadline(
            event.context.deadline,
            SystemTime::now(),
            Instant::now(),
            self.inner.settings.fallback_budget,
        );
        self.handle(event.payload.get(), deadline).await
    }

    /// Handles one payload, answering before `deadline`.
    pub async fn handle(&self, payload: &str, deadline: Instant) -> Result<Value, Error> {
        let answer = match request(payload)? {
            Request::Plan(plan) => serde_json::to_value(self.plan(&plan).await?),
            Request::Job(job) => serde_json::to_value(self.run(job, deadline).await?),
        };
        answer.map_err(|e| Kind::Job(format!("the answer could not be written: {e}")).into())
    }

    /// Plans a backfill: a live table cut into one job per segment at the version five minutes
    /// before now, or an export cut into one job per data file at the version five minutes
    /// before the export's time.
    pub async fn plan(&self, request: &PlanRequest) -> Result<PlanAnswer, Error> {
        let backfiller = &self.inner.backfiller;
        let (version, keys, item_count, size_bytes, units) = match (&request.export, &request.table)
        {
            (Some(location), _) => {
                if request.segments.is_some() {
                    return Err(Error::job(
                        "an export plan takes no segments: one job per file",
                    ));
                }
                let keys = match (&request.keys, &request.table) {
                    (Some(keys), None) => keys.clone(),
                    (None, Some(table)) => backfiller.describe(table).await?.keys,
                    _ => {
                        return Err(Error::job(
                            "an export plan needs the key names: \"table\" (DescribeTable) or \
                             \"keys\", not both",
                        ));
                    }
                };
                if keys.is_empty() || keys.len() > 2 || keys.iter().any(String::is_empty) {
                    return Err(Error::job(
                        "keys: one or two attribute names, partition key first",
                    ));
                }
                let export = backfiller.export(location).await?;
                let time = match (export.export_time, request.export_time) {
                    (Some(manifest), Some(given)) if manifest != given => {
                        return Err(Error::job(format!(
                            "exportTime {given} disagrees with the manifest's exportTime \
                             {manifest}"
                        )));
                    }
                    (Some(t), _) | (None, Some(t)) => t,
                    (None, None) => {
                        return Err(Error::job(format!(
                            "export {location} has no manifest-summary.json: exportTime (whole \
                             seconds since the epoch) must say when it was made"
                        )));
                    }
                };
                let version = version_seconds(Duration::from_secs(time));
                (
                    version,
                    keys,
                    export.item_count,
                    None,
                    Backfiller::files(&export),
                )
            }
            (None, Some(table)) => {
                let segments = request.segments.unwrap_or(0);
                if !(1..=1_000_000).contains(&segments) || request.keys.is_some() {
                    return Err(Error::job(format!(
                        "a table plan needs segments from 1 to 1000000 (Scan's TotalSegments), \
                         not {segments}, and no keys"
                    )));
                }
                let described = backfiller.describe(table).await?;
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default();
                (
                    version_seconds(now),
                    described.keys,
                    Some(described.item_count),
                    Some(described.size_bytes),
                    Backfiller::segments(table, segments),
                )
            }
            (None, None) => {
                return Err(Error::job("a plan names a table or an export"));
            }
        };
        let jobs: Vec<Job> = units
            .into_iter()
            .map(|unit| Job {
                unit,
                version,
                keys: keys.clone(),
            })
            .collect();
        tracing::info!(
            table = request.table.as_deref(),
            export = request.export.as_deref(),
            jobs = jobs.len(),
            version,
            item_count,
            "backfill planned"
        );
        Ok(PlanAnswer {
            version,
            keys,
            item_count,
            size_bytes,
            jobs,
        })
    }

    /// Steps through `job` until its unit is done or too little time is left.
    pub async fn run(&self, mut job: Job, deadline: Instant) -> Result<JobAnswer, Error> {
        let started = Instant::now();
        let inner = &*self.inner;
        let end = deadline::requests_end(deadline, inner.settings.client.deadline_margin);
        let mut counts = Counts::default();
        let mut done = false;
        let mut stopped = None;
        loop {
            let step = match inner.backfiller.step_until(&job, Some(end)).await {
                Ok(step) => step,
                Err(e) if counts.pages > 0 => {
                    stopped = Some(e.to_string());
                    break;
                }
                Err(e) => {
                    self.finish(&counts, started, false);
                    return Err(e);
                }
            };
            counts.add(&step);
            // A page with items not durable is read again, its dead items with it: they are
            // dead-lettered then, once.
            let dead_lettered = if step.not_durable.is_empty() {
                self.dead_letter(&job, &step.dead, end).await
            } else {
                Vec::new()
            };
            counts.dead_lettered += dead_lettered.len() as u64;
            let problem = problem(&step, &dead_lettered);
            if let Some(problem) = problem {
                for (key, reason) in &step.not_durable {
                    tracing::error!(key, reason, "item not durable; its page is read again");
                }
                if counts.pages == 0 {
                    self.finish(&counts, started, false);
                    return Err(problem);
                }
                stopped = Some(problem.to_string());
                break;
            }
            let moved = step.next != job.unit || step.done;
            if moved {
                counts.pages += 1;
            }
            job.unit = step.next;
            done = step.done;
            if done || !moved || end.saturating_duration_since(Instant::now()) < inner.min_step {
                break;
            }
        }
        if let Some(reason) = &stopped {
            tracing::warn!(
                reason,
                "stopped at a page that is not done; answering the job as advanced so far"
            );
        }
        self.finish(&counts, started, done);
        Ok(JobAnswer {
            job,
            done,
            stopped,
            counts,
        })
    }

    fn finish(&self, counts: &Counts, started: Instant, done: bool) {
        let duration_ms = started.elapsed().as_millis().try_into().unwrap_or(u64::MAX);
        tracing::info!(
            pages = counts.pages,
            items = counts.items,
            bytes = counts.bytes,
            indexed = counts.indexed,
            stale = counts.stale,
            dead_lettered = counts.dead_lettered,
            throttled = counts.throttled,
            consumed_rcu = counts.consumed_rcu,
            done,
            duration_ms,
            "backfill invocation done"
        );
        let settings = &self.inner.settings;
        if settings.metrics {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            println!(
                "{}",
                counts.emf(
                    &settings.metrics_namespace,
                    &settings.function_name,
                    now,
                    duration_ms
                )
            );
        }
    }

    /// Sends each dead item to the queue, all requests ended by `stop`; the indexes (into
    /// `dead`) the queue took.
    async fn dead_letter(&self, job: &Job, dead: &[DeadItem], stop: Instant) -> Vec<usize> {
        if dead.is_empty() {
            return Vec::new();
        }
        let Some(queue) = &self.inner.queue else {
            for d in dead {
                tracing::error!(
                    key = d.key.as_deref(),
                    reason = d.reason,
                    "item cannot be indexed and there is no dead-letter queue"
                );
            }
            return Vec::new();
        };
        let messages: Vec<Message> = dead
            .iter()
            .enumerate()
            .map(|(position, d)| Message {
                position,
                body: message(&job.unit, job.version, d),
            })
            .collect();
        let (delivered, errors) = queue.send(&messages, stop).await;
        for e in errors {
            tracing::error!(queue = queue.url(), error = %e, "dead-lettering failed; the page is not done");
        }
        let mut taken: Vec<usize> = delivered.into_iter().collect();
        taken.sort_unstable();
        for (i, d) in dead.iter().enumerate() {
            if taken.binary_search(&i).is_ok() {
                tracing::warn!(
                    key = d.key.as_deref(),
                    reason = d.reason,
                    "item dead-lettered"
                );
            }
        }
        taken
    }
}

/// Why `step` is not done: items not durable, or dead items the queue did not take.
fn problem(step: &Step, dead_lettered: &[usize]) -> Option<Error> {
    if !step.not_durable.is_empty() {
        let first = &step.not_durable[0];
        return Some(
            Kind::NotDurable(format!(
                "{} items not durable (first: {}: {})",
                step.not_durable.len(),
                first.0,
                first.1
            ))
            .into(),
        );
    }
    let left: Vec<&DeadItem> = step
        .dead
        .iter()
        .enumerate()
        .filter(|(i, _)| dead_lettered.binary_search(i).is_err())
        .map(|(_, d)| d)
        .collect();
    let first = left.first()?;
    Some(
        Kind::DeadItems(format!(
            "{} items cannot be indexed and no dead-letter queue took them (first: {}: {})",
            left.len(),
            first.key.as_deref().unwrap_or("-"),
            first.reason
        ))
        .into(),
    )
}

/// The dead-letter message of `dead`, at most [`dead_letter::MAX_MESSAGE_BYTES`] long.
fn message(unit: &Unit, version: u64, dead: &DeadItem) -> String {
    #[derive(Serialize)]
    struct Head<'a> {
        source: &'static str,
        unit: &'a Unit,
        version: u64,
        key: Option<&'a str>,
        reason: &'a str,
    }
    let head = Head {
        source: "stream2search-backfill",
        unit,
        version,
        key: dead.key.as_deref(),
        reason: cut(&dead.reason, 4096),
    };
    let head = serde_json::to_string(&head).unwrap_or_else(|_| "{}".into());
    // The item as the JSON value it is, spliced in as read; a line that is not JSON as a string.
    let item = if serde_json::from_str::<serde::de::IgnoredAny>(&dead.item).is_ok() {
        dead.item.clone()
    } else {
        Value::from(dead.item.as_str()).to_string()
    };
    dead_letter::body(&head, "item", &item, &dead.item)
}

crate::service::lambda_service!(BackfillHandler, Value, Error);

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::dead_letter::MAX_MESSAGE_BYTES;

    fn dead(item: &str) -> DeadItem {
        DeadItem {
            key: Some(r#"{"productId":{"S":"p-1"}}"#.into()),
            reason: "rejected: mapper_parsing_exception".into(),
            item: item.into(),
        }
    }

    #[test]
    fn dead_letter_carries_the_item_as_read_or_its_text() {
        let unit = Unit::File {
            location: "s3://b/x.json.gz".into(),
            skip: 10,
        };
        let body = message(
            &unit,
            7,
            &dead(r#"{"productId":{"S":"p-1"},"n":{"N":"1.500"}}"#),
        );
        assert_eq!(
            body,
            r#"{"source":"stream2search-backfill","unit":{"kind":"file","location":"s3://b/x.json.gz","skip":10},"version":7,"key":"{\"productId\":{\"S\":\"p-1\"}}","reason":"rejected: mapper_parsing_exception","item":{"productId":{"S":"p-1"},"n":{"N":"1.500"}}}"#
        );
        let line: Value = serde_json::from_str(&message(&unit, 7, &dead("{not json"))).unwrap();
        assert_eq!(line["item"], "{not json");
    }

    #[test]
    fn dead_letter_of_a_huge_item_is_cut_to_one_sqs_message() {
        let unit = Backfiller::segments("T", 1).remove(0);
        let item = format!(
            r#"{{"productId":{{"S":"p-1"}},"blob":{{"S":"{}"}}}}"#,
            "é".repeat(200_000)
        );
        let body = message(&unit, 7, &dead(&item));
        assert!(body.len() <= MAX_MESSAGE_BYTES, "{}", body.len());
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["truncated"], true);
        let prefix = v["itemPrefix"].as_str().unwrap();
        assert!(prefix.len() > 100_000 && item.starts_with(prefix));
    }

    fn offline() -> BackfillHandler {
        let env: HashMap<&str, &str> = [
            ("OPENSEARCH_ENDPOINT", "http://127.0.0.1:9"),
            ("OPENSEARCH_ALLOW_HTTP", "true"),
            ("OPENSEARCH_AUTH", "none"),
            ("OPENSEARCH_INDEX", "products"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"),
        ]
        .into();
        BackfillHandler::from_lookup(|name| env.get(name).map(|v| v.to_string())).unwrap()
    }

    #[tokio::test]
    async fn an_export_plan_has_one_job_per_data_file_at_the_export_time_less_300_s() {
        let dir = std::env::temp_dir().join(format!("s2s-plan-export-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        for name in ["b.json.gz", "a.json.gz"] {
            std::fs::write(dir.join("data").join(name), b"").unwrap();
        }
        let location = dir.to_str().unwrap().to_owned();
        let handler = offline();
        let far = Instant::now() + Duration::from_secs(30);
        let plan = handler
            .handle(
                &serde_json::json!({"plan": {"export": location, "keys": ["productId"],
                                              "exportTime": 1_764_489_600}})
                .to_string(),
                far,
            )
            .await;
        let no_time = handler
            .handle(
                &serde_json::json!({"plan": {"export": location, "keys": ["productId"]}})
                    .to_string(),
                far,
            )
            .await;
        std::fs::remove_dir_all(&dir).unwrap();
        let job = |name: &str| {
            serde_json::json!({"unit": {"kind": "file", "location": format!("{location}/data/{name}"),
                                        "skip": 0},
                               "version": 1_764_489_300, "keys": ["productId"]})
        };
        assert_eq!(
            plan.unwrap(),
            serde_json::json!({"version": 1_764_489_300, "keys": ["productId"], "itemCount": null,
                               "sizeBytes": null, "jobs": [job("a.json.gz"), job("b.json.gz")]})
        );
        let e = no_time.unwrap_err();
        assert_eq!(e.error_type(), "Stream2Search.Job");
        assert!(e.to_string().contains("exportTime"), "{e}");
    }

    #[test]
    fn emf_line_declares_every_count_it_carries() {
        let counts = Counts {
            pages: 2,
            items: 20,
            consumed_rcu: 2.5,
            ..Counts::default()
        };
        let line = counts.emf("stream2search", "backfill", 1_700_000_000_000, 12);
        let v: Value = serde_json::from_str(&line).unwrap();
        let declared = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "stream2search");
        assert_eq!(
            declared["Dimensions"],
            serde_json::json!([["FunctionName"]])
        );
        let metrics = declared["Metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 9);
        for m in metrics {
            let name = m["Name"].as_str().unwrap();
            assert!(v[name].is_number(), "{name} has no value");
        }
        assert_eq!(
            (
                &v["BackfillPages"],
                &v["BackfillItems"],
                &v["BackfillConsumedRcu"]
            ),
            (
                &serde_json::json!(2),
                &serde_json::json!(20),
                &serde_json::json!(2.5)
            )
        );
        assert_eq!(v["BackfillDurationMs"], 12);
        assert_eq!(v["FunctionName"], "backfill");
    }

    #[test]
    fn debug_output_holds_no_credential() {
        let text = format!("{:?}", offline());
        assert!(text.contains("BackfillHandler"), "{text}");
        for secret in ["AKIDEXAMPLE", "secret"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn payloads_are_jobs_or_plans_and_anything_else_is_named() {
        assert!(matches!(
            request(r#"{"plan":{"table":"T","segments":4}}"#),
            Ok(Request::Plan(p)) if p.table.as_deref() == Some("T") && p.segments == Some(4)
        ));
        assert!(matches!(
            request(
                r#"{"unit":{"kind":"segment","table":"T","segment":0,"totalSegments":2},"version":1,"keys":["k"]}"#
            ),
            Ok(Request::Job(_))
        ));
        for bad in [
            "{",
            r#"{"Records":[]}"#,
            r#"{"plan":{"table":"T","segment":1}}"#,
        ] {
            let e = request(bad).err().unwrap();
            assert_eq!(e.error_type(), "Stream2Search.NotAJob", "{bad}: {e}");
        }
    }
}
