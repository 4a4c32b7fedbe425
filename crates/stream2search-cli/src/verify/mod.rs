//! `stream2search verify [--repair]`: does the index hold exactly what the table holds?
//!
//! The arguments and the output; the run itself is `stream2search_lambda::verify` (the same
//! engine the scheduled verify function runs).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use stream2search_lambda::verify::{Options as Run, Source, Verifier};

#[derive(clap::Args)]
pub struct Verify {
    #[command(flatten)]
    options: Options,
    #[command(flatten)]
    connection: crate::Connection,
    #[command(flatten)]
    planner: crate::PlannerArgs,
}

/// Verify's own options.
#[derive(clap::Args)]
struct Options {
    /// The table to read (with --export: described for its key names, unless --keys).
    #[arg(long, required_unless_present = "export")]
    table: Option<String>,
    /// Read the table's items from a DynamoDB export (DYNAMODB_JSON, a full export) instead of
    /// scanning the table: a local directory of the export's layout or
    /// `s3://bucket/prefix/AWSDynamoDB/<export-id>/`. A suspected difference is then read again
    /// on the index side only, and a document written after the manifest's exportTime is not a
    /// difference. No --repair.
    #[arg(long, value_name = "LOCATION", conflicts_with = "repair")]
    export: Option<String>,
    /// The table's key attribute names, partition key first: with --export, instead of --table.
    #[arg(
        long,
        value_delimiter = ',',
        requires = "export",
        conflicts_with = "table"
    )]
    keys: Option<Vec<String>>,
    /// S3 endpoint for an `s3://` export (default: AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL,
    /// then AWS).
    #[arg(long, requires = "export")]
    s3_endpoint: Option<String>,
    /// The index the Lambda writes (its name or alias), or its template such as
    /// `products-{category}` (every index the template can name is read: `products-*`).
    #[arg(long)]
    index: String,
    /// Scan segments (TotalSegments): the table is read in this many parts.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    segments: u32,
    /// Segments read at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,
    /// Most items per Scan page (Scan's Limit; DynamoDB also ends a page at 1 MB).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    page_size: Option<u32>,
    /// Strongly consistent Scan reads (twice the read capacity). The recheck always reads
    /// consistently.
    #[arg(long)]
    consistent_read: bool,
    /// Documents per search page of the index.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    index_page: u32,
    /// Seconds between two reads of a suspected difference: how long a change may take from
    /// the table through the stream to the index. A difference is reported only when the
    /// second read still shows it, unchanged.
    #[arg(long, default_value_t = 5)]
    settle: u64,
    /// Most reads of a suspected difference (at least 2): one that is still changing after
    /// this many is reported as it stands, noted "still changing".
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=100))]
    rechecks: u32,
    /// Most differences listed (all are counted).
    #[arg(long, default_value_t = 100)]
    max_report: usize,
    /// One JSON object on stdout instead of lines.
    #[arg(long)]
    json: bool,
    /// Write the table's item for every missing or different document, delete every extra
    /// one, each at version (floor(read time) - 1 s) x 10^6, external_gte: it wins over the
    /// wrong document and loses to any change the stream makes after verify read the item.
    #[arg(long)]
    repair: bool,
    /// DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL, then
    /// `https://dynamodb.<region>.amazonaws.com`), signed for --region, else AWS_REGION.
    #[arg(long)]
    dynamodb_endpoint: Option<String>,
    /// Deadline for one request, in seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..))]
    timeout: u64,
    /// For tests: after reading the index, say `verify: index read` on stderr and wait this
    /// many seconds before scanning the table (changes made meanwhile are live traffic).
    #[arg(long, hide = true)]
    pause_after_index: Option<u64>,
}

/// Exit status: the index equals the table (after the repair, with `--repair`).
const EQUAL: u8 = 0;
/// Exit status: differences were found (and, with `--repair`, some are left).
const DIFFERS: u8 = 1;
/// Exit status: verify could not finish reading the table or the index: no verdict.
const UNVERIFIED: u8 = 3;

pub fn verify(args: Verify) -> ExitCode {
    crate::block_on(run(args))
}

async fn run(verify: Verify) -> ExitCode {
    let Verify {
        options: args,
        connection,
        planner,
    } = verify;
    if args.repair && planner.no_version {
        return crate::fatal(
            "--repair writes with external versions (they must lose to the stream's later \
             changes): drop --no-version",
        );
    }
    let timeout = Duration::from_secs(args.timeout);
    let client = match connection.client(true) {
        Ok(c) => c,
        Err(e) => return crate::fatal(&e),
    };
    let planner = match planner.planner(args.index.clone()) {
        Ok(p) => p,
        Err(e) => return crate::fatal(&e),
    };
    let source = match source(&args, connection.region.clone(), timeout) {
        Ok(source) => source,
        Err(e) => return crate::fatal(&e),
    };
    let verifier = match Verifier::open(client, planner, source, timeout).await {
        Ok(v) => v,
        Err(e) => return crate::fatal(&e.to_string()),
    };
    let mut run = Run::default();
    run.segments = args.segments;
    run.concurrency = args.concurrency;
    run.page_size = args.page_size;
    run.consistent_read = args.consistent_read;
    run.index_page = args.index_page;
    run.settle = Duration::from_secs(args.settle);
    run.rechecks = args.rechecks;
    run.max_report = args.max_report;
    run.repair = args.repair;
    run.pause_after_index = args.pause_after_index.map(Duration::from_secs);
    match verifier.check(&run).await {
        Ok(report) => {
            let mut out = std::io::stdout().lock();
            if args.json {
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&report).unwrap_or_default()
                );
            } else {
                let _ = writeln!(out, "{}", report.summary());
                for d in &report.differences {
                    let _ = writeln!(out, "{d}");
                }
                if report.unlisted > 0 {
                    let _ = writeln!(out, "... and {} more (--max-report)", report.unlisted);
                }
            }
            ExitCode::from(if report.equal { EQUAL } else { DIFFERS })
        }
        Err(e) => {
            eprintln!("stream2search: verify could not finish: {e}");
            ExitCode::from(UNVERIFIED)
        }
    }
}

/// The table, or the export (and the S3 client an `s3://` one needs) with its key names.
fn source(args: &Options, region: Option<String>, timeout: Duration) -> Result<Source, String> {
    let aws = || -> Result<(String, aws_credential_types::Credentials), String> {
        let region = crate::aws::table_region(region.clone())?;
        let credentials =
            crate::aws::credentials().map_err(|e| format!("{e} to read the table"))?;
        Ok((region, credentials))
    };
    let table = match &args.table {
        Some(name) => {
            let (region, credentials) = aws()?;
            let endpoint =
                crate::aws::dynamodb_endpoint(args.dynamodb_endpoint.as_deref(), &region);
            let dynamo = crate::aws::client(&endpoint, region, credentials)
                .map_err(|e| format!("dynamodb endpoint: {e}"))?;
            Some((dynamo, name.clone()))
        }
        None => None,
    };
    let Some(location) = &args.export else {
        let (dynamo, name) = table.ok_or("--table: the table to read")?;
        return Ok(Source::Table { dynamo, name });
    };
    let keys = args.keys.clone().unwrap_or_default();
    if table.is_none() && !(1..=2).contains(&keys.len()) {
        return Err("--keys: one or two attribute names, partition key first".into());
    }
    let s3 = crate::aws::s3(location, args.s3_endpoint.as_deref(), aws, timeout)?;
    // With --export the table is read for its key names only.
    Ok(Source::Export {
        location: location.clone(),
        s3,
        keys,
        table,
    })
}
