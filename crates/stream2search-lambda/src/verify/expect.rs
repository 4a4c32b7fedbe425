//! Table items → the documents the Lambda would have written for them: the page becomes the
//! event a backfill makes of it (each item the `INSERT` record its put would have put on the
//! stream: `Keys` by the key schema, `NewImage` the item's text exactly as read), and the same
//! planner, with the same options, plans it.

use stream2search::{Action, Planner, RecordStatus};

use crate::backfill::Event;

use super::index::Place;
use super::table::Keys;
use super::value::Value;

/// What one table item should be in the index.
#[derive(Debug)]
pub enum Expected {
    /// This document at this place.
    Document {
        /// The item's key (`{"productId":{"S":"p-1"}}`).
        key: String,
        /// Which of the items given it is.
        item: usize,
        place: Place,
        /// The planned document's text (without the indexed-at stamp unless asked for one).
        document: Vec<u8>,
    },
    /// The item cannot be converted: the Lambda would dead-letter its record.
    Unconvertible {
        /// Its key, when it has one.
        key: Option<String>,
        reason: String,
    },
}

/// The documents `items` (their JSON texts, in order) make, at version `seconds` × 10^6, stamped
/// with `indexed_at` when given. One entry per item, or per document when items share one (the
/// later item's, as the planner decides); unconvertible items are entries too.
pub fn documents(
    planner: &Planner,
    keys: &Keys,
    items: &[&str],
    seconds: u64,
    indexed_at: Option<&str>,
) -> Vec<Expected> {
    let mut out = Vec::with_capacity(items.len());
    let event = Event::of(items, &keys.names, seconds);
    // For record `n` of the event, its item's key.
    let mut record_keys: Vec<String> = Vec::with_capacity(event.items.len());
    for key in event.keys {
        match key {
            Ok(key) => record_keys.push(key),
            Err(reason) => out.push(Expected::Unconvertible { key: None, reason }),
        }
    }
    // For record `n` of the event, its item's position in `items`.
    let record_items = event.items;
    if record_keys.is_empty() {
        return out;
    }
    let plan = match planner.plan(&event.bytes, indexed_at) {
        Ok(plan) => plan,
        Err(e) => {
            // Each item is a JSON object with its keys, so the event is well formed; should the
            // planner still refuse it whole, every item of it is unconvertible.
            for key in record_keys {
                out.push(Expected::Unconvertible {
                    key: Some(key),
                    reason: format!("the page's event: {e}"),
                });
            }
            return out;
        }
    };
    for record in plan.records() {
        if let RecordStatus::Invalid(e) = &record.status {
            out.push(Expected::Unconvertible {
                key: Some(record_keys[record.position].clone()),
                reason: e.to_string(),
            });
        }
    }
    for (i, item) in plan.items().iter().enumerate() {
        if item.action != Action::Index {
            continue;
        }
        let Some(&made_by) = item.records.iter().max() else {
            continue;
        };
        let Some(document) = plan.document(i) else {
            continue;
        };
        out.push(Expected::Document {
            key: record_keys[made_by].clone(),
            item: record_items[made_by],
            place: Place {
                index: item.index.clone(),
                id: item.id.clone(),
                routing: item.routing.clone(),
            },
            document: document.to_vec(),
        });
    }
    out
}

/// The digest a document is compared by: its value without the indexed-at field (which
/// differs by construction), or `None` when it is not JSON.
pub fn digest(document: &[u8], indexed_at: Option<&str>) -> Option<u128> {
    let text = std::str::from_utf8(document).ok()?;
    Some(Value::parse(text).ok()?.without(indexed_at).digest())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_plan_into_the_documents_the_stream_would_write() {
        let planner = Planner::new(stream2search::Config {
            index: "products".into(),
            numbers_as_strings: vec!["sku".into()],
            ..stream2search::Config::default()
        })
        .unwrap();
        let keys = Keys {
            names: vec!["productId".into()],
            types: vec!["S".into()],
        };
        let items = [
            r#"{"productId":{"S":"p-1"},"price":{"N":"24.90"},"sku":{"N":"7"},"_id":{"S":"x"}}"#,
            r#"{"name":{"S":"no key"}}"#,
            r#"{"productId":{"S":"p-2"},"price":{"N":"1E+999"}}"#,
        ];
        let out = documents(&planner, &keys, &items, 1_764_489_300, None);
        let text: Vec<String> = out
            .iter()
            .map(|e| match e {
                Expected::Document {
                    key,
                    place,
                    document,
                    ..
                } => format!("{key} {} {}", place.id, String::from_utf8_lossy(document)),
                Expected::Unconvertible { key, reason } => {
                    format!("{key:?} unconvertible: {reason}")
                }
            })
            .collect();
        // Written by hand: the number text kept, `sku` as a string, `_id` renamed.
        assert_eq!(
            text,
            [
                "None unconvertible: the item has no key attribute \"productId\"".to_string(),
                "Some(\"{\\\"productId\\\":{\\\"S\\\":\\\"p-2\\\"}}\") unconvertible: NewImage.price: invalid number \"1E+999\": magnitude outside DynamoDB's range 1E-130 to 9.99E+125".to_string(),
                r#"{"productId":{"S":"p-1"}} p-1 {"productId":"p-1","price":24.90,"sku":"7","ddb_id":"x"}"#.to_string(),
            ]
        );
    }
}
