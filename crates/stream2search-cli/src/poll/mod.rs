//! `stream2search poll`: a local stand-in for Lambda's event source mapping.
//!
//! The data's way: `source` (the stream read: `streams`, the DynamoDB Streams API: ListStreams,
//! DescribeStream, GetShardIterator, GetRecords; or `kinesis`, the Kinesis Data Streams API:
//! DescribeStreamSummary, ListShards, GetShardIterator, GetRecords) → `batch` (records → the
//! event Lambda would deliver) → `deliver` (the Lambda handler in-process, or a function over
//! HTTP) → `state` (per-shard positions in a local file; a parent shard before its children).
//!
//! For local development and single containers; at scale, run the real event source mapping.

mod batch;
mod deliver;
mod kinesis;
mod source;
mod state;
mod streams;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use stream2search_lambda::Handler;

use self::batch::Record;
use self::deliver::{Resume, Target};
use self::kinesis::Kinesis;
use self::source::{Shard, Source};
use self::state::{Position, State};
use self::streams::Streams;
use crate::function::Function;

#[derive(clap::Args)]
pub struct Poll {
    /// Read the latest stream of this table (ListStreams).
    #[arg(
        long,
        required_unless_present_any = ["stream_arn", "kinesis_stream"],
        conflicts_with_all = ["stream_arn", "kinesis_stream"]
    )]
    table: Option<String>,
    /// Read this stream.
    #[arg(long, conflicts_with = "kinesis_stream")]
    stream_arn: Option<String>,
    /// Read this Kinesis data stream (a name or an ARN), the one a table's Kinesis Data Streams
    /// for DynamoDB writes to; the function gets Lambda's Kinesis event.
    #[arg(long)]
    kinesis_stream: Option<String>,
    /// Kinesis endpoint, e.g. `http://127.0.0.1:5055` for moto (default: AWS_ENDPOINT_URL_KINESIS,
    /// then AWS_ENDPOINT_URL, then `https://kinesis.<region>.amazonaws.com`).
    #[arg(long, requires = "kinesis_stream")]
    kinesis_endpoint: Option<String>,
    /// DynamoDB Streams endpoint, e.g. `http://127.0.0.1:5055` for moto (default:
    /// AWS_ENDPOINT_URL_DYNAMODB_STREAMS, then AWS_ENDPOINT_URL, then
    /// `https://streams.dynamodb.<region>.amazonaws.com`).
    #[arg(long)]
    streams_endpoint: Option<String>,
    /// The stream's region (default: AWS_REGION). Requests are signed with AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (for moto, any key).
    #[arg(long)]
    region: Option<String>,
    /// The checkpoint file: each shard's position, so that a restart resumes where it stopped.
    #[arg(long, default_value = "stream2search-poll.json")]
    checkpoints: PathBuf,
    /// Most records per batch (one handler call).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    batch_size: u64,
    /// Seconds to keep gathering records before a batch that is not full is delivered.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=300))]
    batching_window: u64,
    /// Drain what the stream holds now, then exit.
    #[arg(long)]
    once: bool,
    /// Give up (exit 1) when one batch has been delivered this many times without completing
    /// (default: retry until it does, as Lambda does without a retry limit).
    #[arg(long)]
    max_attempts: Option<u32>,
    /// Deadline of one handler call, in seconds (Lambda's function timeout).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..))]
    timeout: u64,
    /// Invoke the function at this Lambda Invoke API URL over plain HTTP instead of running the
    /// handler in-process, e.g. `cargo lambda watch`'s
    /// `http://127.0.0.1:9000/2015-03-31/functions/NAME/invocations`.
    #[arg(long)]
    function_url: Option<String>,
    /// OpenSearch base URL (else OPENSEARCH_ENDPOINT).
    #[arg(long)]
    endpoint: Option<String>,
    /// Index name or template (else OPENSEARCH_INDEX).
    #[arg(long)]
    index: Option<String>,
    /// OpenSearch authentication: es, aoss, basic or none (else OPENSEARCH_AUTH, default es).
    #[arg(long)]
    auth: Option<String>,
    /// Accept a plain `http://` OpenSearch endpoint (a local node).
    #[arg(long)]
    allow_http: bool,
}

