//! The DynamoDB Streams API: JSON 1.0 calls (`X-Amz-Target: DynamoDBStreams_20120810.<Op>`),
//! signed with SigV4 for service `dynamodb` by `stream2search-client`'s `call_aws_json`.

use std::fmt;
use std::time::Duration;

use aws_credential_types::Credentials;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use serde_json::value::RawValue;
use stream2search_client::Client;

/// A DynamoDB Streams API client. Build once.
pub struct Streams {
    client: Client,
    endpoint: String,
    region: String,
    timeout: Duration,
}

impl fmt::Debug for Streams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streams")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
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
    /// mock over plain `http://`), signing for `region` with `credentials`.
    pub fn new(
        endpoint: &str,
        region: String,
        credentials: Credentials,
        timeout: Duration,
    ) -> Result<Streams, Error> {
        let client = crate::aws::client(endpoint, region.clone(), credentials)
            .map_err(|e| Error::new(format!("streams endpoint: {e}")))?;
        Ok(Streams {
            client,
            endpoint: endpoint.to_string(),
            region,
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
        let (status, body) = self
            .client
            .call_aws_json(
                &format!("DynamoDBStreams_20120810.{operation}"),
                body.to_string().into_bytes(),
                self.timeout,
            )
            .await
            .map_err(|e| Error::new(format!("{operation}: {e}")))?;
        answer(operation, status, &body)
    }
}

/// A JSON 1.0 answer: the value, or the exception AWS named.
fn answer<T: DeserializeOwned>(operation: &str, status: u16, body: &[u8]) -> Result<T, Error> {
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
        assert!(
            err.to_string()
                .contains("HTTP 400 ExpiredIteratorException: Iterator expired")
        );
    }
}
