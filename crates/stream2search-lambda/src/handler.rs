//! One invocation: plan → send → resolve → dead-letter poison → checkpoint → response.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use lambda_runtime::{Diagnostic, LambdaEvent, tracing};
use serde_json::value::RawValue;
use stream2search::checkpoint::{self, BatchResponse, Checkpoint, RecordOutcome, RecordResult};
use stream2search::{Plan, Planner, SequenceNumber};
use stream2search_client::Client;

use crate::config::{self, ConfigError, Settings};
use crate::dead_letter::{self, Poison};
use crate::deadline;
use crate::hooks::{self, AsyncHook, Hook};
use crate::mirror::{self, Targets};
use crate::sqs::Queue;
use crate::summary::Counts;

/// The Lambda handler: build it once at cold start, call it per event. Clones share everything.
///
/// It is a `tower` [`Service`], so `lambda_runtime::run(handler)` serves it; so does
/// `lambda_runtime::run(service_fn(|event| handler.call(event)))`.
///
/// [`Service`]: lambda_runtime::Service
#[derive(Clone)]
pub struct Handler {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    planner: Planner,
    client: Client,
    queue: Option<Queue>,
    hook: Option<Hooked>,
    /// The mirror indexes, when mirroring is on.
    mirror: Option<Targets>,
}

/// The one hook a handler may have.
enum Hooked {
    Sync(Box<dyn Hook>),
    Async(Box<dyn AsyncHook>),
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handler")
            .field("settings", &self.inner.settings)
            .field("queue", &self.inner.queue)
            .field("hook", &self.inner.hook.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Handler`], with its [`Hook`] if it has one: `Handler::builder().hook(h).from_env()`.
#[derive(Default)]
pub struct Builder {
    hook: Option<Hooked>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl Builder {
    /// The [`Hook`] that sees (and may reshape, skip, delete, refuse or route) every planned item
    /// before it is sent. A handler has at most one: a second hook replaces the first.
    pub fn hook(mut self, hook: impl Hook + 'static) -> Builder {
        self.hook = Some(Hooked::Sync(Box::new(hook)));
        self
    }

    /// An [`AsyncHook`] instead: one that awaits (an enrichment lookup). It replaces any hook
    /// given before.
    pub fn async_hook(mut self, hook: impl AsyncHook + 'static) -> Builder {
        self.hook = Some(Hooked::Async(Box::new(hook)));
        self
    }

    /// Reads the process environment and builds the handler (see [`Builder::from_lookup`]).
    pub fn from_env(self) -> Result<Handler, Error> {
        self.from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` ([`Settings::from_lookup`]) and builds the handler.
    /// Every mistake names its variable, including those found only while the planner, the
    /// client and the queue writer are built (an index name OpenSearch refuses, a chunk limit
    /// of 0, a backoff cap below its base...). Needs no network.
    pub fn from_lookup(self, lookup: impl Fn(&str) -> Option<String>) -> Result<Handler, Error> {
        let set = |name: &str| lookup(name).is_some_and(|v| !v.trim().is_empty());
        let settings = Settings::from_lookup(&lookup)?;
        let queue_variable = if set("STREAM2SEARCH_SQS_ENDPOINT") {
            "STREAM2SEARCH_SQS_ENDPOINT"
        } else {
            "STREAM2SEARCH_DLQ_URL"
        };
        let (planner, client) = config::planner_and_client(&settings, &lookup)?;
        let queue = queue(&settings).map_err(|e| {
            let message = e.to_string();
            let message = message
                .strip_prefix("invalid client configuration: ")
                .unwrap_or(&message);
            ConfigError::new(queue_variable, message)
        })?;
        Ok(self.assemble(settings, planner, client, queue))
    }

    /// Builds the handler from `settings` made by hand. Needs no network.
    pub fn build(self, settings: Settings) -> Result<Handler, Error> {
        let planner = Planner::new(settings.plan.clone()).map_err(Kind::planner)?;
        let client = Client::new(settings.client.clone()).map_err(Kind::Client)?;
        let queue = queue(&settings).map_err(|e| Kind::Setup(format!("dead-letter queue: {e}")))?;
        Ok(self.assemble(settings, planner, client, queue))
    }

    fn assemble(
        self,
        settings: Settings,
        planner: Planner,
        client: Client,
        queue: Option<Queue>,
    ) -> Handler {
        let mirror = Targets::new(&settings.mirror);
        Handler {
            inner: Arc::new(Inner {
                settings,
                planner,
                client,
                queue,
                hook: self.hook,
                mirror,
            }),
        }
    }
}

fn queue(settings: &Settings) -> Result<Option<Queue>, stream2search_client::Error> {
    settings
        .dead_letter
        .as_ref()
        .map(|target| {
            Queue::new(
                target.clone(),
                settings.aws_credentials.as_ref().map(|c| c.0.clone()),
            )
        })
        .transpose()
}

/// Why an invocation (or the cold start) failed. Lambda retries the whole batch on any of them.
///
/// Ask it questions ([`variable`](Error::variable), [`is_configuration`](Error::is_configuration),
/// [`is_not_an_event`](Error::is_not_an_event), [`error_type`](Error::error_type)) rather than
/// reading its message: the text is for people. Neither `Display` nor `Debug` holds a credential.
pub struct Error {
    kind: Box<Kind>,
}

enum Kind {
    /// A variable is wrong (cold start).
    Config(ConfigError),
    /// Settings made by hand that the planner or the queue writer refuse (cold start).
    Setup(String),
    /// The client could not be built, or no retry can fix a send (credentials refused...).
    Client(stream2search_client::Error),
    /// The payload is not a DynamoDB Streams or Kinesis event at all (or mixes the two).
    Event(stream2search::EventError),
    /// A record that is not durable has no SequenceNumber to resume at (and none precedes it).
    RetryBatch { position: usize },
}

impl Kind {
    fn planner(e: stream2search::ConfigError) -> Kind {
        Kind::Setup(e.to_string())
    }
}

impl From<Kind> for Error {
    fn from(kind: Kind) -> Error {
        Error {
            kind: Box::new(kind),
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Kind::Config(e).into()
    }
}

impl Error {
    /// The environment variable at fault, for a cold start that read one wrong.
    pub fn variable(&self) -> Option<&str> {
        match &*self.kind {
            Kind::Config(e) => Some(e.variable()),
            _ => None,
        }
    }

