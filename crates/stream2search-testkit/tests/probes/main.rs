//! Probes: how a real OpenSearch answers the bulk requests the core sends.
//!
//! Each probe sends one bulk request shaped like the core's (external_gte versions,
//! `floor(secs) * 1_000_000`), asserts the facts the core's classifier relies on (HTTP status,
//! per-item statuses and error types) and, with `STREAM2SEARCH_RECORD_FIXTURES=1`, records the
//! exact response as `crates/stream2search/tests/fixtures/opensearch/<rule>.json`; without it,
//! compares the response with that committed fixture in every field the classification reads.
//! `docs/opensearch.md` summarizes what they established.

mod blocks;
mod bulk;
mod fields;
mod pressure;
mod requests;
mod versions;
