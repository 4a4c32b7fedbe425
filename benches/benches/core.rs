//! Core throughput: event bytes → OpenSearch `_bulk` NDJSON, in MB/s of event bytes.
//!
//! One criterion group, `core`, with three paths over each corpus file:
//! - `ignored_any`: `serde_json` parsing the event into `serde::de::IgnoredAny`,
//!   the near-limit for anything that reads every byte as JSON;
//! - `idiomatic`: what a Rust user writes today: `aws_lambda_events` +
//!   `serde_dynamo` into `serde_json::Value`, then `serde_json::to_writer` of an
//!   action line and the document per record;
//! - `stream2search`: `Planner::plan` + `Plan::body` of every chunk (the bulk body
//!   the client compresses and sends).
//!
//! Run: `cargo bench -p stream2search-benches --bench core`
//! (`STREAM2SEARCH_BENCH_CLOCK=cpu` to measure CPU time on a busy machine).

use std::collections::BTreeMap;
use std::hint::black_box;

use aws_lambda_events::event::dynamodb::Event;
use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};
use serde_json::{Value, json};
use stream2search::{Config, Planner};
use stream2search_benches::{clock, corpus};

/// The corpus files measured; `edge` is for correctness, not speed.
const CORPORA: [&str; 3] = ["small", "large", "wide"];

/// The near-limit: parse every byte as JSON and keep nothing.
fn ignored_any(event: &[u8]) {
    let parsed: serde::de::IgnoredAny =
        serde_json::from_slice(event).expect("corpus is valid JSON");
    black_box(parsed);
}

/// The idiomatic path. Returns the number of records serde_dynamo rejected
/// (binary attributes, for example, cannot become a `serde_json::Value`).
fn idiomatic(event: &[u8], out: &mut Vec<u8>) -> usize {
    let event: Event = serde_json::from_slice(event).expect("aws_lambda_events parses the corpus");
    let mut rejected = 0;
    for record in event.records {
        let keys: BTreeMap<String, Value> = match serde_dynamo::from_item(record.change.keys) {
            Ok(keys) => keys,
            Err(_) => {
                rejected += 1;
                continue;
            }
        };
        let id = keys
            .values()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("|");
        if record.event_name == "REMOVE" {
            let action = json!({ "delete": { "_index": "products", "_id": id } });
            serde_json::to_writer(&mut *out, &action).expect("write to Vec");
            out.push(b'\n');
            continue;
        }
        let doc: Value = match serde_dynamo::from_item(record.change.new_image) {
            Ok(doc) => doc,
            Err(_) => {
                rejected += 1;
                continue;
            }
        };
        let action = json!({ "index": { "_index": "products", "_id": id } });
        serde_json::to_writer(&mut *out, &action).expect("write to Vec");
        out.push(b'\n');
        serde_json::to_writer(&mut *out, &doc).expect("write to Vec");
        out.push(b'\n');
    }
    rejected
}

/// The stream2search path: plan the event, then take every chunk's bulk body as
/// the client does. Returns the total bytes of the bodies.
fn stream2search(planner: &Planner, event: &[u8]) -> usize {
    let plan = planner.plan(event, None).expect("corpus is an event");
    let mut total = 0;
    for chunk in plan.chunks() {
        // As the client does: the body is borrowed from the plan when the chunk is one run
        // there (always, for the corpus), else written into a buffer.
        let items: Vec<usize> = chunk.collect();
        let body = plan.body(&items);
        total += black_box(&body).len();
    }
    total
}

fn core<M: Measurement>(c: &mut Criterion<M>) {
    let planner = Planner::new(Config {
        index: "products".into(),
        ..Default::default()
    })
    .expect("default config is valid");

    let mut group = c.benchmark_group("core");
    for name in CORPORA {
        let event = corpus::load(name);
        group.throughput(Throughput::Bytes(event.len() as u64));

        // Say once, outside the timing, what each path produced.
        let mut out = Vec::new();
        let rejected = idiomatic(&event, &mut out);
        eprintln!(
            "{name}: {} event bytes; idiomatic wrote {} bytes, serde_dynamo rejected {rejected} records",
            event.len(),
            out.len()
        );
        let encoded = stream2search(&planner, &event);
        eprintln!("{name}: stream2search wrote {encoded} bytes");

        group.bench_function(format!("ignored_any/{name}"), |b| {
            b.iter(|| ignored_any(black_box(&event)))
        });
        group.bench_function(format!("idiomatic/{name}"), |b| {
            b.iter(|| {
                out.clear();
                black_box(idiomatic(black_box(&event), &mut out));
            })
        });
        group.bench_function(format!("stream2search/{name}"), |b| {
            b.iter(|| black_box(stream2search(&planner, black_box(&event))))
        });
    }
    group.finish();
}

// `criterion_main!` would define an undocumented `pub fn`; this is what it expands to,
// plus the choice of clock (`STREAM2SEARCH_BENCH_CLOCK=cpu`, see `clock`).
fn main() {
    if clock::cpu_requested() {
        let mut c = Criterion::default()
            .with_measurement(clock::ThreadCpu)
            .configure_from_args();
        core(&mut c);
        c.final_summary();
    } else {
        let mut c = Criterion::default().configure_from_args();
        core(&mut c);
        c.final_summary();
    }
}
