//! The DynamoDB API calls backfill and verify make: DescribeTable (the key schema, the item
//! count and size), Scan (one page of one segment) and, for verify's recheck, GetItem, JSON 1.0
//! (`X-Amz-Target: DynamoDB_20120810.<Op>`) signed with SigV4 for service `dynamodb` by
//! `stream2search-client`'s `call_aws_json`. Each call is made once; the caller decides what
//! to do with a [`Fault`] (`is_throttling`, `is_transient`).

use std::fmt;
use std::time::Duration;

use aws_credential_types::Credentials;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use stream2search_client::aws::{Fault, answer};
use stream2search_client::{Client, Service, SigV4};

/// A DynamoDB API client: DescribeTable and Scan. Build once; clones share the connection pool.
#[derive(Clone)]
pub struct Dynamo {
    client: Client,
    timeout: Duration,
}

impl fmt::Debug for Dynamo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dynamo")
            .field("client", &self.client)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What DescribeTable says of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Table {
    /// The key attribute names, partition key first.
    pub keys: Vec<String>,
    /// `ItemCount` (DynamoDB updates it about every six hours).
    pub item_count: u64,
    /// `TableSizeBytes` (updated as rarely).
    pub size_bytes: u64,
}

/// What DescribeTable says of a table, with the key attributes' types.
#[derive(Debug, Clone)]
pub(crate) struct Described {
    pub(crate) table: Table,
    /// For each of `table.keys`: its `AttributeType` (`S`, `N` or `B`; `S` when the answer
    /// does not say).
    pub(crate) key_types: Vec<String>,
}

/// One Scan page: the items exactly as sent, where the next page starts (`None`: the segment is
/// finished), and the read capacity it consumed.
#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    /// The items, unparsed.
    #[serde(rename = "Items", default)]
    pub(crate) items: Vec<Box<RawValue>>,
    /// `LastEvaluatedKey`.
    #[serde(rename = "LastEvaluatedKey", default)]
    pub(crate) last: Option<serde_json::Value>,
    /// `ConsumedCapacity` (asked for with `ReturnConsumedCapacity: TOTAL`).
    #[serde(rename = "ConsumedCapacity", default)]
    pub(crate) consumed: Option<Consumed>,
}

/// `ConsumedCapacity` of one call.
#[derive(Debug, Deserialize)]
pub(crate) struct Consumed {
    /// Read capacity units.
    #[serde(rename = "CapacityUnits", default)]
    pub(crate) units: f64,
}

/// One Scan request.
pub(crate) struct Scan<'a> {
    pub(crate) table: &'a str,
    pub(crate) segment: u32,
    pub(crate) total: u32,
    /// `Limit`: most items per page (DynamoDB's own 1 MB cap applies anyway).
    pub(crate) limit: Option<u32>,
    pub(crate) consistent: bool,
    /// `ExclusiveStartKey`, DynamoDB JSON.
    pub(crate) start: Option<&'a serde_json::Value>,
}

impl Dynamo {
    /// A client for `endpoint` (`https://dynamodb.<region>.amazonaws.com`, or a local mock over
    /// plain `http://`), signing for `region` with `credentials`; each call ends within
    /// `timeout`.
    pub fn new(
        endpoint: &str,
        region: impl Into<String>,
        credentials: Credentials,
        timeout: Duration,
    ) -> Result<Dynamo, stream2search_client::Error> {
        let sigv4 = SigV4::new(Service::DynamoDb, region.into(), credentials);
        Ok(Dynamo::with_client(
            stream2search_client::aws::client(endpoint, sigv4)?,
            timeout,
        ))
    }

    /// A client calling through `client` (one signing for service `dynamodb`:
    /// `stream2search_client::aws::client`); each call ends within `timeout`.
    pub(crate) fn with_client(client: Client, timeout: Duration) -> Dynamo {
        Dynamo { client, timeout }
    }