    /// Is this a setup problem no retry fixes (a setting, refused credentials)?
    pub fn is_configuration(&self) -> bool {
        match &*self.kind {
            Kind::Config(_) | Kind::Setup(_) => true,
            Kind::Client(e) => e.is_configuration(),
            Kind::Event(_) | Kind::RetryBatch { .. } => false,
        }
    }

    /// Was the payload not a DynamoDB Streams or Kinesis event at all (or a mix of the two)?
    pub fn is_not_an_event(&self) -> bool {
        matches!(&*self.kind, Kind::Event(_))
    }

    /// The `errorType` Lambda reports: `Stream2Search.Config`, `Stream2Search.OpenSearch`,
    /// `Stream2Search.NotAnEvent` or `Stream2Search.RetryBatch`.
    pub fn error_type(&self) -> &'static str {
        match &*self.kind {
            Kind::Config(_) | Kind::Setup(_) => "Stream2Search.Config",
            Kind::Client(_) => "Stream2Search.OpenSearch",
            Kind::Event(_) => "Stream2Search.NotAnEvent",
            Kind::RetryBatch { .. } => "Stream2Search.RetryBatch",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            Kind::Config(e) => e.fmt(f),
            Kind::Setup(message) => f.write_str(message),
            Kind::Client(e) => e.fmt(f),
            Kind::Event(e) => e.fmt(f),
            Kind::RetryBatch { position } => write!(
                f,
                "record {position} is not durable and has no SequenceNumber: retrying the batch"
            ),
        }
    }
}

/// One line: the error type and the message (what `main`'s `?` prints).
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("type", &self.error_type())
            .field("message", &self.to_string())
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.kind {
            Kind::Config(e) => Some(e),
            Kind::Client(e) => Some(e),
            Kind::Event(e) => Some(e),
            Kind::Setup(_) | Kind::RetryBatch { .. } => None,
        }
    }
}

