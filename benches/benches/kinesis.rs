//! The Kinesis shape against the DynamoDB Streams shape: `Planner::plan` of the same records.
//!
//! One criterion group, `kinesis`, two paths over each corpus file:
//! - `streams`: the generated Lambda DynamoDB Streams event, throughput in its bytes;
//! - `kinesis`: the Lambda Kinesis event of the same changes ([`kinesis::wrap`]: each record as
//!   the change record Kinesis Data Streams for DynamoDB writes, base64 inside an `aws:kinesis`
//!   record, timestamps in milliseconds), throughput in its own bytes.
//!
//! Each is one `planner.plan(event, None)`: reading the event (for Kinesis, decoding every
//! record's base64 and reading the change record inside), converting the images, and planning the
//! actions. Before timing, the bench checks that both plans give the same bulk body and prints
//! each file's records and bytes, from which records/s and the Kinesis path's MB/s of Streams
//! bytes follow.
//!
//! A third path, `base64`, is a reference for what decoding alone costs: the `base64` crate
//! decoding every record's `kinesis.data` (found before timing) into a reused buffer, throughput
//! in the Kinesis event's bytes.
//!
//! Run: `cargo bench -p stream2search-benches --bench kinesis`
//! (`STREAM2SEARCH_BENCH_CLOCK=cpu` to measure CPU time on a busy machine). Under `cargo test`
//! (no `--bench`) criterion runs each path once, as a smoke test.

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};
use stream2search::{Config, Plan, Planner};
use stream2search_benches::{clock, corpus, kinesis};

/// The corpus files measured; `edge` too, as long as its Kinesis event plans.
const CORPORA: [&str; 4] = ["small", "large", "wide", "edge"];

/// Every record's `kinesis.data` text.
fn data_fields(kinesis: &[u8]) -> Vec<String> {
    let event: serde_json::Value =
        serde_json::from_slice(kinesis).expect("the Kinesis event is JSON");
    event["Records"]
        .as_array()
        .expect("Records")
        .iter()
        .map(|r| {
            r["kinesis"]["data"]
                .as_str()
                .expect("kinesis.data")
                .to_string()
        })
        .collect()
}

/// Decodes every `data` text into `buffer`, as the reference for decoding alone.
fn decode_all(data: &[String], buffer: &mut Vec<u8>) -> usize {
    let mut total = 0;
    for text in data {
        buffer.clear();
        STANDARD
            .decode_vec(text, buffer)
            .expect("the generator writes base64");
        total += buffer.len();
    }
    total
}

/// Every chunk's bulk body, in order.
fn body(plan: &Plan) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in plan.chunks() {
        out.extend_from_slice(&plan.body(&chunk.collect::<Vec<_>>()));
    }
    out
}

fn bench<M: Measurement>(c: &mut Criterion<M>) {
    let planner = Planner::new(Config {
        index: "products".into(),
        ..Default::default()
    })
    .expect("default config is valid");

    let mut group = c.benchmark_group("kinesis");
    for name in CORPORA {
        let streams = corpus::load(name);
        let kinesis = kinesis::wrap(&streams).expect("the corpus wraps as a Kinesis event");

        // Outside the timing: both shapes plan, to the same bulk body.
        let streams_plan = planner.plan(&streams, None).expect("corpus is an event");
        let kinesis_plan = match planner.plan(&kinesis, None) {
            Ok(plan) => plan,
            Err(e) => {
                eprintln!("{name}: the Kinesis event does not plan ({e}); not timed");
                continue;
            }
        };
        assert!(
            body(&streams_plan) == body(&kinesis_plan),
            "{name}: the two shapes plan to different bulk bodies"
        );
        eprintln!(
            "{name}: {} records; Streams event {} bytes, Kinesis event {} bytes",
            streams_plan.records().len(),
            streams.len(),
            kinesis.len()
        );
        drop((streams_plan, kinesis_plan));

        group.throughput(Throughput::BytesDecimal(streams.len() as u64));
        group.bench_function(format!("streams/{name}"), |b| {
            b.iter(|| black_box(planner.plan(black_box(&streams), None)))
        });
        group.throughput(Throughput::BytesDecimal(kinesis.len() as u64));
        group.bench_function(format!("kinesis/{name}"), |b| {
            b.iter(|| black_box(planner.plan(black_box(&kinesis), None)))
        });
        let data = data_fields(&kinesis);
        let mut buffer = Vec::new();
        group.bench_function(format!("base64/{name}"), |b| {
            b.iter(|| black_box(decode_all(black_box(&data), &mut buffer)))
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
        bench(&mut c);
        c.final_summary();
    } else {
        let mut c = Criterion::default().configure_from_args();
        bench(&mut c);
        c.final_summary();
    }
}