/// How one pass over a shard ended.
enum Pass {
    /// Nothing new.
    Idle,
    /// Records delivered, the shard finished, or more to read.
    Progress,
    /// AWS asked to slow down; read again after a pause. Never a failure.
    Throttled,
    /// A batch did not complete; it is read again from its checkpoint.
    Failed,
}

/// Counts over the whole run.
#[derive(Default)]
struct Totals {
    batches: u64,
    records: u64,
    dead_lettered: u64,
    redeliveries: u64,
}

struct Poller {
    source: Source,
    target: Target,
    stream: String,
    region: String,
    path: PathBuf,
    state: State,
    iterators: HashMap<String, String>,
    attempts: HashMap<String, u32>,
    /// Throttled calls in a row.
    throttled: u32,
    batch_size: usize,
    window: Duration,
    timeout: Duration,
    totals: Totals,
}

pub fn poll(args: Poll) -> ExitCode {
    crate::block_on(run(args))
}

async fn run(args: Poll) -> ExitCode {
    let Some(region) = args.region.clone().or_else(|| crate::env("AWS_REGION")) else {
        return crate::fatal("--region or AWS_REGION must name the stream's region");
    };
    // moto, too, routes requests by their signature (any key will do).
    let credentials = match crate::aws::credentials() {
        Ok(credentials) => credentials,
        Err(e) => return crate::fatal(&e),
    };
    let timeout = Duration::from_secs(args.timeout);
    let source = match &args.kinesis_stream {
        Some(_) => {
            let endpoint =
                crate::aws::endpoint(args.kinesis_endpoint.as_deref(), "AWS_ENDPOINT_URL_KINESIS")
                    .unwrap_or_else(|| format!("https://kinesis.{region}.amazonaws.com"));
            Kinesis::new(&endpoint, region.clone(), credentials, timeout).map(Source::Kinesis)
        }
        None => {
            let endpoint = crate::aws::endpoint(
                args.streams_endpoint.as_deref(),
                "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
            )
            .unwrap_or_else(|| format!("https://streams.dynamodb.{region}.amazonaws.com"));
            Streams::new(&endpoint, region.clone(), credentials, timeout).map(Source::Streams)
        }
    };
    let source = match source {
        Ok(s) => s,
        Err(e) => return crate::fatal(&e.to_string()),
    };
    // The function's own settings (its environment variables), with the flags on top.
    let overrides: HashMap<&str, String> = [
        ("OPENSEARCH_ENDPOINT", args.endpoint.clone()),
        ("OPENSEARCH_INDEX", args.index.clone()),
        ("OPENSEARCH_AUTH", args.auth.clone()),
        (
            "OPENSEARCH_ALLOW_HTTP",
            args.allow_http.then(|| "true".into()),
        ),
        // EMF lines are for CloudWatch; here they would only crowd stdout.
        (
            "STREAM2SEARCH_METRICS",
            Some(crate::env("STREAM2SEARCH_METRICS").unwrap_or_else(|| "false".into())),
        ),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    // Over HTTP, the function reads its own environment.
    let target = match &args.function_url {
        Some(url) => match Function::new(url, Duration::from_secs(900)) {
            Ok(f) => Target::Http(f),
            Err(e) => return crate::fatal(&e),
        },
        None => {
            match Handler::builder()
                .from_lookup(|name| overrides.get(name).cloned().or_else(|| crate::env(name)))
            {
                Ok(h) => Target::InProcess(h),
                Err(e) => return crate::fatal(&e.to_string()),
            }
        }
    };
    let stream = match (&source, &args.stream_arn, &args.table, &args.kinesis_stream) {
        (Source::Kinesis(kinesis), _, _, Some(name)) => kinesis.arn(name).await,
        (Source::Streams(_), Some(arn), _, _) => Ok(arn.clone()),
        (Source::Streams(streams), None, Some(table), _) => streams.stream_of(table).await,
        _ => return crate::fatal("--table, --stream-arn or --kinesis-stream is required"),
    };
    let stream = match stream {
        Ok(arn) => arn,
        Err(e) => return crate::fatal(&e.to_string()),
    };
    let state = match State::load(&args.checkpoints, &stream) {
        Ok(s) => s,
        Err(e) => return crate::fatal(&e),
    };
    let mut poller = Poller {
        source,
        target,
        stream,
        region,
        path: args.checkpoints,
        state,
        iterators: HashMap::new(),
        attempts: HashMap::new(),
        throttled: 0,
        batch_size: args.batch_size as usize,
        window: Duration::from_secs(args.batching_window),
        timeout,
        totals: Totals::default(),
    };
    let code = poller.run(args.once, args.max_attempts).await;
    let t = &poller.totals;
    eprintln!(
        "poll: {} batches, {} records, {} dead-lettered, {} redelivered batches",
        t.batches, t.records, t.dead_lettered, t.redeliveries
    );
    code
}

impl Poller {
    async fn run(&mut self, once: bool, max_attempts: Option<u32>) -> ExitCode {
        let mut failures = 0u32;
        loop {
            let shards = match self.source.shards(&self.stream).await {
                Ok(s) => s,
                Err(e) if e.is_throttled() => {
                    self.throttle().await;
                    continue;
                }
                Err(e) => {
                    eprintln!("poll: {e}");
                    failures += 1;
                    if max_attempts.is_some_and(|m| failures >= m) {
                        return ExitCode::from(1);
                    }
                    tokio::time::sleep(backoff(failures)).await;
                    continue;
                }
            };
            failures = 0;
            let ready: Vec<Shard> = self.state.ready(&shards).into_iter().cloned().collect();
            if ready.is_empty() && once {
                return ExitCode::SUCCESS;
            }
            let mut idle = true;
            for shard in &ready {
                let pass = match self.pass(shard).await {
                    Ok(p) => p,
                    Err(e) => return crate::fatal(&e),
                };
                match pass {
                    Pass::Idle => {}
                    Pass::Progress => {
                        idle = false;
                        self.throttled = 0;
                    }
                    Pass::Throttled => {
                        idle = false;
                        self.throttle().await;
                    }
                    Pass::Failed => {
                        idle = false;
                        let n = self.attempts.get(&shard.id).copied().unwrap_or(0);
                        if max_attempts.is_some_and(|m| n >= m) {
                            eprintln!("poll: {}: batch failed {n} times; giving up", shard.id);
                            return ExitCode::from(1);
                        }
                        tokio::time::sleep(backoff(n)).await;
                    }
                }
            }
            if idle {
                if once {
                    return ExitCode::SUCCESS;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// Reads one batch from `shard` and delivers it. `Err` only for what no retry fixes.
    async fn pass(&mut self, shard: &Shard) -> Result<Pass, String> {
        let Some(start) = self.state.start(&shard.id) else {
            return Ok(Pass::Idle);
        };
        let mut next = match self.iterators.remove(&shard.id) {
            Some(it) => Some(it),
            None => match self.source.iterator(&self.stream, &shard.id, &start).await {
                Ok(it) => Some(it),
                Err(e) if e.is_throttled() => return Ok(Pass::Throttled),
                Err(e) => {
                    eprintln!("poll: {}: {e}", shard.id);
                    return Ok(Pass::Failed);
                }
            },
        };
        let window_end = Instant::now() + self.window;
        let mut records: Vec<Record> = Vec::new();
        let mut caught_up = true;
        // Whether a page said the shard is closed (no next iterator); a read cut short by an
        // error says nothing about it.
        let mut closed = false;
        while let Some(iterator) = next.take() {
            let page = match self
                .source
                .records(&iterator, self.batch_size - records.len())
                .await
            {
                Ok(p) => p,
                Err(e) if e.is_iterator_gone() && records.is_empty() => {
                    // Iterators live minutes (Streams 15, Kinesis 5): the next pass gets a new
                    // one from the checkpoint.
                    return Ok(Pass::Progress);
                }
                Err(e) if e.is_throttled() => {
                    if records.is_empty() {
                        // The same iterator reads the same records after the pause.
                        self.iterators.insert(shard.id.clone(), iterator);
                        return Ok(Pass::Throttled);
                    }
                    // Deliver what was read; the next pass starts from the checkpoint.
                    break;
                }
                Err(e) => {
                    eprintln!("poll: {}: {e}", shard.id);
                    if records.is_empty() {
                        return Ok(Pass::Failed);
                    }
                    // Deliver what was read; the next pass starts from the checkpoint.
                    break;
                }
            };
            let empty = page.records.is_empty();
            caught_up = page.caught_up();
            for raw in &page.records {
                records.push(
                    self.source
                        .record(raw, &shard.id, &self.stream, &self.region)?,
                );
            }
            next = page.next;
            closed = next.is_none();
            let now = Instant::now();
            if records.len() >= self.batch_size || now >= window_end {
                break;
            }
            if empty {
                tokio::time::sleep((window_end - now).min(Duration::from_millis(250))).await;
            }
        }
        if records.is_empty() {
            if closed {
                self.set(&shard.id, Position::Finished)?;
                return Ok(Pass::Progress);
            }
            if let Some(next) = next {
                self.iterators.insert(shard.id.clone(), next);
            }
            // An empty Kinesis page short of the shard's newest record: read on.
            return Ok(if caught_up {
                Pass::Idle
            } else {
                Pass::Progress
            });
        }

        let first = records[0].sequence_number.clone();
        let last = records[records.len() - 1].sequence_number.clone();
        let payload = batch::event(&records);
        let deadline = Instant::now() + self.timeout;
        self.totals.batches += 1;
        if self.attempts.contains_key(&shard.id) {
            self.totals.redeliveries += 1;
        }
        let line = |what: String| {
            let _ = writeln!(
                std::io::stdout().lock(),
                "{} {first}..{last}: {} records; {what}",
                shard.id,
                records.len()
            );
        };
        let answer = self.target.deliver(&payload, deadline).await;
        for failure in &answer.failures {
            eprintln!("{} {failure}", shard.id);
        }
        let counts = answer.counts.map(|c| c + "; ").unwrap_or_default();
        match answer.resume {
            Resume::Complete => {
                line(format!("{counts}complete"));
                self.totals.records += records.len() as u64;
                self.totals.dead_lettered += answer.dead_lettered.len() as u64;
                self.attempts.remove(&shard.id);
                if closed {
                    self.set(&shard.id, Position::Finished)?;
                } else {
                    self.set(&shard.id, Position::After(last.clone()))?;
                    // After a read cut short, the next pass starts from the checkpoint.
                    if let Some(next) = next {
                        self.iterators.insert(shard.id.clone(), next);
                    }
                }
                Ok(Pass::Progress)
            }
            Resume::At(seq) => {
                line(format!("{counts}resume at {seq}"));
                // Records before `seq` are done; count them once.
                let done = records
                    .iter()
                    .take_while(|r| r.sequence_number != seq)
                    .count();
                if done == records.len() {
                    return Err(format!(
                        "{}: the partial batch response names {seq}, which is not in the batch",
                        shard.id
                    ));
                }
                self.totals.records += done as u64;
                self.totals.dead_lettered +=
                    answer.dead_lettered.iter().filter(|&&p| p < done).count() as u64;
                if done > 0 {
                    self.attempts.remove(&shard.id);
                }
                self.set(&shard.id, Position::At(seq))?;
                *self.attempts.entry(shard.id.clone()).or_default() += 1;
                Ok(Pass::Failed)
            }
            Resume::Batch(reason) => {
                line(format!("{counts}failed: {reason}; retrying the batch"));
                self.set(&shard.id, Position::At(first.clone()))?;
                *self.attempts.entry(shard.id.clone()).or_default() += 1;
                Ok(Pass::Failed)
            }
        }
    }

    /// Waits after a throttled call: 200 ms doubling with each throttled call in a row, at most
    /// 5 s.
    async fn throttle(&mut self) {
        tokio::time::sleep(backoff(self.throttled)).await;
        self.throttled = self.throttled.saturating_add(1);
    }

    /// Records `shard`'s position and writes the checkpoint file.
    fn set(&mut self, shard: &str, position: Position) -> Result<(), String> {
        self.state.shards.insert(shard.to_string(), position);
        self.state.save(&self.path)
    }
}

/// The wait before attempt `n + 1` of a failed batch: 200 ms doubling, at most 5 s.
fn backoff(n: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << n.min(5))).min(Duration::from_secs(5))
}
