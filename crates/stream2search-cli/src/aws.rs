//! What `poll` needs for DynamoDB Streams' JSON 1.0 API: a client signing for service
//! `dynamodb`, and reading an answer or the exception AWS named. (`backfill` reads tables and
//! exports through `stream2search_lambda::backfill`.)

use aws_credential_types::Credentials;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use stream2search_client::{Auth, Client, Config, Service, SigV4};

/// A client for `endpoint` (an AWS endpoint, or a local mock over plain `http://`), signing for
/// `region` with `credentials`. Bodies are sent uncompressed.
pub(crate) fn client(
    endpoint: &str,
    region: String,
    credentials: Credentials,
) -> Result<Client, stream2search_client::Error> {
    let mut config = Config::new(endpoint);
    config.allow_http = endpoint.starts_with("http://");
    config.gzip = false;
    config.auth = Auth::SigV4(SigV4::new(Service::DynamoDb, region, credentials));
    Client::new(config)
}

/// An answer that is not the value asked for.
#[derive(Debug)]
pub(crate) struct Fault {
    /// The exception name AWS answered with, without its namespace
    /// (`ProvisionedThroughputExceededException`), when it named one.
    pub(crate) kind: Option<String>,
    /// `OPERATION: HTTP STATUS KIND: MESSAGE`, or why a 2xx answer could not be read.
    pub(crate) message: String,
}

/// A JSON 1.0 answer: the value, or the exception AWS named.
pub(crate) fn answer<T: DeserializeOwned>(
    operation: &str,
    status: u16,
    body: &[u8],
) -> Result<T, Fault> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(body).map_err(|e| Fault {
            kind: None,
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
    // `__type` may be `com.amazonaws.dynamodb.v20120810#ExpiredIteratorException`.
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
}
