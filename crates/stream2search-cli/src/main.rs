//! `stream2search`: see what DynamoDB Streams events turn into, replay them, poll a stream.

mod aws;
mod backfill;
mod function;
mod index;
mod input;
mod poll;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod pow;
mod reindex;
mod verify;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args as _, FromArgMatches as _, Parser, Subcommand, ValueEnum};
use stream2search::checkpoint::{self, Checkpoint, RecordOutcome, RecordResult};
use stream2search::outcome::Applied;
use stream2search::{Config, Planner, RecordStatus, ReservedNames, TtlPolicy};
use stream2search_client::{Auth, Client, Service, SigV4};

#[derive(Parser)]
#[command(name = "stream2search", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    // Its help is on `Encode`, which `encode_args` parses alone.
    Encode(Encode),
    /// Send saved event files to OpenSearch, as the Lambda function would.
    ///
    /// Each file goes through the same planner, client and checkpoint as the Lambda function.
    /// Per file: one stderr line per record that did not end durable, and one summary line on
    /// stdout with the counts and where Lambda would resume.
    ///
    /// Exit status: 0 when every record of every file is durable, 1 when some are not (rejected,
    /// invalid or not durable), 2 for usage errors, unreadable files and payloads that are not
    /// events (the other files are still sent).
    Replay(Replay),
    /// Read a DynamoDB stream (or, with --kinesis-stream, the Kinesis data stream of Kinesis Data
    /// Streams for DynamoDB) and hand each batch to the Lambda handler, in-process.
    ///
    /// A local stand-in for Lambda's event source mapping: every shard (a parent before its
    /// children), batches shaped exactly like Lambda's events, partial batch responses honoured,
    /// each shard's position kept in a checkpoint file. The handler is configured by the
    /// function's environment variables (OPENSEARCH_ENDPOINT, OPENSEARCH_INDEX,
    /// STREAM2SEARCH_DLQ_URL...; see the stream2search-lambda README), or the flags below.
    ///
    /// Exit status (with --once): 0 when the stream is drained, 1 when a batch failed
    /// --max-attempts times, 2 for usage and configuration errors.
    Poll(poll::Poll),
    /// Create and inspect the index: a versioned index behind aliases, with a mapping under
    /// which OpenSearch refuses no item DynamoDB can hold.
    Index(index::Index),
    /// Load what a live table (or a DynamoDB export of it) holds into the index, while the
    /// stream keeps running.
    ///
    /// A parallel Scan (--segments, --concurrency segments at once), or with --export the
    /// export's data files (--concurrency files at once), each page one plan through the same
    /// planner and client as the Lambda: an item becomes exactly the document its stream record
    /// would have made. With --function-url each unit runs in the Lambda backfill handler.
    ///
    /// The version rule: every backfill document carries version
    /// (floor(scan start, seconds) - 300) x 10^6 with external_gte, five minutes before the scan
    /// started (a margin for clock skew); from an export, the export's time takes the scan
    /// start's place. Run the stream's processing first: every change from then on reaches the
    /// index with a later version and wins, in whatever order the writes land; a change before
    /// is in what the backfill reads. A delete is remembered by OpenSearch only for
    /// index.gc_deletes (24 h on an index made by `index create`): the backfill must finish
    /// within it. A rerun with the same --checkpoint resumes where the last durable page ended,
    /// with the same version. Ctrl-C (SIGINT) or SIGTERM stops at a checkpoint; a second one
    /// exits at once.
    ///
    /// Exit status: 0 when every item read is durable, 1 when some were dead-lettered (one
    /// stderr line each, and a line in --dead-letters) or are not durable (their unit stops
    /// at its last durable page), 2 for usage and configuration errors, 130 when a signal
    /// stopped it.
    Backfill(backfill::Backfill),
    /// Check that the index holds exactly what the table holds; with --repair, make it so.
    ///
    /// Reads every document of the index through a point in time (a digest per id, not the
    /// documents), then scans the table in parallel and converts each item with the same
    /// planner and options as the Lambda. A suspected difference is read again on both sides
    /// (GetItem with a consistent read, the document by id) --settle seconds apart and reported
    /// only when it is still there and stopped changing: missing, extra, different (with the
    /// first differing path), unconvertible. See docs/verify.md.
    ///
    /// Exit status: 0 when the index equals the table (with --repair: after the repair), 1
    /// when differences were found (with --repair: some are left), 2 for usage and
    /// configuration errors, 3 when the table or the index could not be read to the end (no
    /// verdict).
    Verify(verify::Verify),
    /// Give a live index a new mapping without stopping the stream: the next generation, the
    /// stream mirrored into it, a backfill, then one alias switch (docs/reindex.md).
    ///
    /// Each step is recorded in --state; a rerun goes on from the last one done. Backfill
    /// options go after `--`.
    ///
    /// Exit status: 0 when searches and writes use the new generation, 1 when the backfill did
    /// not finish (rerun to resume) or the next generation exists already, 2 for usage errors
    /// and a server that cannot be used.
    Reindex(reindex::Reindex),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Ttl {
    Delete,
    Skip,
}

