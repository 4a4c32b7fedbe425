//! Author hooks: reshape, filter, refuse or route each planned item.
//!
//! The event is planned once, straight from its bytes; a hook then sees each bulk item of the
//! plan ([`Item`]): its action, index, id, the document as it will be sent, and the record that
//! made it. Its [`Verdict`] is applied with the core's plan edits (`Plan::set_document`,
//! `Plan::set_index`, `Plan::remove`). Nothing here builds a `Value` tree unless the hook asks
//! for one ([`Item::parse`]).

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use serde::Deserialize;
use stream2search::checkpoint::SkipReason;
use stream2search::{Action, Plan, Record, RecordError, RecordStatus};

/// One bulk item of the plan, as a hook sees it.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    plan: &'a Plan,
    i: usize,
    payload: &'a [u8],
}

impl<'a> Item<'a> {
    /// `Index` (an INSERT or MODIFY) or `Delete` (a REMOVE, or the old copy of a document whose
    /// MODIFY moved it to another index).
    pub fn action(&self) -> Action {
        self.item().action
    }

    /// The index it is planned for.
    pub fn index(&self) -> &'a str {
        &self.item().index
    }

    /// The document id.
    pub fn id(&self) -> &'a str {
        &self.item().id
    }

    /// The document as it will be sent (one JSON object, DynamoDB types already converted);
    /// `None` for a delete.
    pub fn document(&self) -> Option<&'a [u8]> {
        self.plan.document(self.i)
    }

    /// The document parsed as `T`: your own struct, `serde_json::Value` to edit it freely, or
    /// `BTreeMap<String, Box<RawValue>>` to add or remove fields while every other value is
    /// copied exactly. (A `Value` turns numbers into `f64` unless serde_json's
    /// `arbitrary_precision` feature is on: `1.50` comes back as `1.5`, and an integer of more
    /// than 15 digits may lose its last ones.) `Ok(None)` for a delete.
    pub fn parse<T: Deserialize<'a>>(&self) -> Result<Option<T>, serde_json::Error> {
        self.document().map(serde_json::from_slice).transpose()
    }

    /// The record that made this item: `eventID`, `eventName`, `SequenceNumber`, position.
    pub fn record(&self) -> &'a Record {
        let last = *self.item().records.last().unwrap_or(&0);
        &self.plan.records()[last]
    }

    /// Every record this item decides: the records of the batch with older changes of the same
    /// document (superseded by it), in event order, then [`Item::record`].
    pub fn records(&self) -> impl Iterator<Item = &'a Record> + 'a {
        let plan = self.plan;
        self.item().records.iter().map(move |&p| &plan.records()[p])
    }

    /// The stream record that made this item, as JSON text exactly as the event held it (for
    /// `Keys`, `OldImage`, `userIdentity`...). Parse it only if you need it. From Kinesis Data
    /// Streams for DynamoDB it is the `aws:kinesis` record, whose `kinesis.data` holds the
    /// DynamoDB change record base64-encoded.
    pub fn stream_record(&self) -> &'a str {
        let span = self.record().span.clone();
        self.payload
            .get(span)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    fn item(&self) -> &'a stream2search::Item {
        &self.plan.items()[self.i]
    }
}

/// What to do with one item after the hook saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Send it as planned.
    #[default]
    Keep,
    /// Send it with a new document (one JSON object; only for an index item) and/or into another
    /// index (checked against OpenSearch's rules). A change that cannot be made refuses the item.
    Send {
        /// The replacement document.
        document: Option<Vec<u8>>,
        /// The index to use instead of the planned one.
        index: Option<String>,
    },
    /// Send nothing: its records count as skipped (`SkipReason::Filtered`) and are done. What
    /// the index already holds for this document stays there (use [`Verdict::Delete`] to take
    /// it out).
    Skip,
    /// Delete the document instead (same index, id, version and routing): for an item that no
    /// longer belongs in the index, e.g. a product that went from published to draft.
    Delete,
    /// Its records are poison (`RecordErrorKind::Refused`, with this reason): dead-lettered when
    /// a queue is configured, otherwise reported as failures.
    Refuse(String),
}

