//! The S3 calls an export read makes: ListObjectsV2 (every key under a prefix, page by page) and
//! GetObject (whole, or one byte range), signed with SigV4 for service `s3` by
//! `stream2search-client`'s [`Client::get`].
//!
//! Where requests go: an explicit endpoint (`--s3-endpoint`, `AWS_ENDPOINT_URL_S3`,
//! `AWS_ENDPOINT_URL`; the caller resolves which) gets path-style URLs
//! (`{endpoint}/{bucket}/{key}`) and may be plain `http` (a local mock); without one, AWS itself:
//! `https://{bucket}.s3.{region}.amazonaws.com/{key}` (virtual-hosted style), or
//! `https://s3.{region}.amazonaws.com/{bucket}/{key}` for a bucket whose name holds a dot (a
//! virtual host name with a dot does not match S3's wildcard certificate).
//!
//! 500, 503 (`SlowDown`), `RequestTimeout`, `InternalError` and connections that fail or time
//! out are retried with full-jitter backoff, up to [`ATTEMPTS`] tries in all; any other answer is
//! an [`Error`] naming the bucket, the key and the code S3 answered with.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use stream2search::backoff::Backoff;
use stream2search_client::{Auth, Client, Config, Service, SigV4};

/// How many times one request is tried before its failure is returned.
pub const ATTEMPTS: u32 = 8;

/// How many bytes one ranged GET of a data file asks for, unless set otherwise
/// ([`S3::with_range_size`]): 8 MiB.
pub const RANGE_SIZE: u64 = 8 * 1024 * 1024;

/// An S3 reader. Build once; clones share the connections.
#[derive(Clone)]
pub struct S3 {
    shared: Arc<Shared>,
    range_size: u64,
    /// `max-keys` of a listing request; `None`: S3's default (1,000).
    list_size: Option<u32>,
}

struct Shared {
    /// An explicit endpoint (path-style), or `None` for AWS (virtual-hosted style).
    endpoint: Option<String>,
    region: String,
    provider: SharedCredentialsProvider,
    timeout: Duration,
    backoff: Backoff,
    /// One client per host: the endpoint's, or one per bucket at AWS.
    clients: Mutex<HashMap<String, Client>>,
}

impl fmt::Debug for S3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3")
            .field("endpoint", &self.shared.endpoint)
            .field("region", &self.shared.region)
            .field("timeout", &self.shared.timeout)
            .field("range_size", &self.range_size)
            .field("list_size", &self.list_size)
            .finish_non_exhaustive()
    }
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The bytes of one ranged GET.
#[derive(Debug, Clone)]
pub struct Range {
    /// The bytes from the range's start on (fewer than asked at the object's end).
    pub bytes: Bytes,
    /// The object's whole size.
    pub total: u64,
}

impl S3 {
    /// A reader at `endpoint` (resolved by the caller: an explicit endpoint, else
    /// `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`; `None` for AWS itself), signing for
    /// `region` with `credentials`; each request may take `timeout`.
    ///
    /// Plain `http` is accepted only for an explicit endpoint (a local mock); AWS is always
    /// reached over TLS.
    pub fn new(
        endpoint: Option<&str>,
        region: &str,
        credentials: impl ProvideCredentials + 'static,
        timeout: Duration,
    ) -> Result<S3, Error> {
        if region.is_empty() {
            return Err(Error::config("the S3 region is empty"));
        }
        if timeout.is_zero() {
            return Err(Error::config("the S3 timeout must be longer than zero"));
        }
        let endpoint = endpoint.map(|e| e.trim().trim_end_matches('/').to_owned());
        let s3 = S3 {
            shared: Arc::new(Shared {
                endpoint,
                region: region.to_owned(),
                provider: SharedCredentialsProvider::new(credentials),
                timeout,
                backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
                    .map_err(|e| Error::config(e.to_string()))?,
                clients: Mutex::new(HashMap::new()),
            }),
            range_size: RANGE_SIZE,
            list_size: None,
        };
        // An endpoint that cannot work fails here, not at the first read.
        if let Some(endpoint) = &s3.shared.endpoint {
            s3.client_for(endpoint)?;
        }
        Ok(s3)
    }

