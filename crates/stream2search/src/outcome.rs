//! Reading a bulk response: one outcome per item sent, aligned by position; the rules are the
//! table in `docs/outcomes.md`.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::bulk::Action;
use crate::checkpoint::RecordOutcome;

/// A change that is settled in the index: the server applied it, or had no need to. Both the
/// server's answer for one item ([`ItemOutcome::Applied`]) and a record's end
/// ([`RecordOutcome::Applied`]) say it with this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Indexed (2xx).
    Indexed,
    /// Deleted (2xx).
    Deleted,
    /// Delete of a document that is not there (404): already gone, which is what was wanted.
    AlreadyGone,
    /// The index holds a newer version (409 under external versioning): this change is stale.
    Stale,
}

/// What the server said about one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Applied: indexed, deleted, already gone or stale.
    Applied(Applied),
    /// Worth sending again (429, rejected execution, circuit breaker, 5xx, cluster blocks: none of
    /// them is the record's fault).
    Retryable {
        /// The item's status.
        status: u16,
        /// The server's reason.
        reason: String,
    },
    /// The index's mapping has reached `index.mapping.total_fields.limit` and this document
    /// would add a field (400 `illegal_argument_exception`, "Limit of total fields \[N\] has been
    /// exceeded"). The document is not at fault: an index made by `stream2search index create`
    /// stops dynamic mapping at the limit, and then the document is accepted. Otherwise it is
    /// rejected.
    FieldLimit {
        /// The server's reason.
        reason: String,
    },
    /// The server refuses this document for good (mapping errors and the like).
    Rejected {
        /// The item's status.
        status: u16,
        /// The server's reason.
        reason: String,
    },
}

/// What one whole bulk response means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Per-item outcomes, one per action sent, in order.
    Items(Vec<ItemOutcome>),
    /// 413: split the request and send the halves.
    TooLarge,
    /// Nothing is known to be applied: send it all again (429, 5xx, unreadable or misaligned body).
    RetryAll {
        /// The HTTP status.
        status: u16,
        /// Why.
        reason: String,
    },
    /// 401/403: credentials or permissions are wrong; no record is at fault.
    Unauthorized {
        /// The HTTP status.
        status: u16,
        /// The server's reason.
        reason: String,
    },
    /// Another 4xx for the request as a whole: every item is rejected.
    RejectAll {
        /// The HTTP status.
        status: u16,
        /// The server's reason.
        reason: String,
    },
}

impl From<Applied> for ItemOutcome {
    fn from(a: Applied) -> Self {
        ItemOutcome::Applied(a)
    }
}

impl From<ItemOutcome> for RecordOutcome {
    /// The end of an item whose last answer is `o`: a `Retryable` outcome that is not retried
    /// any more is not durable, and a `FieldLimit` one that is not sent again is rejected.
    fn from(o: ItemOutcome) -> Self {
        match o {
            ItemOutcome::Applied(a) => RecordOutcome::Applied(a),
            ItemOutcome::Rejected { status, reason } => RecordOutcome::Rejected { status, reason },
            ItemOutcome::FieldLimit { reason } => RecordOutcome::Rejected {
                status: 400,
                reason,
            },
            ItemOutcome::Retryable { status, reason } => RecordOutcome::NotDurable {
                reason: format!("{status}: {reason}"),
            },
        }
    }
}

/// `indexed`, `deleted`, `already gone`, `stale`.
impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Applied::Indexed => "indexed",
            Applied::Deleted => "deleted",
            Applied::AlreadyGone => "already gone",
            Applied::Stale => "stale",
        })
    }
}

/// An [`Applied`] as its own `Display`; `retryable (STATUS): REASON`, `field limit: REASON`,
/// `rejected (STATUS): REASON`.
impl fmt::Display for ItemOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemOutcome::Applied(a) => a.fmt(f),
            ItemOutcome::Retryable { status, reason } => {
                write!(f, "retryable ({status}): {reason}")
            }
            ItemOutcome::FieldLimit { reason } => write!(f, "field limit: {reason}"),
            ItemOutcome::Rejected { status, reason } => write!(f, "rejected ({status}): {reason}"),
        }
    }
}

/// `N items`, `too large`, `retry all (STATUS): REASON`, `unauthorized (STATUS): REASON`,
/// `reject all (STATUS): REASON`.
impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Response::Items(items) => write!(f, "{} items", items.len()),
            Response::TooLarge => f.write_str("too large"),
            Response::RetryAll { status, reason } => write!(f, "retry all ({status}): {reason}"),
            Response::Unauthorized { status, reason } => {
                write!(f, "unauthorized ({status}): {reason}")
            }
            Response::RejectAll { status, reason } => write!(f, "reject all ({status}): {reason}"),
        }
    }
}

#[derive(Deserialize)]
struct Body {
    items: Vec<serde_json::Map<String, Value>>,
}

#[derive(Deserialize)]
struct ItemBody {
    status: u16,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    error: Option<Value>,
}

/// `type: reason` of an error object (or its text when it is a string).
fn reason(error: Option<&Value>) -> (String, String) {
    match error {
        Some(Value::Object(e)) => {
            let kind = e
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let why = e.get("reason").and_then(Value::as_str).unwrap_or("");
            let text = if why.is_empty() {
                kind.clone()
            } else {
                format!("{kind}: {why}")
            };
            (kind, text)
        }
        Some(Value::String(s)) => (String::new(), s.clone()),
        _ => (String::new(), String::new()),
    }
}

fn whole_reason(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: Value,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => reason(Some(&b.error)).1,
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
    }
}

