//! Stream records → the event Lambda would deliver: `{"Records":[...]}`, each record as
//! GetRecords returned it (numbers and timestamps untouched) plus `eventSourceARN` and
//! `awsRegion`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

/// One record of a batch: its SequenceNumber and its text in the event.
#[derive(Debug, Clone)]
pub struct Record {
    /// `dynamodb.SequenceNumber`.
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
    fn record_without_sequence_number_is_refused() {
        let raw: Box<RawValue> = serde_json::from_str(r#"{"dynamodb":{}}"#).unwrap();
        assert!(Record::from_stream(&raw, "arn", "r").is_err());
    }
}