    /// The same reader, reading data files `bytes` at a time (at least 1; tests use a few
    /// hundred bytes to read a small file in many ranges).
    pub fn with_range_size(mut self, bytes: u64) -> S3 {
        self.range_size = bytes.max(1);
        self
    }

    /// The same reader, asking for at most `keys` keys per listing request (at least 1; S3's
    /// default is 1,000; tests use 1 to follow continuation tokens through a short listing).
    pub fn with_list_size(mut self, keys: u32) -> S3 {
        self.list_size = Some(keys.max(1));
        self
    }

    /// How many bytes one ranged GET asks for.
    pub fn range_size(&self) -> u64 {
        self.range_size
    }

    /// Every object whose key starts with `prefix`, in key order (ListObjectsV2, following
    /// continuation tokens).
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Object>, Error> {
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = format!("list-type=2&prefix={}", encode(prefix, false));
            if let Some(keys) = self.list_size {
                query.push_str(&format!("&max-keys={keys}"));
            }
            if let Some(token) = &token {
                query.push_str("&continuation-token=");
                query.push_str(&encode(token, false));
            }
            let (_, body) = self.send(bucket, "", &query, prefix, None).await?;
            let text = std::str::from_utf8(&body)
                .map_err(|_| Error::answer(bucket, prefix, "the listing is not UTF-8"))?;
            for contents in elements(text, "Contents") {
                let key = element(contents, "Key")
                    .ok_or_else(|| Error::answer(bucket, prefix, "a listed object has no Key"))?;
                let size = element(contents, "Size")
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or_else(|| Error::answer(bucket, prefix, "a listed object has no Size"))?;
                objects.push(Object {
                    key: unescape(key),
                    size,
                });
            }
            let truncated = element(text, "IsTruncated").is_some_and(|t| t.trim() == "true");
            if !truncated {
                break;
            }
            token = Some(
                element(text, "NextContinuationToken")
                    .map(unescape)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        Error::answer(
                            bucket,
                            prefix,
                            "a truncated listing has no continuation token",
                        )
                    })?,
            );
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    /// The whole object, or `None` when there is no such key (`NoSuchKey`). For small objects
    /// (manifests); data files are read by [`get_range`](S3::get_range).
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Option<Bytes>, Error> {
        match self.send(bucket, key, "", key, None).await {
            Ok((_, body)) => Ok(Some(body)),
            Err(e) if e.code() == Some("NoSuchKey") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `len` bytes of the object from byte `start` on (fewer at its end; none from its end on).
    pub async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Range, Error> {
        let end = start + len.max(1) - 1;
        let range = HeaderValue::from_str(&format!("bytes={start}-{end}"))
            .map_err(|_| Error::config("the range is not a valid header value"))?;
        match self.send(bucket, key, "", key, Some(range)).await {
            Ok((headers, bytes)) => {
                // 206: `Content-Range: bytes 0-99/1234`; 200 (a server that ignores ranges):
                // the whole object.
                let total = headers
                    .get(http::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.rsplit('/').next())
                    .and_then(|t| t.trim().parse().ok());
                match total {
                    Some(total) => Ok(Range { bytes, total }),
                    None if start == 0 => Ok(Range {
                        total: bytes.len() as u64,
                        bytes,
                    }),
                    None => Err(Error::answer(
                        bucket,
                        key,
                        "a ranged GET answered without Content-Range",
                    )),
                }
            }
            // A range from the object's end on: nothing left (an empty object has no byte 0).
            Err(e) if e.status() == Some(416) => Ok(Range {
                bytes: Bytes::new(),
                total: start,
            }),
            Err(e) => Err(e),
        }
    }

    /// One GET, retried while S3 says it is busy or the connection fails: the answer's headers
    /// and body on a 2xx, else the error. `name` is what errors name after the bucket.
    async fn send(
        &self,
        bucket: &str,
        key: &str,
        query: &str,
        name: &str,
        range: Option<HeaderValue>,
    ) -> Result<(http::HeaderMap, Bytes), Error> {
        let (client, path) = self.route(bucket, key)?;
        let path = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        let headers: Vec<(HeaderName, HeaderValue)> = range
            .into_iter()
            .map(|r| (http::header::RANGE, r))
            .collect();
        let mut attempt = 0u32;
        loop {
            let error = match client.get(&path, &headers, self.shared.timeout).await {
                Ok((status, headers, body)) if (200..300).contains(&status) => {
                    return Ok((headers, body));
                }
                Ok((status, _, body)) => Error::answered(bucket, name, status, &body),
                Err(source) => Error::client(bucket, name, source),
            };
            attempt += 1;
            if !error.is_retryable() || attempt >= ATTEMPTS {
                return Err(error);
            }
            let delay = self.shared.backoff.delay(attempt - 1, fastrand::f64());
            tokio::time::sleep(delay).await;
        }
    }

    /// The client and the encoded path for `key` in `bucket`.
    fn route(&self, bucket: &str, key: &str) -> Result<(Client, String), Error> {
        if bucket.is_empty() || bucket.contains('/') {
            return Err(Error::config(format!("{bucket:?} is not a bucket name")));
        }
        let key = encode(key, true);
        match &self.shared.endpoint {
            Some(endpoint) => Ok((self.client_for(endpoint)?, format!("{bucket}/{key}"))),
            None if bucket.contains('.') => {
                let host = format!("https://s3.{}.amazonaws.com", self.shared.region);
                Ok((self.client_for(&host)?, format!("{bucket}/{key}")))
            }
            None => {
                let host = format!("https://{bucket}.s3.{}.amazonaws.com", self.shared.region);
                Ok((self.client_for(&host)?, key))
            }
        }
    }

    fn client_for(&self, url: &str) -> Result<Client, Error> {
        let mut clients = self
            .shared
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = clients.get(url) {
            return Ok(client.clone());
        }
        let mut config = Config::new(url);
        // Plain http only for an endpoint given explicitly (a local mock).
        config.allow_http =
            self.shared.endpoint.as_deref() == Some(url) && url.starts_with("http://");
        config.gzip = false;
        config.request_timeout = self.shared.timeout;
        config.auth = Auth::SigV4(SigV4::new(
            Service::S3,
            self.shared.region.clone(),
            self.shared.provider.clone(),
        ));
        let client = Client::new(config).map_err(|e| Error::config(e.to_string()))?;
        clients.insert(url.to_owned(), client.clone());
        Ok(client)
    }
}

/// `s3://bucket/key` → `(bucket, key)`; `None` for anything else.
pub fn parse_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, key))
}

