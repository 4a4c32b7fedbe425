//! Where records come from: a DynamoDB stream (`streams`) or a Kinesis data stream
//! (`kinesis`), behind the calls the poll loop makes (list the shards, get an iterator, read a
//! page) and the one conversion it needs (a read record → a record of the Lambda event).

use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::batch::Record;
use super::kinesis::Kinesis;
use super::streams::Streams;

/// The stream API a poll reads.
pub enum Source {
    /// DynamoDB Streams: records as Lambda's DynamoDB event carries them.
    Streams(Streams),
    /// Kinesis Data Streams: records as Lambda's Kinesis event carries them.
    Kinesis(Kinesis),
}

impl Source {
    /// Every shard of `stream` (an ARN).
    pub async fn shards(&self, stream: &str) -> Result<Vec<Shard>, Error> {
        match self {
            Source::Streams(s) => s.shards(stream).await,
            Source::Kinesis(k) => k.shards(stream).await,
        }
    }

    /// An iterator over `shard` of `stream` from `start`.
    pub async fn iterator(
        &self,
        stream: &str,
        shard: &str,
        start: &Start,
    ) -> Result<String, Error> {
        match self {
            Source::Streams(s) => s.iterator(stream, shard, start).await,
            Source::Kinesis(k) => k.iterator(stream, shard, start).await,
        }
    }

    /// Up to `limit` records from `iterator`.
    pub async fn records(&self, iterator: &str, limit: usize) -> Result<Page, Error> {
        match self {
            Source::Streams(s) => s.records(iterator, limit).await,
            Source::Kinesis(k) => k.records(iterator, limit).await,
        }
    }

    /// `raw`, one record read from `shard` of `stream`, as the Lambda event holds it.
    pub fn record(
        &self,
        raw: &RawValue,
        shard: &str,
        stream: &str,
        region: &str,
    ) -> Result<Record, String> {
        match self {
            Source::Streams(_) => Record::from_stream(raw, stream, region),
            Source::Kinesis(_) => Record::from_kinesis(raw, shard, stream, region),
        }
    }
}

/// One shard, as DescribeStream (DynamoDB Streams) or ListShards (Kinesis) lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Shard {
    /// `ShardId`.
    #[serde(rename = "ShardId")]
    pub id: String,
    /// `ParentShardId`, when the shard was split from another (or merged from two).
    #[serde(rename = "ParentShardId", default)]
    pub parent: Option<String>,
    /// `AdjacentParentShardId`: the other parent of a Kinesis shard merged from two.
    #[serde(rename = "AdjacentParentShardId", default)]
    pub adjacent_parent: Option<String>,
}

/// Where an iterator starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The oldest record still in the shard.
    TrimHorizon,
    /// At this sequence number.
    At(String),
    /// Just after this sequence number.
    After(String),
}

impl Start {
    /// GetShardIterator's `ShardIteratorType` and starting sequence number.
    pub fn request(&self) -> (&'static str, Option<&str>) {
        match self {
            Start::TrimHorizon => ("TRIM_HORIZON", None),
            Start::At(seq) => ("AT_SEQUENCE_NUMBER", Some(seq)),
            Start::After(seq) => ("AFTER_SEQUENCE_NUMBER", Some(seq)),
        }
    }
}

/// One GetRecords answer: the records exactly as sent, the next iterator (`None`: the shard is
/// closed and fully read), and how far behind the newest record the page ends (Kinesis only).
#[derive(Debug, Deserialize)]
pub struct Page {
    /// The records, unparsed.
    #[serde(rename = "Records", default)]
    pub records: Vec<Box<RawValue>>,
    /// The next iterator.
    #[serde(rename = "NextShardIterator", default)]
    pub next: Option<String>,
    /// Kinesis's `MillisBehindLatest`: more than 0 when the shard holds newer records than this
    /// page reached, even when the page is empty.
    #[serde(rename = "MillisBehindLatest", default)]
    pub behind: Option<u64>,
}

impl Page {
    /// Whether the page reached the newest record of its shard (always, as far as DynamoDB
    /// Streams tells).
    pub fn caught_up(&self) -> bool {
        self.behind.is_none_or(|ms| ms == 0)
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
    pub fn new(message: impl Into<String>) -> Error {
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

    /// AWS asks the caller to slow down (a shard's read limit, or the API's rate limit): wait
    /// and call again; not a failure of the batch.
    pub fn is_throttled(&self) -> bool {
        matches!(
            self.kind.as_deref(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "LimitExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
            )
        )
    }
}

/// One signed AWS JSON call, `X-Amz-Target: {target}.{operation}` (the client's service sets
/// the JSON version): the value, or the exception AWS named.
pub async fn call<T: serde::de::DeserializeOwned>(
    client: &stream2search_client::Client,
    target: &str,
    operation: &str,
    body: serde_json::Value,
    timeout: std::time::Duration,
) -> Result<T, Error> {
    let (status, body) = client
        .call_aws_json(
            &format!("{target}.{operation}"),
            body.to_string().into_bytes(),
            timeout,
        )
        .await
        .map_err(|e| Error::new(format!("{operation}: {e}")))?;
    answer(operation, status, &body)
}

/// An AWS JSON answer to `operation`: the value, or the exception AWS named.
fn answer<T: serde::de::DeserializeOwned>(
    operation: &str,
    status: u16,
    body: &[u8],
) -> Result<T, Error> {
    crate::aws::answer(operation, status, body).map_err(|fault| Error {
        kind: fault.kind,
        message: fault.message,
    })
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
        assert!(!err.is_throttled());
        assert!(
            err.to_string()
                .contains("HTTP 400 ExpiredIteratorException: Iterator expired")
        );
    }

    #[test]
    fn a_shard_over_its_read_limit_is_throttling() {
        // Kinesis's answer as its API reference gives it (JSON 1.1: the bare name).
        let err = answer::<serde_json::Value>(
            "GetRecords",
            400,
            br#"{"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded for shard shardId-000000000001"}"#,
        )
        .unwrap_err();
        assert!(err.is_throttled());
        assert!(!err.is_iterator_gone());
        let err = answer::<serde_json::Value>(
            "ListShards",
            400,
            br#"{"__type":"LimitExceededException","message":"Rate exceeded"}"#,
        )
        .unwrap_err();
        assert!(err.is_throttled());
    }

    #[test]
    fn an_empty_kinesis_page_behind_the_tip_is_not_caught_up() {
        let page: Page = serde_json::from_str(
            r#"{"Records":[],"NextShardIterator":"it","MillisBehindLatest":1200}"#,
        )
        .unwrap();
        assert!(!page.caught_up());
        let page: Page = serde_json::from_str(
            r#"{"Records":[],"NextShardIterator":"it","MillisBehindLatest":0}"#,
        )
        .unwrap();
        assert!(page.caught_up());
        // DynamoDB Streams says nothing about it.
        let page: Page = serde_json::from_str(r#"{"Records":[]}"#).unwrap();
        assert!(page.caught_up() && page.next.is_none());
    }
}
