//! Mirroring: while an index is rebuilt (`docs/reindex.md`), every action also goes to each
//! index the alias `NAME-mirror` names, besides the write alias `NAME`.
//!
//! The handler learns the mirror indexes with `GET NAME-mirror/_alias/NAME-mirror` at its first
//! invocation that has something to send to `NAME`, and then at most every
//! `STREAM2SEARCH_MIRROR_REFRESH_SECS` (0: every such invocation), after the hook and before the
//! bulk sends. A 404 means none. A lookup that fails keeps the last set learned (and logs
//! it); until a set was learned once, the records it would have mirrored are not durable, so
//! Lambda delivers them again rather than leave a rebuilt index without them.
//!
//! With mirror indexes, the plan (after the hook) is copied once per mirror index with every
//! item for `NAME` sent to that index instead; items a hook sent to another index are left out
//! of the copies. The copies are sent one after another while the write alias's plan is sent.
//! Each record then takes the worse of its outcomes, in this order: not durable, then poison
//! (the mirror's reason added to the write index's), then the write index's own outcome. So a
//! record is durable only when it is durable everywhere, and poison anywhere is poison,
//! dead-lettered once. Versions are external, so an action applied twice, or in either order
//! across the indexes, changes nothing.
//!
//! Without mirror indexes the plan is sent as before: no copy, no second send.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use http::Method;
use lambda_runtime::tracing;
use stream2search::checkpoint::{RecordOutcome, RecordResult, SkipReason};
use stream2search::{Config as PlanConfig, Plan, RecordStatus};
use stream2search_client::{Client, Error, Report};

use crate::config::ConfigError;

/// Where the stream's actions are mirrored from (`STREAM2SEARCH_MIRROR`,
/// `STREAM2SEARCH_MIRROR_REFRESH_SECS`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mirror {
    /// The alias that names the mirror indexes: `OPENSEARCH_INDEX` and `-mirror`. `None` when
    /// mirroring is off (`STREAM2SEARCH_MIRROR=off`) or the index is a template such as
    /// `products-{category}`.
    pub alias: Option<String>,
    /// How long a set of mirror indexes is used before it is looked up again. Default 30 s;
    /// zero looks it up at every invocation.
    pub refresh: Duration,
}

impl Mirror {
    /// Reads `STREAM2SEARCH_MIRROR` (`on`, the default, or `off`) and
    /// `STREAM2SEARCH_MIRROR_REFRESH_SECS` for the index of `plan`.
    pub(crate) fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        plan: &PlanConfig,
    ) -> Result<Mirror, ConfigError> {
        let on = match get("STREAM2SEARCH_MIRROR") {
            None => true,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(ConfigError::new(
                        "STREAM2SEARCH_MIRROR",
                        "must be on or off",
                    ));
                }
            },
        };
        let refresh = match get("STREAM2SEARCH_MIRROR_REFRESH_SECS") {
            None => Duration::from_secs(30),
            Some(v) => Duration::from_secs(v.trim().parse().map_err(|_| {
                ConfigError::new(
                    "STREAM2SEARCH_MIRROR_REFRESH_SECS",
                    "must be a non-negative integer",
                )
            })?),
        };
        let index = plan.index.trim();
        let plain = !index.contains(['{', '}']);
        let alias = (on && plain).then(|| format!("{index}-mirror"));
        if let Some(alias) = &alias
            // A name the planner refuses is reported by the planner, as before.
            && stream2search::validate_index_name(index).is_ok()
            && let Err(why) = stream2search::validate_index_name(alias)
        {
            return Err(ConfigError::new(
                "OPENSEARCH_INDEX",
                format!(
                    "its mirror alias {alias:?} is not a valid name ({why}); \
                     set STREAM2SEARCH_MIRROR=off"
                ),
            ));
        }
        Ok(Mirror { alias, refresh })
    }
}

impl Default for Mirror {
    /// Off.
    fn default() -> Mirror {
        Mirror {
            alias: None,
            refresh: Duration::from_secs(30),
        }
    }
}

/// The mirror indexes of one handler, as last learned.
pub(crate) struct Targets {
    alias: String,
    refresh: Duration,
    known: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    /// `None` until a lookup succeeded once.
    indexes: Option<Arc<[String]>>,
    /// When the set was last looked up (a failure after a success counts too).
    checked: Option<Instant>,
}

