//! `stream2search backfill`: load what a live table holds into the index, exactly, while the
//! stream keeps running.
//!
//! The data's way: `scan` (DescribeTable, a parallel Scan page by page) → `event` (a page → the
//! DynamoDB Streams event the stream would have carried, at the backfill's version) → the
//! planner and client the Lambda uses → `dead` (items refused or unconvertible, to a JSON lines
//! file) → `checkpoint` (per segment, the last durable page). Around it: `pace` (`--max-rcu`),
//! `progress` (the bar or plain lines), `interrupt` (Ctrl-C stops at a checkpoint).
//!
//! The version rule (docs/backfill.md): every backfill document carries version
//! `(floor(scan start) − 300) × 10^6`, `external_gte`, so that any change the stream carries
//! from the scan's start on wins over it, whatever the order of the writes.

mod checkpoint;
mod dead;
mod event;
mod interrupt;
mod pace;
mod progress;
mod scan;

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stream2search::Planner;
use stream2search::backoff::Backoff;
use stream2search::checkpoint::RecordOutcome;
use stream2search::outcome::Final;
use stream2search_client::Client;

use self::checkpoint::State;
use self::dead::DeadLetters;
use self::interrupt::{Signals, Stop};
use self::pace::Pace;
use self::progress::Progress;
use self::scan::{Dynamo, Scan};

#[derive(clap::Args)]
pub struct Backfill {
    /// The table to read.
    #[arg(long)]
    table: String,
    /// Index name, or a template such as `products-{category}` (the write alias of
    /// `stream2search index create`).
    #[arg(long)]
    index: String,
    /// Scan segments (TotalSegments): the table is read in this many parts.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    segments: u32,
    /// Segments read at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,
    /// Most items per Scan page (Scan's Limit; DynamoDB also ends a page at 1 MB). Each page is
    /// one plan, sent and checkpointed as a whole.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    page_size: Option<u32>,
    /// Strongly consistent reads (twice the read capacity).
    #[arg(long)]
    consistent_read: bool,
    /// Read capacity units per second for all segments together: each Scan asks for its
    /// ConsumedCapacity, and a segment waits before its next Scan while the capacity consumed
    /// exceeds R per second (with one second of burst).
    #[arg(long, value_name = "R")]
    max_rcu: Option<f64>,
    /// The checkpoint file: the version, and per segment the last durable page. A rerun with the
    /// same file resumes there, with the same version.
    #[arg(long, default_value = "stream2search-backfill.json")]
    checkpoint: PathBuf,
    /// Where refused and unconvertible items go, one JSON line each (appended):
    /// `{"key":KEY,"reason":TEXT,"item":ITEM}`, the item exactly as read.
    #[arg(long, default_value = "stream2search-backfill-dead-letters.jsonl")]
    dead_letters: PathBuf,
    /// DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL, then
    /// `https://dynamodb.<region>.amazonaws.com`). Requests are signed for --region (which is
    /// also OpenSearch's signing region, so only with --auth sigv4-es or sigv4-aoss), else
    /// AWS_REGION, with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
    #[arg(long)]
    dynamodb_endpoint: Option<String>,
    /// Deadline for sending one page to OpenSearch, in seconds.
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
    segments_done: AtomicU64,
    segments_failed: AtomicU64,
}

/// What every segment task shares.
struct Shared {
    dynamo: Dynamo,
    client: Client,
    planner: Planner,
    table: String,
    keys: Vec<String>,
    segments: u32,
    page_size: Option<u32>,
    consistent: bool,
    now: Option<String>,
    timeout: Duration,
    path: PathBuf,
    state: Mutex<State>,
    queue: Mutex<VecDeque<u32>>,
    dead: Mutex<DeadLetters>,
    totals: Totals,
    pace: Option<Mutex<Pace>>,
    /// DynamoDB answered a Scan without ConsumedCapacity (said once).
    unmetered: std::sync::atomic::AtomicBool,
    progress: Progress,
    stop: Stop,
}

/// How a segment's reading ended without an error.
enum Ended {
    /// Every page is durable.
    Done,
    /// A signal asked to stop: its checkpoint holds its last durable page.
    Stopped,
}

