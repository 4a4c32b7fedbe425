//! The Kinesis Data Streams API: JSON 1.1 calls (`X-Amz-Target: Kinesis_20131202.<Op>`),
//! signed with SigV4 for service `kinesis` by `stream2search-client`'s `call_aws_json`.

use std::fmt;
use std::time::Duration;

use aws_credential_types::Credentials;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use stream2search_client::{Client, Service, SigV4};

use super::source::{self, Error, Page, Shard, Start};

/// A Kinesis Data Streams API client. Build once.
pub struct Kinesis {
    client: Client,
    endpoint: String,
    region: String,
    timeout: Duration,
}

impl fmt::Debug for Kinesis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kinesis")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Kinesis {
    /// A client for `endpoint` (`https://kinesis.<region>.amazonaws.com`, or a local mock over
    /// plain `http://`), signing for `region` with `credentials`.
    pub fn new(
        endpoint: &str,
        region: String,
        credentials: Credentials,
        timeout: Duration,
    ) -> Result<Kinesis, Error> {
        let sigv4 = SigV4::new(Service::Kinesis, region.clone(), credentials);
        let client = stream2search_client::aws::client(endpoint, sigv4)
            .map_err(|e| Error::new(format!("kinesis endpoint: {e}")))?;
        Ok(Kinesis {
            client,
            endpoint: endpoint.to_string(),
            region,
            timeout,
        })
    }

    /// The ARN of the stream named `stream` (a name, or an ARN; DescribeStreamSummary).
    pub async fn arn(&self, stream: &str) -> Result<String, Error> {
        #[derive(Deserialize)]
        struct Summary {
            #[serde(rename = "StreamARN")]
            arn: String,
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "StreamDescriptionSummary")]
            summary: Summary,
        }
        let answer: Answer = self
            .call(
                "DescribeStreamSummary",
                json!({ "StreamName": name(stream) }),
            )
            .await?;
        Ok(answer.summary.arn)
    }

    /// Every shard of `stream` (ListShards, all pages), open and closed.
    pub async fn shards(&self, stream: &str) -> Result<Vec<Shard>, Error> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "Shards", default)]
            shards: Vec<Shard>,
            #[serde(rename = "NextToken", default)]
            next: Option<String>,
        }
        let mut shards = Vec::new();
        // A page after the first names only its token.
        let mut body = json!({ "StreamName": name(stream) });
        loop {
            let answer: Answer = self.call("ListShards", body).await?;
            shards.extend(answer.shards);
            match answer.next {
                Some(token) => body = json!({ "NextToken": token }),
                None => return Ok(shards),
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
        let mut body =
            json!({ "StreamName": name(stream), "ShardId": shard, "ShardIteratorType": kind });
        if let Some(seq) = seq {
            body["StartingSequenceNumber"] = json!(seq);
        }
        let answer: Answer = self.call("GetShardIterator", body).await?;
        answer
            .iterator
            .ok_or_else(|| Error::new(format!("no iterator for shard {shard}")))
    }

    /// Up to `limit` records (GetRecords, at most 10,000).
    pub async fn records(&self, iterator: &str, limit: usize) -> Result<Page, Error> {
        let limit = limit.clamp(1, 10_000);
        self.call(
            "GetRecords",
            json!({ "ShardIterator": iterator, "Limit": limit }),
        )
        .await
    }

    /// One signed JSON 1.1 call.
    async fn call<T: DeserializeOwned>(
        &self,
        operation: &str,
        body: serde_json::Value,
    ) -> Result<T, Error> {
        source::call(
            &self.client,
            "Kinesis_20131202",
            operation,
            body,
            self.timeout,
        )
        .await
    }
}

/// The stream's name: `stream` itself, or the part of its ARN after `stream/`
/// (`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`).
fn name(stream: &str) -> &str {
    if stream.starts_with("arn:") {
        stream
            .split_once(":stream/")
            .map_or(stream, |(_, name)| name)
    } else {
        stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_named_by_its_name_or_its_arn() {
        assert_eq!(name("orders"), "orders");
        assert_eq!(
            name("arn:aws:kinesis:eu-west-1:123456789012:stream/orders-changes"),
            "orders-changes"
        );
    }

    #[test]
    fn merged_shards_name_both_parents() {
        // ListShards, as Kinesis's API reference shows a merge's child.
        let shard: Shard = serde_json::from_str(
            r#"{"ShardId":"shardId-000000000002","ParentShardId":"shardId-000000000000","AdjacentParentShardId":"shardId-000000000001","HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"340282366920938463463374607431768211455"},"SequenceNumberRange":{"StartingSequenceNumber":"49579844037727333356165064238440708846556371693205002274"}}"#,
        )
        .unwrap();
        assert_eq!(shard.parent.as_deref(), Some("shardId-000000000000"));
        assert_eq!(
            shard.adjacent_parent.as_deref(),
            Some("shardId-000000000001")
        );
    }
}
