//! Plan edits: what a hook may change in a plan before it is sent (a document, its index,
//! index → delete, or taking an item out).

use crate::bulk::{Action, write_meta};
use crate::error::EditError;
use crate::index;
use crate::json::Reader;
use crate::plan::{Plan, RecordStatus};

impl Plan {
    /// object; the same document then goes to every chunk that sends the item.
    pub fn set_document(&mut self, i: usize, doc: &[u8]) -> Result<(), EditError> {
        let item = self
            .items
            .get(i)
            .ok_or_else(|| EditError(format!("no item {i}")))?;
        if item.action != Action::Index {
            return Err(EditError(format!(
                "item {i} is a delete and has no document"
            )));
        }
        let text =
            std::str::from_utf8(doc).map_err(|_| EditError("document is not UTF-8".into()))?;
        let mut r = Reader::new(text);
        let is_object = r.peek() == Some(b'{') && r.skip_value().is_ok() && r.at_end();
        if !is_object {
            return Err(EditError("document must be one JSON object".into()));
        }
        let start = self.docs.len();
        self.docs.extend_from_slice(text.trim().as_bytes());
        self.items[i].doc = Some(start..self.docs.len());
        Ok(())
    }

    /// Sends item `i` to another index (a hook's choice), checked against OpenSearch's rules.
    pub fn set_index(&mut self, i: usize, index: &str) -> Result<(), EditError> {
        let item = self
            .items
            .get_mut(i)
            .ok_or_else(|| EditError(format!("no item {i}")))?;
        index::validate(index).map_err(|why| EditError(format!("index {index:?}: {why}")))?;
        item.index = index.to_owned();
        write_meta(&mut self.meta, item);
        item.inline = false;
        Ok(())
    }

    /// Turns index item `i` into a delete of the same document (same index, id, version and
    /// routing): for a document that should leave the index, e.g. one a filter no longer passes.
    pub fn set_delete(&mut self, i: usize) -> Result<(), EditError> {
        let item = self
            .items
            .get_mut(i)
            .ok_or_else(|| EditError(format!("no item {i}")))?;
        item.action = Action::Delete;
        item.doc = None;
        write_meta(&mut self.meta, item);
        item.inline = false;
        Ok(())
    }

    /// Takes item `i` out of the plan; the records it decides get `status` instead (for example
    /// `Skipped(SkipReason::Filtered)`, or `Invalid(RecordError::refused(..))` to dead-letter them).
    /// Later items move down by one.
    pub fn remove(&mut self, i: usize, status: RecordStatus) -> Result<(), EditError> {
        if i >= self.items.len() {
            return Err(EditError(format!("no item {i}")));
        }
        let item = self.items.remove(i);
        for &p in &item.records {
            // A record that also decides another item (a moved document's delete) keeps that one.
            let elsewhere = self.items.iter().any(|other| other.records.contains(&p));
            if !elsewhere {
                self.records[p].status = status.clone();
            }
        }
        Ok(())
    }

    /// The document of item `i`, for index items (`None` for a delete or no such item).
    pub fn document(&self, i: usize) -> Option<&[u8]> {
        let doc = self.items.get(i)?.doc.as_ref()?;
        self.docs.get(doc.clone())
    }
}
