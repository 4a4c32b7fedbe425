//! The scheduled verify function: each invocation (any event: EventBridge's scheduled event, or
//! `{}`) compares the configured table with `OPENSEARCH_INDEX`, logs one line per difference
//! and a summary, writes one EMF line, and repairs only when `STREAM2SEARCH_VERIFY_REPAIR=true`.
//!
//! One invocation is one whole run, bounded by the invocation's deadline (at most 15 minutes).
//! A run that cannot finish in time, or cannot read the table or the index whole, has no
//! verdict: it is logged as such and counted as `Unverified` = 1, and its EMF line carries no
//! `Missing`, `Extra` or `Different` at all (never a zero it did not prove).
//!
//! Variables, besides the stream function's (`OPENSEARCH_ENDPOINT`, `OPENSEARCH_INDEX`, the
//! planner's options, `STREAM2SEARCH_METRICS_NAMESPACE`):
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `STREAM2SEARCH_VERIFY_TABLE` | (required) | the table to compare |
//! | `STREAM2SEARCH_VERIFY_REPAIR` | `false` | repair what differs (needs versioning on) |
//! | `STREAM2SEARCH_VERIFY_SEGMENTS` | 4 | Scan segments |
//! | `STREAM2SEARCH_VERIFY_CONCURRENCY` | 2 | segments read at once |
//! | `STREAM2SEARCH_VERIFY_SETTLE_SECS` | 5 | time between two reads of a suspect |
//! | `STREAM2SEARCH_VERIFY_MAX_REPORT` | 100 | most differences logged (all are counted) |
//! | `STREAM2SEARCH_VERIFY_TIMEOUT_SECS` | 60 | deadline of one request |
//!
//! The table is read in `AWS_REGION` with the execution role's credentials, at
//! `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`, else AWS.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::{LambdaEvent, tracing};
use serde_json::Value;
use serde_json::value::RawValue;
use stream2search_client::{Service as AwsService, SigV4};

use super::{Options, Report, Source, Verifier};
use crate::config::{self, ConfigError, Settings, TableAccess};
use crate::deadline;

/// Time kept after the run for the log and metric lines and the answer.
const FINISH: Duration = Duration::from_secs(2);

/// The scheduled verify handler: build it once at cold start, call it per invocation. Clones
/// share everything. A `tower` [`Service`], so `lambda_runtime::run(handler)` serves it.
///
/// [`Service`]: lambda_runtime::Service
#[derive(Clone)]
pub struct VerifyHandler {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    verifier: Verifier,
    options: Options,
    table: String,
}

impl fmt::Debug for VerifyHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyHandler")
            .field("settings", &self.inner.settings)
            .field("table", &self.inner.table)
            .field("options", &self.inner.options)
            .finish()
    }
}

/// Why the handler could not be built, or an invocation failed. No credential appears in
/// `Display` or `Debug`.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Config(ConfigError),
    /// The table could not be described at cold start.
    Source(String),
}

impl Error {
    /// The environment variable at fault, for a cold start that read one wrong.
    pub fn variable(&self) -> Option<&str> {
        match &self.kind {
            Kind::Config(e) => Some(e.variable()),
            Kind::Source(_) => None,
        }
    }

