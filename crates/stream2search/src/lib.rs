//! # stream2search
//!
//! Exact transforms from [DynamoDB Streams] Lambda events (or Kinesis events of [Kinesis Data
//! Streams for DynamoDB]) to OpenSearch [`_bulk`] requests.
//!
//! This crate is the pure core: it reads no clock, environment, network or random source. Callers
//! pass those in, and perform the I/O it describes (see `stream2search-client`).
//!
//! The pipeline, one file per stage:
//!
//! | stage | what it does | where |
//! |---|---|---|
//! | [`event`] | reads the event's `Records` and each record (keys, event name, sequence number, images) in one pass; a Kinesis record's base64 `data` is decoded and read the same way | [`Planner::plan`], [`Source`] |
//! | `attribute` | the AttributeValue grammar: type tags, what each holds, a key's text, base64 | |
//! | [`document`] | writes an image's AttributeValues as the plain JSON document | |
//! | `plan` | makes each record's bulk items: id, index, version, routing ([`Planner`], [`Plan`], [`Item`], [`Record`]) | |
//! | `dedup` | lets the newer change of a document (index, id) supersede the other in the same event: the higher version, else the later | [`Item::records`] |
//! | [`bulk`] | lays the items out as NDJSON and cuts them into requests within the byte and action limits | [`Plan::bulk_chunks`], [`bulk::Chunk`] |
//! | `edit` | lets a hook change a plan before it is sent | [`Plan::set_document`], [`Plan::set_index`], [`Plan::set_delete`], [`Plan::remove`] |
//! | [`outcome`] | reads a bulk response: one [`outcome::ItemOutcome`] per item sent, aligned by position | [`outcome::classify`] |
//! | `resolve` | hands each item's end (a [`checkpoint::RecordOutcome`]) to the records it decides: one [`checkpoint::RecordResult`] per record | [`Plan::resolve`] |
//! | [`checkpoint`] | finds where Lambda resumes and builds the partial batch response | [`checkpoint::checkpoint`] |
//!
//! Around them: [`Config`] (what the planner is told; build it over [`Config::default`]),
//! [`backoff::Backoff`] (retry delays, the caller draws the randomness and sleeps), [`error`]
//! (an [`EventError`] fails a whole payload; a [`RecordError`] is a value kept on one record and
//! the rest of the batch goes on), [`number`] (DynamoDB numbers as exact decimal text).
//!
//! One type per outcome, each read as one line through its `Display`: an [`outcome::Applied`]
//! (a change settled in the index: indexed, deleted, already gone, stale), an
//! [`outcome::ItemOutcome`] (one answer of the server: applied, retryable, field limit,
//! rejected), a [`checkpoint::RecordOutcome`] (how an item ended after all attempts, and so each
//! record it decides: applied, skipped, rejected, invalid, not durable) and a
//! [`checkpoint::Checkpoint`].
//!
//! ```
//! use stream2search::{Config, Planner, outcome, checkpoint::{self, RecordOutcome}};
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
//! // One bulk request per chunk.
//! let chunks = plan.bulk_chunks();
//! assert_eq!(chunks.len(), 1);
//! assert_eq!(
//!     std::str::from_utf8(&chunks[0].body())?,
//!     concat!(
//!         r#"{"index":{"_index":"products","_id":"p-1","version":1700000000000000,"version_type":"external_gte"}}"#, "\n",
//!         r#"{"productId":"p-1","price":19.990,"tags":["a","b"],"inStock":false,"note":""}"#, "\n",
//!     )
//! );
//!
//! // Send it; then classify the answer (here: a canned one), resolve and checkpoint.
//! let response = br#"{"took":3,"errors":false,"items":[{"index":{"_index":"products","_id":"p-1","status":201,"result":"created"}}]}"#;
//! let outcome::Response::Items(items) = outcome::classify(200, response, &chunks[0].actions()) else { panic!() };
//! let ends: Vec<RecordOutcome> = items.into_iter().map(RecordOutcome::from).collect();
//! let results = plan.resolve(&ends);
//! assert_eq!(results[0].outcome.to_string(), "indexed");
//! let cp = checkpoint::checkpoint(&results, |r| r.outcome.is_durable());
//! assert_eq!(serde_json::to_string(&cp.response().unwrap())?, r#"{"batchItemFailures":[]}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [DynamoDB Streams]: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html
//! [Kinesis Data Streams for DynamoDB]: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/kds.html
//! [`_bulk`]: https://docs.opensearch.org/latest/api-reference/document-apis/bulk/

mod attribute;
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
pub mod time;

pub use bulk::Action;
pub use config::{Config, LongIdPolicy, ReservedNames, TtlPolicy};
pub use error::{ConfigError, EditError, EventError, RecordError, RecordErrorKind, Setting};
pub use event::{EventName, SequenceNumber, Source};
pub use plan::{Item, Plan, Planner, Record, RecordStatus, validate_index_name};
