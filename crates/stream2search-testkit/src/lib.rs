//! Test support for stream2search: a real OpenSearch in integration tests.
//!
//! The project runs OpenSearch itself (`dev/opensearch start`, see `docs/opensearch.md`) and
//! tests find it through `OPENSEARCH_URL`. A test asks for the server first:
//!
//! ```no_run
//! use stream2search_testkit::OpenSearch;
//!
//! let Some(opensearch) = OpenSearch::from_env() else {
//!     return; // printed "SKIPPED: ..." (or panicked, under STREAM2SEARCH_REQUIRE_OPENSEARCH=1)
//! };
//! let index = opensearch.index("bulk basics"); // unique name, deleted when dropped
//! let response = opensearch.bulk(
//!     format!("{{\"index\":{{\"_index\":\"{index}\",\"_id\":\"k\"}}}}\n{{\"a\":1}}\n").as_bytes(),
//! );
//! assert_eq!(response.status, 200);
//! ```
//!
//! - With `STREAM2SEARCH_REQUIRE_OPENSEARCH=1` (the README's test command and CI set it), a
//!   missing or unreachable server is a test failure.
//! - Without it, the test prints a loud `SKIPPED: <test>: <why>` line to stderr and returns.
//! - [`fixture`] writes recorded responses when `STREAM2SEARCH_RECORD_FIXTURES=1`, and otherwise
//!   checks that the live server still answers as they say.
//! - [`moto`] finds the project's moto (`MOTO_URL`) the same way, reads its SQS queues
//!   ([`MotoSqs`]) and runs `dev/ddb.py` and other scripts with the project's Python.
//! - [`lambda`] runs a function of the workspace under `cargo lambda watch` and invokes it.
//! - [`kinesis`] rewrites DynamoDB Streams records as Kinesis Data Streams for DynamoDB records.
//! - [`cfn`] checks CloudFormation templates with `cfn-lint` and reads them as JSON.
#![deny(missing_docs)]

pub mod cfn;
pub mod fault;
pub mod fixture;
pub mod http;
mod index;
pub mod kinesis;
pub mod lambda;
pub mod loopback;
pub mod moto;
mod opensearch;
pub mod secrets;

pub use http::Response;
pub use index::TestIndex;
pub use moto::{MotoSqs, moto_url};
pub use opensearch::OpenSearch;

/// The workspace's root directory.
pub fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
