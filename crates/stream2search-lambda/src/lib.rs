//! # stream2search-lambda
//!
//! An AWS Lambda function that keeps an OpenSearch index exact and complete from a DynamoDB
//! stream, built on the pure [`stream2search`] core and the [`stream2search_client`] transport.
//!
//! The whole `main.rs` of a function:
//!
//! ```no_run
//! use std::process::ExitCode;
//!
//! use stream2search_lambda::Handler;
//!
//! #[tokio::main]
//! async fn main() -> ExitCode {
//!     // Logging, settings checked at cold start (one clear log line, never a panic), events.
//!     stream2search_lambda::run(Handler::builder()).await
//! }
//! ```
//!
//! The runtime's own idioms work too: [`Handler`] is a `tower` `Service`.
//!
//! ```no_run
//! use stream2search_lambda::{Handler, lambda_runtime};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     stream2search_lambda::init_logging();
//!     let handler = Handler::from_env()?;
//!     lambda_runtime::run(handler).await
//! }
//! ```
//!
//! One invocation ([`Handler::handle`]):
//!
//! 1. the event's raw bytes go through the core's `Planner::plan` (no `Value` tree is built): a
//!    DynamoDB Streams event, or the Kinesis event of Kinesis Data Streams for DynamoDB;
//! 2. the client sends the bulk requests, retrying what can be retried, before Lambda's deadline
//!    (a deadline already past or absent, as `cargo lambda watch` sends, means "unknown": the
//!    invocation gets `STREAM2SEARCH_FALLBACK_BUDGET_SECS`);
//! 3. poison records (rejected by OpenSearch, or not convertible) go to the dead-letter SQS queue
//!    when `STREAM2SEARCH_DLQ_URL` is set, and then count as done; the bulk sends and the dead
//!    letters all end by one instant, the client's `deadline_margin` (1 s) and a quarter second
//!    before the deadline, so the response is ready at least that margin before it;
//! 4. the handler returns the partial batch response naming the lowest sequence number
//!    (DynamoDB Streams `SequenceNumber` or Kinesis `sequenceNumber`) that is not durable (the event source mapping needs `FunctionResponseTypes: [ReportBatchItemFailures]`),
//!    or fails the invocation when only a whole-batch retry is safe;
//! 5. one summary log line and one CloudWatch Embedded Metric Format line are written.
//!
//! Authors who want to reshape, filter, delete, refuse or route records give a [`Hook`] to the
//! [`Builder`] ([`Handler::builder`]): it sees each planned item in event order and its verdict
//! edits the plan, so the event is still parsed once. With the `aws_lambda_events` feature,
//! `Handler::call_typed` takes `aws_lambda_events::event::dynamodb::Event` instead of raw JSON.
//! With the `testing` feature, `testing` has a fake OpenSearch and event builders for a
//! function's offline unit tests.
//!
//! [`backfill`] loads what a table already holds: one page of a Scan segment or of a DynamoDB
//! export's data file per [`backfill::Backfiller::step`], through the same planner and client,
//! at a version that loses to every change the stream carries. The `stream2search backfill`
//! command runs it in one process; [`backfill::BackfillHandler`] runs one unit per invocation
//! for a Step Functions Distributed Map (`examples/backfill`).
//!
//! [`verify`] compares the table with the index exactly, rechecks suspects against live
//! traffic, and repairs with versions that lose to later stream changes. The `stream2search
//! verify` command runs it from a terminal; [`verify::handler::VerifyHandler`] runs it on a
//! schedule, with EMF metrics `Missing`, `Extra`, `Different` and `Unverified` (`examples/verify`).

pub mod backfill;
mod config;
mod dead_letter;
mod deadline;
mod handler;
mod hooks;
mod mirror;
mod service;
mod sqs;
mod summary;
#[cfg(feature = "testing")]
pub mod testing;
pub mod verify;

pub use config::{ConfigError, DeadLetter, Secret, Settings};
pub use handler::{Builder, Error, Handler, Invocation};
pub use hooks::{AsyncHook, Hook, HookFuture, Item, Verdict};
pub use mirror::Mirror;
pub use summary::Counts;

#[cfg(feature = "aws_lambda_events")]
pub use aws_lambda_events;
pub use lambda_runtime;

use std::process::ExitCode;

/// Runs the function as its `main` would: sets up logging ([`init_logging`]), reads the
/// environment, builds the handler with `builder`'s hook and serves events until the sandbox
/// ends.
///
/// A failed cold start is one log line, the error's message (JSON when
/// `AWS_LAMBDA_LOG_FORMAT=JSON`), and exit status 1: the function's init fails.
pub async fn run(builder: Builder) -> ExitCode {
    init_logging();
    let handler = match builder.from_env() {
        Ok(handler) => handler,
        Err(e) => {
            lambda_runtime::tracing::error!(error_type = e.error_type(), "cold start failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    match lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            lambda_runtime::tracing::error!("the Lambda runtime stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Sets up `tracing` the Lambda way, as `lambda_runtime::tracing::init_default_subscriber` does:
/// lines on stdout, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, the level from
/// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default `INFO`). One difference: `aws_sigv4` logs at
/// most at `DEBUG`, whatever the level, because its `TRACE` lines print the access key ID.
/// Does nothing if a global subscriber is already set.
pub fn init_logging() {
    use lambda_runtime::tracing::subscriber::{
        self, EnvFilter, filter::Directive, filter::LevelFilter,
    };

    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    if let Ok(cap) = "aws_sigv4=debug".parse::<Directive>() {
        filter = filter.add_directive(cap);
    }
    let lines = subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _already_set = if json {
        lines.json().try_init()
    } else {
        lines.try_init()
    };
}
