//! Stream records → the event Lambda would deliver: `{"Records":[...]}`. A DynamoDB Streams
//! record as GetRecords returned it (numbers and timestamps untouched) plus `eventSourceARN` and
//! `awsRegion`; a Kinesis record as the `aws:kinesis` record Lambda builds from it, its `Data`
//! (base64) and timestamp text untouched.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One record of a batch: its sequence number and its text in the event.
#[derive(Debug, Clone)]
pub struct Record {
    /// `dynamodb.SequenceNumber`, or the Kinesis `SequenceNumber`.
    pub sequence_number: String,
    /// The record object, with `eventSourceARN` and `awsRegion` set.
    pub json: String,
}

impl Record {
    /// `raw` (one GetRecords record) as Lambda delivers it for `stream` in `region`.
    pub fn from_stream(raw: &RawValue, stream: &str, region: &str) -> Result<Record, String> {
        #[derive(Deserialize)]
        struct Dynamodb {
            #[serde(rename = "SequenceNumber")]
            sequence_number: String,
        }
        #[derive(Deserialize)]
        struct Head {
            dynamodb: Dynamodb,
        }
        let head: Head = serde_json::from_str(raw.get())
            .map_err(|e| format!("a stream record without dynamodb.SequenceNumber: {e}"))?;
        // Field values stay raw text: nothing is re-encoded.
        let mut fields: BTreeMap<&str, &RawValue> = serde_json::from_str(raw.get())
            .map_err(|e| format!("a stream record that is not an object: {e}"))?;
        let arn = serde_json::value::to_raw_value(stream).map_err(|e| e.to_string())?;
        let region = serde_json::value::to_raw_value(region).map_err(|e| e.to_string())?;
        fields.insert("eventSourceARN", &arn);
        fields.insert("awsRegion", &region);
        let json = serde_json::to_string(&fields).map_err(|e| e.to_string())?;
        Ok(Record {
            sequence_number: head.dynamodb.sequence_number,
            json,
        })
    }
}

/// A Kinesis record (one GetRecords record) in Lambda's Kinesis event.
#[derive(Serialize)]
struct KinesisRecord<'a> {
    kinesis: KinesisData<'a>,
    #[serde(rename = "eventSource")]
    event_source: &'static str,
    #[serde(rename = "eventVersion")]
    event_version: &'static str,
    #[serde(rename = "eventID")]
    event_id: String,
    #[serde(rename = "eventName")]
    event_name: &'static str,
    #[serde(rename = "awsRegion")]
    region: &'a str,
    #[serde(rename = "eventSourceARN")]
    stream: &'a str,
}

/// The `kinesis` object of a Lambda Kinesis record: GetRecords' fields, renamed.
#[derive(Serialize, Deserialize)]
struct KinesisData<'a> {
    #[serde(rename(serialize = "kinesisSchemaVersion"), default = "schema")]
    #[serde(skip_deserializing)]
    schema: &'static str,
    #[serde(
        rename(deserialize = "PartitionKey", serialize = "partitionKey"),
        borrow
    )]
    partition_key: &'a RawValue,
    #[serde(rename(deserialize = "SequenceNumber", serialize = "sequenceNumber"))]
    sequence_number: String,
    #[serde(rename(deserialize = "Data", serialize = "data"), borrow)]
    data: &'a RawValue,
    #[serde(
        rename(
            deserialize = "ApproximateArrivalTimestamp",
            serialize = "approximateArrivalTimestamp"
        ),
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    arrival: Option<&'a RawValue>,
    #[serde(
        rename(deserialize = "EncryptionType", serialize = "encryptionType"),
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    encryption: Option<&'a RawValue>,
}

fn schema() -> &'static str {
    "1.0"
}

