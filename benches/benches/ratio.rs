//! The speed target as a ratio: stream2search throughput ÷ serde_json `IgnoredAny` throughput,
//! over the same corpus files as `core`.
//!
//! Criterion measures one function after another; on a shared machine whose speed drifts over
//! seconds, the ratio of two such measurements says as much about the drift as about the code.
//! Here the two are timed in alternation, a short batch each (ABBA order), and every round
//! gives one paired ratio: drift slows both halves of a pair alike.
//!
//! Run: `cargo bench -p stream2search-benches --bench ratio`
//! (`STREAM2SEARCH_RATIO_ROUNDS=N` for more rounds; default 61).

use std::hint::black_box;
use std::time::{Duration, Instant};

use stream2search::{Config, Planner};
use stream2search_benches::corpus;

const CORPORA: [&str; 3] = ["small", "large", "wide"];

fn ignored_any(event: &[u8]) {
    let parsed: serde::de::IgnoredAny =
        serde_json::from_slice(event).expect("corpus is valid JSON");
    black_box(parsed);
}

/// Plan, then take every chunk's bulk body, as the client does (same as `core`).
fn stream2search(planner: &Planner, event: &[u8]) {
    let plan = planner.plan(event, None).expect("corpus is an event");
    for chunk in plan.chunks() {
        let items: Vec<usize> = chunk.collect();
        black_box(plan.body(&items));
    }
}

/// Time per run of `f`, over a batch of `n` runs.
fn per_run(n: u32, mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        f();
    }
    started.elapsed() / n
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects corpora by name.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    // `cargo test --all-targets` runs this without `--bench`: one short round, as a smoke test.
    let benching = std::env::args().any(|a| a == "--bench");
    let rounds: usize = match std::env::var("STREAM2SEARCH_RATIO_ROUNDS") {
        Ok(v) => v.parse().unwrap_or(61),
        Err(_) if benching => 61,
        Err(_) => 1,
    };
    let planner = Planner::new(Config {
        index: "products".into(),
        ..Default::default()
    })
    .expect("default config is valid");

    println!("stream2search ÷ IgnoredAny, {rounds} alternating rounds per corpus");
    if !benching {
        println!("(a smoke test under cargo test, in a debug build: the numbers mean nothing)");
    }
    println!();
    println!(
        "| corpus | IgnoredAny best MB/s | stream2search best MB/s | ratio of bests | paired ratio median (p10–p90) |"
    );
    println!("|---|---:|---:|---:|---:|");
    for name in CORPORA {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let event = corpus::load(name);
        // About 20 ms of work per half-round, and at least three runs, so that each half
        // is measured warm (as criterion measures), not just after the other half ran.
        let n = if benching {
            (16_000_000 / event.len()).clamp(3, 200) as u32
        } else {
            1
        };
        for _ in 0..3 {
            per_run(n, || ignored_any(&event));
            per_run(n, || stream2search(&planner, &event));
        }
        let (mut best_ign, mut best_ours) = (Duration::MAX, Duration::MAX);
        let mut ratios = Vec::with_capacity(rounds);
        for round in 0..rounds {
            let (ign, ours) = if round % 2 == 0 {
                let ign = per_run(n, || ignored_any(&event));
                (ign, per_run(n, || stream2search(&planner, &event)))
            } else {
                let ours = per_run(n, || stream2search(&planner, &event));
                (per_run(n, || ignored_any(&event)), ours)
            };
            best_ign = best_ign.min(ign);
            best_ours = best_ours.min(ours);
            ratios.push(ign.as_secs_f64() / ours.as_secs_f64());
        }
        ratios.sort_by(f64::total_cmp);
        let mbps = |d: Duration| event.len() as f64 / d.as_secs_f64() / 1e6;
        println!(
            "| {name} | {:.0} | {:.0} | {:.2}× | {:.2}× ({:.2}–{:.2}) |",
            mbps(best_ign),
            mbps(best_ours),
            best_ign.as_secs_f64() / best_ours.as_secs_f64(),
            percentile(&ratios, 0.5),
            percentile(&ratios, 0.1),
            percentile(&ratios, 0.9),
        );
    }
}