impl From<Error> for Diagnostic {
    fn from(e: Error) -> Diagnostic {
        Diagnostic {
            error_type: e.error_type().into(),
            error_message: e.to_string(),
        }
    }
}

/// What one invocation did, for callers that want more than the response.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Invocation {
    /// Where Lambda resumes.
    pub checkpoint: Checkpoint,
    /// One result per record, in event order.
    pub results: Vec<RecordResult>,
    /// Positions of the poison records the dead-letter queue accepted.
    pub dead_lettered: HashSet<usize>,
    /// The counts that were logged and written as metrics.
    pub counts: Counts,
}

impl Invocation {
    /// The partial batch response, or an error that makes Lambda retry the whole batch.
    pub fn response(&self) -> Result<BatchResponse, Error> {
        match self.checkpoint.response() {
            Some(response) => Ok(response),
            None => Err(Kind::RetryBatch {
                position: match self.checkpoint {
                    Checkpoint::RetryBatch { position } => position,
                    _ => 0,
                },
            }
            .into()),
        }
    }
}

impl Handler {
    /// A [`Builder`], to give the handler a [`Hook`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Reads the environment and builds the handler, without a hook
    /// (`Handler::builder().from_env()`).
    pub fn from_env() -> Result<Handler, Error> {
        Builder::default().from_env()
    }

    /// Builds the handler from `settings` made by hand, without a hook
    /// (`Handler::builder().build(settings)`).
    pub fn new(settings: Settings) -> Result<Handler, Error> {
        Builder::default().build(settings)
    }

    /// The settings it was built from.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// When this invocation must be done, from the runtime's deadline (milliseconds since the
    /// epoch; one already past at the start counts as unknown).
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
    /// versions are the same on both paths for real DynamoDB Streams events, whose
    /// `ApproximateCreationDateTime` is whole seconds: aws_lambda_events writes the time back as
    /// whole seconds, so a fraction in a hand-made event is lost on this path only.
    #[cfg(feature = "aws_lambda_events")]
    pub async fn call_typed(
        &self,
        event: LambdaEvent<aws_lambda_events::event::dynamodb::Event>,
    ) -> Result<BatchResponse, Error> {
        let deadline = self.deadline(event.context.deadline);
        let payload = serde_json::to_vec(&event.payload).map_err(|_| {
            Error::from(Kind::Event(stream2search::EventError::NotAnEvent(
                "the typed event could not be serialized",
            )))
        })?;
        self.handle(&payload, deadline).await?.response()
    }

