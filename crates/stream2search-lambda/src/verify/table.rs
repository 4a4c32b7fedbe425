//! The table side: the key schema (DescribeTable), Scan pages of one segment, and GetItem with
//! a consistent read for the recheck, made by the backfill's DynamoDB reader ([`Dynamo`]).
//! Throttling is waited out with full jitter; other faults end the run after a few tries (verify
//! cannot say anything about items it did not read).

use std::future::Future;
use std::time::Duration;

use serde_json::json;
use serde_json::value::RawValue;
use stream2search::backoff::Backoff;
use stream2search_client::Client;
use stream2search_client::aws::Fault;

use crate::backfill::{Dynamo, Scan};

/// A DynamoDB client for one table.
pub struct Table {
    dynamo: Dynamo,
    name: String,
}

/// The key schema: names, hash key first, and each one's type (`S`, `N` or `B`).
#[derive(Debug, Clone)]
pub struct Keys {
    pub names: Vec<String>,
    pub types: Vec<String>,
}

/// One Scan page: the items as read, and where the next one starts.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Box<RawValue>>,
    /// `LastEvaluatedKey`: `None` when the segment is finished.
    pub last: Option<serde_json::Value>,
}

/// Most tries of a call that answers with a server fault or not at all; throttling has no limit.
const TRANSIENT_TRIES: u32 = 8;

impl Table {
    /// `client` signs for service `dynamodb`; each call ends within `timeout`.
    pub fn new(client: Client, name: String, timeout: Duration) -> Table {
        Table {
            dynamo: Dynamo::with_client(client, timeout),
            name,
        }
    }

    /// The key schema (DescribeTable).
    pub async fn keys(&self) -> Result<Keys, String> {
        let described = patiently(|| self.dynamo.describe(&self.name)).await?;
        Ok(Keys {
            names: described.table.keys,
            types: described.key_types,
        })
    }

    /// One page of `segment` of `total`, from `start` (a `LastEvaluatedKey` as read).
    pub async fn scan(
        &self,
        segment: u32,
        total: u32,
        limit: Option<u32>,
        consistent: bool,
        start: Option<&serde_json::Value>,
    ) -> Result<Page, String> {
        let scan = Scan {
            table: &self.name,
            segment,
            total,
            limit,
            consistent,
            start,
        };
        let (page, _) = patiently(|| self.dynamo.scan(&scan, None)).await?;
        Ok(Page {
            items: page.items,
            last: page.last,
        })
    }

    /// The item of `key` (`{"productId":{"S":"p-1"}}`), read consistently: its JSON text as
    /// DynamoDB answered, or `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Box<RawValue>>, String> {
        patiently(|| self.dynamo.get(&self.name, key)).await
    }
}

/// `call`, made again while DynamoDB throttles it, and a few times on server faults or no
/// answer; any other fault is the answer's message.
async fn patiently<T, F, A>(mut call: F) -> Result<T, String>
where
    F: FnMut() -> A,
    A: Future<Output = Result<T, Fault>>,
{
    let backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let mut attempt = 0u32;
    let mut faults = 0u32;
    loop {
        let fault = match call().await {
            Ok(answer) => return Ok(answer),
            Err(fault) => fault,
        };
        if !fault.is_throttling() {
            if !fault.is_transient() || faults >= TRANSIENT_TRIES {
                return Err(fault.message);
            }
            faults += 1;
        }
        tokio::time::sleep(backoff.delay(attempt, fastrand::f64())).await;
        attempt = attempt.saturating_add(1);
    }
}

impl Keys {
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
    }
}
