//! Per-record results → the Lambda partial batch response.
//!
//! Lambda resumes a shard at the `itemIdentifier` it is given, so the response names the lowest
//! SequenceNumber whose change is not durable; everything before it is done.

use std::fmt;

use serde::Serialize;

use crate::error::{RecordError, RecordErrorKind};
use crate::event::SequenceNumber;
use crate::outcome::Applied;

/// Why a record was deliberately not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// A TTL delete under [`crate::TtlPolicy::Skip`].
    Ttl,
    /// Left out on purpose by the caller ([`crate::Plan::remove`]), e.g. a Lambda author's filter.
    Filtered,
}

/// How one record ended; also how one bulk item ended after all attempts, which
/// [`crate::Plan::resolve`] hands to every record the item decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Its change is settled in the index: indexed (or a later change of the same item in this
    /// batch is), deleted, already gone, or stale.
    Applied(Applied),
    /// Deliberately not sent.
    Skipped(SkipReason),
    /// OpenSearch refused it for good (a poison record).
    Rejected {
        /// The status.
        status: u16,
        /// The server's reason.
        reason: String,
    },
    /// It could not be converted, or the caller's own code refused it (a poison record).
    Invalid(RecordError),
    /// Not known to be applied (out of time or attempts, or a whole-request failure): Lambda
    /// must deliver it again.
    NotDurable {
        /// Why.
        reason: String,
    },
}

impl RecordOutcome {
    /// Whether the change is settled in the index. Poison records (`Rejected`, `Invalid`) are not:
    /// they become durable only once dead-lettered.
    pub fn is_durable(&self) -> bool {
        matches!(self, RecordOutcome::Applied(_) | RecordOutcome::Skipped(_))
    }

    /// Whether this is a poison record: retrying cannot help.
    pub fn is_poison(&self) -> bool {
        matches!(
            self,
            RecordOutcome::Rejected { .. } | RecordOutcome::Invalid(_)
        )
    }
}

impl From<Applied> for RecordOutcome {
    fn from(a: Applied) -> Self {
        RecordOutcome::Applied(a)
    }
}

/// `a TTL delete`, `filtered`.
impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::Ttl => "a TTL delete",
            SkipReason::Filtered => "filtered",
        })
    }
}

/// An [`Applied`] as its own `Display` (`indexed`, `deleted`, `already gone`, `stale`);
/// `skipped`, `rejected (STATUS): REASON`, `invalid: ERROR` (`refused by the hook: REASON` when
/// the caller's code refused it, [`RecordError::refused`]), `not durable: REASON`. (Why a record
/// was skipped is its [`SkipReason`]'s own `Display`.)
impl fmt::Display for RecordOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordOutcome::Applied(a) => a.fmt(f),
            RecordOutcome::Skipped(_) => f.write_str("skipped"),
            RecordOutcome::Rejected { status, reason } => {
                write!(f, "rejected ({status}): {reason}")
            }
            RecordOutcome::Invalid(e) if e.kind() == RecordErrorKind::Refused => {
                write!(f, "refused by the hook: {e}")
            }
            RecordOutcome::Invalid(e) => write!(f, "invalid: {e}"),
            RecordOutcome::NotDurable { reason } => write!(f, "not durable: {reason}"),
        }
    }
}

/// One record's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordResult {
    /// Position in the event's `Records`.
    pub position: usize,
    /// Its SequenceNumber, when the record had a valid one.
    pub sequence_number: Option<SequenceNumber>,
    /// Its `eventID`, when it had one.
    pub event_id: Option<String>,
    /// How it ended.
    pub outcome: RecordOutcome,
}

/// Where Lambda should resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkpoint {
    /// Every record is durable.
    Complete,
    /// Resume at this SequenceNumber.
    ResumeFrom(SequenceNumber),
    /// A record that is not durable has no SequenceNumber and none precedes it: the only safe
    /// answer is to fail the invocation so that Lambda retries the whole batch.
    RetryBatch {
        /// Position of that record.
        position: usize,
    },
}

/// `complete`, `resume at SEQ`, `resume at the first record (record N has no SequenceNumber)`.
impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Checkpoint::Complete => f.write_str("complete"),
            Checkpoint::ResumeFrom(seq) => write!(f, "resume at {seq}"),
            Checkpoint::RetryBatch { position } => write!(
                f,
                "resume at the first record (record {position} has no SequenceNumber)"
            ),
        }
    }
}

/// The partial batch response Lambda reads (`ReportBatchItemFailures`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchResponse {
    /// Empty when everything is durable; otherwise exactly one entry.
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

/// One entry of [`BatchResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    /// The SequenceNumber to resume at.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: SequenceNumber,
}

impl Checkpoint {
    /// The response to return, or `None` for [`Checkpoint::RetryBatch`] (return an error instead).
    pub fn response(&self) -> Option<BatchResponse> {
        match self {
            Checkpoint::Complete => Some(BatchResponse {
                batch_item_failures: Vec::new(),
            }),
            Checkpoint::ResumeFrom(seq) => Some(BatchResponse {
                batch_item_failures: vec![ItemFailure {
                    item_identifier: seq.clone(),
                }],
            }),
            Checkpoint::RetryBatch { .. } => None,
        }
    }
}

