//! Sending a plan: chunk → NDJSON → (gzip, sign) → answer → per-item outcomes, resending only
//! what can be resent, inside the caller's deadline.
//!
//! Work is a queue of [`Pending`] requests, each a list of item indices into `Plan::items()`
//! (data, never closures), so a retry or a 413 half is rebuilt with `Plan::encode` from the same
//! items. Outcomes land in `finals[item]`, so a status can only ever belong to its own item.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use stream2search::backoff::Backoff;
use stream2search::checkpoint::RecordOutcome;
use stream2search::outcome::{self, ItemOutcome, Response};
use stream2search::{Action, Plan};

use crate::client::Client;
use crate::config::{Config, Setting};
use crate::error::Error;

/// What happened to every item of a plan, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// How each `plan.items()` entry ended, in the same order; pass it to
    /// `plan.resolve(&report.finals)`, which hands each item's outcome to its records.
    pub finals: Vec<RecordOutcome>,
    /// Counters for metrics.
    pub counters: Counters,
}

/// Counters for one [`Client::send`] call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// HTTP requests started.
    pub attempts: u32,
    /// Requests that resent items already sent once (after a retryable failure, a 413 split or
    /// a credentials refresh).
    pub retries: u32,
    /// Times a request was split in half after a 413.
    pub splits: u32,
    /// NDJSON bytes put into requests, before compression (resends counted again).
    pub bytes_ndjson: u64,
    /// Body bytes sent on the wire, after compression.
    pub bytes_sent: u64,
    /// Time asleep in backoff between retries.
    pub backoff_wait: Duration,
    /// Time waiting for answers (connect, send, server work, receive).
    pub server_wait: Duration,
    /// Time spent in this process on encoding, gzip, signing and classifying.
    pub cpu: Duration,
    /// Indexes whose dynamic mapping was stopped at the field limit (their items sent again).
    pub mapping_stops: u32,
}

/// Items to send together, and their history.
#[derive(Debug)]
struct Pending {
    items: Vec<usize>,
    /// Requests these items already took part in.
    attempts: u32,
    /// Retries so far, the backoff's attempt number.
    retries: u32,
    /// Do not send before this.
    not_before: Instant,
    /// Why they are being sent again, for a final "not durable".
    last_failure: Option<String>,
}

/// Checks the retry settings of `config` (called by `Client::new`).
pub(crate) fn check(config: &Config) -> Result<(), Error> {
    backoff(config).map(|_| ())
}

fn backoff(config: &Config) -> Result<Backoff, Error> {
    Backoff::new(config.backoff_base, config.backoff_cap).map_err(|e| {
        // `Backoff::new` refuses only its base or its cap.
        let setting = match e.setting() {
            stream2search::Setting::BackoffBase => Setting::BackoffBase,
            _ => Setting::BackoffCap,
        };
        Error::invalid(setting, e.to_string())
    })
}

impl Client {
    /// Sends every item of `plan` and returns one final outcome per item, never later than
    /// `deadline` less [`Config::deadline_margin`] (a `tokio::time::Instant` converts with
    /// `into_std()`; in Lambda, the invocation deadline).
    ///
    /// - Each of `plan.chunks()` is one bulk request, sent one after another on a kept-alive
    ///   connection.
    /// - Items the server answers as retryable (429, 5xx, ...) are sent again, alone, after the
    ///   core's backoff with full jitter; a whole-request 429/5xx, a timeout or a broken
    ///   connection resends the whole request the same way. Another chunk is sent while one
    ///   waits.
    /// - A 413 splits the request in half, recursively; a single item still too large is
    ///   rejected.
    /// - Nothing is started that could run past the deadline: what is unsent, or still failing,
    ///   when time or [`Config::max_attempts`] runs out is `RecordOutcome::NotDurable`, never
    ///   indexed.
    ///
    /// # Errors
    /// Only for problems no retry can fix, which concern the whole plan rather than any record:
    /// the server refuses the credentials (401/403) even after they were fetched again, the
    /// credentials cannot be loaded, or the server's certificate is not trusted. Items that
    /// were already applied are idempotent (versioned) and can simply be sent again.
    pub async fn send(&self, plan: &Plan, deadline: Instant) -> Result<Report, Error> {
        let config = &self.inner.config;
        let stop = deadline
            .checked_sub(config.deadline_margin)
            .unwrap_or(deadline);
        let mut run = Run {
            client: self,
            plan,
            backoff: backoff(config)?,
            stop,
            finals: vec![None; plan.items().len()],
            counters: Counters::default(),
            rng: fastrand::Rng::new(),
            refreshed: false,
            field_limit: Vec::new(),
        };
        let now = Instant::now();
        let mut queue: VecDeque<Pending> = plan
            .chunks()
            .into_iter()
            .filter(|chunk| !chunk.is_empty())
            .map(|chunk| Pending {
                items: chunk.collect(),
                attempts: 0,
                retries: 0,
                not_before: now,
                last_failure: None,
            })
            .collect();
        while let Some(pending) = earliest(&queue).and_then(|i| queue.remove(i)) {
            run.step(pending, &mut queue).await?;
        }
        let finals = run
            .finals
            .into_iter()
            .map(|f| {
                f.unwrap_or_else(|| RecordOutcome::NotDurable {
                    reason: "not sent".into(),
                })
            })
            .collect();
        Ok(Report {
            finals,
            counters: run.counters,
        })
    }
}

