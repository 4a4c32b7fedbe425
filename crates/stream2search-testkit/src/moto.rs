//! Finding the project's moto server (`dev/moto start`, `MOTO_URL`), with the same rule as
//! OpenSearch: under `STREAM2SEARCH_REQUIRE_MOTO=1` a missing server fails the test, otherwise
//! the test prints `SKIPPED: ...` and goes on. Then: its SQS queues ([`MotoSqs`]), and
//! `dev/ddb.py` or another script run against it with the project's Python ([`ddb`],
//! [`script`], [`run`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::http;

/// moto's test user, for every call to moto (it accepts any key).
pub const AWS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
];

/// The project's Python (`.dev/venv/bin/python`, where `dev/moto start` installs moto and
/// boto3).
pub fn python() -> PathBuf {
    crate::workspace().join(".dev/venv/bin/python")
}

/// `python SCRIPT` for moto at `moto` (`MOTO_URL`), as moto's test user ([`AWS`]); add its
/// arguments, then [`run`] it.
pub fn script(script: &Path, moto: &str) -> Command {
    let mut command = Command::new(python());
    command.arg(script).env("MOTO_URL", moto).envs(AWS);
    command
}

/// `python dev/ddb.py` (the project's DynamoDB helper) for moto at `moto`, as [`script`].
pub fn ddb(moto: &str) -> Command {
    script(&crate::workspace().join("dev/ddb.py"), moto)
}

/// Runs `command` with `stdin`; its output. Panics, with its stderr and stdout, unless it exits
/// with one of `ok` (a Python traceback exits 1).
pub fn run(command: &mut Command, stdin: &str, ok: &[i32]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("stdin written");
    }
    let out = child.wait_with_output().expect("the output read");
    assert!(
        out.status.code().is_some_and(|c| ok.contains(&c)),
        "{command:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// moto's URL (`MOTO_URL`, answering on `/moto-api/`), when every path in `needs` exists too
/// (e.g. the project's Python venv); `None` after a loud skip, or a panic when moto is required.
pub fn moto_url(needs: &[&Path]) -> Option<String> {
    let why = match std::env::var("MOTO_URL") {
        Err(_) => "MOTO_URL is not set".to_string(),
        Ok(url) => match needs.iter().find(|p| !p.exists()) {
            Some(missing) => format!("{} is missing", missing.display()),
            None => {
                let authority = url.trim_start_matches("http://").trim_end_matches('/');
                match http::request(authority, "GET", "/moto-api/", &[], b"") {
                    Ok(r) if r.status == 200 => return Some(url),
                    Ok(r) => format!("{url} answered {}", r.status),
                    Err(e) => format!("{url} does not answer: {e}"),
                }
            }
        },
    };
    let required = std::env::var("STREAM2SEARCH_REQUIRE_MOTO").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "moto is required (STREAM2SEARCH_REQUIRE_MOTO=1): {why}; run dev/moto start"
    );
    eprintln!("SKIPPED: moto: {why}; run dev/moto start and export MOTO_URL");
    None
}

/// moto's SQS, for tests that read what was dead-lettered.
///
/// ```no_run
/// let Some(sqs) = stream2search_testkit::MotoSqs::from_env() else {
///     return; // printed "SKIPPED: ..." (or panicked, under STREAM2SEARCH_REQUIRE_MOTO=1)
/// };
/// let queue_url = sqs.create_queue("poison");
/// // ... point the function at `sqs.url()` and `queue_url`, send it a poison record ...
/// let messages: Vec<serde_json::Value> = sqs.receive_all(&queue_url);
/// ```
#[derive(Debug, Clone)]
pub struct MotoSqs {
    authority: String,
}

impl MotoSqs {
    /// moto at `MOTO_URL`, as [`moto_url`] finds it.
    pub fn from_env() -> Option<MotoSqs> {
        let url = moto_url(&[])?;
        let authority = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        Some(MotoSqs { authority })
    }

    /// The endpoint (`http://HOST:PORT`), for `STREAM2SEARCH_SQS_ENDPOINT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.authority)
    }

    /// One SQS call (`AmazonSQS.TARGET`, JSON protocol); its answer, which must be a 200.
    pub fn call(&self, target: &str, body: serde_json::Value) -> serde_json::Value {
        let r = http::request(
            &self.authority,
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", &format!("AmazonSQS.{target}")),
                // moto routes by the signing scope's service name; it does not check signatures.
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
                ),
            ],
            body.to_string().as_bytes(),
        )
        .unwrap_or_else(|e| panic!("moto {target}: {e}"));
        assert_eq!(r.status, 200, "{target}: {}", r.text());
        r.json()
    }

    /// A new queue named after `purpose`, this process and the time; its URL.
    pub fn create_queue(&self, purpose: &str) -> String {
        let name = format!(
            "{purpose}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        );
        let v = self.call("CreateQueue", serde_json::json!({"QueueName": name}));
        v["QueueUrl"].as_str().expect("a QueueUrl").to_owned()
    }

    /// Every message waiting in the queue, each body read as JSON.
    pub fn receive_all(&self, queue_url: &str) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        loop {
            let v = self.call(
                "ReceiveMessage",
                serde_json::json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0}),
            );
            let Some(messages) = v["Messages"].as_array().filter(|m| !m.is_empty()) else {
                return out;
            };
            for m in messages {
                let body = m["Body"].as_str().expect("a message Body");
                out.push(
                    serde_json::from_str(body).unwrap_or_else(|e| {
                        panic!("a message body that is not JSON ({e}): {body}")
                    }),
                );
            }
        }
    }
}
