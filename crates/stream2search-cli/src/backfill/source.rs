//! What a backfill reads, and at which version: a live table's Scan segments (the version from
//! the scan's start), or a DynamoDB export's data files (the version from the export's time);
//! the key names; the approximate item count for the progress bar; and the checkpoint's state,
//! loaded when a run resumes or made fresh.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use stream2search_lambda::backfill::export::Export;
use stream2search_lambda::backfill::{Backfiller, Dynamo, Unit, version_seconds};

use super::checkpoint::{Source, State};

/// The options that say what is read.
#[derive(clap::Args)]
pub struct SourceArgs {
    /// The table: scanned, or with --export described (DescribeTable) for its key names.
    #[arg(long, required_unless_present = "export")]
    pub table: Option<String>,
    /// Read a DynamoDB export (DYNAMODB_JSON, a full export) instead of scanning the table:
    /// `s3://bucket/prefix/AWSDynamoDB/<export-id>/` or a local directory of that layout. Its
    /// manifests list the data files when present, else the files under `data/` are read.
    #[arg(long, value_name = "LOCATION")]
    pub export: Option<String>,
    /// The table's key attribute names, partition key first (`pk` or `pk,sk`): with --export,
    /// instead of --table.
    #[arg(
        long,
        value_delimiter = ',',
        requires = "export",
        conflicts_with = "table"
    )]
    pub keys: Option<Vec<String>>,
    /// When the export was made (RFC 3339): required when the export has no
    /// manifest-summary.json, refused when it disagrees with the manifest's exportTime. The
    /// version is this second less 300.
    #[arg(long, value_name = "RFC3339", requires = "export")]
    pub export_time: Option<String>,
    /// S3 endpoint for an `s3://` export (default: AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL,
    /// then AWS). Requests are signed (SigV4, service `s3`) like the DynamoDB ones.
    #[arg(long, requires = "export")]
    pub s3_endpoint: Option<String>,
    /// Scan segments (TotalSegments): the table is read in this many parts.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1_000_000), conflicts_with = "export")]
    pub segments: u32,
    /// DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL, then
    /// `https://dynamodb.<region>.amazonaws.com`). Requests are signed for --region (which is
    /// also OpenSearch's signing region, so only with --auth sigv4-es or sigv4-aoss), else
    /// AWS_REGION, with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
    #[arg(long)]
    pub dynamodb_endpoint: Option<String>,
}

/// What [`open`] found.
pub struct Opened {
    /// The runner, with the DynamoDB and S3 clients the units need.
    pub backfiller: Backfiller,
    /// The key attribute names, partition key first.
    pub keys: Vec<String>,
    /// The checkpoint's state: loaded, or fresh.
    pub state: State,
    /// The approximate item count of the whole source, and where it comes from.
    pub expected: Option<(u64, &'static str)>,
}

/// Opens the source: describes the table, or reads the export's manifests (or lists its data
/// files); loads the checkpoint at `checkpoint` or makes a fresh state. `region` is the signing
/// region (--region), if given.
pub async fn open(
    args: &SourceArgs,
    region: Option<String>,
    mut backfiller: Backfiller,
    checkpoint: &Path,
    timeout: Duration,
) -> Result<Opened, String> {
    let aws = || -> Result<(String, Credentials), String> {
        Ok((
            crate::aws::table_region(region.clone())?,
            crate::aws::credentials()?,
        ))
    };
    if args.table.is_some() {
        let (region, credentials) = aws()?;
        let endpoint = crate::aws::dynamodb_endpoint(args.dynamodb_endpoint.as_deref(), &region);
        let dynamo = Dynamo::new(&endpoint, region, credentials, timeout)
            .map_err(|e| format!("dynamodb endpoint: {e}"))?;
        backfiller = backfiller.dynamo(dynamo);
    }
    let Some(location) = &args.export else {
        let table = args.table.clone().unwrap_or_default();
        let described = backfiller
            .describe(&table)
            .await
            .map_err(|e| e.to_string())?;
        let source = Source::Table {
            table: table.clone(),
            segments: args.segments,
        };
        let state = match State::load(checkpoint, &source)? {
            Some(state) => state,
            None => {
                let start = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                let units = Backfiller::segments(&table, args.segments);
                State::new(source, version_seconds(start), units)
            }
        };
        return Ok(Opened {
            backfiller,
            keys: described.keys,
            state,
            expected: Some((
                described.item_count,
                "DescribeTable's ItemCount, which DynamoDB updates about every six hours",
            )),
        });
    };

    let keys = match (&args.keys, &args.table) {
        (Some(keys), _) => keys.clone(),
        (None, Some(table)) => {
            backfiller
                .describe(table)
                .await
                .map_err(|e| e.to_string())?
                .keys
        }
        (None, None) => {
            return Err(
                "with --export, --table (DescribeTable) or --keys must name the key \
                        attributes"
                    .into(),
            );
        }
    };
    if keys.is_empty() || keys.len() > 2 || keys.iter().any(String::is_empty) {
        return Err(format!(
            "--keys {}: one or two attribute names, partition key first",
            keys.join(",")
        ));
    }
    let s3 = crate::aws::s3(location, args.s3_endpoint.as_deref(), aws, timeout)?;
    let export = Export::open(location, s3.as_ref())
        .await
        .map_err(|e| format!("export {location}: {e}"))?;
    let given = match &args.export_time {
        Some(text) => Some(
            stream2search::time::rfc3339_seconds(text)
                .ok_or_else(|| format!("--export-time {text:?} is not an RFC 3339 time"))?,
        ),
        None => None,
    };
    let time = match (export.export_time, given) {
        (Some(manifest), Some(given)) if manifest != given => {
            return Err(format!(
                "--export-time {} disagrees with the manifest's exportTime {}: drop it, or name \
                 the right export",
                args.export_time.as_deref().unwrap_or_default(),
                stream2search::time::rfc3339(Duration::from_secs(manifest)),
            ));
        }
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => {
            return Err(format!(
                "export {location} has no manifest-summary.json: --export-time must say when \
                 it was made (its version is that second less 300)"
            ));
        }
    };
    let version = version_seconds(Duration::from_secs(time));
    let source = Source::Export {
        export: location.clone(),
    };
    let state = match State::load(checkpoint, &source)? {
        Some(state) if state.version_seconds != version => {
            return Err(format!(
                "{}: the checkpoint's version second is {}, this export's {version}: remove it \
                 or pass the same --export-time",
                checkpoint.display(),
                state.version_seconds
            ));
        }
        Some(state) => state,
        None => {
            let units = export
                .files
                .iter()
                .map(|f| Unit::File {
                    location: f.location.clone(),
                    skip: 0,
                })
                .collect();
            State::new(source, version, units)
        }
    };
    if let Some(s3) = s3 {
        backfiller = backfiller.s3(s3);
    }
    Ok(Opened {
        backfiller,
        keys,
        state,
        expected: export
            .item_count
            .map(|n| (n, "the export manifest's itemCount")),
    })
}
