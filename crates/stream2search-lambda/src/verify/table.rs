//! The table side: DescribeTable (key names and types), Scan pages of one segment, and GetItem
//! with a consistent read for the recheck, JSON 1.0 signed with SigV4 for service `dynamodb`.
//! Throttling is waited out with full jitter; other faults end the run (verify cannot say
//! anything about items it did not read).

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use serde_json::value::RawValue;
use stream2search::backoff::Backoff;
use stream2search_client::Client;

/// A DynamoDB client for one table.
pub struct Table {
    client: Client,
    name: String,
    timeout: Duration,
}

/// The key schema: names, hash key first, and each one's type (`S`, `N` or `B`).
#[derive(Debug, Clone)]
pub struct Keys {
    pub names: Vec<String>,
    pub types: Vec<String>,
}

/// One Scan page: the items as read, where the next one starts, and the answer's size.
#[derive(Debug, Deserialize)]
pub struct Page {
    #[serde(rename = "Items", default)]
    pub items: Vec<Box<RawValue>>,
    #[serde(rename = "LastEvaluatedKey", default)]
    pub last: Option<Box<RawValue>>,
    #[serde(skip)]
    pub bytes: usize,
}

/// Most tries of a call that answers with a server fault or not at all; throttling has no limit.
const TRANSIENT_TRIES: u32 = 8;

impl Table {
    pub fn new(client: Client, name: String, timeout: Duration) -> Table {
        Table {
            client,
            name,
            timeout,
        }
    }

    /// The key schema (DescribeTable).
    pub async fn keys(&self) -> Result<Keys, String> {
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
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "Table")]
            table: Description,
        }
        let answer: Answer = self
            .call(
                "DescribeTable",
                json!({ "TableName": self.name }).to_string(),
            )
            .await?;
        let mut keys = answer.table.keys;
        keys.sort_by_key(|k| k.kind != "HASH");
        let types = keys
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
        Ok(Keys {
            names: keys.into_iter().map(|k| k.name).collect(),
            types,
        })
    }

    /// One page of `segment` of `total`, from `start` (a `LastEvaluatedKey` as read).
    pub async fn scan(
        &self,
        segment: u32,
        total: u32,
        limit: Option<u32>,
        consistent: bool,
        start: Option<&RawValue>,
    ) -> Result<Page, String> {
        let mut body = json!({
            "TableName": self.name,
            "Segment": segment,
            "TotalSegments": total,
            "ConsistentRead": consistent,
        });
        if let Some(limit) = limit {
            body["Limit"] = json!(limit);
        }
        let mut body = body.to_string();
        if let Some(start) = start {
            body.pop();
            body.push_str(",\"ExclusiveStartKey\":");
            body.push_str(start.get());
            body.push('}');
        }
        let (status, answer) = self.raw("Scan", body).await?;
        let mut page: Page =
            stream2search_client::aws::answer("Scan", status, &answer).map_err(|f| f.message)?;
        page.bytes = answer.len();
        Ok(page)
    }

    /// The item of `key` (`{"productId":{"S":"p-1"}}`), read consistently: its JSON text as
    /// DynamoDB answered, or `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Box<RawValue>>, String> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "Item", default)]
            item: Option<Box<RawValue>>,
        }
        let body = format!(
            "{{\"TableName\":{},\"ConsistentRead\":true,\"Key\":{key}}}",
            serde_json::Value::from(self.name.as_str())
        );
        let answer: Answer = self.call("GetItem", body).await?;
        Ok(answer.item)
    }

    async fn call<T: DeserializeOwned>(&self, operation: &str, body: String) -> Result<T, String> {
        let (status, answer) = self.raw(operation, body).await?;
        stream2search_client::aws::answer(operation, status, &answer).map_err(|f| f.message)
    }

    /// The call, tried again while DynamoDB throttles it, and a few times on server faults.
    async fn raw(&self, operation: &str, body: String) -> Result<(u16, Vec<u8>), String> {
        let backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        let mut attempt = 0u32;
        let mut faults = 0u32;
        loop {
            let answer = self
                .client
                .call_aws_json(
                    &format!("DynamoDB_20120810.{operation}"),
                    body.clone().into_bytes(),
                    self.timeout,
                )
                .await;
            match answer {
                Ok((status, bytes)) if status < 400 => return Ok((status, bytes.to_vec())),
                Ok((status, bytes)) => {
                    let fault = stream2search_client::aws::answer::<serde_json::Value>(
                        operation, status, &bytes,
                    )
                    .err()
                    .map(|f| (f.kind, f.message));
                    let (kind, message) =
                        fault.unwrap_or((None, format!("{operation}: HTTP {status}")));
                    let throttled = matches!(
                        kind.as_deref(),
                        Some(
                            "ProvisionedThroughputExceededException"
                                | "ThrottlingException"
                                | "RequestLimitExceeded"
                        )
                    );
                    if !throttled {
                        if status < 500 || faults >= TRANSIENT_TRIES {
                            return Err(message);
                        }
                        faults += 1;
                    }
                }
                Err(e) => {
                    if faults >= TRANSIENT_TRIES {
                        return Err(format!("{operation}: {e}"));
                    }
                    faults += 1;
                }
            }
            tokio::time::sleep(backoff.delay(attempt, fastrand::f64())).await;
            attempt = attempt.saturating_add(1);
        }
    }
}

