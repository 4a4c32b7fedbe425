//! `stream2search backfill`: load what a live table (or a DynamoDB export of it) holds into the
//! index, exactly, while the stream keeps running.
//!
//! The unit of work, one Scan segment or one export data file read page by page, is
//! `stream2search_lambda::backfill` (the same steps the Lambda backfill handler runs); this
//! command orchestrates: `source` (what is read: the segments, or the export's files, and the
//! version) → a queue of units read `--concurrency` at a time, in this process or by the Lambda
//! function (`function`) → `dead` (items refused or unconvertible, to a JSON lines file) →
//! `checkpoint` (per unit, its durable position). Around it: `pace` (`--max-rcu`), `progress`
//! (the bar or plain lines), `interrupt` (Ctrl-C stops at a checkpoint).
//!
//! The version rule (docs/backfill.md): every backfill document carries version
//! `(floor(scan start) − 300) × 10^6` (for an export, `floor(export time) − 300`),
//! `external_gte`, so that any change the stream carries from then on wins over it, whatever
//! the order of the writes.

mod checkpoint;
mod dead;
mod function;
mod interrupt;
mod pace;
mod progress;
mod source;

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stream2search_client::Client;
use stream2search_lambda::backfill::{Backfiller, DeadItem, Job, Unit};

use self::checkpoint::State;
use self::dead::DeadLetters;
use self::interrupt::{Signals, Stop};
use self::pace::Pace;
use self::progress::Progress;
use crate::function::Function;

#[derive(clap::Args)]
pub struct Backfill {
    #[command(flatten)]
    source: Box<source::SourceArgs>,
    /// Index name, or a template such as `products-{category}` (the write alias of
    /// `stream2search index create`).
    #[arg(long)]
    index: String,
    /// Units (segments, or export files) read at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,
    /// Most items per page (Scan's Limit, DynamoDB also ends a page at 1 MB; or lines of an
    /// export file). Each page is one plan, sent and checkpointed as a whole.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    page_size: Option<u32>,
    /// Strongly consistent reads (twice the read capacity).
    #[arg(long, conflicts_with = "export")]
    consistent_read: bool,
    /// Read capacity units per second for all segments together: each Scan asks for its
    /// ConsumedCapacity, and a segment waits before its next Scan while the capacity consumed
    /// exceeds R per second (with one second of burst).
    #[arg(long, value_name = "R", conflicts_with = "export")]
    max_rcu: Option<f64>,
    /// The checkpoint file: the source, the version, and per unit its durable position. A
    /// rerun with the same file resumes there, with the same version.
    #[arg(long, default_value = "stream2search-backfill.json")]
    checkpoint: PathBuf,
    /// Where refused and unconvertible items go, one JSON line each (appended):
    /// `{"key":KEY,"reason":TEXT,"item":ITEM}`, the item exactly as read.
    #[arg(long, default_value = "stream2search-backfill-dead-letters.jsonl")]
    dead_letters: PathBuf,
    /// Run each unit in the Lambda backfill handler at this Lambda Invoke API URL (plain HTTP,
    /// e.g. `cargo lambda watch`'s `http://127.0.0.1:9000/2015-03-31/functions/NAME/invocations`)
    /// instead of in this process: the function's own settings then decide how items are
    /// planned and where they go, and its dead-letter queue takes refused items.
    #[arg(long)]
    function_url: Option<String>,
    /// Deadline for sending one page to OpenSearch, in seconds (with --function-url: for one
    /// invocation, at least 900).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..))]
    timeout: u64,
    /// Send bulk bodies uncompressed.
    #[arg(long)]
    no_gzip: bool,
    #[command(flatten)]
    connection: crate::Connection,
    #[command(flatten)]
    planner: crate::PlannerArgs,
}

/// Counts over the run (this run only, not earlier runs of the same checkpoint).
#[derive(Default)]
struct Totals {
    items: AtomicU64,
    bytes: AtomicU64,
    pages: AtomicU64,
    scans: AtomicU64,
    indexed: AtomicU64,
    stale: AtomicU64,
    dead_lettered: AtomicU64,
    not_durable: AtomicU64,
    throttled: AtomicU64,
    /// Read capacity units DynamoDB reported, in thousandths.
    consumed_milli: AtomicU64,
    /// Time segments waited for `--max-rcu`, in microseconds, added over segments.
    paced_micros: AtomicU64,
    /// Invocations of the function (`--function-url`).
    invocations: AtomicU64,
    units_done: AtomicU64,
    units_failed: AtomicU64,
}

