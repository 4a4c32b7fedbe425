//! What one invocation did: counted once, logged as one line, written as EMF metrics.

use std::time::Duration;

use lambda_runtime::tracing;
use serde::Serialize;
use stream2search::checkpoint::{RecordOutcome, RecordResult};
use stream2search::outcome::Applied;

/// Counts for one invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Counts {
    /// Records in the event.
    pub records: u64,
    /// Indexed.
    pub indexed: u64,
    /// Deleted (or already absent).
    pub deleted: u64,
    /// The index already held a newer version.
    pub stale: u64,
    /// Deliberately not sent (TTL deletes under `STREAM2SEARCH_TTL=skip`, items a hook skipped).
    pub skipped: u64,
    /// Poison records written to the dead-letter queue.
    pub dead_lettered: u64,
    /// Records that are not durable: sent to Lambda again (or, with no queue, poison).
    pub failed: u64,
    /// Bulk requests that resent items.
    pub retries: u64,
    /// Wall time of the invocation, in milliseconds.
    pub duration_ms: u64,
}

impl Counts {
    /// Counts `results`; `dead_lettered(r)` says whether a poison record reached the queue.
    pub(crate) fn count(
        results: &[RecordResult],
        dead_lettered: impl Fn(&RecordResult) -> bool,
        retries: u32,
        duration: Duration,
    ) -> Counts {
        let mut s = Counts {
            records: results.len() as u64,
            retries: u64::from(retries),
            duration_ms: duration.as_millis().try_into().unwrap_or(u64::MAX),
            ..Counts::default()
        };
        for r in results {
            match &r.outcome {
                RecordOutcome::Applied(Applied::Indexed) => s.indexed += 1,
                RecordOutcome::Applied(Applied::Deleted | Applied::AlreadyGone) => s.deleted += 1,
                RecordOutcome::Applied(Applied::Stale) => s.stale += 1,
                RecordOutcome::Skipped(_) => s.skipped += 1,
                o if o.is_poison() && dead_lettered(r) => s.dead_lettered += 1,
                _ => s.failed += 1,
            }
        }
        s
    }

    /// Logs the one summary line of the invocation.
    pub(crate) fn log(&self) {
        tracing::info!(
            records = self.records,
            indexed = self.indexed,
            deleted = self.deleted,
            stale = self.stale,
            skipped = self.skipped,
            dead_lettered = self.dead_lettered,
            failed = self.failed,
            retries = self.retries,
            duration_ms = self.duration_ms,
            "invocation done"
        );
    }

    /// The same counts as one CloudWatch Embedded Metric Format line.
    pub(crate) fn emf(&self, namespace: &str, function_name: &str, timestamp_ms: u64) -> String {
        #[derive(Serialize)]
        struct Metric {
            #[serde(rename = "Name")]
            name: &'static str,
            #[serde(rename = "Unit")]
            unit: &'static str,
        }
        #[derive(Serialize)]
        struct Directive<'a> {
            #[serde(rename = "Namespace")]
            namespace: &'a str,
            #[serde(rename = "Dimensions")]
            dimensions: [[&'static str; 1]; 1],
            #[serde(rename = "Metrics")]
            metrics: Vec<Metric>,
        }
        #[derive(Serialize)]
        struct Aws<'a> {
            #[serde(rename = "Timestamp")]
            timestamp: u64,
            #[serde(rename = "CloudWatchMetrics")]
            metrics: [Directive<'a>; 1],
        }
        #[derive(Serialize)]
        struct Line<'a> {
            _aws: Aws<'a>,
            #[serde(rename = "FunctionName")]
            function_name: &'a str,
            #[serde(flatten)]
            counts: &'a Counts,
        }
        let names = [
            "Records",
            "Indexed",
            "Deleted",
            "Stale",
            "Skipped",
            "DeadLettered",
            "Failed",
            "Retries",
        ];
        let mut metrics: Vec<Metric> = names
            .iter()
            .map(|&name| Metric {
                name,
                unit: "Count",
            })
            .collect();
        metrics.push(Metric {
            name: "DurationMs",
            unit: "Milliseconds",
        });
        let line = Line {
            _aws: Aws {
                timestamp: timestamp_ms,
                metrics: [Directive {
                    namespace,
                    dimensions: [["FunctionName"]],
                    metrics,
                }],
            },
            function_name,
            counts: self,
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_line_declares_every_count_it_carries() {
        let s = Counts {
            records: 3,
            indexed: 2,
            failed: 1,
            duration_ms: 12,
            ..Counts::default()
        };
        let line = s.emf("stream2search", "products", 1_700_000_000_000);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let declared = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "stream2search");
        assert_eq!(
            declared["Dimensions"],
            serde_json::json!([["FunctionName"]])
        );
        for m in declared["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(v[name].is_u64(), "{name} has no value");
        }
        assert_eq!(
            (v["Records"].as_u64(), v["Indexed"].as_u64()),
            (Some(3), Some(2))
        );
        assert_eq!(v["FunctionName"], "products");
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_u64);
    }
}