/// The checkpoint for `results` (in record order), counting a record as done when `durable` says so
/// (use [`RecordOutcome::is_durable`], or also accept poison records once dead-lettered).
///
/// ```
/// use stream2search::SequenceNumber;
/// use stream2search::checkpoint::{Checkpoint, RecordOutcome, RecordResult, checkpoint};
/// use stream2search::outcome::Applied;
///
/// let result = |position, seq: &str, outcome| RecordResult {
///     position,
///     sequence_number: SequenceNumber::parse(seq),
///     event_id: None,
///     outcome,
/// };
/// let results = [
///     result(0, "100", RecordOutcome::Applied(Applied::Indexed)),
///     result(1, "200", RecordOutcome::NotDurable { reason: "out of time".into() }),
///     result(2, "300", RecordOutcome::Applied(Applied::Indexed)),
/// ];
/// // Lambda resumes at the first change that is not durable, and delivers 200 and 300 again.
/// let cp = checkpoint(&results, |r| r.outcome.is_durable());
/// assert_eq!(cp, Checkpoint::ResumeFrom(SequenceNumber::parse("200").unwrap()));
/// assert_eq!(
///     serde_json::to_string(&cp.response().unwrap())?,
///     r#"{"batchItemFailures":[{"itemIdentifier":"200"}]}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn checkpoint(results: &[RecordResult], durable: impl Fn(&RecordResult) -> bool) -> Checkpoint {
    let mut lowest: Option<&SequenceNumber> = None;
    let mut last_seen: Option<&SequenceNumber> = None;
    for r in results {
        let anchor = r.sequence_number.as_ref().or(last_seen);
        if !durable(r) {
            match anchor {
                Some(seq) if lowest.is_none_or(|l| seq < l) => lowest = Some(seq),
                Some(_) => {}
                None => {
                    return Checkpoint::RetryBatch {
                        position: r.position,
                    };
                }
            }
        }
        if r.sequence_number.is_some() {
            last_seen = r.sequence_number.as_ref();
        }
    }
    match lowest {
        Some(seq) => Checkpoint::ResumeFrom(seq.clone()),
        None => Checkpoint::Complete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::ItemOutcome;

    #[test]
    fn each_outcome_reads_as_one_line() {
        let reason = || "mapper_parsing_exception: failed to parse field [price]".to_string();
        let applied = [
            (Applied::Indexed, "indexed"),
            (Applied::Deleted, "deleted"),
            (Applied::AlreadyGone, "already gone"),
            (Applied::Stale, "stale"),
        ];
        for (a, text) in applied {
            assert_eq!(a.to_string(), text);
            assert_eq!(ItemOutcome::Applied(a).to_string(), text);
            assert_eq!(RecordOutcome::Applied(a).to_string(), text);
        }
        let records = [
            (RecordOutcome::Skipped(SkipReason::Ttl), "skipped"),
            (
                RecordOutcome::Rejected {
                    status: 400,
                    reason: reason(),
                },
                "rejected (400): mapper_parsing_exception: failed to parse field [price]",
            ),
            (
                RecordOutcome::Invalid(RecordError::new(RecordErrorKind::Id, "no productId")),
                "invalid: no productId",
            ),
            (
                RecordOutcome::Invalid(RecordError::refused("no price")),
                "refused by the hook: no price",
            ),
            (
                RecordOutcome::NotDurable {
                    reason: "out of time".into(),
                },
                "not durable: out of time",
            ),
        ];
        for (outcome, text) in records {
            assert_eq!(outcome.to_string(), text);
        }
        assert_eq!(SkipReason::Ttl.to_string(), "a TTL delete");
        assert_eq!(SkipReason::Filtered.to_string(), "filtered");
        let items = [
            (
                ItemOutcome::Retryable {
                    status: 429,
                    reason: "too many requests".into(),
                },
                "retryable (429): too many requests",
            ),
            (
                ItemOutcome::FieldLimit {
                    reason: "Limit of total fields [1000] has been exceeded".into(),
                },
                "field limit: Limit of total fields [1000] has been exceeded",
            ),
            (
                ItemOutcome::Rejected {
                    status: 400,
                    reason: reason(),
                },
                "rejected (400): mapper_parsing_exception: failed to parse field [price]",
            ),
        ];
        for (outcome, text) in items {
            assert_eq!(outcome.to_string(), text);
        }
    }

    /// An item's last answer, once it is not sent again, is the end of its records.
    #[test]
    fn an_items_last_answer_becomes_its_records_outcome() {
        let ends = [
            (
                ItemOutcome::Applied(Applied::Stale),
                RecordOutcome::Applied(Applied::Stale),
            ),
            (
                ItemOutcome::Retryable {
                    status: 500,
                    reason: "boom".into(),
                },
                RecordOutcome::NotDurable {
                    reason: "500: boom".into(),
                },
            ),
            (
                ItemOutcome::FieldLimit {
                    reason: "full".into(),
                },
                RecordOutcome::Rejected {
                    status: 400,
                    reason: "full".into(),
                },
            ),
            (
                ItemOutcome::Rejected {
                    status: 400,
                    reason: "bad".into(),
                },
                RecordOutcome::Rejected {
                    status: 400,
                    reason: "bad".into(),
                },
            ),
        ];
        for (item, end) in ends {
            assert_eq!(RecordOutcome::from(item), end);
        }
    }

    #[test]
    fn a_checkpoint_says_where_lambda_resumes() {
        let seq = SequenceNumber::parse("4200").unwrap();
        assert_eq!(Checkpoint::Complete.to_string(), "complete");
        assert_eq!(Checkpoint::ResumeFrom(seq).to_string(), "resume at 4200");
        assert_eq!(
            Checkpoint::RetryBatch { position: 3 }.to_string(),
            "resume at the first record (record 3 has no SequenceNumber)"
        );
    }
}
