//! # stream2search
//!
//! Exact transforms from [DynamoDB Streams] Lambda events to OpenSearch [`_bulk`] requests.
//!
//! This crate is the pure core: it reads no clock, environment, network or random source. Callers
//! pass those in, and perform the I/O it describes (see `stream2search-client`).
//!
//! The pipeline, one module per stage:
//! [`event`] (stream record) → [`document`] (AttributeValue → JSON) → [`bulk`] (NDJSON, chunks) →
//! [`outcome`] (response → per-item result) → [`checkpoint`] (→ partial batch response).
//!
//! ```
//! use stream2search::{Config, Planner, outcome::{self, Final}, checkpoint};
//!
//! let event = br#"{"Records":[{"eventID":"1","eventName":"INSERT","dynamodb":{
//!     "ApproximateCreationDateTime":1700000000,
//!     "Keys":{"productId":{"S":"p-1"}},
//!     "NewImage":{"productId":{"S":"p-1"},"price":{"N":"19.990"},"tags":{"SS":["a","b"]},
//!                 "inStock":{"BOOL":false},"note":{"S":""}},
//!     "SequenceNumber":"111","StreamViewType":"NEW_AND_OLD_IMAGES"}}]}"#;
//!
//! let planner = Planner::new(Config { index: "products".into(), ..Config::default() })?;
//! let plan = planner.plan(event, None)?;
//!
//! let mut body = Vec::new();
//! for chunk in plan.chunks() {
//!     plan.encode(&chunk.collect::<Vec<_>>(), &mut body);
//! }
//! assert_eq!(
//!     String::from_utf8(body)?,
//!     concat!(
//!         r#"{"index":{"_index":"products","_id":"p-1","version":1700000000000000,"version_type":"external_gte"}}"#, "\n",
//!         r#"{"productId":"p-1","price":19.990,"tags":["a","b"],"inStock":false,"note":""}"#, "\n",
//!     )
//! );
//!
//! // Send it; then classify the answer (here: a canned one) and checkpoint.
//! let response = br#"{"took":3,"errors":false,"items":[{"index":{"_index":"products","_id":"p-1","status":201,"result":"created"}}]}"#;
//! let actions: Vec<_> = plan.items().iter().map(|i| i.action).collect();
//! let outcome::Response::Items(items) = outcome::classify(200, response, &actions) else { panic!() };
//! let finals: Vec<Final> = items.into_iter().map(Final::from).collect();
//! let results = plan.resolve(&finals);
//! let cp = checkpoint::checkpoint(&results, |r| r.outcome.is_durable());
//! assert_eq!(serde_json::to_string(&cp.response().unwrap())?, r#"{"batchItemFailures":[]}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [DynamoDB Streams]: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html
//! [`_bulk`]: https://docs.opensearch.org/latest/api-reference/document-apis/bulk/

pub mod backoff;
pub mod bulk;
pub mod checkpoint;
mod config;
mod dedup;
pub mod document;
mod edit;
pub mod error;
pub mod event;
mod fast;
mod id;
mod index;
mod json;
pub mod number;
pub mod outcome;
mod plan;
mod resolve;

pub use bulk::Action;
pub use config::{Config, LongIdPolicy, ReservedNames, TtlPolicy};
pub use error::{ConfigError, EditError, EventError, RecordError, RecordErrorKind};
pub use event::{EventName, SequenceNumber};
pub use plan::{Item, Plan, Planner, Record, RecordStatus, validate_index_name};
