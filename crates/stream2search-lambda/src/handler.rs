//! One invocation: plan → send → resolve → dead-letter poison → checkpoint → response.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use lambda_runtime::{Diagnostic, LambdaEvent, tracing};
use serde_json::value::RawValue;
use stream2search::checkpoint::{self, BatchResponse, Checkpoint, RecordOutcome, RecordResult};
use stream2search::{Plan, Planner, RecordErrorKind, SequenceNumber};
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
            }),
        })
    }

    /// Adds a [`Hook`] that sees (and may reshape, skip, refuse or route) every planned item
    /// before it is sent.
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

    /// When this invocation must be done, from the runtime's deadline (milliseconds since the
    /// epoch; one already past at the start counts as unknown, see [`deadline::deadline`]).
    fn deadline(&self, lambda_deadline_ms: u64) -> Instant {
        deadline::deadline(
            lambda_deadline_ms,
            SystemTime::now(),
            Instant::now(),
            self.inner.settings.fallback_budget,
        )
    }

    /// Handles one event from the Lambda runtime: the partial batch response, or an error that
    /// makes Lambda retry the whole batch.
    pub async fn call(&self, event: LambdaEvent<Box<RawValue>>) -> Result<BatchResponse, Error> {
        let deadline = self.deadline(event.context.deadline);
        self.handle(event.payload.get().as_bytes(), deadline)
            .await?
            .response()
    }

    /// Handles an `aws_lambda_events` DynamoDB event (re-serialized, then planned as raw JSON).
    ///
    /// Prefer [`Handler::call`] when you can: the typed event costs a parse and a write. The
    /// versions are the same on both paths (`ApproximateCreationDateTime` in whole seconds, times
    /// 10^6), as aws_lambda_events writes the time back as whole seconds.
    #[cfg(feature = "aws_lambda_events")]
    pub async fn call_typed(
        &self,
        event: LambdaEvent<aws_lambda_events::event::dynamodb::Event>,
    ) -> Result<BatchResponse, Error> {
        let deadline = self.deadline(event.context.deadline);
        let payload = serde_json::to_vec(&event.payload).map_err(|_| {
            Error::Event(stream2search::EventError::NotAnEvent(
                "the typed event could not be serialized",
            ))
        })?;
        self.handle(&payload, deadline).await?.response()
    }

    /// Handles one event payload (`{"Records":[...]}`), returning at least the client's
    /// `deadline_margin` (default 1 s) before `deadline`: bulk sends and dead letters share one
    /// end; what is not durable by then is reported as a failure.
    pub async fn handle(&self, payload: &[u8], deadline: Instant) -> Result<Invocation, Error> {
        let started = Instant::now();
        let inner = &*self.inner;
        let mut plan = inner.planner.plan(payload, None)?;
        if let Some(hook) = &inner.hook {
            hooks::apply(&**hook, payload, &mut plan);
        }
        // Bulk sends, then dead letters, all ended by one instant: Lambda's deadline less the
        // client's margin and the time to answer. The client subtracts its margin itself.
        let margin = inner.settings.client.deadline_margin;
        let requests_end = deadline::requests_end(deadline, margin);
        let report = inner.client.send(&plan, requests_end + margin).await?;
        let retries = report.counters.retries;
        // One result per record, in event order.
        let results = plan.resolve(&report.finals);

        let dead_lettered = self
            .dead_letter(payload, &plan, &results, requests_end)
            .await;
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

    /// Sends every poison record to the queue, all requests ended by `stop`; returns the
    /// positions it accepted. The others stay failures: Lambda delivers them again.
    async fn dead_letter(
        &self,
        payload: &[u8],
        plan: &Plan,
        results: &[RecordResult],
        stop: Instant,
    ) -> HashSet<usize> {
        let Some(queue) = &self.inner.queue else {
            return HashSet::new();
        };
        let poison: Vec<&RecordResult> = results.iter().filter(|r| r.outcome.is_poison()).collect();
        if poison.is_empty() {
            return HashSet::new();
        }
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
                    // The record's text, as the event held it.
                    record: plan
                        .records()
                        .get(r.position)
                        .and_then(|rec| payload.get(rec.span.clone()))
                        .and_then(|b| std::str::from_utf8(b).ok()),
                })
            })
            .collect();
        let (delivered, errors) = queue.send(&messages, stop).await;
        for e in errors {
            tracing::error!(queue = queue.url(), error = %e, "dead-lettering failed; those records are reported as failures");
        }
        delivered
    }
}

fn reason(outcome: &RecordOutcome) -> String {
    match outcome {
        RecordOutcome::Rejected { status, reason } => format!("rejected ({status}): {reason}"),
        RecordOutcome::Invalid(e) if e.kind() == RecordErrorKind::Refused => {
            format!("refused by the hook: {e}")
        }
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