/// Who reads a unit's pages.
enum Runner {
    /// This process, one page per step.
    InProcess(Box<Backfiller>),
    /// The Lambda backfill handler, as many pages per invocation as its time allows.
    Function(Function),
}

/// What one step (a page here, or an invocation of the function) did.
struct Advance {
    next: Unit,
    done: bool,
    pages: u64,
    items: u64,
    bytes: u64,
    indexed: u64,
    stale: u64,
    /// Dead items to write to the dead-letter file (in this process).
    dead: Vec<DeadItem>,
    /// Dead items the function's dead-letter queue took.
    dead_elsewhere: u64,
    not_durable: Vec<(String, String)>,
    consumed_rcu: f64,
    throttled: u64,
    /// Scan requests made (pages of segments and throttled reads).
    scans: u64,
}

impl Runner {
    async fn step(&self, job: &Job) -> Result<Advance, String> {
        let scan = matches!(job.unit, Unit::Segment { .. });
        match self {
            Runner::InProcess(backfiller) => {
                let step = backfiller.step(job).await.map_err(|e| e.to_string())?;
                let durable = step.not_durable.is_empty();
                Ok(Advance {
                    next: step.next,
                    done: step.done,
                    pages: u64::from(durable),
                    items: step.items,
                    bytes: step.bytes,
                    indexed: step.indexed,
                    stale: step.stale,
                    dead: step.dead,
                    dead_elsewhere: 0,
                    not_durable: step.not_durable,
                    consumed_rcu: step.consumed_rcu,
                    throttled: step.throttled,
                    scans: if scan { 1 + step.throttled } else { 0 },
                })
            }
            Runner::Function(f) => {
                let answer = function::invoke(f, job).await?;
                if answer.job.version != job.version || answer.job.keys != job.keys {
                    return Err(format!(
                        "the function answered another job (version {}, keys {:?})",
                        answer.job.version, answer.job.keys
                    ));
                }
                let c = &answer.counts;
                Ok(Advance {
                    next: answer.job.unit,
                    done: answer.done,
                    pages: c.pages,
                    items: c.items,
                    bytes: c.bytes,
                    indexed: c.indexed,
                    stale: c.stale,
                    dead: Vec::new(),
                    dead_elsewhere: c.dead_lettered,
                    not_durable: Vec::new(),
                    consumed_rcu: c.consumed_rcu,
                    throttled: c.throttled,
                    scans: if scan { c.pages + c.throttled } else { 0 },
                })
            }
        }
    }
}

/// What every unit task shares.
struct Shared {
    runner: Runner,
    keys: Vec<String>,
    path: PathBuf,
    state: Mutex<State>,
    queue: Mutex<VecDeque<usize>>,
    dead: Mutex<DeadLetters>,
    totals: Totals,
    pace: Option<Mutex<Pace>>,
    progress: Progress,
    stop: Stop,
}

/// How a unit's reading ended without an error.
enum Ended {
    /// Every page is durable.
    Done,
    /// A signal asked to stop: its checkpoint holds its last durable page.
    Stopped,
}

pub fn backfill(args: Backfill) -> ExitCode {
    crate::block_on(run(args))
}