    /// The `errorType` reported: `Stream2Search.Config` or `Stream2Search.Source`.
    pub fn error_type(&self) -> &'static str {
        match &self.kind {
            Kind::Config(_) => "Stream2Search.Config",
            Kind::Source(_) => "Stream2Search.Source",
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error {
            kind: Kind::Config(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Config(e) => e.fmt(f),
            Kind::Source(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(e: Error) -> lambda_runtime::Diagnostic {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().into(),
            error_message: e.to_string(),
        }
    }
}

/// What one invocation found: a report, or no verdict and why.
#[derive(Debug)]
pub struct Run {
    /// The report, when the run finished.
    pub report: Option<Report>,
    /// Why there is no verdict (time ran out, or the table or index could not be read whole).
    pub unverified: Option<String>,
    /// How long it took.
    pub duration: Duration,
}

impl Run {
    /// The lines logged: one per listed difference (at most `STREAM2SEARCH_VERIFY_MAX_REPORT`),
    /// a count of the unlisted ones, and the summary last.
    pub fn lines(&self) -> Vec<String> {
        match (&self.report, &self.unverified) {
            (Some(report), _) => {
                let mut lines: Vec<String> = report
                    .differences
                    .iter()
                    .map(|d| format!("verify: {d}"))
                    .collect();
                if report.unlisted > 0 {
                    lines.push(format!(
                        "verify: ... and {} more (STREAM2SEARCH_VERIFY_MAX_REPORT)",
                        report.unlisted
                    ));
                }
                let verdict = if report.equal { "equal" } else { "differs" };
                lines.push(format!("{}; {verdict}", report.summary()));
                lines
            }
            (None, reason) => vec![format!(
                "verify: no verdict (Unverified): {}",
                reason.as_deref().unwrap_or("unknown")
            )],
        }
    }

    /// The CloudWatch Embedded Metric Format line, dimension `FunctionName`. A finished run
    /// carries `Missing`, `Extra`, `Different`, `Unconvertible`, `Repaired` and `Unverified` 0;
    /// a run without a verdict carries `Unverified` 1 and none of the counts.
    pub fn emf(&self, namespace: &str, function_name: &str, timestamp_ms: u64) -> String {
        let mut values = serde_json::Map::new();
        values.insert("FunctionName".into(), function_name.into());
        match &self.report {
            Some(r) => {
                let repaired = r.repair.as_ref().map_or(0, |r| r.written + r.deleted);
                for (name, value) in [
                    ("Missing", r.missing),
                    ("Extra", r.extra),
                    ("Different", r.different),
                    ("Unconvertible", r.unconvertible),
                    ("Repaired", repaired),
                    ("Unverified", 0),
                ] {
                    values.insert(name.into(), value.into());
                }
            }
            None => {
                values.insert("Unverified".into(), 1.into());
            }
        }
        values.insert(
            "VerifyDurationMs".into(),
            (self.duration.as_millis() as u64).into(),
        );
        let metrics: Vec<Value> = values
            .keys()
            .filter(|k| *k != "FunctionName")
            .map(|name| {
                let unit = if name == "VerifyDurationMs" {
                    "Milliseconds"
                } else {
                    "Count"
                };
                serde_json::json!({"Name": name, "Unit": unit})
            })
            .collect();
        values.insert(
            "_aws".into(),
            serde_json::json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": metrics,
                }],
            }),
        );
        Value::Object(values).to_string()
    }

    /// The invocation's answer: `{"verdict":"equal"|"differs"|"unverified", ...}` with the
    /// report's counts (and the first differences), or the reason for no verdict.
    pub fn answer(&self) -> Value {
        match &self.report {
            Some(r) => serde_json::json!({
                "verdict": if r.equal { "equal" } else { "differs" },
                "report": r,
            }),
            None => serde_json::json!({
                "verdict": "unverified",
                "reason": self.unverified,
            }),
        }
    }
}

