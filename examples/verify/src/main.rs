//! The Products table verified against its index on a schedule: each invocation (EventBridge's
//! scheduled event) compares them exactly, logs one line per difference and a summary, and
//! writes the EMF metrics `Missing`, `Extra`, `Different`, `Unconvertible`, `Repaired` and
//! `Unverified` that `template.yaml`'s alarms watch. It repairs only when
//! `STREAM2SEARCH_VERIFY_REPAIR=true`.
//!
//! Configuration comes from the environment (see the README and `template.yaml`).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    stream2search_lambda::verify::handler::run().await
}