async fn run(args: Backfill) -> ExitCode {
    if args.planner.no_version {
        return crate::fatal(
            "backfill needs external versions (its documents must lose to the stream's later \
             changes): drop --no-version",
        );
    }
    let timeout = Duration::from_secs(args.timeout);
    let pace = match args
        .max_rcu
        .map(|r| Pace::new(r, Instant::now()))
        .transpose()
    {
        Ok(p) => p.map(Mutex::new),
        Err(e) => return crate::fatal(&e),
    };
    let client = match args.connection.client(!args.no_gzip) {
        Ok(c) => c,
        Err(e) => return crate::fatal(&e),
    };
    let indexed_at = args.planner.now.clone();
    let planner = match args.planner.planner(args.index.clone()) {
        Ok(p) => p,
        Err(e) => return crate::fatal(&e),
    };
    let backfiller = Backfiller::new(planner, client.clone())
        .indexed_at(indexed_at)
        .timeout(timeout)
        .page_size(args.page_size)
        .consistent_read(args.consistent_read);
    let source = match source::open(
        &args.source,
        args.connection.region.clone(),
        backfiller,
        &args.checkpoint,
        timeout,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return crate::fatal(&e),
    };
    let state = source.state;
    if let Err(e) = state.save(&args.checkpoint) {
        return crate::fatal(&e);
    }
    let runner = match &args.function_url {
        Some(url) => match Function::new(url, timeout.max(Duration::from_secs(900))) {
            Ok(f) => Runner::Function(f),
            Err(e) => return crate::fatal(&e),
        },
        None => Runner::InProcess(Box::new(source.backfiller)),
    };
    if !args.index.contains('{') {
        gc_deletes(&client, &args.index, timeout).await;
    }
    let dead = match DeadLetters::open(&args.dead_letters) {
        Ok(d) => d,
        Err(e) => return crate::fatal(&e),
    };
    let queue: VecDeque<usize> = (0..state.progress.len())
        .filter(|&i| !state.progress[i].done)
        .collect();
    let units = state.progress.len() as u64;
    let version = state.version_seconds;
    let already_done = units - queue.len() as u64;
    let durable: u64 = state.progress.iter().map(|p| p.items).sum();
    if let Some((n, what)) = &source.expected {
        eprintln!(
            "backfill: {} holds about {n} items ({what}){}",
            state.source,
            if durable > 0 {
                format!("; {durable} are durable from earlier runs")
            } else {
                String::new()
            }
        );
    }
    let expected = source.expected.map(|(n, _)| n.saturating_sub(durable));
    let label = match &state.source {
        checkpoint::Source::Table { table, .. } => table.clone(),
        source @ checkpoint::Source::Export { .. } => source.to_string(),
    };
    let shared = Arc::new(Shared {
        runner,
        keys: source.keys,
        path: args.checkpoint.clone(),
        state: Mutex::new(state),
        queue: Mutex::new(queue),
        dead: Mutex::new(dead),
        totals: Totals::default(),
        pace,
        progress: Progress::new(expected),
        stop: Stop::new(),
    });
    shared
        .totals
        .units_done
        .store(already_done, Ordering::Relaxed);

    let started = Instant::now();
    let signals = Signals::register();
    let listener = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move { signals.listen(&shared.stop, &shared.progress).await })
    };
    let progress = tokio::spawn(progress(Arc::clone(&shared), started, units));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        tasks.spawn(worker(Arc::clone(&shared), version));
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            // A task that panicked leaves its unit unfinished: the run is not complete.
            shared.totals.units_failed.fetch_add(1, Ordering::Relaxed);
            shared
                .progress
                .line(&format!("backfill: a unit task failed: {e}"));
        }
    }
    progress.abort();
    listener.abort();
    shared.progress.finish();
    let interrupted = shared.stop.stopped();

    let t = &shared.totals;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64().max(0.001);
    let done_name = if args.source.export.is_some() {
        "files done"
    } else {
        "segments done"
    };
    let _ = writeln!(
        std::io::stdout().lock(),
        "backfill {label} -> {}: items read {}, bytes read {}, pages {}, scans {}, indexed {}, \
         stale {}, dead-lettered {}, not durable {}, throttled {}, read capacity {:.1}, \
         waited for --max-rcu {:.1}s, invocations {}, {done_name} {}/{units}, version {}, \
         items/s {:.0}",
        args.index,
        get(&t.items),
        get(&t.bytes),
        get(&t.pages),
        get(&t.scans),
        get(&t.indexed),
        get(&t.stale),
        get(&t.dead_lettered),
        get(&t.not_durable),
        get(&t.throttled),
        get(&t.consumed_milli) as f64 / 1000.0,
        get(&t.paced_micros) as f64 / 1e6,
        get(&t.invocations),
        get(&t.units_done),
        version * 1_000_000,
        get(&t.items) as f64 / elapsed,
    );
    if interrupted {
        let left = units - get(&t.units_done);
        let _ = writeln!(
            std::io::stdout().lock(),
            "backfill interrupted: {left} of {units} {} not finished; {} holds every durable \
             page: run the same command again (same --checkpoint) to resume",
            if args.source.export.is_some() {
                "files"
            } else {
                "segments"
            },
            args.checkpoint.display()
        );
        return ExitCode::from(interrupt::EXIT);
    }
    if get(&t.dead_lettered) > 0 || get(&t.not_durable) > 0 || get(&t.units_failed) > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Tells on stderr how long the index remembers deletes (`index.gc_deletes`): the backfill must
