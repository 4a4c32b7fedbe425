//! The DynamoDB API calls a backfill makes: DescribeTable (the key schema) and Scan (one page of
//! one segment), JSON 1.0 (`X-Amz-Target: DynamoDB_20120810.<Op>`) signed with SigV4 for
//! service `dynamodb` by `stream2search-client`'s `call_aws_json`.

use std::fmt;
use std::time::Duration;

use aws_credential_types::Credentials;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use serde_json::value::RawValue;
use stream2search_client::Client;

/// A DynamoDB API client. Build once.
pub struct Dynamo {
    client: Client,
    timeout: Duration,
}

/// Why a call failed. The message never holds credentials.
#[derive(Debug)]
pub struct Error {
    /// The exception name AWS answered with, when it answered.
    kind: Option<String>,
    /// The HTTP status, when there was an answer.
    status: Option<u16>,
    message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    /// DynamoDB asks us to slow down: wait and call again, as often as it takes.
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

    /// No answer, or a server error: worth a few more tries.
    pub fn is_transient(&self) -> bool {
        self.status.is_none_or(|s| s >= 500)
    }
}

/// What DescribeTable tells of a table.
#[derive(Debug)]
pub struct Table {
    /// The key attribute names, partition key first.
    pub keys: Vec<String>,
    /// `ItemCount`: approximate, DynamoDB updates it about every six hours.
    pub item_count: Option<u64>,
}

/// One Scan page: the items exactly as sent, where the next page starts (`None`: the segment is
/// finished), and the read capacity it consumed.
#[derive(Debug, Deserialize)]
pub struct Page {
    /// The items, unparsed.
    #[serde(rename = "Items", default)]
    pub items: Vec<Box<RawValue>>,
    /// `LastEvaluatedKey`.
    #[serde(rename = "LastEvaluatedKey", default)]
    pub last: Option<Box<RawValue>>,
    /// `ConsumedCapacity` (asked for with `ReturnConsumedCapacity: TOTAL`).
    #[serde(rename = "ConsumedCapacity", default)]
    pub consumed: Option<Consumed>,
}

/// `ConsumedCapacity` of one request.
#[derive(Debug, Deserialize)]
pub struct Consumed {
    /// `CapacityUnits`: the read capacity units the page cost.
    #[serde(rename = "CapacityUnits", default)]
    pub units: f64,
}

/// One Scan request.
pub struct Scan<'a> {
    /// The table.
    pub table: &'a str,
    /// This segment...
    pub segment: u32,
    /// ...of this many.
    pub total: u32,
    /// `Limit`: most items per page (DynamoDB's own 1 MB cap applies anyway).
    pub limit: Option<u32>,
    /// `ConsistentRead`.
    pub consistent: bool,
    /// `ExclusiveStartKey`.
    pub start: Option<&'a RawValue>,
}

impl Dynamo {
    /// A client for `endpoint`, signing for `region` with `credentials`.
    pub fn new(
        endpoint: &str,
        region: String,
        credentials: Credentials,
        timeout: Duration,
    ) -> Result<Dynamo, String> {
        let client = crate::aws::client(endpoint, region, credentials)
            .map_err(|e| format!("dynamodb endpoint: {e}"))?;
        Ok(Dynamo { client, timeout })
    }

    /// The table's key attribute names, partition key first, and its approximate size
    /// (DescribeTable).
    pub async fn describe(&self, table: &str) -> Result<Table, Error> {
        #[derive(Deserialize)]
        struct Key {
            #[serde(rename = "AttributeName")]
            name: String,
            #[serde(rename = "KeyType")]
            kind: String,
        }
        #[derive(Deserialize)]
        struct Description {
            #[serde(rename = "KeySchema")]
            keys: Vec<Key>,
            #[serde(rename = "ItemCount", default)]
            item_count: Option<u64>,
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "Table")]
            table: Description,
        }
        let answer: Answer = self
            .call("DescribeTable", json!({ "TableName": table }).to_string())
            .await?;
        let mut keys = answer.table.keys;
        keys.sort_by_key(|k| k.kind != "HASH");
        Ok(Table {
            keys: keys.into_iter().map(|k| k.name).collect(),
            item_count: answer.table.item_count,
        })
    }

    /// One page (Scan), and the size of the answer in bytes.
    pub async fn scan(&self, scan: &Scan<'_>) -> Result<(Page, usize), Error> {
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
        let mut body = body.to_string();
        if let Some(start) = scan.start {
            // The key exactly as DynamoDB gave it.
            body.pop();
            body.push_str(",\"ExclusiveStartKey\":");
            body.push_str(start.get());
            body.push('}');
        }
        let (status, answer) = self.raw("Scan", body).await?;
        let page = parse("Scan", status, &answer)?;
        Ok((page, answer.len()))
    }

    async fn call<T: DeserializeOwned>(&self, operation: &str, body: String) -> Result<T, Error> {
        let (status, answer) = self.raw(operation, body).await?;
        parse(operation, status, &answer)
    }

    async fn raw(&self, operation: &str, body: String) -> Result<(u16, Vec<u8>), Error> {
        let (status, answer) = self
            .client
            .call_aws_json(
                &format!("DynamoDB_20120810.{operation}"),
                body.into_bytes(),
                self.timeout,
            )
            .await
            .map_err(|e| Error {
                kind: None,
                status: None,
                message: format!("{operation}: {e}"),
            })?;
        Ok((status, answer.to_vec()))
    }
}

/// A JSON 1.0 answer: the value, or the exception AWS named.
fn parse<T: DeserializeOwned>(operation: &str, status: u16, body: &[u8]) -> Result<T, Error> {
    Ok(crate::aws::answer(operation, status, body)?)
}

impl From<crate::aws::Fault> for Error {
    fn from(fault: crate::aws::Fault) -> Error {
        Error {
            kind: fault.kind,
            status: Some(fault.status),
            message: fault.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_exceptions_are_throttling_and_other_faults_are_not() {
        let throttled = parse::<Page>(
            "Scan",
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
        )
        .unwrap_err();
        assert!(throttled.is_throttling());
        assert!(!throttled.is_transient());
        let missing = parse::<Page>(
            "Scan",
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}"#,
        )
        .unwrap_err();
        assert!(!missing.is_throttling());
        assert_eq!(
            missing.to_string(),
            "Scan: HTTP 400 ResourceNotFoundException: no table"
        );
        let page = parse::<Page>(
            "Scan",
            200,
            br#"{"Items":[{"k":{"N":"1.50"}}],"LastEvaluatedKey":{"k":{"N":"1.50"}},"ConsumedCapacity":{"TableName":"T","CapacityUnits":0.5}}"#,
        )
        .unwrap();
        assert_eq!(page.items[0].get(), r#"{"k":{"N":"1.50"}}"#);
        assert_eq!(page.last.unwrap().get(), r#"{"k":{"N":"1.50"}}"#);
        assert_eq!(page.consumed.unwrap().units, 0.5);
    }
}
