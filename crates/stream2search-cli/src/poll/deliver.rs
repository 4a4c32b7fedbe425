//! Where a batch goes: the Lambda handler in-process, or a function behind the Lambda Invoke
//! API over plain HTTP (`cargo lambda watch`: `http://127.0.0.1:9000/2015-03-31/functions/NAME/invocations`).
//! Either way the answer is the partial batch response.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde::Deserialize;
use stream2search::checkpoint::Checkpoint;
use stream2search_lambda::Handler;

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
            Target::Http(function) => function.invoke(payload),
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
            format!(
                "record {} {seq}: {}",
                r.position,
                crate::describe(&r.outcome)
            )
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

/// A function behind the Lambda Invoke API, over plain HTTP (local emulators only).
pub struct Function {
    authority: String,
    path: String,
    wait: Duration,
}

impl Function {
    /// `url`: `http://HOST:PORT/PATH`. `wait`: how long one invocation may take (the first one
    /// under `cargo lambda watch` compiles the function).
    pub fn new(url: &str, wait: Duration) -> Result<Function, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--function-url {url:?}: only http:// (a local emulator)"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() {
            return Err(format!("--function-url {url:?} has no host"));
        }
        Ok(Function {
            authority: authority.to_string(),
            path: format!("/{path}"),
            wait,
        })
    }

    fn invoke(&self, payload: &[u8]) -> Answer {
        let resume = match self.post(payload) {
            Ok((status, body)) => response(status, &body),
            Err(e) => Resume::Batch(format!("invoking the function: {e}")),
        };
        Answer {
            resume,
            counts: None,
            dead_lettered: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// One HTTP/1.0 POST (no chunked answers; the connection closes after it).
    fn post(&self, payload: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let mut stream = TcpStream::connect(&self.authority)?;
        stream.set_read_timeout(Some(self.wait))?;
        let head = format!(
            "POST {} HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.path,
            self.authority,
            payload.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(payload)?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no HTTP answer"))?;
        let head = String::from_utf8_lossy(&answer[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other("no HTTP status"))?;
        Ok((status, answer[split + 4..].to_vec()))
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

    #[test]
    fn function_url_is_plain_http_with_a_path() {
        let f = Function::new(
            "http://127.0.0.1:9000/2015-03-31/functions/products/invocations",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(f.authority, "127.0.0.1:9000");
        assert_eq!(f.path, "/2015-03-31/functions/products/invocations");
        assert!(Function::new("https://x/", Duration::from_secs(1)).is_err());
    }
}