impl Keys {
    /// `{"NAME":VALUE,...}` of the key attributes of `item` (its JSON text), values as read; or
    /// why there is none.
    pub fn of(&self, item: &str) -> Result<String, String> {
        let attrs: std::collections::HashMap<String, &RawValue> = serde_json::from_str(item)
            .map_err(|e| format!("the item is not a JSON object: {e}"))?;
        let mut key = String::from("{");
        for (i, name) in self.names.iter().enumerate() {
            let value = attrs
                .get(name)
                .ok_or_else(|| format!("the item has no key attribute {name:?}"))?;
            if i > 0 {
                key.push(',');
            }
            key.push_str(&serde_json::Value::from(name.as_str()).to_string());
            key.push(':');
            key.push_str(value.get());
        }
        key.push('}');
        Ok(key)
    }

    /// The key a document id was made of, when it can be told: the id's parts (joined by `|`,
    /// `\` escaping `\` and `|`) in the order the planner joins them (`order`, the id keys, else
    /// the key names sorted), typed by the key schema. `None` for an id of another shape, or a
    /// hashed long id.
    pub fn of_id(&self, id: &str, order: Option<&[String]>) -> Option<String> {
        let mut sorted;
        let order: &[String] = match order {
            Some(o) => o,
            None => {
                sorted = self.names.clone();
                sorted.sort();
                &sorted
            }
        };
        if order.len() != self.names.len() || id.contains("\\#") {
            return None;
        }
        let mut parts = vec![String::new()];
        let mut chars = id.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => parts.last_mut()?.push(chars.next()?),
                '|' => parts.push(String::new()),
                c => parts.last_mut()?.push(c),
            }
        }
        if parts.len() != order.len() {
            return None;
        }
        let mut key = serde_json::Map::new();
        for (name, part) in order.iter().zip(parts) {
            let at = self.names.iter().position(|n| n == name)?;
            let kind = self.types[at].clone();
            key.insert(name.clone(), json!({ kind: part }));
        }
        Some(serde_json::Value::Object(key).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_turns_back_into_its_key_when_it_can() {
        let keys = Keys {
            names: vec!["pk".into(), "sk".into()],
            types: vec!["S".into(), "N".into()],
        };
        assert_eq!(
            keys.of_id(r"a\|b|1.50", None).as_deref(),
            Some(r#"{"pk":{"S":"a|b"},"sk":{"N":"1.50"}}"#)
        );
        let order = ["sk".to_string(), "pk".to_string()];
        assert_eq!(
            keys.of_id(r"7|x\\y", Some(&order)).as_deref(),
            Some(r#"{"pk":{"S":"x\\y"},"sk":{"N":"7"}}"#)
        );
        assert_eq!(keys.of_id("no-bar", None), None);
        assert_eq!(keys.of_id(r"abc\#0123", None), None);
        assert_eq!(
            keys.of(r#"{"sk":{"N":"1.50"},"x":{"S":"y"},"pk":{"S":"p"}}"#)
                .as_deref(),
            Ok(r#"{"pk":{"S":"p"},"sk":{"N":"1.50"}}"#)
        );
    }
}
