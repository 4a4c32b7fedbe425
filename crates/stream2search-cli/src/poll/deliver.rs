//! Where a batch goes: the Lambda handler in-process, or a function behind the Lambda Invoke
//! API over plain HTTP (`cargo lambda watch`: `http://127.0.0.1:9000/2015-03-31/functions/NAME/invocations`).
//! Either way the answer is the partial batch response.

use std::time::Instant;

use serde::Deserialize;
use stream2search::checkpoint::Checkpoint;
use stream2search_lambda::Handler;

use crate::function::Function;

/// A batch's destination.
pub enum Target {
    /// The handler, called in this process.
    InProcess(Handler),
    /// A function invoked over HTTP.
    Http(Function),
}

/// How a delivered batch ended.
pub enum Resume {
    /// Every record is done.
    Complete,
    /// Resume at this SequenceNumber.
    At(String),
    /// The whole batch must be delivered again.
    Batch(String),
}

/// What the target answered.
pub struct Answer {
    /// Where to resume.
    pub resume: Resume,
    /// Counts for the batch's stdout line (in-process only).
    pub counts: Option<String>,
    /// Positions of dead-lettered records (in-process only).
    pub dead_lettered: Vec<usize>,
    /// One line per record that is not durable (in-process only).
    pub failures: Vec<String>,
}

impl Target {
    /// Delivers `payload` (`{"Records":[...]}`), to be done by `deadline`.
    pub async fn deliver(&self, payload: &[u8], deadline: Instant) -> Answer {
        match self {
            Target::InProcess(handler) => in_process(handler, payload, deadline).await,
            Target::Http(function) => {
                let resume = match function.invoke(payload).await {
                    Ok((status, body)) => response(status, &body),
                    Err(e) => Resume::Batch(e),
                };
                Answer {
                    resume,
                    counts: None,
                    dead_lettered: Vec::new(),
                    failures: Vec::new(),
                }
            }
        }
    }
}

async fn in_process(handler: &Handler, payload: &[u8], deadline: Instant) -> Answer {
    let inv = match handler.handle(payload, deadline).await {
        Ok(inv) => inv,
        Err(e) => {
            return Answer {
                resume: Resume::Batch(e.to_string()),
                counts: None,
                dead_lettered: Vec::new(),
                failures: Vec::new(),
            };
        }
    };
    let failures = inv
        .results
        .iter()
        .filter(|r| !r.outcome.is_durable() && !inv.dead_lettered.contains(&r.position))
        .map(|r| {
            let seq = r.sequence_number.as_ref().map_or("-", |s| s.as_str());
            format!("record {} {seq}: {}", r.position, r.outcome)
        })
        .collect();
    let s = &inv.counts;
    let counts = format!(
        "indexed {}, deleted {}, stale {}, skipped {}, dead-lettered {}, failed {}, retries {}",
        s.indexed, s.deleted, s.stale, s.skipped, s.dead_lettered, s.failed, s.retries
    );
    let resume = match inv.checkpoint {
        Checkpoint::Complete => Resume::Complete,
        Checkpoint::ResumeFrom(seq) => Resume::At(seq.as_str().to_string()),
        Checkpoint::RetryBatch { position } => Resume::Batch(format!(
            "record {position} has no SequenceNumber: retrying the batch"
        )),
    };
    let mut dead_lettered: Vec<usize> = inv.dead_lettered.into_iter().collect();
    dead_lettered.sort_unstable();
    Answer {
        resume,
        counts: Some(counts),
        dead_lettered,
        failures,
    }
}

/// A function's answer: the partial batch response, or an error (the whole batch again).
fn response(status: u16, body: &[u8]) -> Resume {
    #[derive(Deserialize)]
    struct Failure {
        #[serde(rename = "itemIdentifier")]
        item: String,
    }
    #[derive(Deserialize)]
    struct Response {
        #[serde(rename = "batchItemFailures")]
        failures: Vec<Failure>,
    }
    let text = || String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    if !(200..300).contains(&status) {
        return Resume::Batch(format!("the function failed (HTTP {status}): {}", text()));
    }
    match serde_json::from_slice::<Response>(body) {
        Ok(r) => match r.failures.into_iter().next() {
            None => Resume::Complete,
            Some(f) => Resume::At(f.item),
        },
        Err(_) => Resume::Batch(format!("the function failed: {}", text())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_answers_become_resume_points() {
        assert!(matches!(
            response(200, br#"{"batchItemFailures":[]}"#),
            Resume::Complete
        ));
        assert!(matches!(
            response(200, br#"{"batchItemFailures":[{"itemIdentifier":"42"}]}"#),
            Resume::At(s) if s == "42"
        ));
        assert!(matches!(
            response(
                200,
                br#"{"errorType":"Stream2Search.RetryBatch","errorMessage":"x"}"#
            ),
            Resume::Batch(_)
        ));
        assert!(matches!(response(500, b"boom"), Resume::Batch(_)));
    }
}