/// Write the exact bulk body (all chunks, in order) that one event becomes.
///
/// The event is a Lambda DynamoDB Streams event or a Lambda Kinesis event of Kinesis Data
/// Streams for DynamoDB (records named by their Kinesis sequence number).
///
/// Exit status: 0 when every record converted, 1 when some were skipped (one line per
/// record on stderr), 2 for usage errors and payloads that are not events.
#[derive(clap::Args, Debug)]
struct Encode {
    /// Event file (a Lambda DynamoDB Streams event), or `-` for stdin.
    file: PathBuf,
    /// Index name, or a template such as `products-{category}`.
    #[arg(long, default_value = Config::DEFAULT_INDEX)]
    index: String,
    #[command(flatten)]
    planner: PlannerArgs,
}

#[derive(clap::Args)]
struct Replay {
    /// Event files (Lambda DynamoDB Streams events, `{"Records":[...]}`); `-` for stdin.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Index name, or a template such as `products-{category}`.
    #[arg(long)]
    index: String,
    #[command(flatten)]
    connection: Connection,
    /// Overall deadline for sending one file, in seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..))]
    timeout: u64,
    /// Send bulk bodies uncompressed.
    #[arg(long)]
    no_gzip: bool,
    #[command(flatten)]
    planner: PlannerArgs,
}

/// Where OpenSearch is and how to authenticate: the options `replay`, `index` and `backfill`
/// share.
#[derive(clap::Args)]
struct Connection {
    /// OpenSearch base URL, e.g. `https://search-x.eu-west-1.es.amazonaws.com`.
    #[arg(long)]
    endpoint: String,
    /// Accept a plain `http://` endpoint (a local node).
    #[arg(long)]
    allow_http: bool,
    /// How to authenticate: basic reads OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD; SigV4 reads
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
    #[arg(long, value_enum, default_value = "none")]
    auth: AuthKind,
    /// SigV4 signing region (default: AWS_REGION).
    #[arg(long)]
    region: Option<String>,
}

