//! Which clock the benchmarks read.
//!
//! By default criterion measures wall time. On a shared machine (two cores, other
//! builds running) wall time mostly measures the scheduler; set
//! `STREAM2SEARCH_BENCH_CLOCK=cpu` to measure this thread's CPU time instead
//! ([`ThreadCpu`]). On a quiet machine both give the same numbers.

use std::env;

use criterion::Throughput;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// Whether `STREAM2SEARCH_BENCH_CLOCK=cpu` asks for [`ThreadCpu`].
pub fn cpu_requested() -> bool {
    env::var("STREAM2SEARCH_BENCH_CLOCK").is_ok_and(|v| v == "cpu")
}

/// A criterion measurement of the benchmarking thread's CPU time (user + system),
/// in nanoseconds, formatted like wall time.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadCpu;

impl Measurement for ThreadCpu {
    type Intermediate = cpu_time::ThreadTime;
    type Value = f64;

    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }

    fn end(&self, start: Self::Intermediate) -> f64 {
        start.elapsed().as_nanos() as f64
    }

    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }

    fn zero(&self) -> f64 {
        0.0
    }

    fn to_f64(&self, value: &f64) -> f64 {
        *value
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &NANOS
    }
}

/// Formats nanoseconds exactly as criterion's wall clock does.
static NANOS: Nanos = Nanos;

struct Nanos;

impl ValueFormatter for Nanos {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        WallTime.formatter().scale_values(typical, values)
    }

    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        WallTime
            .formatter()
            .scale_throughputs(typical, throughput, values)
    }

    fn scale_for_machines(&self, values: &mut [f64]) -> &'static str {
        WallTime.formatter().scale_for_machines(values)
    }
}