/// finish within it, or a delete made meanwhile may be undone. A warning under an hour.
async fn gc_deletes(client: &Client, index: &str, limit: Duration) {
    let path =
        format!("{index}/_settings/index.gc_deletes?include_defaults=true&flat_settings=true");
    let answer = client.call(http::Method::GET, &path, None, limit).await;
    let settings: serde_json::Value = match &answer {
        Ok((200, body)) => serde_json::from_slice(body).unwrap_or_default(),
        Ok((status, _)) => {
            eprintln!(
                "backfill: warning: could not read {index}'s index.gc_deletes (HTTP {status})"
            );
            return;
        }
        Err(e) => {
            eprintln!("backfill: warning: could not read {index}'s index.gc_deletes: {e}");
            return;
        }
    };
    let Some(indexes) = settings.as_object() else {
        return;
    };
    for (name, s) in indexes {
        let value = s["settings"]["index.gc_deletes"]
            .as_str()
            .or_else(|| s["defaults"]["index.gc_deletes"].as_str())
            .unwrap_or("60s");
        match seconds(value) {
            Some(secs) if secs >= 3600 => eprintln!(
                "backfill: index {name} remembers deletes for {value} (index.gc_deletes): the \
                 backfill must finish within it"
            ),
            _ => eprintln!(
                "backfill: warning: index {name} remembers deletes for only {value} \
                 (index.gc_deletes): an item deleted during the backfill comes back if the \
                 backfill writes it later than that; raise it (docs/backfill.md)"
            ),
        }
    }
}

