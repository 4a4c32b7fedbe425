//! The corpus as Kinesis Data Streams for DynamoDB delivers it: each record of a generated
//! DynamoDB Streams event rewritten as the DynamoDB change record Kinesis carries, base64 encoded
//! inside the `aws:kinesis` record of a Lambda Kinesis event.
//!
//! The change record keeps the Streams record's `awsRegion`, `eventID`, `eventName`,
//! `userIdentity` and `dynamodb` (`Keys`, `NewImage`, `OldImage`, `SizeBytes`, as the same bytes),
//! adds `recordFormat`, `tableName` and `eventSource`, and drops what Kinesis does not carry
//! (`SequenceNumber`, `StreamViewType`, `eventVersion`, `eventSourceARN`).
//! `ApproximateCreationDateTime` becomes milliseconds, Kinesis's default precision: the
//! corpus's whole seconds × 1000, so both shapes give the same versions.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::shapes;

/// The table the change records name (the corpus's stream ARN is `table/Products`).
pub const TABLE: &str = "Products";
/// The Kinesis stream the Lambda records name.
pub const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/products-changes";

#[derive(Deserialize)]
struct StreamsEvent<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct StreamsRecord<'a> {
    #[serde(rename = "awsRegion", borrow)]
    aws_region: &'a RawValue,
    #[serde(rename = "eventID", borrow)]
    event_id: &'a RawValue,
    #[serde(rename = "eventName", borrow)]
    event_name: &'a RawValue,
    #[serde(rename = "userIdentity", borrow, default)]
    user_identity: Option<&'a RawValue>,
    #[serde(borrow)]
    dynamodb: StreamsChange<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamsChange<'a> {
    approximate_creation_date_time: u64,
    #[serde(borrow)]
    keys: &'a RawValue,
    #[serde(borrow, default)]
    new_image: Option<&'a RawValue>,
    #[serde(borrow, default)]
    old_image: Option<&'a RawValue>,
    #[serde(default)]
    size_bytes: Option<u64>,
}

/// The change record, members in the order AWS's documentation shows them.
#[derive(Serialize)]
struct ChangeRecord<'a> {
    #[serde(rename = "awsRegion")]
    aws_region: &'a RawValue,
    #[serde(rename = "eventID")]
    event_id: &'a RawValue,
    #[serde(rename = "eventName")]
    event_name: &'a RawValue,
    #[serde(rename = "userIdentity", skip_serializing_if = "Option::is_none")]
    user_identity: Option<&'a RawValue>,
    #[serde(rename = "recordFormat")]
    record_format: &'static str,
    #[serde(rename = "tableName")]
    table_name: &'static str,
    dynamodb: Change<'a>,
    #[serde(rename = "eventSource")]
    event_source: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Change<'a> {
    approximate_creation_date_time: u64,
    keys: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_image: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_image: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_bytes: Option<u64>,
}

/// The Kinesis sequence number of the `n`th record of the shard (56 digits, as Kinesis writes
/// them).
pub fn sequence_number(n: usize) -> String {
    format!("4959033827149025660855969253836157109592157598913{n:07}")
}

/// `streams` (a Lambda DynamoDB Streams event of the generated corpus: every record with
/// `awsRegion`, `eventID`, `eventName`, `dynamodb.Keys` and a timestamp in whole seconds) as the
/// Lambda Kinesis event of the same changes, compact. Record `i` gets [`sequence_number`]`(i)`.
///
/// # Errors
/// When `streams` is not such an event.
pub fn wrap(streams: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    let event: StreamsEvent<'_> = serde_json::from_slice(streams)?;
    let mut out = Vec::with_capacity(streams.len() * 3 / 2);
    out.extend_from_slice(b"{\"Records\":[");
    let mut data = Vec::new();
    for (i, raw) in event.records.iter().enumerate() {
        let record: StreamsRecord<'_> = serde_json::from_str(raw.get())?;
        let millis = record.dynamodb.approximate_creation_date_time * 1000;
        let change = ChangeRecord {
            aws_region: record.aws_region,
            event_id: record.event_id,
            event_name: record.event_name,
            user_identity: record.user_identity,
            record_format: "application/json",
            table_name: TABLE,
            dynamodb: Change {
                approximate_creation_date_time: millis,
                keys: record.dynamodb.keys,
                new_image: record.dynamodb.new_image,
                old_image: record.dynamodb.old_image,
                size_bytes: record.dynamodb.size_bytes,
            },
            event_source: "aws:dynamodb",
        };
        data.clear();
        serde_json::to_writer(&mut data, &change)?;
        if i > 0 {
            out.push(b',');
        }
        let sequence = sequence_number(i);
        out.extend_from_slice(
            format!(
                concat!(
                    r#"{{"kinesis":{{"kinesisSchemaVersion":"1.0","partitionKey":"{:016X}","#,
                    r#""sequenceNumber":"{}","data":"{}","approximateArrivalTimestamp":{}.{:03}}},"#,
                    r#""eventSource":"aws:kinesis","eventVersion":"1.0","#,
                    r#""eventID":"shardId-000000000000:{}","eventName":"aws:kinesis:record","#,
                    r#""invokeIdentityArn":"arn:aws:iam::123456789012:role/stream2search","#,
                    r#""awsRegion":"us-east-1","eventSourceARN":"{}"}}"#
                ),
                // Kinesis Data Streams for DynamoDB partitions by a hash of the key.
                shapes::fnv1a(record.dynamodb.keys.get()),
                sequence,
                STANDARD.encode(&data),
                millis / 1000 + 1,
                millis % 1000,
                sequence,
                STREAM_ARN,
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}