/// Where this invocation's actions go besides the write alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Indexes {
    /// These indexes (none: the plan is sent as before).
    Known(Arc<[String]>),
    /// No lookup has succeeded yet: why the last one failed.
    Unknown(String),
}

impl Indexes {
    pub(crate) fn none() -> Indexes {
        Indexes::Known(Arc::from([]))
    }
}

impl Targets {
    /// The handler's mirror state, or `None` when mirroring is off.
    pub(crate) fn new(mirror: &Mirror) -> Option<Targets> {
        Some(Targets {
            alias: mirror.alias.clone()?,
            refresh: mirror.refresh,
            known: Mutex::new(Known::default()),
        })
    }

    /// The mirror indexes for this invocation, looked up first when due, the lookup ended by
    /// `stop` (and given at most a quarter of the time left, or the client's request timeout).
    pub(crate) async fn indexes(
        &self,
        client: &Client,
        timeout: Duration,
        stop: Instant,
    ) -> Indexes {
        let now = Instant::now();
        {
            let known = lock(&self.known);
            if !due(known.checked, now, self.refresh)
                && let Some(indexes) = &known.indexes
            {
                return Indexes::Known(indexes.clone());
            }
        }
        let limit = (stop.saturating_duration_since(now) / 4).min(timeout);
        let looked_up = lookup(client, &self.alias, limit).await;
        let mut known = lock(&self.known);
        match looked_up {
            Ok(indexes) => {
                let changed = known.indexes.as_deref() != Some(&indexes[..]);
                if changed && (!indexes.is_empty() || known.indexes.is_some()) {
                    tracing::info!(alias = %self.alias, indexes = ?indexes, "mirror indexes");
                }
                let indexes: Arc<[String]> = indexes.into();
                known.indexes = Some(indexes.clone());
                known.checked = Some(now);
                Indexes::Known(indexes)
            }
            Err(why) => match known.indexes.clone() {
                Some(indexes) => {
                    tracing::error!(alias = %self.alias, indexes = ?indexes, error = %why, "the mirror indexes could not be looked up; keeping the last ones known");
                    known.checked = Some(now);
                    Indexes::Known(indexes)
                }
                None => {
                    tracing::error!(alias = %self.alias, error = %why, "the mirror indexes could not be looked up, and none were ever learned: records are not durable until they are (STREAM2SEARCH_MIRROR=off turns mirroring off)");
                    Indexes::Unknown(format!(
                        "the indexes of {} are not known yet ({why})",
                        self.alias
                    ))
                }
            },
        }
    }
}

fn lock(known: &Mutex<Known>) -> std::sync::MutexGuard<'_, Known> {
    known
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether a set looked up at `checked` must be looked up again at `now`.
fn due(checked: Option<Instant>, now: Instant, refresh: Duration) -> bool {
    checked.is_none_or(|at| now.saturating_duration_since(at) >= refresh)
}

/// `GET ALIAS/_alias/ALIAS` (a path under the alias's own name, so a role allowed to read
/// `NAME*` may ask): the indexes the alias names, sorted; none for a 404.
async fn lookup(client: &Client, alias: &str, limit: Duration) -> Result<Vec<String>, String> {
    let path = format!("{alias}/_alias/{alias}");
    let (status, body) = client
        .call(Method::GET, &path, None, limit)
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    match status {
        404 => Ok(Vec::new()),
        200 => indexes_of(&body, alias).map_err(|why| format!("GET {path}: {why}")),
        _ => Err(format!("GET {path}: HTTP {status}: {}", excerpt(&body))),
    }
}

/// The indexes an alias answer (`{"INDEX":{"aliases":{"ALIAS":{}}},...}`) puts under `alias`.
fn indexes_of(body: &[u8], alias: &str) -> Result<Vec<String>, String> {
    let answer: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|_| format!("the answer is not an alias listing: {}", excerpt(body)))?;
    let mut indexes = Vec::new();
    for (index, entry) in answer {
        if entry.get("aliases").and_then(|a| a.get(alias)).is_none() {
            continue;
        }
        stream2search::validate_index_name(&index)
            .map_err(|why| format!("the alias names the index {index:?}, which {why}"))?;
        indexes.push(index);
    }
    indexes.sort();
    Ok(indexes)
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// What the mirror indexes did with one invocation's plan.
#[derive(Debug, Default)]
pub(crate) struct Mirrored {
    /// One result per record for each mirror index, by index name.
    results: Vec<(String, Vec<RecordResult>)>,
    /// Why the mirror indexes are unknown, when they are.
    unknown: Option<String>,
    /// Requests that resent items, over all mirror indexes.
    pub(crate) retries: u32,
}

