//! The corpus as a Kinesis event (`kinesis::wrap`, what the `kinesis` bench measures): every
//! record carries, base64 encoded, the change record the testkit writes from AWS's documentation
//! (apart from the generator), and both shapes plan to the same bulk body.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use stream2search::{Config, Plan, Planner, Source};
use stream2search_benches::corpus::NAMES;
use stream2search_benches::{kinesis, shapes};
use stream2search_testkit::kinesis::change_record;

fn records(event: &[u8]) -> Vec<Value> {
    let event: Value = serde_json::from_slice(event).expect("JSON");
    event["Records"].as_array().expect("Records").clone()
}

/// Every chunk's bulk body, in order.
fn body(plan: &Plan) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in plan.chunks() {
        out.extend_from_slice(&plan.body(&chunk.collect::<Vec<_>>()));
    }
    out
}

#[test]
fn every_wrapped_record_carries_the_documented_change_record_in_base64() {
    for name in NAMES {
        let streams_event = shapes::generate(name);
        let streams = records(&streams_event);
        let wrapped = records(&kinesis::wrap(&streams_event).unwrap());
        assert_eq!(wrapped.len(), streams.len(), "{name}");
        for (i, (record, stream_record)) in wrapped.iter().zip(&streams).enumerate() {
            let sequence = kinesis::sequence_number(i);
            assert_eq!(sequence.len(), 56);
            assert_eq!(record["eventSource"], "aws:kinesis", "{name} {i}");
            assert_eq!(record["eventName"], "aws:kinesis:record", "{name} {i}");
            assert_eq!(
                record["eventID"],
                format!("shardId-000000000000:{sequence}"),
                "{name} {i}"
            );
            assert_eq!(record["kinesis"]["sequenceNumber"], sequence, "{name} {i}");
            let data = STANDARD
                .decode(record["kinesis"]["data"].as_str().unwrap())
                .unwrap();
            let change: Value = serde_json::from_slice(&data).unwrap();
            let seconds = stream_record["dynamodb"]["ApproximateCreationDateTime"]
                .as_u64()
                .unwrap();
            assert_eq!(
                change,
                change_record(stream_record, kinesis::TABLE, Some(json!(seconds * 1000))),
                "{name} {i}"
            );
        }
    }
}

#[test]
fn both_shapes_of_every_corpus_file_plan_to_the_same_bulk_body() {
    let planner = Planner::new(Config {
        index: "products".into(),
        ..Default::default()
    })
    .unwrap();
    for name in NAMES {
        let streams_event = shapes::generate(name);
        let kinesis_event = kinesis::wrap(&streams_event).unwrap();
        let streams = planner.plan(&streams_event, None).unwrap();
        let kinesis = planner.plan(&kinesis_event, None).unwrap();

        assert_eq!(streams.source(), Some(Source::DynamoDbStreams), "{name}");
        assert_eq!(kinesis.source(), Some(Source::Kinesis), "{name}");
        // Milliseconds from whole seconds: the same versions, so the same bytes.
        assert!(body(&streams) == body(&kinesis), "{name}");
        assert!(!body(&streams).is_empty(), "{name}");
        assert_eq!(streams.records().len(), kinesis.records().len(), "{name}");
        for (i, (s, k)) in streams.records().iter().zip(kinesis.records()).enumerate() {
            assert_eq!(s.status, k.status, "{name} {i}");
            assert_eq!(
                k.sequence_number.as_ref().map(|n| n.as_str()),
                Some(kinesis::sequence_number(i).as_str()),
                "{name} {i}"
            );
        }
    }
}