/// Classifies a bulk response to `actions` (the actions sent, in order): one rule per row of
/// `docs/outcomes.md`.
///
/// ```
/// use stream2search::Action;
/// use stream2search::outcome::{Applied, ItemOutcome, Response, classify};
///
/// let body = br#"{"took":2,"errors":true,"items":[
///   {"index":{"_index":"products","_id":"p-1","_version":1700000000000000,"status":201,"result":"created"}},
///   {"delete":{"_index":"products","_id":"p-2","_version":1700000000000000,"status":404,"result":"not_found"}},
///   {"index":{"_index":"products","_id":"p-3","status":409,"error":{"type":"version_conflict_engine_exception",
///     "reason":"[p-3]: version conflict, current version [1700000009000000] is higher than or equal to the one provided [1700000000000000]"}}},
///   {"index":{"_index":"products","_id":"p-4","status":429,"error":{"type":"es_rejected_execution_exception",
///     "reason":"rejected execution"}}}
/// ]}"#;
/// let actions = [Action::Index, Action::Delete, Action::Index, Action::Index];
/// assert_eq!(
///     classify(200, body, &actions),
///     Response::Items(vec![
///         ItemOutcome::Applied(Applied::Indexed),
///         ItemOutcome::Applied(Applied::AlreadyGone),
///         ItemOutcome::Applied(Applied::Stale),
///         ItemOutcome::Retryable {
///             status: 429,
///             reason: "es_rejected_execution_exception: rejected execution".into(),
///         },
///     ])
/// );
///
/// // A whole-request answer decides every item at once.
/// assert_eq!(classify(413, b"", &actions), Response::TooLarge);
/// // An answer that does not line up with what was sent is not trusted.
/// assert!(matches!(classify(200, body, &actions[..2]), Response::RetryAll { .. }));
/// ```
pub fn classify(status: u16, body: &[u8], actions: &[Action]) -> Response {
    match status {
        200..=299 => {}
        413 => return Response::TooLarge,
        401 | 403 => {
            return Response::Unauthorized {
                status,
                reason: whole_reason(body),
            };
        }
        429 | 500..=599 => {
            return Response::RetryAll {
                status,
                reason: whole_reason(body),
            };
        }
        _ => {
            return Response::RejectAll {
                status,
                reason: whole_reason(body),
            };
        }
    }
    let parsed: Body = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => {
            return Response::RetryAll {
                status,
                reason: format!("unreadable bulk response: {e}"),
            };
        }
    };
    if parsed.items.len() != actions.len() {
        return Response::RetryAll {
            status,
            reason: format!(
                "bulk response has {} items for {} actions",
                parsed.items.len(),
                actions.len()
            ),
        };
    }
    let mut out = Vec::with_capacity(actions.len());
    for (i, (item, &action)) in parsed.items.into_iter().zip(actions).enumerate() {
        let Some(body) = item.get(action.as_str()) else {
            return Response::RetryAll {
                status,
                reason: format!(
                    "bulk response item {i} does not answer a `{}` action",
                    action.as_str()
                ),
            };
        };
        let Ok(body) = ItemBody::deserialize(body) else {
            return Response::RetryAll {
                status,
                reason: format!("bulk response item {i} is unreadable"),
            };
        };
        out.push(item_outcome(action, &body));
    }
    Response::Items(out)
}

fn item_outcome(action: Action, item: &ItemBody) -> ItemOutcome {
    let status = item.status;
    let (kind, text) = reason(item.error.as_ref());
    match (status, action) {
        (200..=299, Action::Index) => ItemOutcome::Applied(Applied::Indexed),
        (200..=299, Action::Delete) => ItemOutcome::Applied(Applied::Deleted),
        (404, Action::Delete)
            if item.result.as_deref() == Some("not_found")
                || kind == "index_not_found_exception" =>
        {
            ItemOutcome::Applied(Applied::AlreadyGone)
        }
        (409, _) if kind == "version_conflict_engine_exception" => {
            ItemOutcome::Applied(Applied::Stale)
        }
        _ if status == 429
            || status >= 500
            || matches!(
                kind.as_str(),
                "rejected_execution_exception"
                    | "es_rejected_execution_exception"
                    | "circuit_breaking_exception"
                    | "cluster_block_exception"
                    | "unavailable_shards_exception"
            ) =>
        {
            ItemOutcome::Retryable {
                status,
                reason: text,
            }
        }
        (400, Action::Index)
            if kind == "illegal_argument_exception" && text.contains("Limit of total fields [") =>
        {
            ItemOutcome::FieldLimit { reason: text }
        }
        _ => ItemOutcome::Rejected {
            status,
            reason: text,
        },
    }
}

/// The body of `PUT /<index>/_mapping` that stops dynamic mapping: documents keep their new
/// attributes in `_source`, and the mapping gains no more fields.
pub const STOP_DYNAMIC_MAPPING: &[u8] = br#"{"dynamic":"false"}"#;

/// Whether a `GET /<index>/_mapping` answer shows indexes that all ask to stop dynamic mapping at
/// the field limit (`_meta.stream2search.at_field_limit` is `"stop_dynamic_mapping"`, as
/// `stream2search index create` makes them). An index that does not ask is never changed.
pub fn stops_dynamic_mapping(get_mapping: &[u8]) -> bool {
    let Ok(Value::Object(indexes)) = serde_json::from_slice::<Value>(get_mapping) else {
        return false;
    };
    !indexes.is_empty()
        && indexes.values().all(|index| {
            index["mappings"]["_meta"]["stream2search"]["at_field_limit"] == "stop_dynamic_mapping"
        })
}