    /// DescribeTable: the key attribute names (partition key first) and their types, the item
    /// count and size.
    pub(crate) async fn describe(&self, table: &str) -> Result<Described, Fault> {
        #[derive(Deserialize)]
        struct Key {
            #[serde(rename = "AttributeName")]
            name: String,
            #[serde(rename = "KeyType")]
            kind: String,
        }
        #[derive(Deserialize)]
        struct Definition {
            #[serde(rename = "AttributeName")]
            name: String,
            #[serde(rename = "AttributeType")]
            kind: String,
        }
        #[derive(Deserialize)]
        struct Description {
            #[serde(rename = "KeySchema")]
            keys: Vec<Key>,
            #[serde(rename = "AttributeDefinitions", default)]
            definitions: Vec<Definition>,
            #[serde(rename = "ItemCount", default)]
            item_count: u64,
            #[serde(rename = "TableSizeBytes", default)]
            size_bytes: u64,
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "Table")]
            table: Description,
        }
        let (status, body) = self
            .raw(
                "DescribeTable",
                json!({ "TableName": table }).to_string(),
                self.timeout,
            )
            .await?;
        let answer: Answer = answer("DescribeTable", status, &body)?;
        let mut keys = answer.table.keys;
        keys.sort_by_key(|k| k.kind != "HASH");
        let key_types = keys
            .iter()
            .map(|k| {
                answer
                    .table
                    .definitions
                    .iter()
                    .find(|d| d.name == k.name)
                    .map_or_else(|| "S".to_string(), |d| d.kind.clone())
            })
            .collect();
        Ok(Described {
            table: Table {
                keys: keys.into_iter().map(|k| k.name).collect(),
                item_count: answer.table.item_count,
                size_bytes: answer.table.size_bytes,
            },
            key_types,
        })
    }

    /// One page (Scan), and the size of the answer in bytes; the call ends within the client's
    /// timeout, or by `end` when that comes first.
    pub(crate) async fn scan(
        &self,
        scan: &Scan<'_>,
        end: Option<std::time::Instant>,
    ) -> Result<(Page, usize), Fault> {
        let mut body = json!({
            "TableName": scan.table,
            "Segment": scan.segment,
            "TotalSegments": scan.total,
            "ConsistentRead": scan.consistent,
            "ReturnConsumedCapacity": "TOTAL",
        });
        if let Some(limit) = scan.limit {
            body["Limit"] = json!(limit);
        }
        if let Some(start) = scan.start {
            body["ExclusiveStartKey"] = start.clone();
        }
        let limit = end.map_or(self.timeout, |end| {
            self.timeout
                .min(end.saturating_duration_since(std::time::Instant::now()))
        });
        let (status, answer_body) = self.raw("Scan", body.to_string(), limit).await?;
        let page = answer("Scan", status, &answer_body)?;
        Ok((page, answer_body.len()))
    }

    /// GetItem with a consistent read: the item of `key` (`{"productId":{"S":"p-1"}}`, spliced
    /// in as given) as DynamoDB answered it, or `None` when there is none.
    pub(crate) async fn get(&self, table: &str, key: &str) -> Result<Option<Box<RawValue>>, Fault> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "Item", default)]
            item: Option<Box<RawValue>>,
        }
        let body = format!(
            "{{\"TableName\":{},\"ConsistentRead\":true,\"Key\":{key}}}",
            serde_json::Value::from(table)
        );
        let (status, answer_body) = self.raw("GetItem", body, self.timeout).await?;
        let answer: Answer = answer("GetItem", status, &answer_body)?;
        Ok(answer.item)
    }

    async fn raw(
        &self,
        operation: &str,
        body: String,
        limit: Duration,
    ) -> Result<(u16, Vec<u8>), Fault> {
        let (status, answer) = self
            .client
            .call_aws_json(
                &format!("DynamoDB_20120810.{operation}"),
                body.into_bytes(),
                limit,
            )
            .await
            .map_err(|e| Fault::unanswered(operation, &e))?;
        Ok((status, answer.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_keeps_its_items_as_sent_and_its_consumed_capacity() {
        let page = answer::<Page>(
            "Scan",
            200,
            br#"{"Items":[{"k":{"N":"1.50"}}],"LastEvaluatedKey":{"k":{"N":"1.50"}},"ConsumedCapacity":{"TableName":"T","CapacityUnits":2.5}}"#,
        )
        .unwrap();
        assert_eq!(page.items[0].get(), r#"{"k":{"N":"1.50"}}"#);
        assert_eq!(page.last.unwrap(), json!({"k": {"N": "1.50"}}));
        assert_eq!(page.consumed.unwrap().units, 2.5);
        let last_page = answer::<Page>("Scan", 200, br#"{"Items":[],"Count":0}"#).unwrap();
        assert!(last_page.last.is_none() && last_page.consumed.is_none());
    }
}