/// Sends `plan` to its indexes and a copy of it to each mirror index (the copies one after
/// another, while `plan` is sent), every send ended by `deadline` as [`Client::send`] ends it.
/// `write` is the write alias the plan's items name.
pub(crate) async fn send(
    client: &Client,
    plan: &Plan,
    write: &str,
    mirrors: &Indexes,
    deadline: Instant,
) -> Result<(Report, Mirrored), Error> {
    let indexes = match mirrors {
        Indexes::Known(indexes) if indexes.is_empty() => {
            return Ok((client.send(plan, deadline).await?, Mirrored::default()));
        }
        Indexes::Known(indexes) => indexes,
        Indexes::Unknown(why) => {
            let mirrored = Mirrored {
                unknown: Some(why.clone()),
                ..Mirrored::default()
            };
            return Ok((client.send(plan, deadline).await?, mirrored));
        }
    };
    let copies: Vec<(&String, Plan)> = indexes
        .iter()
        .filter_map(|index| Some((index, copy(plan, write, index)?)))
        .collect();
    let mirrored = async {
        let mut mirrored = Mirrored::default();
        for (index, copy) in &copies {
            let report = client.send(copy, deadline).await?;
            mirrored.retries += report.counters.retries;
            mirrored
                .results
                .push(((*index).clone(), copy.resolve(&report.finals)));
        }
        Ok::<_, Error>(mirrored)
    };
    let (report, mirrored) = both(client.send(plan, deadline), mirrored).await;
    Ok((report?, mirrored?))
}

/// `plan` with every item for `write` sent to `index` instead, and the items a hook sent to
/// another index left out (their records count as filtered in the copy); `None` when no item
/// is left.
fn copy(plan: &Plan, write: &str, index: &str) -> Option<Plan> {
    let mut copy = plan.clone();
    for i in (0..copy.items().len()).rev() {
        let edited = if copy.items()[i].index == write {
            copy.set_index(i, index)
        } else {
            copy.remove(i, RecordStatus::Skipped(SkipReason::Filtered))
        };
        if let Err(e) = edited {
            // Only a name OpenSearch refuses; the lookup checked every name it took.
            tracing::error!(index, error = %e, "a mirror index could not be planned");
            return None;
        }
    }
    (!copy.items().is_empty()).then_some(copy)
}

impl Mirrored {
    /// Gives each of `results` (the write index's, one per record) the worse of its outcomes
    /// across the mirror indexes: not durable, then poison, then its own. Records the mirror
    /// indexes would have had while they are unknown are not durable.
    pub(crate) fn merge(self, results: &mut [RecordResult]) {
        if let Some(why) = &self.unknown {
            for r in results.iter_mut() {
                if matches!(r.outcome, RecordOutcome::Applied(_)) {
                    r.outcome = RecordOutcome::NotDurable {
                        reason: format!("mirror: {why}"),
                    };
                }
            }
        }
        for (index, mirrored) in self.results {
            for (r, m) in results.iter_mut().zip(mirrored) {
                worse(&mut r.outcome, m.outcome, &index);
            }
        }
    }
}

/// Makes `outcome` the worse of itself and `mirrored`, the outcome in mirror index `index`.
fn worse(outcome: &mut RecordOutcome, mirrored: RecordOutcome, index: &str) {
    let (own, theirs) = (rank(outcome), rank(&mirrored));
    if theirs > own {
        *outcome = match mirrored {
            RecordOutcome::Rejected { status, reason } => RecordOutcome::Rejected {
                status,
                reason: format!("in mirror index {index}: {reason}"),
            },
            RecordOutcome::NotDurable { reason } => RecordOutcome::NotDurable {
                reason: format!("in mirror index {index}: {reason}"),
            },
            other => other,
        };
    } else if theirs == 1
        && own == 1
        && let RecordOutcome::Rejected { reason, .. } = outcome
        && matches!(mirrored, RecordOutcome::Rejected { .. })
    {
        // Poison in both: one dead letter, with both reasons.
        reason.push_str(&format!("; in mirror index {index}: {mirrored}"));
    }
}

/// Not durable 2, poison 1, done 0.
fn rank(outcome: &RecordOutcome) -> u8 {
    if outcome.is_poison() {
        1
    } else if outcome.is_durable() {
        0
    } else {
        2
    }
}

