//! Poison records → dead-letter messages → SendMessageBatch requests (pure: no I/O here).
//!
//! One message per record: a JSON object with the record's `eventSource` (`aws:dynamodb`, or
//! `aws:kinesis` for Kinesis Data Streams for DynamoDB), `eventID`, `SequenceNumber` (a DynamoDB
//! Streams `dynamodb.SequenceNumber`, or a Kinesis `kinesis.sequenceNumber`), position and the
//! reason, and the record itself exactly as the event held it (a Kinesis record with its `data`
//! still base64). A record too large for one SQS message keeps its identifiers and reason and
//! carries a prefix of its text with a note saying so.

use serde::Serialize;
use stream2search::Source;

/// SQS's limit for one message, and for all messages of one batch together.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// SQS's limit of entries per SendMessageBatch.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// One poison record to dead-letter.
#[derive(Debug, Clone, Copy)]
pub struct Poison<'a> {
    /// Position in `Records`.
    pub position: usize,
    /// The event's source, which says what `event_id` and `sequence_number` are.
    pub source: Option<Source>,
    /// `eventID`, if the record had one (a Kinesis record's outer one: `shardId-…:SEQUENCE`).
    pub event_id: Option<&'a str>,
    /// `dynamodb.SequenceNumber`, or a Kinesis record's `kinesis.sequenceNumber`, if the record
    /// had a valid one.
    pub sequence_number: Option<&'a str>,
    /// Why it is poison.
    pub reason: &'a str,
    /// The record's JSON text exactly as the event held it (the core's `Record::span`), when it
    /// could be located. It goes into the message as is: it must be one JSON value.
    pub record: Option<&'a str>,
}

/// One SQS message, ready for an entry of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Position of the record in `Records` (also the batch entry id, `r<position>`).
    pub position: usize,
    /// The message body.
    pub body: String,
}

#[derive(Serialize)]
struct Full<'a> {
    source: &'static str,
    #[serde(rename = "eventSource")]
    event_source: Option<&'static str>,
    #[serde(rename = "eventID")]
    event_id: Option<&'a str>,
    #[serde(rename = "SequenceNumber")]
    sequence_number: Option<&'a str>,
    position: usize,
    reason: &'a str,
}

/// The message for `poison`, at most [`MAX_MESSAGE_BYTES`] long.
pub fn message(poison: &Poison<'_>) -> Message {
    let reason = cut(poison.reason, 4096);
    let full = Full {
        source: "stream2search",
        event_source: poison.source.map(event_source),
        event_id: poison.event_id,
        sequence_number: poison.sequence_number,
        position: poison.position,
        reason,
    };
    let head = serde_json::to_string(&full).unwrap_or_else(|_| "{}".into());
    // `"record"` is spliced in as the text it is: no second parse of the event or the record.
    let record = poison.record.unwrap_or("null");
    Message {
        position: poison.position,
        body: body(&head, "record", record, poison.record.unwrap_or("")),
    }
}

/// The `eventSource` the records of `source` carry.
fn event_source(source: Source) -> &'static str {
    match source {
        Source::DynamoDbStreams => "aws:dynamodb",
        Source::Kinesis => "aws:kinesis",
    }
}

/// A message body: `head` (a JSON object's text) with `"FIELD":VALUE` added, `value` spliced in
/// as the JSON text it is, at most [`MAX_MESSAGE_BYTES`] long. When that is too long, `head`
/// with `"truncated":true`, a note, and `"FIELDPrefix"`: the beginning of `text` (the value as
/// text), as long as fits.
pub(crate) fn body(head: &str, field: &str, value: &str, text: &str) -> String {
    let head = head.strip_suffix('}').unwrap_or(head);
    let mut body = String::with_capacity(head.len() + field.len() + value.len() + 6);
    body.push_str(head);
    body.push_str(",\"");
    body.push_str(field);
    body.push_str("\":");
    body.push_str(value);
    body.push('}');
    let body = sanitize(body);
    if body.len() <= MAX_MESSAGE_BYTES {
        return body;
    }
    let note = format!(
        "the {field} is {} bytes, more than one SQS message holds; {field}Prefix is its beginning",
        text.len()
    );
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    // Escaping can grow the text up to six times (\u00XX); shrink until it fits.
    let mut keep = MAX_MESSAGE_BYTES.saturating_sub(2048 + head.len());
    loop {
        let body = sanitize(format!(
            "{head},\"truncated\":true,\"note\":{},\"{field}Prefix\":{}}}",
            quoted(&note),
            quoted(cut(text, keep))
        ));
        if body.len() <= MAX_MESSAGE_BYTES || keep == 0 {
            return body;
        }
        keep = keep * 3 / 4;
    }
}

