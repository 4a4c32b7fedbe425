//! Author hooks: reshape or filter a record, choose its index.
//!
//! The core plans straight from the event bytes and offers no way to edit a planned document,
//! so a hook works one step earlier, on the stream record itself (DynamoDB JSON, where numbers
//! are strings and stay exact). Only a handler with a hook pays for the `Value` tree this needs;
//! the default path never builds one.

use serde_json::Value;

/// What to do with one record after the hook saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Plan it (as possibly edited) into the configured index.
    Keep,
    /// Plan it into this index instead. The name is checked with
    /// [`stream2search::validate_index_name`]; a bad name makes the record poison.
    Index(String),
    /// Keep it out of the index: an INSERT or MODIFY becomes a delete of the document (so a
    /// document that stops passing the filter does not linger), a REMOVE stays a delete.
    Drop,
}

/// Called once per record, in order, before planning.
///
/// `record` is the stream record as Lambda delivered it (`eventName`, `dynamodb.Keys`,
/// `dynamodb.NewImage`...). Edit `dynamodb.NewImage` to reshape the document.
///
/// ```
/// use serde_json::{Value, json};
/// use stream2search_lambda::{Hook, Verdict};
///
/// /// Drafts stay out of the index; everything else loses its `internalNotes`.
/// struct Products;
/// impl Hook for Products {
///     fn record(&self, record: &mut Value) -> Verdict {
///         let image = &mut record["dynamodb"]["NewImage"];
///         if image["status"]["S"] == "draft" {
///             return Verdict::Drop;
///         }
///         if let Some(image) = image.as_object_mut() {
///             image.remove("internalNotes");
///         }
///         Verdict::Keep
///     }
/// }
/// # let mut r = json!({"eventName":"INSERT","dynamodb":{"NewImage":{"status":{"S":"draft"}}}});
/// # assert_eq!(Products.record(&mut r), Verdict::Drop);
/// ```
pub trait Hook: Send + Sync {
    /// Edits `record` in place and says where it goes.
    fn record(&self, record: &mut Value) -> Verdict;
}

impl<F> Hook for F
where
    F: Fn(&mut Value) -> Verdict + Send + Sync,
{
    fn record(&self, record: &mut Value) -> Verdict {
        self(record)
    }
}

/// Records planned together: one sub-event per target index (`None`: the configured one).
#[derive(Debug, Default)]
pub(crate) struct Group {
    pub(crate) index: Option<String>,
    pub(crate) records: Vec<Value>,
    /// The original position of each record.
    pub(crate) positions: Vec<usize>,
}

/// A record the hook made poison (an invalid index name).
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) position: usize,
    pub(crate) event_id: Option<String>,
    pub(crate) sequence_number: Option<String>,
    pub(crate) reason: String,
}

/// Runs `hook` over each record of `records`, grouping them by target index in order of first
/// appearance.
pub(crate) fn apply(hook: &dyn Hook, records: Vec<Value>) -> (Vec<Group>, Vec<Refused>) {
    let mut groups: Vec<Group> = Vec::new();
    let mut refused = Vec::new();
    for (position, mut record) in records.into_iter().enumerate() {
        let index = match hook.record(&mut record) {
            Verdict::Keep => None,
            Verdict::Index(name) => match stream2search::validate_index_name(&name) {
                Ok(()) => Some(name),
                Err(why) => {
                    refused.push(Refused {
                        position,
                        event_id: record["eventID"].as_str().map(str::to_owned),
                        sequence_number: record["dynamodb"]["SequenceNumber"]
                            .as_str()
                            .map(str::to_owned),
                        reason: format!("hook chose index {name:?}: {why}"),
                    });
                    continue;
                }
            },
            Verdict::Drop => {
                if let Some(obj) = record.as_object_mut() {
                    obj.insert("eventName".into(), Value::from("REMOVE"));
                    // A TTL marker would let STREAM2SEARCH_TTL=skip keep the document.
                    obj.remove("userIdentity");
                }
                if let Some(d) = record["dynamodb"].as_object_mut() {
                    d.remove("NewImage");
                }
                None
            }
        };
        let group = match groups.iter_mut().position(|g| g.index == index) {
            Some(i) => &mut groups[i],
            None => {
                groups.push(Group {
                    index,
                    ..Group::default()
                });
                groups.last_mut().expect("just pushed")
            }
        };
        group.records.push(record);
        group.positions.push(position);
    }
    (groups, refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_are_grouped_by_index_and_bad_names_refused() {
        let hook = |r: &mut Value| match r["dynamodb"]["Keys"]["k"]["S"].as_str() {
            Some("a") => Verdict::Keep,
            Some("b") => Verdict::Index("other".into()),
            Some("c") => Verdict::Index("Bad Name".into()),
            _ => Verdict::Drop,
        };
        let rec = |k: &str| {
            json!({"eventID": k, "eventName": "INSERT",
                   "dynamodb": {"Keys": {"k": {"S": k}}, "NewImage": {"k": {"S": k}}, "SequenceNumber": "1"}})
        };
        let (groups, refused) = apply(&hook, vec![rec("a"), rec("b"), rec("c"), rec("d")]);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            (groups[0].index.as_deref(), &groups[0].positions),
            (None, &vec![0, 3])
        );
        assert_eq!(groups[1].index.as_deref(), Some("other"));
        assert_eq!(groups[0].records[1]["eventName"], "REMOVE");
        assert!(groups[0].records[1]["dynamodb"].get("NewImage").is_none());
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].position, 2);
        assert!(refused[0].reason.contains("Bad Name"));
    }
}