/// Runs `a` and `b` together; both outputs once both are done.
async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut first, mut second) = (None, None);
    std::future::poll_fn(|cx| {
        if first.is_none()
            && let Poll::Ready(out) = a.as_mut().poll(cx)
        {
            first = Some(out);
        }
        if second.is_none()
            && let Poll::Ready(out) = b.as_mut().poll(cx)
        {
            second = Some(out);
        }
        match (first.take(), second.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                (first, second) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use stream2search::outcome::Applied;

    fn mirror(vars: &[(&str, &str)]) -> Result<Mirror, ConfigError> {
        let get = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let index = get("OPENSEARCH_INDEX").unwrap_or_else(|| "products".into());
        Mirror::from_lookup(
            &get,
            &PlanConfig {
                index,
                ..PlanConfig::default()
            },
        )
    }

    #[test]
    fn a_plain_index_mirrors_from_its_mirror_alias_every_30_seconds_by_default() {
        let m = mirror(&[]).unwrap();
        assert_eq!(m.alias.as_deref(), Some("products-mirror"));
        assert_eq!(m.refresh, Duration::from_secs(30));
        let m = mirror(&[("STREAM2SEARCH_MIRROR_REFRESH_SECS", "0")]).unwrap();
        assert_eq!(m.refresh, Duration::ZERO);
    }

    #[test]
    fn off_and_templates_have_no_mirror_alias() {
        assert_eq!(
            mirror(&[("STREAM2SEARCH_MIRROR", "off")]).unwrap().alias,
            None
        );
        let templated = [("OPENSEARCH_INDEX", "products-{category}")];
        assert_eq!(mirror(&templated).unwrap().alias, None);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (variable, value) in [
            ("STREAM2SEARCH_MIRROR", "sometimes"),
            ("STREAM2SEARCH_MIRROR_REFRESH_SECS", "-1"),
            ("STREAM2SEARCH_MIRROR_REFRESH_SECS", "soon"),
        ] {
            let e = mirror(&[(variable, value)]).unwrap_err();
            assert_eq!(e.variable(), variable);
        }
        // 250 bytes is a valid index name; with `-mirror` it passes OpenSearch's 255.
        let long = "p".repeat(250);
        let e = mirror(&[("OPENSEARCH_INDEX", &long)]).unwrap_err();
        assert_eq!(e.variable(), "OPENSEARCH_INDEX");
        assert!(e.to_string().contains("STREAM2SEARCH_MIRROR=off"), "{e}");
    }

    #[test]
    fn a_set_is_looked_up_again_once_the_refresh_has_passed() {
        let at = Instant::now();
        let refresh = Duration::from_secs(30);
        assert!(due(None, at, refresh));
        assert!(!due(Some(at), at + Duration::from_secs(29), refresh));
        assert!(due(Some(at), at + refresh, refresh));
        assert!(due(Some(at), at, Duration::ZERO));
    }

    #[test]
    fn alias_answers_name_the_indexes_under_the_alias() {
        // As OpenSearch 2.19.1 and 3.x answer `GET products-mirror/_alias/products-mirror`.
        let one = br#"{"products-000002":{"aliases":{"products-mirror":{}}}}"#;
        assert_eq!(
            indexes_of(one, "products-mirror").unwrap(),
            ["products-000002"]
        );
        let two = br#"{"b-2":{"aliases":{"m":{}}},"a-1":{"aliases":{"m":{"is_write_index":false}}},"c":{"aliases":{}}}"#;
        assert_eq!(indexes_of(two, "m").unwrap(), ["a-1", "b-2"]);
        assert!(indexes_of(b"<html>", "m").unwrap_err().contains("<html>"));
        let bad = br#"{"_bad":{"aliases":{"m":{}}}}"#;
        assert!(indexes_of(bad, "m").unwrap_err().contains("\"_bad\""));
    }

    fn rejected(reason: &str) -> RecordOutcome {
        RecordOutcome::Rejected {
            status: 400,
            reason: reason.into(),
        }
    }

    fn not_durable(reason: &str) -> RecordOutcome {
        RecordOutcome::NotDurable {
            reason: reason.into(),
        }
    }

    #[test]
    fn the_worse_outcome_wins_not_durable_then_poison_then_the_write_index() {
        let cases = [
            (
                RecordOutcome::Applied(Applied::Indexed),
                RecordOutcome::Applied(Applied::Stale),
                RecordOutcome::Applied(Applied::Indexed),
            ),
            (
                RecordOutcome::Applied(Applied::Stale),
                RecordOutcome::Applied(Applied::Indexed),
                RecordOutcome::Applied(Applied::Stale),
            ),
            (
                RecordOutcome::Applied(Applied::Deleted),
                RecordOutcome::Applied(Applied::AlreadyGone),
                RecordOutcome::Applied(Applied::Deleted),
            ),
            (
                RecordOutcome::Applied(Applied::Indexed),
                rejected("strict"),
                rejected("in mirror index m: strict"),
            ),
            (
                rejected("own"),
                rejected("theirs"),
                rejected("own; in mirror index m: rejected (400): theirs"),
            ),
            (
                RecordOutcome::Applied(Applied::Indexed),
                not_durable("out of time"),
                not_durable("in mirror index m: out of time"),
            ),
            (
                rejected("own"),
                not_durable("out of time"),
                not_durable("in mirror index m: out of time"),
            ),
            (not_durable("late"), rejected("theirs"), not_durable("late")),
            (
                not_durable("late"),
                not_durable("also"),
                not_durable("late"),
            ),
            (
                RecordOutcome::Skipped(SkipReason::Filtered),
                RecordOutcome::Skipped(SkipReason::Filtered),
                RecordOutcome::Skipped(SkipReason::Filtered),
            ),
        ];
        for (own, theirs, want) in cases {
            let mut outcome = own.clone();
            worse(&mut outcome, theirs.clone(), "m");
            assert_eq!(outcome, want, "{own} with {theirs}");
        }
    }

    #[test]
    fn unknown_mirrors_make_only_sent_records_not_durable() {
        let result = |position, outcome| RecordResult {
            position,
            sequence_number: None,
            event_id: None,
            outcome,
        };
        let mut results = vec![
            result(0, RecordOutcome::Applied(Applied::Indexed)),
            result(1, RecordOutcome::Skipped(SkipReason::Ttl)),
            result(2, rejected("own")),
            result(3, RecordOutcome::Applied(Applied::Stale)),
        ];
        Mirrored {
            unknown: Some("why".into()),
            ..Mirrored::default()
        }
        .merge(&mut results);
        let outcomes: Vec<_> = results.into_iter().map(|r| r.outcome).collect();
        assert_eq!(
            outcomes,
            [
                not_durable("mirror: why"),
                RecordOutcome::Skipped(SkipReason::Ttl),
                rejected("own"),
                not_durable("mirror: why"),
            ]
        );
    }

    #[test]
    fn copies_send_the_write_alias_items_to_the_mirror_and_leave_out_the_rest() {
        let planner = stream2search::Planner::new(PlanConfig {
            index: "products".into(),
            ..PlanConfig::default()
        })
        .unwrap();
        let event = br#"{"Records":[
          {"eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":1,"Keys":{"id":{"S":"a"}},"NewImage":{"id":{"S":"a"}},"SequenceNumber":"1"}},
          {"eventName":"REMOVE","dynamodb":{"ApproximateCreationDateTime":2,"Keys":{"id":{"S":"b"}},"SequenceNumber":"2"}},
          {"eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":3,"Keys":{"id":{"S":"c"}},"NewImage":{"id":{"S":"c"}},"SequenceNumber":"3"}}
        ]}"#;
        let mut plan = planner.plan(event, None).unwrap();
        // A hook sent `c` elsewhere.
        plan.set_index(2, "archive").unwrap();
        let copy = copy(&plan, "products", "products-000002").unwrap();
        let body: Vec<u8> = copy
            .bulk_chunks()
            .iter()
            .flat_map(|c| c.body().to_vec())
            .collect();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            concat!(
                r#"{"index":{"_index":"products-000002","_id":"a","version":1000000,"version_type":"external_gte"}}"#,
                "\n",
                r#"{"id":"a"}"#,
                "\n",
                r#"{"delete":{"_index":"products-000002","_id":"b","version":2000000,"version_type":"external_gte"}}"#,
                "\n",
            )
        );
        // The original is unchanged.
        assert_eq!(plan.items()[0].index, "products");
        // Nothing for the write alias: no copy.
        let mut elsewhere = plan.clone();
        elsewhere.set_index(0, "archive").unwrap();
        elsewhere.set_index(1, "archive").unwrap();
        assert!(copy_is_none(&elsewhere));
    }

    fn copy_is_none(plan: &Plan) -> bool {
        copy(plan, "products", "products-000002").is_none()
    }
}