pub fn backfill(args: Backfill) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return crate::fatal(&format!("starting the runtime: {e}")),
    };
    runtime.block_on(run(args))
}

async fn run(args: Backfill) -> ExitCode {
    if args.planner.no_version {
        return crate::fatal(
            "backfill needs external versions (its documents must lose to the stream's later \
             changes): drop --no-version",
        );
    }
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let Some(region) = args.connection.region.clone().or_else(|| var("AWS_REGION")) else {
        return crate::fatal("AWS_REGION (or --region) must name the table's region");
    };
    let credentials = match stream2search_client::credentials_from_env(var) {
        Ok(c) => c,
        Err(missing) => {
            return crate::fatal(&format!(
                "{missing}: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set to read the table"
            ));
        }
    };
    let endpoint = args
        .dynamodb_endpoint
        .clone()
        .or_else(|| var("AWS_ENDPOINT_URL_DYNAMODB"))
        .or_else(|| var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| format!("https://dynamodb.{region}.amazonaws.com"));
    let timeout = Duration::from_secs(args.timeout);
    let pace = match args
        .max_rcu
        .map(|r| Pace::new(r, Instant::now()))
        .transpose()
    {
        Ok(p) => p.map(Mutex::new),
        Err(e) => return crate::fatal(&e),
    };
    let dynamo = match Dynamo::new(&endpoint, region, credentials, timeout) {
        Ok(d) => d,
        Err(e) => return crate::fatal(&e),
    };
    let client = match args.connection.client(!args.no_gzip) {
        Ok(c) => c,
        Err(e) => return crate::fatal(&e),
    };
    let now = args.planner.now.clone();
    let planner = match args.planner.planner(args.index.clone()) {
        Ok(p) => p,
        Err(e) => return crate::fatal(&e),
    };
    let state = match State::load(&args.checkpoint, &args.table, args.segments) {
        Ok(Some(state)) => state,
        Ok(None) => {
            let start = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            State::new(&args.table, args.segments, event::version_seconds(start))
        }
        Err(e) => return crate::fatal(&e),
    };
    if let Err(e) = state.save(&args.checkpoint) {
        return crate::fatal(&e);
    }
    let table = match dynamo.describe(&args.table).await {
        Ok(t) => t,
        Err(e) => return crate::fatal(&format!("table {}: {e}", args.table)),
    };
    if !args.index.contains('{') {
        gc_deletes(&client, &args.index, timeout).await;
    }
    let dead = match DeadLetters::open(&args.dead_letters) {
        Ok(d) => d,
        Err(e) => return crate::fatal(&e),
    };
    let queue: VecDeque<u32> = (0..args.segments)
        .filter(|&s| !state.progress[s as usize].done)
        .collect();
    let version = state.version_seconds;
    let already_done = u64::from(args.segments) - queue.len() as u64;
    let durable: u64 = state.progress.iter().map(|p| p.items).sum();
    // ItemCount is DynamoDB's estimate, updated about every six hours.
    let expected = table.item_count.map(|n| n.saturating_sub(durable));
    if let Some(n) = table.item_count {
        eprintln!(
            "backfill: table {} holds about {n} items (DescribeTable's ItemCount, which DynamoDB \
             updates about every six hours){}",
            args.table,
            if durable > 0 {
                format!("; {durable} are durable from earlier runs")
            } else {
                String::new()
            }
        );
    }
    let shared = Arc::new(Shared {
        dynamo,
        client,
        planner,
        table: args.table.clone(),
        keys: table.keys,
        segments: args.segments,
        page_size: args.page_size,
        consistent: args.consistent_read,
        now,
        timeout,
        path: args.checkpoint.clone(),
        state: Mutex::new(state),
        queue: Mutex::new(queue),
        dead: Mutex::new(dead),
        totals: Totals::default(),
        pace,
        unmetered: Default::default(),
        progress: Progress::new(expected),
        stop: Stop::new(),
    });
    shared
        .totals
        .segments_done
        .store(already_done, Ordering::Relaxed);

    let started = Instant::now();
    let signals = Signals::register();
    let listener = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move { signals.listen(&shared.stop, &shared.progress).await })
    };
    let progress = tokio::spawn(progress(Arc::clone(&shared), started));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        tasks.spawn(worker(Arc::clone(&shared)));
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            // A task that panicked leaves its segment unfinished: the run is not complete.
            shared
                .totals
                .segments_failed
                .fetch_add(1, Ordering::Relaxed);
            shared
                .progress
                .line(&format!("backfill: a segment task failed: {e}"));
        }
    }
    progress.abort();
    listener.abort();
    shared.progress.finish();
    let interrupted = shared.stop.stopped();

    let t = &shared.totals;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64().max(0.001);
    let _ = writeln!(
        std::io::stdout().lock(),
        "backfill {} -> {}: items read {}, bytes read {}, pages {}, scans {}, indexed {}, \
         stale {}, dead-lettered {}, not durable {}, throttled {}, read capacity {:.1}, \
         waited for --max-rcu {:.1}s, segments done {}/{}, version {}, items/s {:.0}",
        args.table,
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
        get(&t.segments_done),
        args.segments,
        version * 1_000_000,
        get(&t.items) as f64 / elapsed,
    );
    if interrupted {
        let left = u64::from(args.segments) - get(&t.segments_done);
        let _ = writeln!(
            std::io::stdout().lock(),
            "backfill interrupted: {left} of {} segments not finished; {} holds every durable \
             page: run the same command again (same --checkpoint) to resume",
            args.segments,
            args.checkpoint.display()
        );
        return ExitCode::from(interrupt::EXIT);
    }
    if get(&t.dead_lettered) > 0 || get(&t.not_durable) > 0 || get(&t.segments_failed) > 0 {
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
async fn progress(shared: Arc<Shared>, started: Instant) {
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
            "backfill: {items} items, {mb:.1} MB, {rate:.0} items/s, segments done {}/{}",
            t.segments_done.load(Ordering::Relaxed),
            shared.segments
        );
    }
}

