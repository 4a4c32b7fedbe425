//! Kinesis Data Streams for DynamoDB, as tests make it: a DynamoDB Streams record rewritten as
//! the change record DynamoDB puts on a Kinesis data stream, and that inside the `aws:kinesis`
//! record a Lambda function receives.
//!
//! Written from AWS's documentation, independently of the core's reader: the change record has
//! `awsRegion`, `eventID`, `eventName`, `userIdentity`, `recordFormat`, `tableName`, `dynamodb`
//! (`ApproximateCreationDateTime`, `Keys`, `NewImage`, `OldImage`, `SizeBytes`; no
//! `SequenceNumber`, no `StreamViewType`) and `eventSource`; the Lambda record carries it base64
//! encoded in `kinesis.data`, with the Kinesis `sequenceNumber`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// The stream ARN the wrapped records name.
pub const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/products-changes";

/// The DynamoDB change record that Kinesis Data Streams for DynamoDB writes for `stream_record`
/// (a Lambda DynamoDB Streams record). `creation` replaces `ApproximateCreationDateTime` when
/// given (Kinesis carries milliseconds, or microseconds); otherwise the record's own value is
/// kept as it is.
pub fn change_record(stream_record: &Value, table: &str, creation: Option<Value>) -> Value {
    let mut dynamodb = Map::new();
    if let Some(d) = stream_record.get("dynamodb").and_then(Value::as_object) {
        for (name, value) in d {
            match name.as_str() {
                "SequenceNumber" | "StreamViewType" => {}
                "ApproximateCreationDateTime" if creation.is_some() => {}
                _ => {
                    dynamodb.insert(name.clone(), value.clone());
                }
            }
        }
    }
    if let Some(creation) = creation {
        dynamodb.insert("ApproximateCreationDateTime".into(), creation);
    }
    let mut change = Map::new();
    change.insert(
        "awsRegion".into(),
        stream_record
            .get("awsRegion")
            .cloned()
            .unwrap_or_else(|| json!("us-east-1")),
    );
    for name in ["eventID", "eventName", "userIdentity"] {
        if let Some(v) = stream_record.get(name) {
            change.insert(name.into(), v.clone());
        }
    }
    change.insert("recordFormat".into(), json!("application/json"));
    change.insert("tableName".into(), json!(table));
    if stream_record.get("dynamodb").is_some() {
        change.insert("dynamodb".into(), Value::Object(dynamodb));
    }
    change.insert("eventSource".into(), json!("aws:dynamodb"));
    Value::Object(change)
}

/// The `aws:kinesis` Lambda record whose `kinesis.data` is `data`, base64 encoded.
pub fn lambda_record(data: &[u8], sequence_number: &str, partition_key: &str) -> Value {
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number,
            "data": STANDARD.encode(data),
            "approximateArrivalTimestamp": 1700000000.123,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("shardId-000000000000:{sequence_number}"),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/stream2search",
        "awsRegion": "us-east-1",
        "eventSourceARN": STREAM_ARN,
    })
}

/// A Kinesis sequence number as Kinesis writes them (56 digits), the `n`th of a shard.
pub fn sequence_number(n: u64) -> String {
    format!("4959033827149025660855969253836157109592157598913{n:07}")
}

/// `event` (a Lambda DynamoDB Streams event) as the Lambda Kinesis event of the same changes:
/// record `i` gets [`sequence_number`]`(i)`; timestamps are kept as they are.
pub fn wrap_event(event: &Value) -> Value {
    let records: Vec<Value> = event["Records"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let data = change_record(r, "products", None).to_string();
                    lambda_record(
                        data.as_bytes(),
                        &sequence_number(i as u64),
                        &format!("k{i}"),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_record_drops_what_kinesis_does_not_carry_and_round_trips_through_base64() {
        let stream = json!({"eventID":"e1","eventName":"MODIFY","eventSource":"aws:dynamodb",
            "dynamodb":{"ApproximateCreationDateTime":1700000000,"Keys":{"id":{"S":"a"}},
            "NewImage":{"id":{"S":"a"}},"SequenceNumber":"111","StreamViewType":"NEW_IMAGE",
            "SizeBytes":10}});
        let change = change_record(&stream, "t", Some(json!(1700000000123u64)));
        assert_eq!(
            change["dynamodb"],
            json!({"ApproximateCreationDateTime":1700000000123u64,"Keys":{"id":{"S":"a"}},
                "NewImage":{"id":{"S":"a"}},"SizeBytes":10})
        );
        assert_eq!(change["tableName"], "t");
        let wrapped = wrap_event(&json!({ "Records": [stream] }));
        let record = &wrapped["Records"][0];
        assert_eq!(record["eventSource"], "aws:kinesis");
        assert_eq!(
            record["kinesis"]["sequenceNumber"].as_str().unwrap().len(),
            56
        );
        let data = STANDARD
            .decode(record["kinesis"]["data"].as_str().unwrap())
            .unwrap();
        let inner: Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(inner["dynamodb"]["ApproximateCreationDateTime"], 1700000000);
        assert!(inner["dynamodb"].get("SequenceNumber").is_none());
    }
}
