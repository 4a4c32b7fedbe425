//! The Products table backfilled into OpenSearch: one invocation reads one Scan segment for as
//! long as its time allows and answers where it stopped; `template.yaml`'s state machine plans
//! the segments and invokes the function for each until it is done.
//!
//! Configuration comes from the environment (see the README and `template.yaml`).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    stream2search_lambda::backfill::handler::run().await
}