/// Runs the verify function as its `main` would: sets up logging
/// ([`init_logging`](crate::init_logging)), reads the environment, builds the handler (the
/// table is described once) and serves invocations until the sandbox ends. A failed cold start
/// is one log line naming the variable, and exit status 1.
pub async fn run() -> std::process::ExitCode {
    crate::init_logging();
    let handler = match VerifyHandler::from_env().await {
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

impl VerifyHandler {
    /// Reads the process environment and builds the handler (see
    /// [`VerifyHandler::from_lookup`]).
    pub async fn from_env() -> Result<VerifyHandler, Error> {
        VerifyHandler::from_lookup(|name| std::env::var(name).ok()).await
    }

    /// Reads the settings through `lookup` and builds the handler; describes the table for its
    /// key names. Every setting error names its variable.
    pub async fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<VerifyHandler, Error> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let settings = Settings::from_lookup(&lookup)?;
        let table = get("STREAM2SEARCH_VERIFY_TABLE")
            .map(|t| t.trim().to_owned())
            .ok_or_else(|| ConfigError::new("STREAM2SEARCH_VERIFY_TABLE", "not set: the table"))?;
        let flag = |name: &str| -> Result<bool, ConfigError> {
            match get(name).map(|v| v.trim().to_ascii_lowercase()) {
                None => Ok(false),
                Some(v) if matches!(v.as_str(), "true" | "1" | "yes") => Ok(true),
                Some(v) if matches!(v.as_str(), "false" | "0" | "no") => Ok(false),
                Some(_) => Err(ConfigError::new(name, "must be true or false")),
            }
        };
        let number = |name: &str, default: u64, range: (u64, u64)| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if (range.0..=range.1).contains(&n) => Ok(n),
                    _ => Err(ConfigError::new(
                        name,
                        format!("must be a whole number from {} to {}", range.0, range.1),
                    )),
                },
            }
        };
        let repair = flag("STREAM2SEARCH_VERIFY_REPAIR")?;
        if repair && !settings.plan.versioning {
            return Err(ConfigError::new(
                "STREAM2SEARCH_VERIFY_REPAIR",
                "a repair writes with external versions, so that the stream's later changes \
                 win: STREAM2SEARCH_VERSIONING must be on",
            )
            .into());
        }
        let options = Options {
            segments: number("STREAM2SEARCH_VERIFY_SEGMENTS", 4, (1, 1_000_000))? as u32,
            concurrency: number("STREAM2SEARCH_VERIFY_CONCURRENCY", 2, (1, 256))? as u32,
            settle: Duration::from_secs(number("STREAM2SEARCH_VERIFY_SETTLE_SECS", 5, (0, 600))?),
            max_report: number("STREAM2SEARCH_VERIFY_MAX_REPORT", 100, (0, 100_000))? as usize,
            repair,
            ..Options::default()
        };
        let timeout =
            Duration::from_secs(number("STREAM2SEARCH_VERIFY_TIMEOUT_SECS", 60, (2, 900))?);
        let (planner, client) = config::planner_and_client(&settings, &lookup)?;
        let TableAccess {
            region,
            credentials,
            endpoint,
            endpoint_variable: dynamo_variable,
        } = TableAccess::from_lookup(get)?;
        let dynamo = stream2search_client::aws::client(
            &endpoint,
            SigV4::new(AwsService::DynamoDb, region, credentials),
        )
        .map_err(|e| ConfigError::new(dynamo_variable, e.to_string()))?;
        let source = Source::Table {
            dynamo,
            name: table.clone(),
        };
        let verifier = Verifier::open(client, planner, source, timeout)
            .await
            .map_err(|e| Error {
                kind: Kind::Source(e.to_string()),
            })?;
        Ok(VerifyHandler {
            inner: Arc::new(Inner {
                settings,
                verifier,
                options,
                table,
            }),
        })
    }

    /// Handles one invocation from the Lambda runtime: the event is not read.
    pub async fn call(&self, event: LambdaEvent<Box<RawValue>>) -> Result<Value, Error> {
        let deadline = deadline::deadline(
            event.context.deadline,
            SystemTime::now(),
            Instant::now(),
            self.inner.settings.fallback_budget,
        );
        let run = self.handle(deadline).await;
        Ok(run.answer())
    }

    /// One run, ended 2 s before `deadline` (no verdict if it is not done by then); logs its
    /// lines and writes its EMF line.
    pub async fn handle(&self, deadline: Instant) -> Run {
        let started = Instant::now();
        let stop = deadline.checked_sub(FINISH).unwrap_or(started);
        let checked =
            tokio::time::timeout_at(stop.into(), self.inner.verifier.check(&self.inner.options))
                .await;
        let (report, unverified) = match checked {
            Ok(Ok(report)) => (Some(report), None),
            Ok(Err(e)) => (None, Some(format!("verify could not finish: {e}"))),
            Err(_) => (
                None,
                Some(format!(
                    "the invocation's time ran out after {:.1} s: table {} and the index not \
                     compared whole (raise the function's timeout or \
                     STREAM2SEARCH_VERIFY_CONCURRENCY, or verify with the command)",
                    started.elapsed().as_secs_f64(),
                    self.inner.table
                )),
            ),
        };
        let run = Run {
            report,
            unverified,
            duration: started.elapsed(),
        };
        for line in run.lines() {
            match (&run.report, line.starts_with("verify ")) {
                (Some(_), true) => tracing::info!("{line}"),
                (Some(_), false) => tracing::warn!("{line}"),
                (None, _) => tracing::error!("{line}"),
            }
        }
        let settings = &self.inner.settings;
        if settings.metrics {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            println!(
                "{}",
                run.emf(&settings.metrics_namespace, &settings.function_name, now)
            );
        }
        run
    }
}

crate::service::lambda_service!(VerifyHandler, Value, Error);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unverified_run_carries_no_counts() {
        let run = Run {
            report: None,
            unverified: Some("time ran out".into()),
            duration: Duration::from_millis(5),
        };
        let line: Value = serde_json::from_str(&run.emf("stream2search", "verify", 1)).unwrap();
        assert_eq!(line["Unverified"], 1);
        for absent in ["Missing", "Extra", "Different", "Unconvertible", "Repaired"] {
            assert!(line.get(absent).is_none(), "{absent} in {line}");
        }
        let declared: Vec<&str> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(declared, ["Unverified", "VerifyDurationMs"]);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "FunctionName"
        );
        assert_eq!(run.answer()["verdict"], "unverified");
    }
}
