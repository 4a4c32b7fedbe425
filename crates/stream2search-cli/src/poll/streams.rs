//! The DynamoDB Streams API: JSON 1.0 calls (`X-Amz-Target: DynamoDBStreams_20120810.<Op>`),
//! signed with SigV4 for service `dynamodb`, over hyper 1 and rustls (ring), as
//! `stream2search-lambda`'s SQS writer sends.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use serde_json::value::RawValue;

/// Most bytes read from one answer (GetRecords returns at most 1 MB of records).
const MAX_ANSWER: usize = 8 * 1024 * 1024;

/// A DynamoDB Streams API client. Build once.
pub struct Streams {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: http::Uri,
    host: HeaderValue,
    region: String,
    credentials: Option<Credentials>,
    timeout: Duration,
}

impl fmt::Debug for Streams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streams")
            .field("uri", &self.uri)
            .field("region", &self.region)
            .field("signed", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a call failed. The message never holds credentials.
#[derive(Debug)]
pub struct Error {
    /// The exception name AWS answered with (`ExpiredIteratorException`...), when it answered.
    kind: Option<String>,
    message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    fn new(message: impl Into<String>) -> Error {
        Error {
            kind: None,
            message: message.into(),
        }
    }

    /// The iterator is too old, or names records already trimmed: get a new one.
    pub fn is_iterator_gone(&self) -> bool {
        matches!(
            self.kind.as_deref(),
            Some("ExpiredIteratorException" | "TrimmedDataAccessException")
        )
    }
}

/// One shard, as DescribeStream lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Shard {
    /// `ShardId`.
    #[serde(rename = "ShardId")]
    pub id: String,
    /// `ParentShardId`, when the shard was split from another.
    #[serde(rename = "ParentShardId", default)]
    pub parent: Option<String>,
}

/// Where an iterator starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The oldest record still in the shard.
    TrimHorizon,
    /// At this SequenceNumber.
    At(String),
    /// Just after this SequenceNumber.
    After(String),
}

/// One GetRecords answer: the records exactly as sent, and the next iterator (`None`: the shard
/// is closed and fully read).
#[derive(Debug, Deserialize)]
pub struct Records {
    /// The stream records, unparsed.
    #[serde(rename = "Records", default)]
    pub records: Vec<Box<RawValue>>,
    /// The next iterator.
    #[serde(rename = "NextShardIterator", default)]
    pub next: Option<String>,
}

impl Streams {
    /// A client for `endpoint` (`https://streams.dynamodb.<region>.amazonaws.com`, or a local
    /// mock), signing for `region` with `credentials` (`None`: unsigned).
    pub fn new(
        endpoint: &str,
        region: String,
        credentials: Option<Credentials>,
        timeout: Duration,
    ) -> Result<Streams, Error> {
        let uri: http::Uri = format!("{}/", endpoint.trim_end_matches('/'))
            .parse()
            .map_err(|_| Error::new("the streams endpoint is not a URL"))?;
        let authority = uri
            .authority()
            .ok_or_else(|| Error::new("the streams endpoint has no host"))?;
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| Error::new("the streams endpoint host is not valid"))?;
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|_| Error::new("TLS setup failed"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(Duration::from_secs(5)));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        Ok(Streams {
            http: Client::builder(TokioExecutor::new()).build(connector),
            uri,
            host,
            region,
            credentials,
            timeout,
        })
    }

    /// The ARN of `table`'s latest stream (ListStreams).
    pub async fn stream_of(&self, table: &str) -> Result<String, Error> {
        #[derive(Deserialize)]
        struct Stream {
            #[serde(rename = "StreamArn")]
            arn: String,
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "Streams", default)]
            streams: Vec<Stream>,
        }
        let answer: Answer = self
            .call("ListStreams", json!({ "TableName": table }))
            .await?;
        // ListStreams lists the newest stream last.
        answer
            .streams
            .into_iter()
            .last()
            .map(|s| s.arn)
            .ok_or_else(|| Error::new(format!("table {table} has no stream")))
    }

    /// Every shard of `stream` (DescribeStream, all pages).
    pub async fn shards(&self, stream: &str) -> Result<Vec<Shard>, Error> {
        #[derive(Deserialize)]
        struct Description {
            #[serde(rename = "Shards", default)]
            shards: Vec<Shard>,
            #[serde(rename = "LastEvaluatedShardId", default)]
            last: Option<String>,
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "StreamDescription")]
            description: Description,
        }
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let mut body = json!({ "StreamArn": stream });
            if let Some(s) = &start {
                body["ExclusiveStartShardId"] = json!(s);
            }
            let answer: Answer = self.call("DescribeStream", body).await?;
            shards.extend(answer.description.shards);
            match answer.description.last {
                Some(last) if start.as_ref() != Some(&last) => start = Some(last),
                _ => return Ok(shards),
            }
        }
    }

    /// A shard iterator (GetShardIterator).
    pub async fn iterator(
        &self,
        stream: &str,
        shard: &str,
        start: &Start,
    ) -> Result<String, Error> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "ShardIterator")]
            iterator: Option<String>,
        }
        let mut body = json!({ "StreamArn": stream, "ShardId": shard });
        match start {
            Start::TrimHorizon => body["ShardIteratorType"] = json!("TRIM_HORIZON"),
            Start::At(seq) => {
                body["ShardIteratorType"] = json!("AT_SEQUENCE_NUMBER");
                body["SequenceNumber"] = json!(seq);
            }
            Start::After(seq) => {
                body["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
                body["SequenceNumber"] = json!(seq);
            }
        }
        let answer: Answer = self.call("GetShardIterator", body).await?;
        answer
            .iterator
            .ok_or_else(|| Error::new(format!("no iterator for shard {shard}")))
    }

    /// Up to `limit` records (GetRecords, at most 1,000).
    pub async fn records(&self, iterator: &str, limit: usize) -> Result<Records, Error> {
        let limit = limit.clamp(1, 1000);
        self.call(
            "GetRecords",
            json!({ "ShardIterator": iterator, "Limit": limit }),
        )
        .await
    }

    /// One signed JSON 1.0 call.
    async fn call<T: DeserializeOwned>(
        &self,
        operation: &str,
        body: serde_json::Value,
    ) -> Result<T, Error> {
        let body = Bytes::from(body.to_string());
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(header::HOST, self.host.clone())
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-amz-json-1.0"),
            )
            .header(
                "x-amz-target",
                format!("DynamoDBStreams_20120810.{operation}"),
            )
            .header(header::CONTENT_LENGTH, HeaderValue::from(body.len()))
            .body(body)
            .map_err(|_| Error::new("could not build the request"))?;
        if let Some(creds) = &self.credentials {
            sign_request(&mut request, creds, &self.region, SystemTime::now())?;
        }
        let round_trip = async {
            let response = self
                .http
                .request(request.map(Full::new))
                .await
                .map_err(|e| Error::new(format!("{operation}: request failed: {e}")))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|_| Error::new(format!("{operation}: could not read the answer")))?
                .to_bytes();
            Ok::<_, Error>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, round_trip)
            .await
            .map_err(|_| Error::new(format!("{operation}: no answer in time")))??;
        answer(operation, status, &body)
    }
}

