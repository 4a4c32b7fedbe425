//! `stream2search`: see what DynamoDB Streams events turn into.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use stream2search::{Config, Planner, RecordStatus, ReservedNames, TtlPolicy};

#[derive(Parser)]
#[command(name = "stream2search", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the exact bulk body (all chunks, in order) that one event becomes.
    ///
    /// Exit status: 0 when every record converted, 1 when some were skipped (one line per
    /// record on stderr), 2 for usage errors and payloads that are not events.
    Encode(Encode),
}

#[derive(Clone, Copy, ValueEnum)]
enum Ttl {
    Delete,
    Skip,
}

#[derive(clap::Args)]
struct Encode {
    /// Event file (a Lambda DynamoDB Streams event), or `-` for stdin.
    file: PathBuf,
    /// Index name, or a template such as `products-{category}`.
    #[arg(long, default_value = "documents")]
    index: String,
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
    #[arg(long, default_value = "ddb")]
    reserved_prefix: String,
    /// Most bytes per bulk request.
    #[arg(long, default_value_t = 5 * 1024 * 1024)]
    max_chunk_bytes: usize,
    /// Most actions per bulk request.
    #[arg(long, default_value_t = 1000)]
    max_chunk_actions: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Encode(args) => encode(args),
    }
}

fn encode(args: Encode) -> ExitCode {
    let config = Config {
        index: args.index,
        index_prefix: args.index_prefix,
        id_keys: args.id_keys,
        versioning: !args.no_version,
        ttl: match args.ttl {
            Ttl::Delete => TtlPolicy::Delete,
            Ttl::Skip => TtlPolicy::Skip,
        },
        reserved: if args.reject_reserved {
            ReservedNames::Reject
        } else {
            ReservedNames::Rename {
                prefix: args.reserved_prefix,
            }
        },
        numbers_as_strings: args.numbers_as_strings,
        include: args.include,
        exclude: args.exclude,
        indexed_at: args.indexed_at,
        routing: args.routing,
        max_chunk_bytes: args.max_chunk_bytes,
        max_chunk_actions: args.max_chunk_actions,
        ..Config::default()
    };
    let planner = match Planner::new(config) {
        Ok(p) => p,
        Err(e) => return fatal(&e.to_string()),
    };
    let input = match read_input(&args.file) {
        Ok(b) => b,
        Err(e) => return fatal(&format!("{}: {e}", args.file.display())),
    };
    let now = args.now.unwrap_or_else(now_rfc3339);
    let plan = match planner.plan(&input, Some(&now)) {
        Ok(p) => p,
        Err(e) => return fatal(&format!("{}: {e}", args.file.display())),
    };
    drop(input);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut body = Vec::new();
    for chunk in plan.chunks() {
        body.clear();
        plan.encode(&chunk.collect::<Vec<_>>(), &mut body);
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
    if skipped > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn read_input(path: &PathBuf) -> io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        io::stdin().lock().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path)
    }
}

fn fatal(msg: &str) -> ExitCode {
    eprintln!("stream2search: {msg}");
    ExitCode::from(2)
}

/// The current UTC time as RFC 3339 with millisecond precision.
fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        now.subsec_millis()
    )
}
