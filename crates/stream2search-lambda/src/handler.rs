//! One invocation: plan → send → resolve → dead-letter poison → checkpoint → response.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::{Diagnostic, LambdaEvent, tracing};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use stream2search::checkpoint::{self, BatchResponse, Checkpoint, RecordOutcome, RecordResult};
use stream2search::{Planner, SequenceNumber};
use stream2search_client::Client;

use crate::config::{ConfigError, Settings};
use crate::dead_letter::{self, Poison};
use crate::deadline;
use crate::hooks::{self, Hook};
use crate::sqs::Queue;
use crate::summary::Summary;

/// The Lambda handler: build it once at cold start, call it per event. Clones share everything.
#[derive(Clone)]
pub struct Handler {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    planner: Planner,
    client: Client,
    queue: Option<Queue>,
    hook: Option<Box<dyn Hook>>,
    /// Planners for indices chosen by the hook, built on first use.
    planners: Mutex<HashMap<String, Planner>>,
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handler")
            .field("settings", &self.inner.settings)
            .field("hook", &self.inner.hook.is_some())
            .finish_non_exhaustive()
    }
}

/// Why an invocation (or the cold start) failed. Lambda retries the whole batch on any of them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is wrong (cold start).
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// The planner refused its configuration (cold start).
    #[error(transparent)]
    Planner(#[from] stream2search::ConfigError),
    /// The client could not be built, or no retry can fix a send (credentials refused...).
    #[error("OpenSearch client: {0}")]
    Client(#[from] stream2search_client::Error),
    /// The dead-letter queue could not be set up (cold start).
    #[error(transparent)]
    Queue(#[from] crate::sqs::QueueError),
    /// The payload is not a DynamoDB Streams event at all.
    #[error("not a DynamoDB Streams event: {0}")]
    Event(#[from] stream2search::EventError),
    /// A record that is not durable has no SequenceNumber to resume at (and none precedes it):
    /// the whole batch must be delivered again.
    #[error("record {position} is not durable and has no SequenceNumber: retrying the batch")]
    RetryBatch {
        /// Position of that record in `Records`.
        position: usize,
    },
}

impl From<Error> for Diagnostic {
    fn from(e: Error) -> Diagnostic {
        let kind = match &e {
            Error::Config(_) | Error::Planner(_) | Error::Queue(_) => "Stream2Search.Config",
            Error::Client(_) => "Stream2Search.OpenSearch",
            Error::Event(_) => "Stream2Search.NotAnEvent",
            Error::RetryBatch { .. } => "Stream2Search.RetryBatch",
        };
        Diagnostic {
            error_type: kind.into(),
            error_message: e.to_string(),
        }
    }
}

/// What one invocation did, for callers that want more than the response.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Where Lambda resumes.
    pub checkpoint: Checkpoint,
    /// One result per record, in event order.
    pub results: Vec<RecordResult>,
    /// Positions of the poison records the dead-letter queue accepted.
    pub dead_lettered: HashSet<usize>,
    /// The counts that were logged and written as metrics.
    pub summary: Summary,
}

impl Invocation {
    /// The partial batch response, or [`Error::RetryBatch`].
    pub fn response(&self) -> Result<BatchResponse, Error> {
        self.checkpoint.response().ok_or(Error::RetryBatch {
            position: match self.checkpoint {
                Checkpoint::RetryBatch { position } => position,
                _ => 0,
            },
        })
    }
}

impl Handler {
    /// Reads the environment ([`Settings::from_env`]) and builds the handler.
    pub fn from_env() -> Result<Handler, Error> {
        Handler::new(Settings::from_env()?)
    }

    /// Builds the planner, the OpenSearch client and the dead-letter queue writer. Needs no
    /// network.
    pub fn new(settings: Settings) -> Result<Handler, Error> {
        let planner = Planner::new(settings.plan.clone())?;
        let client = Client::new(settings.client.clone())?;
        let queue = match &settings.dead_letter {
            Some(target) => Some(Queue::new(
                target.clone(),
                settings.aws_credentials.as_ref().map(|c| c.0.clone()),
            )?),
            None => None,
        };
        Ok(Handler {
            inner: Arc::new(Inner {
                settings,
                planner,
                client,
                queue,
                hook: None,
                planners: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Adds a [`Hook`] that sees (and may edit, drop or route) every record before planning.
    ///
    /// # Panics
    /// If called after the handler was cloned.
    pub fn with_hook(mut self, hook: impl Hook + 'static) -> Handler {
        Arc::get_mut(&mut self.inner)
            .expect("with_hook is called before the handler is cloned")
            .hook = Some(Box::new(hook));
        self
    }

    /// The settings it was built from.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Handles one event from the Lambda runtime: the partial batch response, or an error that
    /// makes Lambda retry the whole batch.
    pub async fn call(&self, event: LambdaEvent<Box<RawValue>>) -> Result<BatchResponse, Error> {
        let started = Instant::now();
        let deadline = deadline::deadline(
            event.context.deadline,
            SystemTime::now(),
            started,
            self.inner.settings.fallback_budget,
        );
        self.handle(event.payload.get().as_bytes(), deadline)
            .await?
            .response()
    }

    /// Handles an `aws_lambda_events` DynamoDB event (re-serialized, then planned as raw JSON).
    #[cfg(feature = "aws_lambda_events")]
    pub async fn call_typed(
        &self,
        event: LambdaEvent<aws_lambda_events::event::dynamodb::Event>,
    ) -> Result<BatchResponse, Error> {
        let started = Instant::now();
        let deadline = deadline::deadline(
            event.context.deadline,
            SystemTime::now(),
            started,
            self.inner.settings.fallback_budget,
        );
        let payload = serde_json::to_vec(&event.payload).map_err(|_| {
            Error::Event(stream2search::EventError::NotAnEvent(
                "the typed event could not be serialized",
            ))
        })?;
        self.handle(&payload, deadline).await?.response()
    }

    /// Handles one event payload (`{"Records":[...]}`) with everything done by `deadline`.
    pub async fn handle(&self, payload: &[u8], deadline: Instant) -> Result<Invocation, Error> {
        let started = Instant::now();
        let inner = &*self.inner;
        let (mut results, retries) = match &inner.hook {
            None => {
                let plan = inner.planner.plan(payload, None)?;
                let report = inner.client.send(&plan, deadline).await?;
                (plan.resolve(&report.finals), report.counters.retries)
            }
            Some(hook) => self.hooked(&**hook, payload, deadline).await?,
        };
        results.sort_by_key(|r| r.position);

        let dead_lettered = self.dead_letter(payload, &results, deadline).await;
        for r in &results {
            log_failure(r, dead_lettered.contains(&r.position));
        }
        let checkpoint = checkpoint::checkpoint(&results, |r| {
            r.outcome.is_durable() || dead_lettered.contains(&r.position)
        });
        let summary = Summary::count(
            &results,
            |r| dead_lettered.contains(&r.position),
            retries,
            started.elapsed(),
        );
        summary.log();
        if inner.settings.metrics {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            println!(
                "{}",
                summary.emf(
                    &inner.settings.metrics_namespace,
                    &inner.settings.function_name,
                    now
                )
            );
        }
        if let Checkpoint::RetryBatch { position } = checkpoint {
            tracing::warn!(
                position,
                "a record without SequenceNumber is not durable; failing the invocation"
            );
        }
        Ok(Invocation {
            checkpoint,
            results,
            dead_lettered,
            summary,
        })
    }

    /// Plans and sends with the hook: one plan per target index.
    async fn hooked(
        &self,
        hook: &dyn Hook,
        payload: &[u8],
        deadline: Instant,
    ) -> Result<(Vec<RecordResult>, u32), Error> {
        #[derive(Deserialize)]
        struct Event {
            #[serde(rename = "Records")]
            records: Vec<Value>,
        }
        let body = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
        let Ok(event) = serde_json::from_slice::<Event>(body) else {
            // Let the core name what is wrong with it.
            self.inner.planner.plan(payload, None)?;
            return Err(Error::Event(stream2search::EventError::NotAnEvent(
                "the hook could not read the event",
            )));
        };
        let (groups, refused) = hooks::apply(hook, event.records);
        let mut results: Vec<RecordResult> = refused
            .into_iter()
            .map(|r| RecordResult {
                position: r.position,
                sequence_number: r.sequence_number.as_deref().and_then(SequenceNumber::parse),
                event_id: r.event_id,
                // Status 0: refused here, not by OpenSearch (the core offers no hook error kind).
                outcome: RecordOutcome::Rejected {
                    status: 0,
                    reason: r.reason,
                },
            })
            .collect();
        let mut retries = 0;
        for group in groups {
            let planner = match &group.index {
                None => self.inner.planner.clone(),
                Some(index) => self.planner_for(index)?,
            };
            let sub = serde_json::to_vec(&serde_json::json!({ "Records": group.records }))
                .map_err(|_| {
                    Error::Event(stream2search::EventError::NotAnEvent(
                        "a hooked record could not be written back",
                    ))
                })?;
            let plan = planner.plan(&sub, None)?;
            let report = self.inner.client.send(&plan, deadline).await?;
            retries += report.counters.retries;
            results.extend(plan.resolve(&report.finals).into_iter().map(|mut r| {
                r.position = group.positions[r.position];
                r
            }));
        }
        Ok((results, retries))
    }

    fn planner_for(&self, index: &str) -> Result<Planner, Error> {
        let mut planners = self
            .inner
            .planners
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(p) = planners.get(index) {
            return Ok(p.clone());
        }
        let planner = Planner::new(stream2search::Config {
            index: index.to_owned(),
            index_prefix: None,
            ..self.inner.settings.plan.clone()
        })?;
        planners.insert(index.to_owned(), planner.clone());
        Ok(planner)
    }

    /// Sends every poison record to the queue; returns the positions it accepted.
    async fn dead_letter(
        &self,
        payload: &[u8],
        results: &[RecordResult],
        deadline: Instant,
    ) -> HashSet<usize> {
        let Some(queue) = &self.inner.queue else {
            return HashSet::new();
        };
        let poison: Vec<&RecordResult> = results.iter().filter(|r| r.outcome.is_poison()).collect();
        if poison.is_empty() {
            return HashSet::new();
        }
        #[derive(Deserialize)]
        struct RawEvent<'a> {
            #[serde(rename = "Records", borrow)]
            records: Vec<&'a RawValue>,
        }
        let body = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
        let raw: Vec<&RawValue> = std::str::from_utf8(body)
            .ok()
            .and_then(|text| serde_json::from_str::<RawEvent<'_>>(text).ok())
            .map(|e| e.records)
            .unwrap_or_default();
        let reasons: Vec<String> = poison.iter().map(|r| reason(&r.outcome)).collect();
        let messages: Vec<_> = poison
            .iter()
            .zip(&reasons)
            .map(|(r, reason)| {
                dead_letter::message(&Poison {
                    position: r.position,
                    event_id: r.event_id.as_deref(),
                    sequence_number: r.sequence_number.as_ref().map(SequenceNumber::as_str),
                    reason,
                    record: raw.get(r.position).copied(),
                })
            })
            .collect();
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_default()
            .saturating_sub(Duration::from_millis(500))
            .max(Duration::from_millis(100));
        let (delivered, errors) = queue.send(&messages, left).await;
        for e in errors {
            tracing::error!(queue = queue.url(), error = %e, "dead-lettering failed; those records are reported as failures");
        }
        delivered
    }
}

fn reason(outcome: &RecordOutcome) -> String {
    match outcome {
        RecordOutcome::Rejected { status, reason } => format!("rejected ({status}): {reason}"),
        RecordOutcome::Invalid(e) => format!("invalid: {e}"),
        RecordOutcome::NotDurable { reason } => format!("not durable: {reason}"),
        other => format!("{other:?}"),
    }
}

/// Every record that did not end well gets a log line: nothing is dropped silently.
fn log_failure(r: &RecordResult, dead_lettered: bool) {
    if r.outcome.is_durable() {
        return;
    }
    let seq = r.sequence_number.as_ref().map(SequenceNumber::as_str);
    let why = reason(&r.outcome);
    if dead_lettered {
        tracing::warn!(position = r.position, event_id = r.event_id.as_deref(), sequence_number = seq, reason = %why, "poison record dead-lettered");
    } else {
        tracing::error!(position = r.position, event_id = r.event_id.as_deref(), sequence_number = seq, reason = %why, "record not durable; Lambda will deliver it again");
    }
}
