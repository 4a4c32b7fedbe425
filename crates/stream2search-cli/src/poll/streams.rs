//! The DynamoDB Streams API: JSON 1.0 calls (`X-Amz-Target: DynamoDBStreams_20120810.<Op>`),
//! signed with SigV4 for service `dynamodb` by `stream2search-client`'s `call_aws_json`.

use std::fmt;
use std::time::Duration;

use aws_credential_types::Credentials;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use stream2search_client::Client;

use super::source::{self, Error, Page, Shard, Start};

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
        let (kind, seq) = start.request();
        let mut body = json!({ "StreamArn": stream, "ShardId": shard, "ShardIteratorType": kind });
        if let Some(seq) = seq {
            body["SequenceNumber"] = json!(seq);
        }
        let answer: Answer = self.call("GetShardIterator", body).await?;
        answer
            .iterator
            .ok_or_else(|| Error::new(format!("no iterator for shard {shard}")))
    }

    /// Up to `limit` records (GetRecords, at most 1,000).
    pub async fn records(&self, iterator: &str, limit: usize) -> Result<Page, Error> {
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
        source::call(
            &self.client,
            "DynamoDBStreams_20120810",
            operation,
            body,
            self.timeout,
        )
        .await
    }
}
