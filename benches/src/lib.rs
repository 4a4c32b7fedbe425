//! Helpers shared by the stream2search benchmarks.
//!
//! The benchmarks run over the deterministic corpus written by
//! `shared/bench/gen.py` (`small.json`, `large.json`, `wide.json`, `edge.json`).
//! [`corpus::load`] finds it, generating it on first use. [`clock`] lets a run
//! measure CPU time instead of wall time on a busy machine.

pub mod clock;
pub mod corpus;
