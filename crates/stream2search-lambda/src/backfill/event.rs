//! A page of items (a Scan page, or lines of an export data file) → the DynamoDB Streams event
//! the stream would have carried for it: one `INSERT` record per item, `Keys` taken from the
//! item by the table's key schema, `NewImage` the item's JSON text exactly as read (numbers are
//! never re-serialised), and the backfill's version as `ApproximateCreationDateTime`. The
//! planner then makes of it exactly the documents the stream would have made. Backfill sends
//! them; verify compares the index with them (`verify::expect`).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::value::RawValue;

/// How far before the scan's start the backfill's version lies: a margin for clock skew between
/// this machine and DynamoDB's `ApproximateCreationDateTime`.
pub(crate) const MARGIN_SECONDS: u64 = 300;

/// The seconds of every backfill document's version: `floor(start) − 300`, where `start` is when
/// the scan started, or the export's time (both since the epoch). The planner makes the version
/// `seconds × 10^6` (`external_gte`), as for a stream record of that second.
pub fn version_seconds(start: Duration) -> u64 {
    start.as_secs().saturating_sub(MARGIN_SECONDS)
}

/// The DynamoDB Streams event of a page of items (each item's DynamoDB JSON text exactly as
/// read) whose key attributes are `key_names`, at version second `seconds`: one `INSERT` record
/// per item that has every key attribute, in page order. An item that is not a JSON object, or
/// lacks a key attribute, gets no record (a backfill dead-letters it).
///
/// This is the event [`Backfiller::step`](super::Backfiller::step) plans for a page, so the
/// planner makes of it the bulk lines the backfill sends:
///
/// ```
/// use stream2search::{Config, Planner};
/// use stream2search_lambda::backfill;
///
/// let page = [r#"{"pk":{"S":"p-1"},"price":{"N":"12.50"}}"#, r#"{"price":{"N":"1"}}"#];
/// let event = backfill::event(&page, &["pk".to_string()], 1_764_489_300);
/// let planner = Planner::new(Config { index: "products".into(), ..Config::default() }).unwrap();
/// let plan = planner.plan(&event, None).unwrap();
/// assert_eq!(plan.items().len(), 1);
/// ```
pub fn event(page: &[&str], key_names: &[String], seconds: u64) -> Vec<u8> {
    Event::of(page, key_names, seconds).bytes
}

/// One page as an event.
#[derive(Debug)]
pub(crate) struct Event {
    /// `{"Records":[...]}`.
    pub(crate) bytes: Vec<u8>,
    /// For record `i` of the event, the index of its item in the page.
    pub(crate) items: Vec<usize>,
    /// For every item: its key (`{"productId":{"S":"p-1"}}`), or why it could not be read.
    pub(crate) keys: Vec<Result<String, String>>,
}

impl Event {
    /// The event of `page` (each item's DynamoDB JSON text exactly as read), whose key
    /// attributes are `key_names`. An item that is not a JSON object, or lacks a key attribute,
    /// gets no record and an `Err` key. Record `n` (from 1) has `eventID` `backfill-n` and
    /// `SequenceNumber` `n`; neither reaches a document: the planner keeps them only on its
    /// record, and backfill and verify name an item by its key.
    pub(crate) fn of(page: &[&str], key_names: &[String], seconds: u64) -> Event {
        let mut bytes = Vec::with_capacity(page.iter().map(|i| i.len() + 300).sum());
        bytes.extend_from_slice(b"{\"Records\":[");
        let mut items = Vec::with_capacity(page.len());
        let mut keys = Vec::with_capacity(page.len());
        for (i, item) in page.iter().enumerate() {
            let key = key_of(item, key_names);
            if let Ok(key) = &key {
                if !items.is_empty() {
                    bytes.push(b',');
                }
                let n = items.len() + 1;
                bytes.extend_from_slice(
                    format!(
                        "{{\"eventID\":\"backfill-{n}\",\"eventName\":\"INSERT\",\
                         \"eventSource\":\"aws:dynamodb\",\"dynamodb\":{{\
                         \"ApproximateCreationDateTime\":{seconds},\"Keys\":{key},\"NewImage\":"
                    )
                    .as_bytes(),
                );
                bytes.extend_from_slice(item.as_bytes());
                bytes.extend_from_slice(
                    format!(",\"SequenceNumber\":\"{n}\",\"StreamViewType\":\"NEW_IMAGE\"}}}}")
                        .as_bytes(),
                );
                items.push(i);
            }
            keys.push(key);
        }
        bytes.extend_from_slice(b"]}");
        Event { bytes, items, keys }
    }
}