    /// Handles one event payload (`{"Records":[...]}`), returning at least the client's
    /// `deadline_margin` (default 1 s) before `deadline`: bulk sends and dead letters share one
    /// end; what is not durable by then is reported as a failure.
    pub async fn handle(&self, payload: &[u8], deadline: Instant) -> Result<Invocation, Error> {
        let started = Instant::now();
        let inner = &*self.inner;
        let stamp = inner
            .settings
            .plan
            .indexed_at
            .as_ref()
            .map(|_| rfc3339(SystemTime::now()));
        let mut plan = inner
            .planner
            .plan(payload, stamp.as_deref())
            .map_err(Kind::Event)?;
        // Hook lookups, the mirror lookup, bulk sends, then dead letters, all ended by one
        // instant: Lambda's deadline less the client's margin and the time to answer. The
        // client subtracts its margin itself.
        let margin = inner.settings.client.deadline_margin;
        let requests_end = deadline::requests_end(deadline, margin);
        let late = match &inner.hook {
            None => Vec::new(),
            Some(Hooked::Sync(hook)) => {
                hooks::apply(&**hook, payload, &mut plan);
                Vec::new()
            }
            Some(Hooked::Async(hook)) => {
                // Half of the time left for requests; the sends and dead letters keep the rest.
                let now = Instant::now();
                let stop = now + requests_end.saturating_duration_since(now) / 2;
                hooks::apply_async(&**hook, payload, &mut plan, stop).await
            }
        };
        let write = &inner.settings.plan.index;
        let mirrors = match &inner.mirror {
            Some(targets) if plan.items().iter().any(|item| item.index == *write) => {
                let timeout = inner.settings.client.request_timeout;
                targets.indexes(&inner.client, timeout, requests_end).await
            }
            _ => mirror::Indexes::none(),
        };
        let (report, mirrored) =
            mirror::send(&inner.client, &plan, write, &mirrors, requests_end + margin)
                .await
                .map_err(Kind::Client)?;
        let retries = report.counters.retries + mirrored.retries;
        // One result per record, in event order, the worse across the mirror indexes.
        let mut results = plan.resolve(&report.finals);
        mirrored.merge(&mut results);
        for r in &mut results {
            if late.binary_search(&r.position).is_ok() {
                r.outcome = RecordOutcome::NotDurable {
                    reason: "the hook did not answer in time".into(),
                };
            }
        }

        let dead_lettered = self
            .dead_letter(payload, &plan, &results, requests_end)
            .await;
        for r in &results {
            log_failure(r, dead_lettered.contains(&r.position));
        }
        let checkpoint = checkpoint::checkpoint(&results, |r| {
            r.outcome.is_durable() || dead_lettered.contains(&r.position)
        });
        let counts = Counts::count(
            &results,
            |r| dead_lettered.contains(&r.position),
            retries,
            started.elapsed(),
        );
        counts.log();
        if inner.settings.metrics {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            println!(
                "{}",
                counts.emf(
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
            counts,
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
        let reasons: Vec<String> = poison.iter().map(|r| r.outcome.to_string()).collect();
        let messages: Vec<_> = poison
            .iter()
            .zip(&reasons)
            .map(|(r, reason)| {
                dead_letter::message(&Poison {
                    position: r.position,
                    source: plan.source(),
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

/// Every record that did not end well gets a log line: nothing is dropped silently.
fn log_failure(r: &RecordResult, dead_lettered: bool) {
    if r.outcome.is_durable() {
        return;
    }
    let seq = r.sequence_number.as_ref().map(SequenceNumber::as_str);
    if dead_lettered {
        tracing::warn!(position = r.position, event_id = r.event_id.as_deref(), sequence_number = seq, reason = %r.outcome, "poison record dead-lettered");
    } else {
        tracing::error!(position = r.position, event_id = r.event_id.as_deref(), sequence_number = seq, reason = %r.outcome, "record not durable; Lambda will deliver it again");
    }
}

crate::service::lambda_service!(Handler, BatchResponse, Error);

/// `at` as RFC 3339 in UTC with milliseconds, e.g. `2024-05-01T12:00:00.250Z`.
fn rfc3339(at: SystemTime) -> String {
    stream2search::time::rfc3339(
        at.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        // Values checked with `date -u -d @SECONDS +%FT%T`.
        for (secs, millis, text) in [
            (0, 0, "1970-01-01T00:00:00.000Z"),
            (951_782_400, 5, "2000-02-29T00:00:00.005Z"),
            (1_714_564_800, 250, "2024-05-01T12:00:00.250Z"),
            (4_102_444_799, 999, "2099-12-31T23:59:59.999Z"),
        ] {
            let at =
                SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis);
            assert_eq!(rfc3339(at), text);
        }
    }
}