/// Percent-encodes `text` as S3 signs it: every byte but `A-Z a-z 0-9 - _ . ~`, and `/` too
/// unless `keep_slash` (a key in a path keeps its slashes; a query value does not).
fn encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The texts of every `<tag>...</tag>` in `xml`, in order (S3's answers: no attributes on the
/// elements read here, no CDATA).
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

/// The text of the first `<tag>...</tag>` in `xml`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    elements(xml, tag).into_iter().next()
}

/// XML text with its five named entities and character references replaced.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let entity = after.find(';').map(|end| (&after[..end], end));
        let decoded = entity.and_then(|(name, _)| match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        });
        match (decoded, entity) {
            (Some(c), Some((_, end))) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Why an S3 call failed. Ask it questions ([`code`](Error::code), [`status`](Error::status),
/// [`is_retryable`](Error::is_retryable)) rather than reading its message. No credential appears
/// in `Display` or `Debug`.
pub struct Error {
    kind: Box<Kind>,
}

#[derive(Debug)]
enum Kind {
    /// The reader cannot work (an endpoint that is not a URL, an empty region...).
    Config(String),
    /// No answer: the connection failed or timed out, or the request could not be signed.
    Client {
        object: String,
        source: stream2search_client::Error,
    },
    /// S3 answered with an error.
    Status {
        object: String,
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// A 2xx answer that is not what S3 sends.
    Answer { object: String, reason: String },
}

impl Error {
    fn config(message: impl Into<String>) -> Error {
        Error {
            kind: Box::new(Kind::Config(message.into())),
        }
    }

    fn client(bucket: &str, name: &str, source: stream2search_client::Error) -> Error {
        Error {
            kind: Box::new(Kind::Client {
                object: format!("s3://{bucket}/{name}"),
                source,
            }),
        }
    }

    fn answered(bucket: &str, name: &str, status: u16, body: &[u8]) -> Error {
        let text = String::from_utf8_lossy(body);
        let code = element(&text, "Code").map(unescape);
        let message = element(&text, "Message")
            .map(unescape)
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        Error {
            kind: Box::new(Kind::Status {
                object: format!("s3://{bucket}/{name}"),
                status,
                code,
                message,
            }),
        }
    }

    fn answer(bucket: &str, name: &str, reason: &str) -> Error {
        Error {
            kind: Box::new(Kind::Answer {
                object: format!("s3://{bucket}/{name}"),
                reason: reason.to_owned(),
            }),
        }
    }

    /// The error code S3 answered with (`NoSuchKey`, `NoSuchBucket`, `AccessDenied`,
    /// `SlowDown`...), when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match &*self.kind {
            Kind::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status S3 answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match &*self.kind {
            Kind::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Might the same request succeed later: S3 busy (500, 503, `SlowDown`, `RequestTimeout`,
    /// `InternalError`), or a connection that failed or timed out?
    pub fn is_retryable(&self) -> bool {
        match &*self.kind {
            Kind::Config(_) | Kind::Answer { .. } => false,
            Kind::Client { source, .. } => source.is_retryable(),
            Kind::Status { status, code, .. } => {
                matches!(status, 500 | 503)
                    || matches!(
                        code.as_deref(),
                        Some("SlowDown" | "RequestTimeout" | "InternalError")
                    )
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            Kind::Config(message) => write!(f, "S3: {message}"),
            Kind::Client { object, source } => {
                let what = if source.is_timeout() {
                    "no answer in time"
                } else if source.is_configuration() {
                    "the request cannot be made (endpoint, TLS or credentials)"
                } else {
                    "the connection failed"
                };
                write!(f, "{object}: {what}")
            }
            Kind::Status {
                object,
                status,
                code,
                message,
            } => {
                write!(f, "{object}: HTTP {status}")?;
                if let Some(code) = code {
                    write!(f, " {code}")?;
                }
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            Kind::Answer { object, reason } => write!(f, "{object}: {reason}"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.kind {
            Kind::Client { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_once_with_their_slashes_and_query_values_without() {
        assert_eq!(
            encode("p/AWSDynamoDB/01-a/data/x y+z%.json.gz", true),
            "p/AWSDynamoDB/01-a/data/x%20y%2Bz%25.json.gz"
        );
        assert_eq!(encode("a/b=c", false), "a%2Fb%3Dc");
        assert_eq!(encode("é", true), "%C3%A9");
    }

    #[test]
    fn listing_xml_is_read_with_its_entities() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
            <Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>\
            <Contents><Key>p/a&amp;b&#x20;&lt;1&gt;.gz</Key><Size>12</Size></Contents>\
            <Contents><Key>p/c.gz</Key><Size>0</Size></Contents>\
            <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\
            </ListBucketResult>";
        let keys: Vec<String> = elements(xml, "Contents")
            .into_iter()
            .map(|c| unescape(element(c, "Key").unwrap()))
            .collect();
        assert_eq!(keys, ["p/a&b <1>.gz", "p/c.gz"]);
        assert_eq!(element(xml, "IsTruncated"), Some("true"));
        assert_eq!(
            element(xml, "NextContinuationToken"),
            Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        );
        assert_eq!(unescape("a &unknown; & b"), "a &unknown; & b");
    }

    #[test]
    fn an_s3_error_answer_names_object_and_code_and_says_whether_to_retry() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
            <Message>The specified key does not exist.</Message><Key>k</Key></Error>";
        let e = Error::answered("b", "p/k", 404, body);
        assert_eq!(e.code(), Some("NoSuchKey"));
        assert_eq!(e.status(), Some(404));
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "s3://b/p/k: HTTP 404 NoSuchKey: The specified key does not exist."
        );
        let slow = Error::answered("b", "k", 503, b"<Error><Code>SlowDown</Code></Error>");
        assert!(slow.is_retryable());
        let timeout = Error::answered("b", "k", 400, b"<Error><Code>RequestTimeout</Code></Error>");
        assert!(timeout.is_retryable());
    }

    #[test]
    fn s3_urls_split_into_bucket_and_key() {
        assert_eq!(
            parse_url("s3://b/p/AWSDynamoDB/1/"),
            Some(("b", "p/AWSDynamoDB/1/"))
        );
        assert_eq!(parse_url("s3://b"), Some(("b", "")));
        assert_eq!(parse_url("s3:///k"), None);
        assert_eq!(parse_url("/tmp/export"), None);
    }
}