impl Connection {
    /// The client (within a Tokio runtime), or the configuration error as a message.
    fn client(&self, gzip: bool) -> Result<Client, String> {
        let mut config = stream2search_client::Config::new(self.endpoint.clone());
        config.allow_http = self.allow_http;
        config.auth = auth(self.auth, self.region.clone())?;
        config.gzip = gzip;
        Client::new(config).map_err(|e| e.to_string())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AuthKind {
    None,
    Basic,
    #[value(name = "sigv4-es")]
    SigV4Es,
    #[value(name = "sigv4-aoss")]
    SigV4Aoss,
}

/// How records become bulk actions: the planner options `encode`, `replay` and `backfill` share.
#[derive(clap::Args, Debug)]
struct PlannerArgs {
    /// Allowed prefix for templated index names.
    #[arg(long)]
    index_prefix: Option<String>,
    /// Key attributes making the id, in order (default: all Keys by name).
    #[arg(long, value_delimiter = ',')]
    id_keys: Option<Vec<String>>,
    /// Send no external versions.
    #[arg(long)]
    no_version: bool,
    /// What to do with deletes made by DynamoDB's TTL.
    #[arg(long, value_enum, default_value = "delete")]
    ttl: Ttl,
    /// Add this field with the time of encoding (UTC, RFC 3339).
    #[arg(long)]
    indexed_at: Option<String>,
    /// The timestamp for --indexed-at (default: now).
    #[arg(long, requires = "indexed_at")]
    now: Option<String>,
    /// Attribute paths whose numbers are written as strings (comma separated).
    #[arg(long, value_delimiter = ',')]
    numbers_as_strings: Vec<String>,
    /// Only these top-level attributes (comma separated).
    #[arg(long, value_delimiter = ',')]
    include: Option<Vec<String>>,
    /// Drop these top-level attributes (comma separated).
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    /// Routing from this attribute.
    #[arg(long)]
    routing: Option<String>,
    /// Reject records with attributes named like OpenSearch metadata instead of renaming them.
    #[arg(long)]
    reject_reserved: bool,
    /// Prefix for renamed metadata-named attributes.
    #[arg(long, default_value = ReservedNames::DEFAULT_PREFIX)]
    reserved_prefix: String,
    /// Most bytes per bulk request.
    #[arg(long, default_value_t = Config::DEFAULT_MAX_CHUNK_BYTES)]
    max_chunk_bytes: usize,
    /// Most actions per bulk request.
    #[arg(long, default_value_t = Config::DEFAULT_MAX_CHUNK_ACTIONS)]
    max_chunk_actions: usize,
}

impl PlannerArgs {
    /// The planner for `index`, or the configuration error as a message.
    fn planner(self, index: String) -> Result<Planner, String> {
        let config = Config {
            index,
            index_prefix: self.index_prefix,
            id_keys: self.id_keys,
            versioning: !self.no_version,
            ttl: match self.ttl {
                Ttl::Delete => TtlPolicy::Delete,
                Ttl::Skip => TtlPolicy::Skip,
            },
            reserved: if self.reject_reserved {
                ReservedNames::Reject
            } else {
                ReservedNames::Rename {
                    prefix: self.reserved_prefix,
                }
            },
            numbers_as_strings: self.numbers_as_strings,
            include: self.include,
            exclude: self.exclude,
            indexed_at: self.indexed_at,
            routing: self.routing,
            max_chunk_bytes: self.max_chunk_bytes,
            max_chunk_actions: self.max_chunk_actions,
            ..Config::default()
        };
        Planner::new(config).map_err(|e| e.to_string())
    }
}

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "encode") {
        return match encode_args(std::env::args_os()) {
            Ok(args) => encode(args),
            Err(e) => e.exit(),
        };
    }
    other()
}

/// Every subcommand but a plain `encode`. Kept out of `main`: inlined there, the others' state
/// made `main`'s stack frame 61 KB, fifteen pages that `encode` touched for nothing.
#[inline(never)]
fn other() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Encode(args) => encode(args),
        Command::Replay(args) => replay(args),
        Command::Poll(args) => poll::poll(args),
        Command::Index(args) => index::run(args),
        Command::Backfill(args) => backfill::backfill(args),
        Command::Verify(args) => verify::verify(args),
        Command::Reindex(args) => reindex::reindex(args),
    }
}