/// A JSON 1.0 answer: the value, or the exception AWS named.
fn answer<T: DeserializeOwned>(operation: &str, status: u16, body: &[u8]) -> Result<T, Error> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(body)
            .map_err(|e| Error::new(format!("{operation}: unreadable answer: {e}")));
    }
    #[derive(Deserialize)]
    struct Fault {
        #[serde(rename = "__type", default)]
        kind: Option<String>,
        #[serde(alias = "Message", default)]
        message: Option<String>,
    }
    let fault: Option<Fault> = serde_json::from_slice(body).ok();
    // `__type` may be `com.amazonaws.dynamodb.v20120810#ExpiredIteratorException`.
    let kind = fault
        .as_ref()
        .and_then(|f| f.kind.as_deref())
        .map(|k| k.rsplit('#').next().unwrap_or(k).to_string());
    let message = fault
        .and_then(|f| f.message)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    Err(Error {
        message: format!(
            "{operation}: HTTP {status} {}: {message}",
            kind.as_deref().unwrap_or("error")
        ),
        kind,
    })
}

fn sign_request(
    request: &mut Request<Bytes>,
    creds: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<(), Error> {
    let failed = |_| Error::new("could not sign the request");
    let identity: Identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("dynamodb")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|_| Error::new("could not sign the request"))?
        .into();
    let uri = request.uri().to_string();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
        .collect();
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Bytes(request.body()),
    )
    .map_err(failed)?;
    let (instructions, _) = sign(signable, &params).map_err(failed)?.into_parts();
    instructions.apply_to_request_http1x(request);
    for name in [header::AUTHORIZATION.as_str(), "x-amz-security-token"] {
        if let Some(v) = request.headers_mut().get_mut(name) {
            v.set_sensitive(true);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_names_lose_their_namespace() {
        let err = answer::<serde_json::Value>(
            "GetRecords",
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ExpiredIteratorException","message":"Iterator expired"}"#,
        )
        .unwrap_err();
        assert!(err.is_iterator_gone());
        assert!(
            err.to_string()
                .contains("HTTP 400 ExpiredIteratorException: Iterator expired")
        );
    }

    #[test]
    fn signature_is_for_dynamodb_and_covers_the_target() {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("https://streams.dynamodb.eu-west-1.amazonaws.com/")
            .header(header::HOST, "streams.dynamodb.eu-west-1.amazonaws.com")
            .header("x-amz-target", "DynamoDBStreams_20120810.GetRecords")
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "t");
        sign_request(&mut request, &creds, "eu-west-1", SystemTime::UNIX_EPOCH).unwrap();
        let auth = request.headers()[header::AUTHORIZATION].to_str().unwrap();
        assert!(auth.contains("/eu-west-1/dynamodb/aws4_request"));
        assert!(auth.contains("x-amz-target"));
        assert!(!format!("{:?}", request.headers()).contains("AKIDEXAMPLE"));
    }
}
