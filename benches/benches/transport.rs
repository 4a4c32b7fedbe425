//! Transport costs of `stream2search-client`.
//!
//! - `transport/prepare`: building the exact request that is sent for a 1 MB and a 5 MB NDJSON
//!   body: gzip (level 1) + SigV4, SigV4 alone (gzip off), gzip alone (no auth). Throughput is
//!   in NDJSON bytes.
//! - `transport/send_1000`: the wall time of `Client::send` for a plan of the first 1,000
//!   records of the `large` corpus, one bulk request to the local node (`OPENSEARCH_URL`, from
//!   `dev/opensearch start`; skipped without it, and a failure without it when
//!   `STREAM2SEARCH_REQUIRE_OPENSEARCH=1`). After the criterion run it prints the split
//!   of that time into this process's CPU time (thread CPU clock, the client runs on one
//!   current-thread runtime) and time waiting for the node.
//!
//! Run: `cargo bench -p stream2search-benches --bench transport`.

use std::hint::black_box;
use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use criterion::{Criterion, Throughput};
use stream2search::{Config as CoreConfig, Plan, Planner};
use stream2search_benches::corpus;
use stream2search_client::{Auth, Client, Config, Service, SigV4};

const BENCH_INDEX: &str = "s2s-bench-transport";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

fn planner() -> Planner {
    Planner::new(CoreConfig {
        index: BENCH_INDEX.into(),
        ..CoreConfig::default()
    })
    .expect("valid core config")
}

/// Real bulk NDJSON from the `large` corpus, repeated and cut at a line end to about `size`.
fn ndjson(size: usize) -> Vec<u8> {
    let plan = planner()
        .plan(&corpus::load("large"), None)
        .expect("corpus plans");
    let all: Vec<usize> = (0..plan.items().len()).collect();
    let mut one = Vec::new();
    plan.encode(&all, &mut one);
    let mut body = Vec::with_capacity(size + one.len());
    while body.len() < size {
        body.extend_from_slice(&one);
    }
    let cut = body[..size]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(size, |i| i + 1);
    body.truncate(cut);
    body
}

fn client(endpoint: &str, gzip: bool, sign: bool) -> Client {
    let mut config = Config::new(endpoint);
    config.allow_http = endpoint.starts_with("http://");
    config.gzip = gzip;
    if sign {
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session-token".into()),
            None,
            "bench",
        );
        config.auth = Auth::SigV4(SigV4::new(Service::Es, "eu-west-1", creds));
    }
    Client::new(config).expect("valid client config")
}

fn prepare(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("transport/prepare");
    group.sample_size(20);
    for (label, size) in [("1MB", 1 << 20), ("5MB", 5 << 20)] {
        let body = ndjson(size);
        group.throughput(Throughput::Bytes(body.len() as u64));
        for (name, gzip, sign) in [
            ("gzip+sigv4", true, true),
            ("sigv4", false, true),
            ("gzip", true, false),
        ] {
            let client = client("https://search.example", gzip, sign);
            group.bench_function(format!("{name}/{label}"), |b| {
                b.iter(|| {
                    let request = rt
                        .block_on(client.bulk_request(black_box(&body)))
                        .expect("request");
                    black_box(request)
                })
            });
        }
        let gz = rt
            .block_on(client("https://search.example", true, false).bulk_request(&body))
            .expect("request");
        eprintln!(
            "transport/prepare/{label}: {} NDJSON bytes -> {} gzip bytes ({:.1}x)",
            body.len(),
            gz.body().len(),
            body.len() as f64 / gz.body().len() as f64
        );
    }
    group.finish();
}

/// The first 1,000 records of the `large` corpus.
fn plan_1000() -> Plan {
    let event: serde_json::Value =
        serde_json::from_slice(&corpus::load("large")).expect("corpus is JSON");
    let records = &event["Records"].as_array().expect("Records")[..1000];
    let event = serde_json::to_vec(&serde_json::json!({ "Records": records })).expect("JSON");
    planner().plan(&event, None).expect("corpus plans")
}

/// CPU time of the calling thread so far (Linux `schedstat`), if available.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn delete_index(url: &str) {
    let Some(authority) = url.strip_prefix("http://") else {
        return;
    };
    let authority = authority.trim_end_matches('/');
    if let Ok(mut stream) = std::net::TcpStream::connect(authority) {
        let _ = write!(
            stream,
            "DELETE /{BENCH_INDEX} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
        );
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn send_1000(c: &mut Criterion) {
    let Ok(url) = std::env::var("OPENSEARCH_URL") else {
        // As the tests do: a run that requires the server fails without it instead of skipping.
        assert!(
            std::env::var_os("STREAM2SEARCH_REQUIRE_OPENSEARCH").is_none_or(|v| v != "1"),
            "transport/send_1000: STREAM2SEARCH_REQUIRE_OPENSEARCH=1 but OPENSEARCH_URL is not set"
        );
        eprintln!("SKIPPED transport/send_1000: OPENSEARCH_URL is not set (dev/opensearch start)");
        return;
    };
    let rt = runtime();
    let plan = plan_1000();
    let chunks = plan.chunks();
    let client = client(&url, true, false);
    let send = |plan: &Plan| {
        rt.block_on(client.send(plan, Instant::now() + Duration::from_secs(60)))
            .expect("send")
    };
    // Creates the index (dynamic mapping) and the kept-alive connection.
    let first = send(&plan);
    let durable = first
        .finals
        .iter()
        .filter(|f| {
            !matches!(
                f,
                stream2search::checkpoint::RecordOutcome::NotDurable { .. }
            )
        })
        .count();
    eprintln!(
        "transport/send_1000: {} records -> {} items in {} chunk(s), {} NDJSON bytes -> {} sent; \
         first send: {} of {} items durable, {} request(s)",
        plan.records().len(),
        plan.items().len(),
        chunks.len(),
        first.counters.bytes_ndjson,
        first.counters.bytes_sent,
        durable,
        plan.items().len(),
        first.counters.attempts
    );

    let mut group = c.benchmark_group("transport");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(plan.records().len() as u64));
    group.bench_function("send_1000", |b| b.iter(|| black_box(send(&plan))));
    group.finish();

    // The split, over separate runs.
    let (mut wall, mut cpu, mut ours, mut waiting) = (vec![], vec![], vec![], vec![]);
    let mut attempts = 0;
    for _ in 0..30 {
        let cpu_before = thread_cpu();
        let started = Instant::now();
        let report = send(&plan);
        wall.push(started.elapsed());
        if let (Some(before), Some(after)) = (cpu_before, thread_cpu()) {
            cpu.push(after - before);
        }
        ours.push(report.counters.cpu);
        waiting.push(report.counters.server_wait);
        attempts += report.counters.attempts;
    }
    eprintln!("transport/send_1000 split, median of 30 sends ({attempts} requests in all):");
    eprintln!("  wall                                 {:?}", median(wall));
    if !cpu.is_empty() {
        eprintln!("  process CPU (thread clock)           {:?}", median(cpu));
    }
    eprintln!("  encode+gzip+sign+classify (counters) {:?}", median(ours));
    eprintln!(
        "  waiting for the node (counters)      {:?}",
        median(waiting)
    );
    delete_index(&url);
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    prepare(&mut c);
    send_1000(&mut c);
    c.final_summary();
}