/// `{"NAME":VALUE,...}` of the key attributes, values as read; or why there is none.
pub(crate) fn key_of(item: &str, key_names: &[String]) -> Result<String, String> {
    let attrs: HashMap<String, &RawValue> =
        serde_json::from_str(item).map_err(|e| format!("the item is not a JSON object: {e}"))?;
    let mut key = String::from("{");
    for (i, name) in key_names.iter().enumerate() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_five_minutes_before_the_scan_started_in_whole_seconds() {
        // 1,764,489,600.999 s after the epoch: the fraction is dropped, then 300 s taken off.
        let start = Duration::from_millis(1_764_489_600_999);
        assert_eq!(version_seconds(start), 1_764_489_300);
        assert_eq!(version_seconds(Duration::from_secs(10)), 0);
    }

    #[test]
    fn page_becomes_insert_records_with_the_item_text_exactly_as_read() {
        let page = [
            r#"{"n":{"N":"1.500"},"productId":{"S":"p-1"},"sku":{"N":"7"}}"#,
            r#"{"other":{"S":"no key"}}"#,
            r#"{"productId":{"S":"p-\"2"},"sku":{"N":"1E+2"}}"#,
        ];
        let names = ["productId".to_string(), "sku".to_string()];
        let e = Event::of(&page, &names, 1_764_489_300);
        let expected = concat!(
            r#"{"Records":["#,
            r#"{"eventID":"backfill-1","eventName":"INSERT","eventSource":"aws:dynamodb","dynamodb":{"ApproximateCreationDateTime":1764489300,"Keys":{"productId":{"S":"p-1"},"sku":{"N":"7"}},"NewImage":{"n":{"N":"1.500"},"productId":{"S":"p-1"},"sku":{"N":"7"}},"SequenceNumber":"1","StreamViewType":"NEW_IMAGE"}},"#,
            r#"{"eventID":"backfill-2","eventName":"INSERT","eventSource":"aws:dynamodb","dynamodb":{"ApproximateCreationDateTime":1764489300,"Keys":{"productId":{"S":"p-\"2"},"sku":{"N":"1E+2"}},"NewImage":{"productId":{"S":"p-\"2"},"sku":{"N":"1E+2"}},"SequenceNumber":"2","StreamViewType":"NEW_IMAGE"}}"#,
            r#"]}"#
        );
        assert_eq!(String::from_utf8(e.bytes).unwrap(), expected);
        assert_eq!(e.items, vec![0, 2]);
        assert_eq!(
            e.keys[1],
            Err("the item has no key attribute \"productId\"".to_string())
        );
    }

    #[test]
    fn a_key_lists_its_attributes_in_key_schema_order_whatever_the_item_order() {
        let names = ["pk".to_string(), "sk".to_string()];
        assert_eq!(
            key_of(
                r#"{"sk":{"N":"1.50"},"x":{"S":"y"},"pk":{"S":"p"}}"#,
                &names
            )
            .as_deref(),
            Ok(r#"{"pk":{"S":"p"},"sk":{"N":"1.50"}}"#)
        );
        assert!(
            key_of("[1]", &names)
                .unwrap_err()
                .starts_with("the item is not a JSON object")
        );
    }

    fn bulk(event: &[u8]) -> String {
        let planner = stream2search::Planner::new(stream2search::Config {
            index: "products".into(),
            ..stream2search::Config::default()
        })
        .unwrap();
        let plan = planner.plan(event, None).unwrap();
        let mut out = Vec::new();
        for chunk in plan.chunks() {
            out.extend_from_slice(&plan.body(&chunk.collect::<Vec<_>>()));
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn scanned_item_becomes_the_document_its_stream_record_makes() {
        let item = r#"{"_id":{"S":"x"},"n":{"N":"1.500"},"productId":{"S":"p|1"},"sku":{"N":"7"},"tags":{"SS":["a"]}}"#;
        let names = ["productId".to_string(), "sku".to_string()];
        let scanned = event(&[item], &names, 1_764_489_300);
        // Written by hand: id from the keys by name joined by `|` (escaped inside a part), the
        // number text kept, `_id` renamed, the version the backfill's second × 10^6.
        let expected = concat!(
            r#"{"index":{"_index":"products","_id":"p\\|1|7","version":1764489300000000,"version_type":"external_gte"}}"#,
            "\n",
            r#"{"ddb_id":"x","n":1.500,"productId":"p|1","sku":7,"tags":["a"]}"#,
            "\n"
        );
        assert_eq!(bulk(&scanned), expected);
        // The record the stream carries for a put of that item in that second, as DynamoDB
        // Streams shapes it.
        let stream = format!(
            r#"{{"Records":[{{"eventID":"7de3041dd709b024af6f29e4fa13d34c","eventName":"INSERT","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"eu-west-1","dynamodb":{{"ApproximateCreationDateTime":1764489300,"Keys":{{"sku":{{"N":"7"}},"productId":{{"S":"p|1"}}}},"NewImage":{item},"SequenceNumber":"111","SizeBytes":90,"StreamViewType":"NEW_AND_OLD_IMAGES"}},"eventSourceARN":"arn:aws:dynamodb:eu-west-1:123456789012:table/T/stream/2026-01-01T00:00:00.000"}}]}}"#
        );
        assert_eq!(bulk(stream.as_bytes()), expected);
    }
}
