//! Helpers shared by the stream2search benchmarks.
//!
//! The benchmarks run over a deterministic corpus of Lambda DynamoDB Streams events that this
//! crate generates itself ([`shapes`]: `small.json`, `large.json`, `wide.json`, `edge.json`).
//! [`corpus::load`] finds it, writing it on first use; [`kinesis::wrap`] turns an event of it into
//! the Lambda Kinesis event of the same changes. [`clock`] lets a run measure CPU time
//! instead of wall time on a busy machine.
//!
//! `cargo run -p stream2search-benches --bin corpus -- [DIR]` writes the corpus to `DIR`
//! (default: `target/bench-corpus/`) and prints the directory.

pub mod av;
pub mod ceiling;
pub mod clock;
pub mod corpus;
pub mod export;
pub mod kinesis;
pub mod rng;
pub mod shapes;
