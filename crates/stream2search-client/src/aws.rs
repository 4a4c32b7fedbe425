//! Reading what an AWS JSON-protocol API (DynamoDB, DynamoDB Streams, SQS) answered through
//! [`Client::call_aws_json`]: the value asked for, or the exception AWS named.
//!
//! ```
//! use stream2search_client::aws::answer;
//!
//! let fault = answer::<serde_json::Value>(
//!     "Scan",
//!     400,
//!     br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
//! )
//! .unwrap_err();
//! assert_eq!(fault.kind.as_deref(), Some("ProvisionedThroughputExceededException"));
//! assert!(fault.is_throttling());
//! assert_eq!(fault.to_string(), "Scan: HTTP 400 ProvisionedThroughputExceededException: slow down");
//! ```
//!
//! [`Client::call_aws_json`]: crate::Client::call_aws_json

use std::fmt;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{Auth, Client, Config, SigV4};

/// A client for the AWS JSON-protocol API at `endpoint` (an AWS endpoint, or a local mock over
/// plain `http://`), signing with `sigv4`. Bodies are sent uncompressed.
pub fn client(endpoint: &str, sigv4: SigV4) -> Result<Client, crate::Error> {
    let mut config = Config::new(endpoint);
    config.allow_http = endpoint.starts_with("http://");
    config.gzip = false;
    config.auth = Auth::SigV4(sigv4);
    Client::new(config)
}

/// Why an AWS JSON-protocol call did not give the value asked for: no answer, an exception, or
/// a 2xx answer that could not be read. The message never holds credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fault {
    /// The exception name AWS answered with, without its namespace
    /// (`ProvisionedThroughputExceededException`), when it named one.
    pub kind: Option<String>,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// `OPERATION: HTTP STATUS KIND: MESSAGE`, or why there was no answer or no value.
    pub message: String,
}

impl Fault {
    /// The call of `operation` got no answer (`error`: the transport's reason).
    pub fn unanswered(operation: &str, error: &crate::Error) -> Fault {
        Fault {
            kind: None,
            status: None,
            message: format!("{operation}: {error}"),
        }
    }

    /// AWS asks the caller to slow down (`ProvisionedThroughputExceededException`,
    /// `ThrottlingException`, `RequestLimitExceeded`): wait and call again.
    pub fn is_throttling(&self) -> bool {
        matches!(
            self.kind.as_deref(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
            )
        )
    }

    /// No answer, or a server error (5xx): worth a few more tries.
    pub fn is_transient(&self) -> bool {
        self.status.is_none_or(|s| s >= 500)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fault {}

/// The answer of `operation` (HTTP `status`, `body`): a 2xx body read as `T`, or the exception
/// AWS named in `__type` (namespace dropped: `com.amazonaws.dynamodb.v20120810#X` is `X`) with
/// its `message` (or `Message`); a body that names nothing is quoted (its first 300 bytes).
pub fn answer<T: DeserializeOwned>(operation: &str, status: u16, body: &[u8]) -> Result<T, Fault> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(body).map_err(|e| Fault {
            kind: None,
            status: Some(status),
            message: format!("{operation}: unreadable answer: {e}"),
        });
    }
    #[derive(Deserialize)]
    struct Exception {
        #[serde(rename = "__type", default)]
        kind: Option<String>,
        #[serde(alias = "Message", default)]
        message: Option<String>,
    }
    let exception: Option<Exception> = serde_json::from_slice(body).ok();
    let kind = exception
        .as_ref()
        .and_then(|f| f.kind.as_deref())
        .map(|k| k.rsplit('#').next().unwrap_or(k).to_string());
    let message = exception
        .and_then(|f| f.message)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    Err(Fault {
        message: format!(
            "{operation}: HTTP {status} {}: {message}",
            kind.as_deref().unwrap_or("error")
        ),
        kind,
        status: Some(status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_names_lose_their_namespace_and_unnamed_faults_keep_their_body() {
        let fault = answer::<serde_json::Value>(
            "GetRecords",
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ExpiredIteratorException","message":"Iterator expired"}"#,
        )
        .unwrap_err();
        assert_eq!(fault.kind.as_deref(), Some("ExpiredIteratorException"));
        assert_eq!(
            fault.message,
            "GetRecords: HTTP 400 ExpiredIteratorException: Iterator expired"
        );
        // SQS and STS spell it `Message`.
        let fault = answer::<serde_json::Value>(
            "SendMessageBatch",
            403,
            br#"{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User is not authorized"}"#,
        )
        .unwrap_err();
        assert_eq!(
            fault.to_string(),
            "SendMessageBatch: HTTP 403 AccessDeniedException: User is not authorized"
        );
        let fault = answer::<serde_json::Value>("Scan", 503, b"busy").unwrap_err();
        assert_eq!(fault.kind, None);
        assert_eq!(fault.message, "Scan: HTTP 503 error: busy");
        let fault = answer::<serde_json::Value>("Scan", 200, b"{").unwrap_err();
        assert!(
            fault.message.starts_with("Scan: unreadable answer: "),
            "{}",
            fault.message
        );
    }

    #[test]
    fn throughput_exceptions_are_throttling_and_only_server_errors_are_transient() {
        let throttled = answer::<serde_json::Value>(
            "Scan",
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
        )
        .unwrap_err();
        assert!(throttled.is_throttling());
        assert!(!throttled.is_transient());
        let missing = answer::<serde_json::Value>(
            "Scan",
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}"#,
        )
        .unwrap_err();
        assert!(!missing.is_throttling());
        assert!(!missing.is_transient());
        assert_eq!(
            missing.to_string(),
            "Scan: HTTP 400 ResourceNotFoundException: no table"
        );
        let busy = answer::<serde_json::Value>("Scan", 503, b"busy").unwrap_err();
        assert!(busy.is_transient() && !busy.is_throttling());
        let unanswered = Fault::unanswered("Scan", &crate::Error::config("no endpoint"));
        assert!(unanswered.is_transient());
        assert_eq!(unanswered.status, None);
    }
}