impl Record {
    /// `raw` (one Kinesis GetRecords record, read from `shard`) as the `aws:kinesis` record
    /// Lambda delivers for `stream` in `region`; `Data`, `PartitionKey` and the arrival time keep
    /// their text.
    pub fn from_kinesis(
        raw: &RawValue,
        shard: &str,
        stream: &str,
        region: &str,
    ) -> Result<Record, String> {
        let data: KinesisData = serde_json::from_str(raw.get()).map_err(|e| {
            format!("a Kinesis record without SequenceNumber, PartitionKey or Data: {e}")
        })?;
        let record = KinesisRecord {
            event_id: format!("{shard}:{}", data.sequence_number),
            kinesis: data,
            event_source: "aws:kinesis",
            event_version: "1.0",
            event_name: "aws:kinesis:record",
            region,
            stream,
        };
        let json = serde_json::to_string(&record).map_err(|e| e.to_string())?;
        Ok(Record {
            sequence_number: record.kinesis.sequence_number,
            json,
        })
    }
}

/// The event for `records`.
pub fn event(records: &[Record]) -> Vec<u8> {
    let len = records.iter().map(|r| r.json.len() + 1).sum::<usize>() + 14;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(b"{\"Records\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r.json.as_bytes());
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keeps_its_text_and_gains_source_and_region() {
        // As moto answers: milliseconds, region us-east-1, a number as it was sent.
        let raw: Box<RawValue> = serde_json::from_str(
            r#"{"eventID":"e1","eventName":"INSERT","awsRegion":"us-east-1","dynamodb":{"ApproximateCreationDateTime":1767225600123,"Keys":{"id":{"S":"a"}},"NewImage":{"id":{"S":"a"},"price":{"N":"1.500"}},"SequenceNumber":"1100000000017454423009","SizeBytes":9,"StreamViewType":"NEW_AND_OLD_IMAGES"}}"#,
        )
        .unwrap();
        let arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/P/stream/2026-01-01T00:00:00.000";
        let r = Record::from_stream(&raw, arn, "eu-west-1").unwrap();
        assert_eq!(r.sequence_number, "1100000000017454423009");
        let expected = format!(
            r#"{{"awsRegion":"eu-west-1","dynamodb":{{"ApproximateCreationDateTime":1767225600123,"Keys":{{"id":{{"S":"a"}}}},"NewImage":{{"id":{{"S":"a"}},"price":{{"N":"1.500"}}}},"SequenceNumber":"1100000000017454423009","SizeBytes":9,"StreamViewType":"NEW_AND_OLD_IMAGES"}},"eventID":"e1","eventName":"INSERT","eventSourceARN":"{arn}"}}"#
        );
        assert_eq!(r.json, expected);
        let event = event(&[r.clone(), r]);
        let parsed: serde_json::Value = serde_json::from_slice(&event).unwrap();
        assert_eq!(parsed["Records"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn kinesis_record_becomes_the_lambda_kinesis_record() {
        // GetRecords' answer as moto and Kinesis's API reference give it: Data base64, the
        // arrival time in epoch seconds with a fraction.
        let raw: Box<RawValue> = serde_json::from_str(
            r#"{"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ApproximateArrivalTimestamp":1767225600.123,"Data":"eyJhIjoxfQ==","PartitionKey":"p-1"}"#,
        )
        .unwrap();
        let arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/products-changes";
        let r = Record::from_kinesis(&raw, "shardId-000000000001", arn, "eu-west-1").unwrap();
        let seq = "49590338271490256608559692538361571095921575989136588898";
        assert_eq!(r.sequence_number, seq);
        // The shape of AWS's sample Kinesis event for Lambda, written out by hand.
        let expected = format!(
            r#"{{"kinesis":{{"kinesisSchemaVersion":"1.0","partitionKey":"p-1","sequenceNumber":"{seq}","data":"eyJhIjoxfQ==","approximateArrivalTimestamp":1767225600.123}},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000000000001:{seq}","eventName":"aws:kinesis:record","awsRegion":"eu-west-1","eventSourceARN":"{arn}"}}"#
        );
        assert_eq!(r.json, expected);
        assert!(
            Record::from_kinesis(
                &serde_json::from_str::<Box<RawValue>>(r#"{"Data":"e30="}"#).unwrap(),
                "s",
                arn,
                "r"
            )
            .is_err()
        );
    }

    #[test]
    fn record_without_sequence_number_is_refused() {
        let raw: Box<RawValue> = serde_json::from_str(r#"{"dynamodb":{}}"#).unwrap();
        assert!(Record::from_stream(&raw, "arn", "r").is_err());
    }
}