/// Groups messages into SendMessageBatch calls: at most [`MAX_BATCH_ENTRIES`] each, and at most
/// [`MAX_MESSAGE_BYTES`] of bodies together. Returns index ranges into `messages`.
pub fn batches(messages: &[Message]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, m) in messages.iter().enumerate() {
        let full = i - start == MAX_BATCH_ENTRIES || bytes + m.body.len() > MAX_MESSAGE_BYTES;
        if i > start && full {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += m.body.len();
    }
    if start < messages.len() {
        out.push(start..messages.len());
    }
    out
}

/// The SendMessageBatch request body (SQS JSON protocol) for `messages`.
pub fn request_body(queue_url: &str, messages: &[Message]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Entry<'a> {
        #[serde(rename = "Id")]
        id: String,
        #[serde(rename = "MessageBody")]
        body: &'a str,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "QueueUrl")]
        queue_url: &'a str,
        #[serde(rename = "Entries")]
        entries: Vec<Entry<'a>>,
    }
    let body = Body {
        queue_url,
        entries: messages
            .iter()
            .map(|m| Entry {
                id: entry_id(m.position),
                body: &m.body,
            })
            .collect(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The batch entry id of the record at `position`.
pub fn entry_id(position: usize) -> String {
    format!("r{position}")
}

/// The longest prefix of `s` of at most `max` bytes, ending on a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// SQS accepts only the XML character set; anything else (U+FFFE, U+FFFF) becomes U+FFFD.
/// JSON escaping already turned control characters into `\uXXXX`.
pub(crate) fn sanitize(body: String) -> String {
    if body.chars().all(allowed) {
        return body;
    }
    body.chars()
        .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
        .collect()
}

fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_holds_the_record_text_verbatim_and_the_reason() {
        let record = r#"{"eventID":"e1","dynamodb":{"N":"1.500"}}"#;
        let m = message(&Poison {
            position: 3,
            source: Some(Source::DynamoDbStreams),
            event_id: Some("e1"),
            sequence_number: Some("111"),
            reason: "mapper_parsing_exception: failed to parse",
            record: Some(record),
        });
        assert_eq!(
            m.body,
            r#"{"source":"stream2search","eventSource":"aws:dynamodb","eventID":"e1","SequenceNumber":"111","position":3,"reason":"mapper_parsing_exception: failed to parse","record":{"eventID":"e1","dynamodb":{"N":"1.500"}}}"#
        );
    }

    #[test]
    fn a_kinesis_record_is_named_by_its_sequence_number_and_kept_as_delivered() {
        let record = r#"{"kinesis":{"sequenceNumber":"4959","data":"bm90IGpzb24="},"eventSource":"aws:kinesis","eventID":"shardId-000000000000:4959"}"#;
        let m = message(&Poison {
            position: 0,
            source: Some(Source::Kinesis),
            event_id: Some("shardId-000000000000:4959"),
            sequence_number: Some("4959"),
            reason: "kinesis.data is not JSON",
            record: Some(record),
        });
        assert_eq!(
            m.body,
            r#"{"source":"stream2search","eventSource":"aws:kinesis","eventID":"shardId-000000000000:4959","SequenceNumber":"4959","position":0,"reason":"kinesis.data is not JSON","record":{"kinesis":{"sequenceNumber":"4959","data":"bm90IGpzb24="},"eventSource":"aws:kinesis","eventID":"shardId-000000000000:4959"}}"#
        );
    }

    #[test]
    fn oversized_record_is_truncated_with_a_note_and_keeps_its_ids() {
        let big = format!(
            r#"{{"eventID":"e9","pad":"{}"}}"#,
            r#"\u0001\""#.repeat(50_000)
        );
        let record = &big;
        let m = message(&Poison {
            position: 0,
            source: Some(Source::DynamoDbStreams),
            event_id: Some("e9"),
            sequence_number: Some("999"),
            reason: "too big",
            record: Some(record),
        });
        assert!(m.body.len() <= MAX_MESSAGE_BYTES, "{}", m.body.len());
        let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(v["eventSource"], "aws:dynamodb");
        assert_eq!(v["eventID"], "e9");
        assert_eq!(v["SequenceNumber"], "999");
        assert_eq!(v["truncated"], true);
        assert!(v["note"].as_str().unwrap().contains("bytes"));
        let prefix = v["recordPrefix"].as_str().unwrap();
        assert!(prefix.len() > 100_000 && big.starts_with(prefix));
    }

    #[test]
    fn batches_respect_ten_entries_and_the_byte_limit() {
        let small = |p| Message {
            position: p,
            body: "x".into(),
        };
        let msgs: Vec<_> = (0..23).map(small).collect();
        assert_eq!(batches(&msgs), vec![0..10, 10..20, 20..23]);
        let big = |p| Message {
            position: p,
            body: "x".repeat(100 * 1024),
        };
        let msgs: Vec<_> = (0..5).map(big).collect();
        assert_eq!(batches(&msgs), vec![0..2, 2..4, 4..5]);
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn characters_sqs_refuses_are_replaced() {
        assert_eq!(sanitize("a\u{FFFF}b".into()), "a\u{FFFD}b");
    }
}