/// The position of the request due first (the first of equals, so chunks keep their order).
fn earliest(queue: &VecDeque<Pending>) -> Option<usize> {
    (0..queue.len()).min_by_key(|&i| queue[i].not_before)
}

struct Run<'a> {
    client: &'a Client,
    plan: &'a Plan,
    backoff: Backoff,
    /// The deadline less the margin: nothing may still be running then.
    stop: Instant,
    finals: Vec<Option<RecordOutcome>>,
    counters: Counters,
    rng: fastrand::Rng,
    /// Credentials were fetched again after a 401/403 (done at most once per call).
    refreshed: bool,
    /// Indexes that hit the field limit in this call: the request (its number in
    /// `counters.attempts`) whose answer had their dynamic mapping stopped, or `None` when it
    /// could not be. At most one try per index.
    field_limit: Vec<(String, Option<u32>)>,
}

impl Run<'_> {
    /// Sends `pending` once (after waiting for it to be due) and records or requeues its items.
    async fn step(&mut self, pending: Pending, queue: &mut VecDeque<Pending>) -> Result<(), Error> {
        if pending.not_before >= self.stop {
            self.give_up(&pending, "out of time");
            return Ok(());
        }
        let now = Instant::now();
        if pending.not_before > now {
            tokio::time::sleep(pending.not_before - now).await;
            self.counters.backoff_wait += pending.not_before - now;
        }
        let Some(left) = self
            .stop
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
        else {
            self.give_up(&pending, "out of time");
            return Ok(());
        };

        let started = Instant::now();
        // Borrowed from the plan in the usual case: the chunk is already one run there.
        let ndjson = self.plan.body(&pending.items);
        let prepared = self.client.prepare(&ndjson, SystemTime::now()).await?;
        drop(ndjson);
        self.counters.cpu += started.elapsed();
        self.counters.attempts += 1;
        if pending.attempts > 0 {
            self.counters.retries += 1;
        }
        self.counters.bytes_ndjson += prepared.ndjson_bytes as u64;
        self.counters.bytes_sent += prepared.sent_bytes as u64;

        let limit = left.min(self.client.inner.config.request_timeout);
        let waited = Instant::now();
        let answer = self.client.exchange(prepared.request, limit).await;
        self.counters.server_wait += waited.elapsed();
        let sent = Pending {
            attempts: pending.attempts + 1,
            ..pending
        };

        let answer = match answer {
            Ok(answer) => answer,
            Err(e) if e.is_retryable() => {
                let reason = e.to_string();
                self.retry(sent, reason, queue);
                return Ok(());
            }
            Err(e) => return Err(e),
        };

        let started = Instant::now();
        let items = self.plan.items();
        let actions: Vec<Action> = sent.items.iter().map(|&i| items[i].action).collect();
        let response = outcome::classify(answer.status, &answer.body, &actions);
        self.counters.cpu += started.elapsed();

        match response {
            Response::Items(outcomes) if outcomes.len() == sent.items.len() => {
                let mut again = Vec::new();
                let mut reason = None;
                let mut limited = Vec::new();
                for (&item, outcome) in sent.items.iter().zip(outcomes) {
                    match outcome {
                        ItemOutcome::Retryable {
                            status,
                            reason: why,
                        } => {
                            again.push(item);
                            reason.get_or_insert_with(|| format!("{status}: {why}"));
                        }
                        ItemOutcome::FieldLimit { reason: why } => limited.push((item, why)),
                        decided => self.finals[item] = Some(RecordOutcome::from(decided)),
                    }
                }
                for (item, why) in limited {
                    if self.stop_dynamic_mapping(item, limit).await {
                        again.push(item);
                        reason.get_or_insert_with(|| format!("400: {why}"));
                    } else {
                        self.finals[item] =
                            Some(RecordOutcome::from(ItemOutcome::FieldLimit { reason: why }));
                    }
                }
                if !again.is_empty() {
                    let reason = reason.unwrap_or_default();
                    self.retry(
                        Pending {
                            items: again,
                            ..sent
                        },
                        reason,
                        queue,
                    );
                }
            }
            Response::Items(_) => {
                // classify() aligns items by construction; if it ever did not, trust nothing.
                self.retry(sent, "answer does not match the request".into(), queue);
            }
            Response::TooLarge if sent.items.len() == 1 => {
                self.finals[sent.items[0]] = Some(RecordOutcome::Rejected {
                    status: 413,
                    reason: "the document alone is larger than the server accepts in one request"
                        .into(),
                });
            }
            Response::TooLarge => {
                self.counters.splits += 1;
                let mut first = sent.items;
                let second = first.split_off(first.len() / 2);
                let now = Instant::now();
                for items in [second, first] {
                    queue.push_front(Pending {
                        items,
                        attempts: sent.attempts,
                        retries: sent.retries,
                        not_before: now,
                        last_failure: Some("413: request too large".into()),
                    });
                }
            }
            Response::RetryAll { status, reason } => {
                self.retry(sent, format!("{status}: {reason}"), queue);
            }
            Response::Unauthorized { status, reason } => {
                if self.refreshed || !self.client.inner.signer.refresh().await? {
                    return Err(Error::unauthorized(status, &reason));
                }
                self.refreshed = true;
                queue.push_front(Pending {
                    not_before: Instant::now(),
                    last_failure: Some(format!("{status}: {reason}")),
                    ..sent
                });
            }
            Response::RejectAll { status, reason } => {
                for &item in &sent.items {
                    self.finals[item] = Some(RecordOutcome::Rejected {
                        status,
                        reason: reason.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether `item` may be sent again after its index hit the field limit: true the first
    /// time an index that asks for it (`index create`) has its dynamic mapping stopped.
    async fn stop_dynamic_mapping(&mut self, item: usize, limit: Duration) -> bool {
        let index = &self.plan.items()[item].index;
        let request = self.counters.attempts;
        if let Some((_, stopped_at)) = self.field_limit.iter().find(|(i, _)| i == index) {
            // Stopped in this response: send again. Stopped by an earlier one: it did not help.
            return *stopped_at == Some(request);
        }
        let stopped = self
            .client
            .stop_dynamic_mapping(index, limit)
            .await
            .unwrap_or(false);
        if stopped {
            self.counters.mapping_stops += 1;
        }
        self.field_limit
            .push((index.clone(), stopped.then_some(request)));
        stopped
    }

    /// Queues `pending` again after a backoff, unless attempts or time have run out.
    fn retry(&mut self, pending: Pending, reason: String, queue: &mut VecDeque<Pending>) {
        let max = self.client.inner.config.max_attempts;
        let pending = Pending {
            last_failure: Some(reason),
            ..pending
        };
        if pending.attempts >= max {
            self.give_up(&pending, &format!("gave up after {max} attempts"));
            return;
        }
        let delay = self.backoff.delay(pending.retries, self.rng.f64());
        let not_before = Instant::now() + delay;
        if not_before >= self.stop {
            self.give_up(&pending, "out of time");
            return;
        }
        queue.push_back(Pending {
            retries: pending.retries + 1,
            not_before,
            ..pending
        });
    }

    fn give_up(&mut self, pending: &Pending, why: &str) {
        let reason = match &pending.last_failure {
            Some(last) => format!("{why}; last failure: {last}"),
            None => format!("{why} before it could be sent"),
        };
        for &item in &pending.items {
            self.finals[item] = Some(RecordOutcome::NotDurable {
                reason: reason.clone(),
            });
        }
    }
}