/// `stream2search encode ARGS...` parsed as [`Cli`] parses it (the same values, help, errors and
/// exit codes), with only `encode`'s arguments built: building every subcommand's arguments was
/// a quarter of `encode`'s start (47 of 195 page faults, 0.25 ms, on an empty event).
fn encode_args(argv: impl IntoIterator<Item = OsString>) -> Result<Encode, clap::Error> {
    let argv: Vec<OsString> = argv.into_iter().collect();
    if let Some(args) = plain_encode_args(&argv) {
        return Ok(args);
    }
    let mut argv = argv.into_iter();
    // What clap names the program after: argv[0]'s file name, then the subcommand.
    let program = argv.next();
    let bin_name = match program
        .as_deref()
        .and_then(|p| Path::new(p).file_name()?.to_str())
    {
        Some(program) => format!("{program} encode"),
        None => "encode".to_string(),
    };
    let command = Encode::augment_args(clap::Command::new("encode").bin_name(bin_name));
    // `argv` now starts at `encode`, which clap takes as the program name.
    let mut matches = command.try_get_matches_from(argv)?;
    Encode::from_arg_matches_mut(&mut matches)
}

/// `encode FILE` and `encode --index NAME FILE` (in either order) without clap: what clap makes
/// of them, the other options at their defaults. Building clap's command was most of `encode`'s
/// own start-up (about 0.09 of 1.4 ms on `small`, `docs/performance.md`). `None` for anything
/// else (another option, `--index=NAME`, a value or file name starting with `-` other than `-`
/// itself, an empty value, an index name that is not UTF-8, a repeated or missing argument,
/// help), which clap parses. The unit tests compare both parses.
fn plain_encode_args(argv: &[OsString]) -> Option<Encode> {
    let mut file = None;
    let mut index = None;
    let mut rest = argv.get(2..)?.iter();
    while let Some(arg) = rest.next() {
        if arg == "--index" {
            let name = rest.next()?.to_str()?;
            if index.is_some() || name.is_empty() || name.starts_with('-') {
                return None;
            }
            index = Some(name.to_string());
        } else if file.is_none()
            && !arg.is_empty()
            && (arg == "-" || !arg.as_encoded_bytes().starts_with(b"-"))
        {
            file = Some(PathBuf::from(arg));
        } else {
            return None;
        }
    }
    Some(Encode {
        file: file?,
        index: index.unwrap_or_else(|| Config::DEFAULT_INDEX.to_string()),
        planner: PlannerArgs {
            index_prefix: None,
            id_keys: None,
            no_version: false,
            ttl: Ttl::Delete,
            indexed_at: None,
            now: None,
            numbers_as_strings: Vec::new(),
            include: None,
            exclude: Vec::new(),
            routing: None,
            reject_reserved: false,
            reserved_prefix: ReservedNames::DEFAULT_PREFIX.to_string(),
            max_chunk_bytes: Config::DEFAULT_MAX_CHUNK_BYTES,
            max_chunk_actions: Config::DEFAULT_MAX_CHUNK_ACTIONS,
        },
    })
}

