//! `--function-url`: the units run in the Lambda backfill handler instead of in this process.
//! Each invocation POSTs a unit's [`Job`] to the function ([`crate::function`]) and reads the
//! [`JobAnswer`]: the job advanced past every page the invocation made durable.

use stream2search_lambda::backfill::Job;
use stream2search_lambda::backfill::handler::JobAnswer;

use crate::function::Function;

/// One invocation of `function` with `job`: the answer, or why there is none (the function
/// failed, or answered something else).
pub async fn invoke(function: &Function, job: &Job) -> Result<JobAnswer, String> {
    let body = serde_json::to_vec(job).map_err(|e| e.to_string())?;
    let (status, answer) = function.invoke(&body).await?;
    answer_of(status, &answer)
}

/// The function's answer: a [`JobAnswer`], or the error it reported.
fn answer_of(status: u16, body: &[u8]) -> Result<JobAnswer, String> {
    #[derive(serde::Deserialize)]
    struct Failure {
        #[serde(rename = "errorType", default)]
        kind: String,
        #[serde(rename = "errorMessage", default)]
        message: String,
    }
    if (200..300).contains(&status)
        && let Ok(answer) = serde_json::from_slice::<JobAnswer>(body)
    {
        return Ok(answer);
    }
    match serde_json::from_slice::<Failure>(body) {
        Ok(f) if !f.kind.is_empty() => Err(format!(
            "the function failed (HTTP {status}): {}: {}",
            f.kind, f.message
        )),
        _ => Err(format!(
            "the function answered HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_jobs_advanced_or_the_functions_error() {
        let answer = answer_of(
            200,
            br#"{"job":{"unit":{"kind":"segment","table":"T","segment":0,"totalSegments":2,"start":{"k":{"S":"a"}}},"version":7,"keys":["k"]},"done":false,"pages":3,"items":30,"bytes":900,"indexed":29,"stale":1,"deadLettered":0,"throttled":2,"consumedRcu":3.0}"#,
        )
        .unwrap();
        assert!(!answer.done);
        assert_eq!(answer.counts.pages, 3);
        assert_eq!(answer.counts.items, 30);
        assert_eq!(answer.counts.throttled, 2);
        assert_eq!(answer.job.version, 7);
        let failed = answer_of(
            200,
            br#"{"errorType":"Stream2Search.NotDurable","errorMessage":"2 items not durable"}"#,
        )
        .unwrap_err();
        assert_eq!(
            failed,
            "the function failed (HTTP 200): Stream2Search.NotDurable: 2 items not durable"
        );
        assert!(
            answer_of(502, b"bad gateway")
                .unwrap_err()
                .contains("HTTP 502: bad gateway")
        );
    }
}
