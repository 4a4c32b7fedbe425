//! # stream2search-client
//!
//! The I/O shell around the pure [`stream2search`] core: it sends a [`Plan`]'s bulk chunks to
//! OpenSearch, reads the answers with the core's classifier, resends what can be resent, and
//! returns one final outcome per item before the caller's deadline.
//!
//! ```no_run
//! use std::time::{Duration, Instant};
//! use stream2search::{Planner, checkpoint};
//! use stream2search_client::{Auth, Client, Config, Service, SigV4};
//!
//! # async fn run(event_bytes: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! // Once per process (in Lambda: outside the handler).
//! let planner = Planner::new(stream2search::Config {
//!     index: "products".into(),
//!     ..stream2search::Config::default()
//! })?;
//! let mut config = Config::new("https://search-products.eu-west-1.es.amazonaws.com");
//! config.auth = Auth::SigV4(SigV4::from_lambda_env(Service::Es)?);
//! let client = Client::new(config)?;
//!
//! // Per invocation.
//! let plan = planner.plan(event_bytes, None)?;
//! let deadline = Instant::now() + Duration::from_secs(60);
//! let report = client.send(&plan, deadline).await?;
//! let results = plan.resolve(&report.finals);
//! let cp = checkpoint::checkpoint(&results, |r| r.outcome.is_durable());
//! println!(
//!     "{} requests, {} retries, {} → {} bytes",
//!     report.counters.attempts,
//!     report.counters.retries,
//!     report.counters.bytes_ndjson,
//!     report.counters.bytes_sent
//! );
//! # let _ = cp;
//! # Ok(())
//! # }
//! ```
//!
//! The data's way, one module each: [`Config`] (`config`, `endpoint`, `tls`) → `gzip` →
//! `auth` (SigV4 / basic, `credentials`) → `transport` (one HTTP exchange) → `send` (chunks,
//! outcomes, retries, deadline) → [`Report`]. Beside it, [`Client::call_aws_json`] calls AWS
//! JSON-protocol APIs (DynamoDB, DynamoDB Streams, SQS) and [`aws`] reads their answers.
//!
//! - **Transport:** hyper 1 with the hyper-util pooled client (HTTP/1.1 keep-alive) and rustls
//!   with the ring provider, trusting the webpki roots plus an optional extra CA
//!   ([`Config::extra_ca_pem`]). `https` only, unless [`Config::allow_http`].
//! - **Auth:** [`SigV4`] for `es` or `aoss` (with `x-amz-content-sha256`, signing the exact
//!   bytes sent, gzip included), [`Auth::basic`], or none. Credentials come from the Lambda
//!   environment ([`SigV4::from_lambda_env`]) or any `ProvideCredentials`, are cached, refreshed
//!   before they expire, and once more after a 401/403.
//! - **Retries:** only retryable items are resent, rebuilt from item indices; waits use the
//!   core's `Backoff` with full jitter; 413 halves the request; the deadline, less
//!   [`Config::deadline_margin`], is never overrun.
//! - **Errors:** per-item results are values (`checkpoint::RecordOutcome`); [`Error`] is for
//!   what no retry fixes. Credentials appear in no `Display` or `Debug` output.
//!
//! Amazon OpenSearch Serverless (`aoss`) accepts only what this crate sends (`POST /_bulk`); it
//! has no `GET /`, so the client never probes the endpoint.
//!
//! [`Plan`]: stream2search::Plan

mod auth;
pub mod aws;
mod client;
mod config;
mod credentials;
mod endpoint;
mod error;
mod gzip;
mod send;
mod tls;
mod transport;

pub use auth::{Auth, Basic, Service, SigV4};
pub use client::Client;
pub use config::{Config, Setting};
pub use credentials::{Missing as MissingCredentials, from_env_with as credentials_from_env};
pub use error::Error;
pub use send::{Counters, Report};