fn encode(args: Encode) -> ExitCode {
    let now = args.planner.now.clone();
    let planner = match args.planner.planner(args.index) {
        Ok(p) => p,
        Err(e) => return fatal(&e),
    };
    let input = match input::read(&args.file) {
        Ok(b) => b,
        Err(e) => return fatal(&format!("{}: {e}", args.file.display())),
    };
    let now = now.unwrap_or_else(now_rfc3339);
    let plan = match planner.plan(&input, Some(&now)) {
        Ok(p) => p,
        Err(e) => return fatal(&format!("{}: {e}", args.file.display())),
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for chunk in plan.chunks() {
        let body = plan.body(&chunk.collect::<Vec<_>>());
        if let Err(e) = out.write_all(&body) {
            return fatal(&format!("writing output: {e}"));
        }
    }
    if let Err(e) = out.flush() {
        return fatal(&format!("writing output: {e}"));
    }
    let mut skipped = 0;
    let stderr = io::stderr();
    let mut err = stderr.lock();
    for rec in plan.records() {
        let RecordStatus::Invalid(e) = &rec.status else {
            continue;
        };
        skipped += 1;
        let seq = rec.sequence_number.as_ref().map_or("-", |s| s.as_str());
        let _ = writeln!(err, "record {} {seq}: {e}", rec.position);
    }
    // The process ends here, and the kernel takes its memory back at once: freeing the plan's
    // many small allocations one by one first (thousands on a large event) and unmapping the
    // input would be work for nothing.
    std::mem::forget(plan);
    std::mem::forget(input);
    if skipped > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// How one replayed file ended; the exit status is the worst over all files.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum FileEnd {
    /// Every record is durable.
    Durable = 0,
    /// Some record is rejected, invalid or not durable.
    NotDurable = 1,
    /// The file could not be read, or is not an event.
    Unusable = 2,
}

fn replay(args: Replay) -> ExitCode {
    let now = args.planner.now.clone();
    let planner = match args.planner.planner(args.index) {
        Ok(p) => p,
        Err(e) => return fatal(&e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fatal(&format!("starting the runtime: {e}")),
    };
    let _entered = runtime.enter();
    let client = match args.connection.client(!args.no_gzip) {
        Ok(c) => c,
        Err(e) => return fatal(&e),
    };
    let timeout = Duration::from_secs(args.timeout);
    let mut worst = FileEnd::Durable;
    for file in &args.files {
        let end = replay_file(&runtime, &planner, &client, file, now.as_deref(), timeout);
        worst = worst.max(end);
    }
    ExitCode::from(worst as u8)
}

/// Plans, sends, resolves and checkpoints one file, printing its records and summary.
fn replay_file(
    runtime: &tokio::runtime::Runtime,
    planner: &Planner,
    client: &Client,
    file: &Path,
    now: Option<&str>,
    timeout: Duration,
) -> FileEnd {
    let name = file.display();
    let input = match input::read(file) {
        Ok(b) => b,
        Err(e) => {
            fatal(&format!("{name}: {e}"));
            return FileEnd::Unusable;
        }
    };
    let now = now.map_or_else(now_rfc3339, str::to_string);
    let plan = match planner.plan(&input, Some(&now)) {
        Ok(p) => p,
        Err(e) => {
            fatal(&format!("{name}: {e}"));
            return FileEnd::Unusable;
        }
    };
    drop(input);
    let deadline = Instant::now() + timeout;
    let finals = match runtime.block_on(client.send(&plan, deadline)) {
        Ok(report) => report.finals,
        Err(e) => {
            // Nothing is known to be applied: every item stays to be sent again.
            fatal(&format!("{name}: {e}"));
            let reason = e.to_string();
            vec![RecordOutcome::NotDurable { reason }; plan.items().len()]
        }
    };
    let results = plan.resolve(&finals);
    let cp = checkpoint::checkpoint(&results, |r| r.outcome.is_durable());

    let stderr = io::stderr();
    let mut err = stderr.lock();
    for r in results.iter().filter(|r| !r.outcome.is_durable()) {
        let seq = r.sequence_number.as_ref().map_or("-", |s| s.as_str());
        let _ = writeln!(err, "record {} {seq}: {}", r.position, r.outcome);
    }
    drop(err);
    let _ = writeln!(io::stdout().lock(), "{name}: {}", summary(&results, &cp));
    if matches!(cp, Checkpoint::Complete) {
        FileEnd::Durable
    } else {
        FileEnd::NotDurable
    }
}

/// `N records, indexed X, ..., not durable D; resume at SEQ|complete`.
fn summary(results: &[RecordResult], cp: &Checkpoint) -> String {
    let count =
        |f: &dyn Fn(&RecordOutcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    // The applied ones in the words of their `Display`.
    let applied = [
        Applied::Indexed,
        Applied::Deleted,
        Applied::AlreadyGone,
        Applied::Stale,
    ]
    .map(|a| format!("{a} {}", count(&|o| *o == RecordOutcome::Applied(a))))
    .join(", ");
    format!(
        "{} records, {applied}, skipped {}, rejected {}, invalid {}, not durable {}; {cp}",
        results.len(),
        count(&|o| matches!(o, RecordOutcome::Skipped(_))),
        count(&|o| matches!(o, RecordOutcome::Rejected { .. })),
        count(&|o| matches!(o, RecordOutcome::Invalid(_))),
        count(&|o| matches!(o, RecordOutcome::NotDurable { .. })),
    )
}

/// The client's authentication for `--auth`, from the environment.
fn auth(kind: AuthKind, region: Option<String>) -> Result<Auth, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let service = match kind {
        AuthKind::None | AuthKind::Basic if region.is_some() => {
            return Err("--region applies to --auth sigv4-es and sigv4-aoss only".into());
        }
        AuthKind::None => return Ok(Auth::None),
        AuthKind::Basic => {
            let (Some(user), Some(password)) =
                (var("OPENSEARCH_USERNAME"), var("OPENSEARCH_PASSWORD"))
            else {
                return Err(
                    "--auth basic needs OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD".into(),
                );
            };
            return Ok(Auth::basic(user, password));
        }
        AuthKind::SigV4Es => Service::Es,
        AuthKind::SigV4Aoss => Service::Aoss,
    };
    let Some(region) = region else {
        return SigV4::from_lambda_env(service)
            .map(Auth::SigV4)
            .map_err(|e| e.to_string());
    };
    let credentials = stream2search_client::credentials_from_env(var).map_err(|missing| {
        format!("{missing}: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set for SigV4")
    })?;
    Ok(Auth::SigV4(SigV4::new(service, region, credentials)))
}

pub(crate) fn fatal(msg: &str) -> ExitCode {
    eprintln!("stream2search: {msg}");
    ExitCode::from(2)
}

/// The environment variable `name`, when it is set and not blank.
pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Runs `command` to its end on a current-thread runtime (`poll`, `backfill`, `verify`).
pub(crate) fn block_on(command: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(command),
        Err(e) => fatal(&format!("starting the runtime: {e}")),
    }
}

/// The current UTC time as RFC 3339 with millisecond precision.
fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    stream2search::time::rfc3339(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `encode`'s arguments as the whole command line parses them: the reference.
    fn full(argv: &[OsString]) -> Result<Encode, clap::Error> {
        let cli = Cli::try_parse_from(argv)?;
        let Command::Encode(args) = cli.command else {
            panic!("{argv:?} is not encode");
        };
        Ok(args)
    }

    #[test]
    fn encode_alone_parses_as_the_whole_command_line_does() {
        let lines: &[&[&str]] = &[
            &["x.json"],
            &["-"],
            &["--index", "products", "x.json"],
            &[
                "--index=products-{category}",
                "--index-prefix",
                "products-",
                "x.json",
            ],
            &[
                "--id-keys=pk,sk",
                "--no-version",
                "--ttl",
                "skip",
                "--indexed-at",
                "seen",
                "--now",
                "2026-01-02T03:04:05Z",
                "--numbers-as-strings",
                "a.b,c",
                "--numbers-as-strings",
                "d",
                "--include",
                "a,b",
                "--exclude",
                "c",
                "--exclude",
                "d,e",
                "--routing",
                "r",
                "--reject-reserved",
                "--reserved-prefix",
                "p",
                "--max-chunk-bytes",
                "100",
                "--max-chunk-actions=2",
                "x.json",
            ],
            &["x.json", "--index", "late"],
            &["--", "-x"],
            &["--index", "--", "x.json"],
            &[],
            &["--help"],
            &["-h"],
            &["--help", "x.json"],
            &["--version"],
            &["-V"],
            &["help"],
            &["a", "b"],
            &["--bogus", "x"],
            &["-x"],
            &["--indx", "products", "x"],
            &["--help-me"],
            &["--index"],
            &["--index", "a", "--index", "b", "x"],
            &["--ttl", "wrong", "x"],
            &["--ttl=Delete", "x"],
            &["--now", "1", "x"],
            &["--max-chunk-bytes", "abc", "x"],
            &["--max-chunk-actions", "-1", "x"],
            &["--no-version=1", "x"],
            &["--no-version", "--no-version", "x"],
            &["--reject-reserved", "--reserved-prefix", "", "x"],
            &["--index=", "x"],
            &[""],
            &["--index", "products", ""],
            &["--index", "", "x"],
            &["--index", "-", "x"],
            &["--index", "p", "-"],
            &["-", "--index", "p"],
            &["--index", "p"],
            &["--index", "p", "x", "y"],
            &["--index", "p", "--", "x"],
            &["x", "--"],
            &["--index", "p", "x", "--index", "q"],
            &["--index", "p", "-h"],
            &["--index", "p", "x", "--no-version"],
            &["--index", "help", "help"],
            &["--index", "p", "--x"],
        ];
        let programs = [
            "stream2search",
            "/usr/local/bin/s2s",
            "./target/release/stream2search",
        ];
        for program in programs {
            for line in lines {
                let mut argv: Vec<OsString> = vec![program.into(), "encode".into()];
                argv.extend(line.iter().map(OsString::from));
                check(&argv);
            }
        }
    }

    #[test]
    fn plain_encode_lines_skip_clap_and_others_do_not() {
        let argv = |line: &[&str]| -> Vec<OsString> {
            ["stream2search", "encode"]
                .iter()
                .chain(line)
                .map(OsString::from)
                .collect()
        };
        for plain in [
            &["x.json"][..],
            &["-"],
            &["--index", "products", "x.json"],
            &["x.json", "--index", "late"],
            &["--index", "help", "help"],
        ] {
            assert!(plain_encode_args(&argv(plain)).is_some(), "{plain:?}");
        }
        for other in [
            &[][..],
            &[""],
            &["--index=products", "x.json"],
            &["--index", "p"],
            &["--index", "", "x"],
            &["--index", "-", "x"],
            &["--index", "a", "--index", "b", "x"],
            &["a", "b"],
            &["--", "x"],
            &["-h"],
            &["--no-version", "x"],
            &["--max-chunk-bytes", "100", "x"],
        ] {
            assert!(plain_encode_args(&argv(other)).is_none(), "{other:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn encode_alone_takes_arguments_that_are_not_utf8_as_the_whole_command_line_does() {
        use std::os::unix::ffi::OsStringExt as _;
        // As a file name, as an option's value, and as the program's name.
        let bad = OsString::from_vec(b"ev\xFFent.json".to_vec());
        check(&["stream2search".into(), "encode".into(), bad.clone()]);
        check(&[
            "stream2search".into(),
            "encode".into(),
            "--index".into(),
            bad.clone(),
        ]);
        check(&[bad, "encode".into(), "--bogus".into()]);
    }

    fn check(argv: &[OsString]) {
        match (full(argv), encode_args(argv.iter().cloned())) {
            (Ok(want), Ok(got)) => assert_eq!(format!("{got:?}"), format!("{want:?}"), "{argv:?}"),
            (Err(want), Err(got)) => {
                assert_eq!(got.kind(), want.kind(), "{argv:?}");
                assert_eq!(got.exit_code(), want.exit_code(), "{argv:?}");
                assert_eq!(got.use_stderr(), want.use_stderr(), "{argv:?}");
                assert_eq!(
                    got.render().ansi().to_string(),
                    want.render().ansi().to_string(),
                    "{argv:?}"
                );
            }
            (want, got) => panic!("{argv:?}: the whole command line gives {want:?}, alone {got:?}"),
        }
    }
}