/// `24h`, `90m`, `60s`, `500ms`, `7d` in seconds.
fn seconds(value: &str) -> Option<u64> {
    let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let n: u64 = digits.parse().ok()?;
    let unit = match &value[digits.len()..] {
        "ms" => return Some(n / 1000),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(unit)
}

/// Without a bar, a plain line on stderr every five seconds.
async fn progress(shared: Arc<Shared>, started: Instant, units: u64) {
    if shared.progress.is_bar() {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tick.tick().await;
        let t = &shared.totals;
        let items = t.items.load(Ordering::Relaxed);
        let mb = t.bytes.load(Ordering::Relaxed) as f64 / 1e6;
        let rate = items as f64 / started.elapsed().as_secs_f64().max(0.001);
        eprintln!(
            "backfill: {items} items, {mb:.1} MB, {rate:.0} items/s, units done {}/{units}",
            t.units_done.load(Ordering::Relaxed),
        );
    }
}

/// How a unit is named on stderr: `segment 2 of 8`, `file s3://b/.../data/x.json.gz`.
fn name(unit: &Unit) -> String {
    match unit {
        Unit::Segment {
            segment,
            total_segments,
            ..
        } => format!("segment {segment} of {total_segments}"),
        Unit::File { location, .. } => format!("file {location}"),
    }
}

/// Reads units off the queue until it is empty or a signal stops the run.
async fn worker(shared: Arc<Shared>, version: u64) {
    loop {
        if shared.stop.stopped() {
            return;
        }
        let Some(i) = shared.queue.lock().expect("queue lock").pop_front() else {
            return;
        };
        let (unit, verb) = {
            let state = shared.state.lock().expect("state lock");
            let unit = &state.progress[i].unit;
            let verb = match unit {
                Unit::Segment { .. } => "scanning",
                Unit::File { .. } => "reading",
            };
            (name(unit), verb)
        };
        let line = |text: &str| shared.progress.line(&format!("{unit}: {text}"));
        line(verb);
        match read_unit(&shared, i, version).await {
            Ok(Ended::Done) => {
                shared.totals.units_done.fetch_add(1, Ordering::Relaxed);
                line("done");
            }
            Ok(Ended::Stopped) => line("interrupted at its last durable page"),
            Err(e) => {
                shared.totals.units_failed.fetch_add(1, Ordering::Relaxed);
                line(&format!("stopped at its last durable page: {e}"));
            }
        }
    }
}

/// Waits while `--max-rcu`'s bucket is negative; `true` when a signal stopped the wait.
async fn pace(shared: &Shared) -> bool {
    let Some(pace) = &shared.pace else {
        return false;
    };
    loop {
        let wait = pace.lock().expect("pace lock").wait(Instant::now());
        if wait.is_zero() {
            return false;
        }
        let from = Instant::now();
        let stopped = shared.stop.sleep(wait).await;
        shared.totals.paced_micros.fetch_add(
            u64::try_from(from.elapsed().as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if stopped {
            return true;
        }
    }
}

/// Steps in a row that may leave a unit where it was (an invocation out of time before its
/// first page) before the unit is given up.
const STILL: u32 = 3;

/// Reads, sends and checkpoints one unit step by step, from its checkpoint on, until it is
/// finished or a signal stops it.
async fn read_unit(shared: &Shared, i: usize, version: u64) -> Result<Ended, String> {
    let mut still = 0u32;
    loop {
        if shared.stop.stopped() || pace(shared).await {
            return Ok(Ended::Stopped);
        }
        let job = Job {
            unit: shared.state.lock().expect("state lock").progress[i]
                .unit
                .clone(),
            version,
            keys: shared.keys.clone(),
        };
        let step = shared.runner.step(&job).await?;
        let t = &shared.totals;
        if matches!(shared.runner, Runner::Function(_)) {
            t.invocations.fetch_add(1, Ordering::Relaxed);
        }
        t.scans.fetch_add(step.scans, Ordering::Relaxed);
        t.throttled.fetch_add(step.throttled, Ordering::Relaxed);
        if step.consumed_rcu.is_finite() && step.consumed_rcu > 0.0 {
            t.consumed_milli.fetch_add(
                (step.consumed_rcu * 1000.0).round() as u64,
                Ordering::Relaxed,
            );
        }
        if let Some(pace) = &shared.pace {
            pace.lock()
                .expect("pace lock")
                .consume(step.consumed_rcu, Instant::now());
        }
        t.items.fetch_add(step.items, Ordering::Relaxed);
        t.bytes.fetch_add(step.bytes, Ordering::Relaxed);
        t.indexed.fetch_add(step.indexed, Ordering::Relaxed);
        t.stale.fetch_add(step.stale, Ordering::Relaxed);
        dead_letter(shared, &step.dead)?;
        t.dead_lettered
            .fetch_add(step.dead_elsewhere, Ordering::Relaxed);
        if !step.not_durable.is_empty() {
            for (key, reason) in &step.not_durable {
                shared.progress.line(&format!("item {key}: {reason}"));
            }
            t.not_durable
                .fetch_add(step.not_durable.len() as u64, Ordering::Relaxed);
            return Err(format!("{} items not durable", step.not_durable.len()));
        }
        t.pages.fetch_add(step.pages, Ordering::Relaxed);
        shared.progress.update(
            t.items.load(Ordering::Relaxed),
            t.bytes.load(Ordering::Relaxed),
        );
        let mut state = shared.state.lock().expect("state lock");
        let entry = &mut state.progress[i];
        entry.items += step.items;
        entry.pages += step.pages;
        entry.done = step.done;
        entry.unit = step.next;
        state.save(&shared.path)?;
        if step.done {
            return Ok(Ended::Done);
        }
        still = if job.unit == state.progress[i].unit {
            still + 1
        } else {
            0
        };
        if still >= STILL {
            return Err(format!("{STILL} steps in a row left it where it was"));
        }
    }
}

/// Writes a page's dead items to the dead-letter file (synced), one stderr line each.
fn dead_letter(shared: &Shared, dead: &[DeadItem]) -> Result<(), String> {
    for d in dead {
        shared.progress.line(&format!(
            "item {}: dead-lettered: {}",
            d.key.as_deref().unwrap_or("-"),
            d.reason
        ));
    }
    shared.dead.lock().expect("dead letters lock").write(
        dead.iter()
            .map(|d| (d.key.as_deref(), d.reason.as_str(), d.item.as_str())),
    )?;
    shared
        .totals
        .dead_lettered
        .fetch_add(dead.len() as u64, Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::seconds;

    #[test]
    fn gc_deletes_values_read_as_seconds() {
        assert_eq!(seconds("24h"), Some(86_400));
        assert_eq!(seconds("90m"), Some(5_400));
        assert_eq!(seconds("60s"), Some(60));
        assert_eq!(seconds("1500ms"), Some(1));
        assert_eq!(seconds("7d"), Some(604_800));
        assert_eq!(seconds("-1"), None);
        assert_eq!(seconds("1w"), None);
    }
}