impl Verdict {
    /// Send this document instead.
    pub fn document(document: impl Into<Vec<u8>>) -> Verdict {
        Verdict::Send {
            document: Some(document.into()),
            index: None,
        }
    }

    /// Send it into `index` instead.
    pub fn index(index: impl Into<String>) -> Verdict {
        Verdict::Send {
            document: None,
            index: Some(index.into()),
        }
    }
}

/// Called once per bulk item of the plan, in event order; the verdicts are applied once every
/// item was seen.
///
/// ```
/// use std::collections::BTreeMap;
///
/// use serde_json::value::RawValue;
/// use stream2search_lambda::{Hook, Item, Verdict};
///
/// /// Drafts are not sent; everything else loses its `internalNotes`.
/// struct Products;
/// impl Hook for Products {
///     fn item(&self, item: &Item<'_>) -> Verdict {
///         // Each field as its JSON text: what the hook does not touch is sent exactly.
///         let Ok(Some(mut doc)) = item.parse::<BTreeMap<String, Box<RawValue>>>() else {
///             return Verdict::Keep; // a delete
///         };
///         if doc.get("status").is_some_and(|s| s.get() == r#""draft""#) {
///             return Verdict::Skip;
///         }
///         if doc.remove("internalNotes").is_none() {
///             return Verdict::Keep;
///         }
///         Verdict::document(serde_json::to_vec(&doc).unwrap_or_default())
///     }
/// }
/// ```
///
/// A closure `Fn(&Item<'_>) -> Verdict` is a hook too. A hook that panics refuses the item it
/// was looking at; it never takes the invocation down. Give it to the handler at construction:
/// `Handler::builder().hook(Products).from_env()`.
///
/// A hook that must await (an enrichment lookup) is an [`AsyncHook`].
pub trait Hook: Send + Sync {
    /// Says what to do with `item`.
    fn item(&self, item: &Item<'_>) -> Verdict;
}

impl<F> Hook for F
where
    F: Fn(&Item<'_>) -> Verdict + Send + Sync,
{
    fn item(&self, item: &Item<'_>) -> Verdict {
        self(item)
    }
}

/// A hook that awaits: an enrichment lookup, a call to another service. Give it with
/// `Handler::builder().async_hook(..)`.
///
/// Items are seen one after another, in event order, each verdict awaited before the next item
/// is shown. The hook has half of the time the invocation has for requests (the other half is
/// the bulk sends' and the dead letters'): an item still waiting for its verdict when that half
/// ends, and every item after it, is neither sent nor refused but reported as not durable
/// (`the hook did not answer in time`), so Lambda delivers it again. A hook that panics refuses
/// the item it was looking at.
///
/// ```
/// use std::collections::HashMap;
///
/// use stream2search_lambda::{AsyncHook, HookFuture, Item, Verdict};
///
/// /// Routes each product to the index of its shop, asked of a directory service.
/// struct ByShop {
///     directory: HashMap<String, String>, // stands in for a client of that service
/// }
///
/// impl ByShop {
///     async fn shop_of(&self, id: &str) -> Option<String> {
///         self.directory.get(id).cloned()
///     }
/// }
///
/// impl AsyncHook for ByShop {
///     fn item<'a>(&'a self, item: Item<'a>) -> HookFuture<'a> {
///         Box::pin(async move {
///             match self.shop_of(item.id()).await {
///                 Some(shop) => Verdict::index(format!("products-{shop}")),
///                 None => Verdict::Refuse("no shop".into()),
///             }
///         })
///     }
/// }
/// ```
pub trait AsyncHook: Send + Sync {
    /// Says what to do with `item`, when it is ready.
    fn item<'a>(&'a self, item: Item<'a>) -> HookFuture<'a>;
}

/// What [`AsyncHook::item`] returns: `Box::pin(async move { ... })`.
pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;

/// Runs `hook` over every item of `plan` (planned from `payload`), in event order, then
/// applies its verdicts.
pub(crate) fn apply(hook: &dyn Hook, payload: &[u8], plan: &mut Plan) {
    let verdicts: Vec<Option<Verdict>> = (0..plan.items().len())
        .map(|i| {
            let item = Item {
                plan: &*plan,
                i,
                payload,
            };
            Some(
                panic::catch_unwind(AssertUnwindSafe(|| hook.item(&item)))
                    .unwrap_or_else(|panic| refuse_panic(&*panic)),
            )
        })
        .collect();
    let late = edit(plan, verdicts);
    debug_assert!(late.is_empty());
}

/// Runs `hook` over every item of `plan`, one after another in event order, until `stop`;
/// applies the verdicts. Returns the positions of the records whose item had no verdict by
/// then: they are not in the plan any more and are not durable.
pub(crate) async fn apply_async(
    hook: &dyn AsyncHook,
    payload: &[u8],
    plan: &mut Plan,
    stop: Instant,
) -> Vec<usize> {
    let mut verdicts: Vec<Option<Verdict>> = Vec::with_capacity(plan.items().len());
    for i in 0..plan.items().len() {
        let item = Item {
            plan: &*plan,
            i,
            payload,
        };
        let future = match panic::catch_unwind(AssertUnwindSafe(|| hook.item(item))) {
            Ok(future) => future,
            Err(panic) => {
                verdicts.push(Some(refuse_panic(&*panic)));
                continue;
            }
        };
        let stop = tokio::time::Instant::from_std(stop);
        match tokio::time::timeout_at(stop, CatchUnwind(future)).await {
            Ok(Ok(verdict)) => verdicts.push(Some(verdict)),
            Ok(Err(panic)) => verdicts.push(Some(refuse_panic(&*panic))),
            // Out of time: this item and all after it.
            Err(_) => break,
        }
    }
    verdicts.resize(plan.items().len(), None);
    edit(plan, verdicts)
}

/// Polls the hook's future, turning a panic into an `Err`.
struct CatchUnwind<'a>(HookFuture<'a>);

impl Future for CatchUnwind<'_> {
    type Output = Result<Verdict, Box<dyn std::any::Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = &mut self.0;
        match panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(verdict)) => Poll::Ready(Ok(verdict)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

fn refuse_panic(panic: &(dyn std::any::Any + Send)) -> Verdict {
    Verdict::Refuse(format!("the hook panicked: {}", message(panic)))
}

/// Applies one verdict per item (`None`: no verdict in time: the item is taken out of the plan
/// and the positions of its records are returned).
fn edit(plan: &mut Plan, verdicts: Vec<Option<Verdict>>) -> Vec<usize> {
    let mut late = Vec::new();
    // From the end: removing item `i` moves only the items after it, which are done.
    for (i, verdict) in verdicts.into_iter().enumerate().rev() {
        let Some(verdict) = verdict else {
            late.extend(plan.items()[i].records.iter().copied());
            remove(plan, i, RecordStatus::Skipped(SkipReason::Filtered));
            continue;
        };
        let refused = match verdict {
            Verdict::Keep => None,
            Verdict::Send { document, index } => document
                .map_or(Ok(()), |d| plan.set_document(i, &d))
                .and_then(|()| index.map_or(Ok(()), |x| plan.set_index(i, &x)))
                .err()
                .map(|e| format!("hook: {e}")),
            Verdict::Delete => plan.set_delete(i).err().map(|e| format!("hook: {e}")),
            Verdict::Skip => {
                remove(plan, i, RecordStatus::Skipped(SkipReason::Filtered));
                None
            }
            Verdict::Refuse(reason) => Some(reason),
        };
        if let Some(reason) = refused {
            remove(plan, i, RecordStatus::Invalid(RecordError::refused(reason)));
        }
    }
    late.sort_unstable();
    late
}

fn remove(plan: &mut Plan, i: usize, status: RecordStatus) {
    // `i` is in range: items are visited from the end, each removed at most once.
    let _ = plan.remove(i, status);
}

fn message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;
    use std::collections::BTreeMap;
    use stream2search::checkpoint::RecordOutcome;
    use stream2search::outcome::Applied;
    use stream2search::{Config, Planner, RecordErrorKind};

    const EVENT: &str = r#"{"Records":[
{"eventID":"a","eventName":"INSERT","dynamodb":{"Keys":{"k":{"S":"a"}},"NewImage":{"k":{"S":"a"},"n":{"N":"1.50"}},"SequenceNumber":"1"}},
{"eventID":"b","eventName":"INSERT","dynamodb":{"Keys":{"k":{"S":"b"}},"NewImage":{"k":{"S":"b"}},"SequenceNumber":"2"}},
{"eventID":"c","eventName":"INSERT","dynamodb":{"Keys":{"k":{"S":"c"}},"NewImage":{"k":{"S":"c"}},"SequenceNumber":"3"}},
{"eventID":"d","eventName":"REMOVE","dynamodb":{"Keys":{"k":{"S":"d"}},"SequenceNumber":"4"}},
{"eventID":"e","eventName":"REMOVE","dynamodb":{"Keys":{"k":{"S":"e"}},"SequenceNumber":"5"}},
{"eventID":"f","eventName":"INSERT","dynamodb":{"Keys":{"k":{"S":"f"}},"NewImage":{"k":{"S":"f"}},"SequenceNumber":"6"}}
]}"#;

    fn planned() -> Plan {
        Planner::new(Config {
            index: "docs".into(),
            versioning: false,
            ..Config::default()
        })
        .unwrap()
        .plan(EVENT.as_bytes(), None)
        .unwrap()
    }

    fn body(plan: &Plan) -> String {
        let mut out = Vec::new();
        plan.encode(&(0..plan.items().len()).collect::<Vec<_>>(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn verdicts_reshape_route_skip_and_refuse_each_item() {
        let mut plan = planned();
        let hook = |item: &Item<'_>| match item.id() {
            "a" => {
                // Raw values: the rest of the document is copied exactly (`1.50` stays `1.50`).
                let mut doc: BTreeMap<String, Box<RawValue>> = item.parse().unwrap().unwrap();
                doc.insert(
                    "hooked".into(),
                    RawValue::from_string("true".into()).unwrap(),
                );
                Verdict::document(serde_json::to_vec(&doc).unwrap())
            }
            "b" => Verdict::index("other"),
            "c" => Verdict::Skip,
            "d" => Verdict::Refuse("no deletes of d".into()),
            "e" => panic!("boom"),
            _ => Verdict::Keep,
        };
        apply(&hook, EVENT.as_bytes(), &mut plan);
        assert_eq!(
            body(&plan),
            concat!(
                "{\"index\":{\"_index\":\"docs\",\"_id\":\"a\"}}\n{\"hooked\":true,\"k\":\"a\",\"n\":1.50}\n",
                "{\"index\":{\"_index\":\"other\",\"_id\":\"b\"}}\n{\"k\":\"b\"}\n",
                "{\"index\":{\"_index\":\"docs\",\"_id\":\"f\"}}\n{\"k\":\"f\"}\n",
            )
        );
        let results = plan.resolve(&[
            RecordOutcome::Applied(Applied::Indexed),
            RecordOutcome::Applied(Applied::Indexed),
            RecordOutcome::Applied(Applied::Indexed),
        ]);
        assert_eq!(
            results[2].outcome,
            RecordOutcome::Skipped(SkipReason::Filtered)
        );
        for (position, why) in [(3, "no deletes of d"), (4, "the hook panicked: boom")] {
            match &results[position].outcome {
                RecordOutcome::Invalid(e) => {
                    assert_eq!(e.kind(), RecordErrorKind::Refused);
                    assert_eq!(e.to_string(), why);
                }
                other => panic!("{position}: {other:?}"),
            }
        }
        assert_eq!(results[5].outcome, RecordOutcome::Applied(Applied::Indexed));
    }

    #[test]
    fn items_are_seen_in_event_order_and_a_delete_parses_to_none() {
        let mut plan = planned();
        let seen = std::sync::Mutex::new(Vec::new());
        let hook = |item: &Item<'_>| {
            let parsed: Option<serde_json::Value> = item.parse().unwrap();
            seen.lock()
                .unwrap()
                .push((item.id().to_owned(), parsed.is_some()));
            Verdict::Skip
        };
        apply(&hook, EVENT.as_bytes(), &mut plan);
        let expected = [
            ("a", true),
            ("b", true),
            ("c", true),
            ("d", false),
            ("e", false),
            ("f", true),
        ];
        let expected: Vec<(String, bool)> = expected
            .iter()
            .map(|(id, doc)| (id.to_string(), *doc))
            .collect();
        assert_eq!(seen.into_inner().unwrap(), expected);
        assert!(plan.items().is_empty());
    }

    #[test]
    fn a_delete_verdict_sends_a_delete_of_the_same_document() {
        let mut plan = planned();
        let hook = |item: &Item<'_>| match item.id() {
            "b" => Verdict::Delete,
            _ => Verdict::Keep,
        };
        apply(&hook, EVENT.as_bytes(), &mut plan);
        let mut body = Vec::new();
        plan.encode(&[1], &mut body);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"delete\":{\"_index\":\"docs\",\"_id\":\"b\"}}\n"
        );
        assert_eq!(plan.items().len(), 6);
    }

    #[test]
    fn edits_that_cannot_be_made_refuse_the_item() {
        let mut plan = planned();
        let hook = |item: &Item<'_>| match item.id() {
            "a" => Verdict::document("not json"),
            "b" => Verdict::index("Bad,Name"),
            "d" => Verdict::document("{}"), // a delete has no document
            _ => Verdict::Keep,
        };
        apply(&hook, EVENT.as_bytes(), &mut plan);
        let results = plan.resolve(&[
            RecordOutcome::Applied(Applied::Indexed),
            RecordOutcome::Applied(Applied::Deleted),
            RecordOutcome::Applied(Applied::Indexed),
        ]);
        for position in [0, 1, 3] {
            assert!(
                matches!(&results[position].outcome, RecordOutcome::Invalid(e) if e.kind() == RecordErrorKind::Refused),
                "{position}: {:?}",
                results[position].outcome
            );
        }
        assert_eq!(results[2].outcome, RecordOutcome::Applied(Applied::Indexed));
    }

    #[test]
    fn an_item_shows_its_record_and_the_record_text() {
        let plan = planned();
        let item = Item {
            plan: &plan,
            i: 3,
            payload: EVENT.as_bytes(),
        };
        assert_eq!(item.action(), Action::Delete);
        assert_eq!(item.document(), None);
        assert_eq!(item.record().event_id.as_deref(), Some("d"));
        assert_eq!(item.records().count(), 1);
        assert!(
            item.stream_record()
                .starts_with(r#"{"eventID":"d","eventName":"REMOVE""#)
        );
        assert!(item.stream_record().ends_with(r#""SequenceNumber":"4"}}"#));
    }

    struct Slow;

    impl AsyncHook for Slow {
        fn item<'a>(&'a self, item: Item<'a>) -> HookFuture<'a> {
            Box::pin(async move {
                tokio::task::yield_now().await;
                match item.id() {
                    "a" => Verdict::index("other"),
                    "b" => Verdict::Skip,
                    "c" => panic!("boom"),
                    "d" => std::future::pending().await,
                    _ => Verdict::Keep,
                }
            })
        }
    }

    #[tokio::test]
    async fn async_verdicts_apply_and_an_unanswered_item_ends_the_hook() {
        let mut plan = planned();
        let stop = Instant::now() + std::time::Duration::from_millis(200);
        let late = apply_async(&Slow, EVENT.as_bytes(), &mut plan, stop).await;
        // "d" never answers: it and every item after it are late; nothing of them is sent.
        assert_eq!(late, [3, 4, 5]);
        assert_eq!(
            body(&plan),
            "{\"index\":{\"_index\":\"other\",\"_id\":\"a\"}}\n{\"k\":\"a\",\"n\":1.50}\n"
        );
        let results = plan.resolve(&[RecordOutcome::Applied(Applied::Indexed)]);
        assert_eq!(
            results[1].outcome,
            RecordOutcome::Skipped(SkipReason::Filtered)
        );
        match &results[2].outcome {
            RecordOutcome::Invalid(e) => {
                assert_eq!(e.kind(), RecordErrorKind::Refused);
                assert_eq!(e.to_string(), "the hook panicked: boom");
            }
            other => panic!("{other:?}"),
        }
    }
}