/// Reads segments off the queue until it is empty.
async fn worker(shared: Arc<Shared>) {
    loop {
        if shared.stop.stopped() {
            return;
        }
        let Some(segment) = shared.queue.lock().expect("queue lock").pop_front() else {
            return;
        };
        let n = shared.segments;
        let line = |text: &str| {
            shared
                .progress
                .line(&format!("segment {segment} of {n}: {text}"))
        };
        line("scanning");
        match read_segment(&shared, segment).await {
            Ok(Ended::Done) => {
                shared.totals.segments_done.fetch_add(1, Ordering::Relaxed);
                line("done");
            }
            Ok(Ended::Stopped) => line("interrupted at its last durable page"),
            Err(e) => {
                shared
                    .totals
                    .segments_failed
                    .fetch_add(1, Ordering::Relaxed);
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

/// Takes a page's reported read capacity out of `--max-rcu`'s bucket, and counts it.
fn consumed(shared: &Shared, units: Option<f64>) {
    let Some(units) = units else {
        if shared.pace.is_some() && !shared.unmetered.swap(true, Ordering::Relaxed) {
            shared.progress.line(
                "backfill: warning: DynamoDB answered a Scan without ConsumedCapacity: \
                 --max-rcu cannot pace what is not reported",
            );
        }
        return;
    };
    if units.is_finite() && units > 0.0 {
        shared
            .totals
            .consumed_milli
            .fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
    }
    if let Some(pace) = &shared.pace {
        pace.lock()
            .expect("pace lock")
            .consume(units, Instant::now());
    }
}

/// Reads, sends and checkpoints one segment page by page, from its checkpoint on, until it is
/// finished or a signal stops it.
async fn read_segment(shared: &Shared, segment: u32) -> Result<Ended, String> {
    let backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let version = shared.state.lock().expect("state lock").version_seconds;
    loop {
        if shared.stop.stopped() || pace(shared).await {
            return Ok(Ended::Stopped);
        }
        let start = shared.state.lock().expect("state lock").progress[segment as usize]
            .next
            .clone();
        let request = Scan {
            table: &shared.table,
            segment,
            total: shared.segments,
            limit: shared.page_size,
            consistent: shared.consistent,
            start: start.as_deref(),
        };
        let mut attempt = 0u32;
        let mut failures = 0u32;
        let (page, bytes) = loop {
            shared.totals.scans.fetch_add(1, Ordering::Relaxed);
            match shared.dynamo.scan(&request).await {
                Ok(answer) => break answer,
                Err(e) if e.is_throttling() => {
                    shared.totals.throttled.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) if e.is_transient() && failures < 8 => failures += 1,
                Err(e) => return Err(e.to_string()),
            }
            if shared
                .stop
                .sleep(backoff.delay(attempt, fastrand::f64()))
                .await
            {
                return Ok(Ended::Stopped);
            }
            attempt = attempt.saturating_add(1);
        };
        consumed(shared, page.consumed.as_ref().map(|c| c.units));
        let t = &shared.totals;
        t.items
            .fetch_add(page.items.len() as u64, Ordering::Relaxed);
        t.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        send_page(shared, &page.items, version).await?;
        t.pages.fetch_add(1, Ordering::Relaxed);
        shared.progress.update(
            t.items.load(Ordering::Relaxed),
            t.bytes.load(Ordering::Relaxed),
        );
        let mut state = shared.state.lock().expect("state lock");
        let progress = &mut state.progress[segment as usize];
        progress.items += page.items.len() as u64;
        progress.pages += 1;
        progress.done = page.last.is_none();
        progress.next = page.last;
        let done = progress.done;
        state.save(&shared.path)?;
        if done {
            return Ok(Ended::Done);
        }
    }
}

/// Plans and sends one page; dead-letters its poison items. `Err` when some item is not durable
/// (the page is read again on the next run).
async fn send_page(
    shared: &Shared,
    items: &[Box<serde_json::value::RawValue>],
    version: u64,
) -> Result<(), String> {
    let event = event::event(items, &shared.keys, version);
    let now = shared.now.clone().unwrap_or_else(crate::now_rfc3339);
    let plan = shared
        .planner
        .plan(&event.bytes, Some(&now))
        .map_err(|e| format!("planning a page: {e}"))?;
    let deadline = Instant::now() + shared.timeout;
    let sent = if plan.items().is_empty() {
        // An empty page (DynamoDB may answer one with a LastEvaluatedKey): nothing to send.
        Ok(Vec::new())
    } else {
        shared.client.send(&plan, deadline).await.map(|r| r.finals)
    };
    let finals = match sent {
        Ok(finals) => finals,
        Err(e) => vec![
            Final::NotDurable {
                reason: e.to_string()
            };
            plan.items().len()
        ],
    };
    let results = plan.resolve(&finals);
    // Unconvertible before planning (no key), then each record's outcome.
    let mut poison: Vec<(usize, String)> = event
        .keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| k.as_ref().err().map(|e| (i, format!("invalid: {e}"))))
        .collect();
    let mut not_durable = Vec::new();
    for r in &results {
        let item = event.items[r.position];
        match &r.outcome {
            RecordOutcome::Indexed => {
                shared.totals.indexed.fetch_add(1, Ordering::Relaxed);
            }
            RecordOutcome::Stale => {
                shared.totals.stale.fetch_add(1, Ordering::Relaxed);
            }
            o if o.is_poison() => poison.push((item, o.to_string())),
            o if !o.is_durable() => not_durable.push((item, o.to_string())),
            _ => {}
        }
    }
    poison.sort_unstable();
    let key = |i: usize| match &event.keys[i] {
        Ok(k) => k.clone(),
        Err(_) => "-".to_string(),
    };
    for (i, reason) in &poison {
        shared
            .progress
            .line(&format!("item {}: dead-lettered: {reason}", key(*i)));
    }
    shared
        .dead
        .lock()
        .expect("dead letters lock")
        .write(poison.iter().map(|(i, reason)| {
            (
                event.keys[*i].as_ref().ok().map(String::as_str),
                reason.as_str(),
                items[*i].get(),
            )
        }))?;
    shared
        .totals
        .dead_lettered
        .fetch_add(poison.len() as u64, Ordering::Relaxed);
    if not_durable.is_empty() {
        return Ok(());
    }
    for (i, reason) in &not_durable {
        shared.progress.line(&format!("item {}: {reason}", key(*i)));
    }
    shared
        .totals
        .not_durable
        .fetch_add(not_durable.len() as u64, Ordering::Relaxed);
    Err(format!("{} items not durable", not_durable.len()))
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
