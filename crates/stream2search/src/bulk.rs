//! Bulk NDJSON: action lines, the bulk body a plan lays out, and chunks bounded by bytes and by
//! actions.
//!
//! Planning writes each item's action line right before its document, so that the items of a
//! [`Plan`] lie in one buffer as one bulk body; a [`Chunk`] (one bulk request) then borrows its
//! body from there unless an edit moved an item out of line.

use std::borrow::Cow;
use std::ops::Range;

use crate::json::write_str;
use crate::plan::{Item, Plan};

/// A bulk action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `index`: create or replace the whole document.
    Index,
    /// `delete`.
    Delete,
}

impl Action {
    /// The action's name in the bulk API.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Index => "index",
            Action::Delete => "delete",
        }
    }
}

/// Appends one action line, `\n` included.
pub(crate) fn write_action(
    out: &mut Vec<u8>,
    action: Action,
    index: &str,
    id: &str,
    version: Option<u64>,
    routing: Option<&str>,
) {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(action.as_str().as_bytes());
    out.extend_from_slice(b"\":{\"_index\":");
    write_str(out, index);
    out.extend_from_slice(b",\"_id\":");
    write_str(out, id);
    if let Some(v) = version {
        out.extend_from_slice(b",\"version\":");
        write_u64(out, v);
        out.extend_from_slice(b",\"version_type\":\"external_gte\"");
    }
    if let Some(r) = routing {
        out.extend_from_slice(b",\"routing\":");
        write_str(out, r);
    }
    out.extend_from_slice(b"}}\n");
}

/// Appends `v` in decimal.
fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Splits items of the given encoded sizes into consecutive ranges of at most `max_bytes` and
/// `max_actions`; an item larger than `max_bytes` goes alone.
pub(crate) fn chunks(
    sizes: impl IntoIterator<Item = usize>,
    max_bytes: usize,
    max_actions: usize,
) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes, mut n) = (0, 0, 0);
    for (i, size) in sizes.into_iter().enumerate() {
        if n > 0 && (n == max_actions || bytes + size > max_bytes) {
            out.push(start..i);
            (start, bytes, n) = (i, 0, 0);
        }
        bytes += size;
        n += 1;
    }
    if n > 0 {
        out.push(start..start + n);
    }
    out
}

/// One bulk request of a [`Plan`]: consecutive items within the configured byte and action
/// limits.
#[derive(Debug, Clone)]
pub struct Chunk<'a> {
    plan: &'a Plan,
    items: Range<usize>,
}

impl<'a> Chunk<'a> {
    /// The items it sends (indices into [`Plan::items`]).
    pub fn items(&self) -> Range<usize> {
        self.items.clone()
    }

    /// The request body, as [`Plan::body`] gives it for these items.
    pub fn body(&self) -> Cow<'a, [u8]> {
        self.plan.body(&self.items().collect::<Vec<_>>())
    }

    /// The actions sent, in order: what [`crate::outcome::classify`] aligns the answer with.
    pub fn actions(&self) -> Vec<Action> {
        self.plan.items[self.items()]
            .iter()
            .map(|item| item.action)
            .collect()
    }
}

impl Plan {
    /// The bulk requests to send, in order: [`Plan::chunks`] as [`Chunk`]s.
    pub fn bulk_chunks(&self) -> Vec<Chunk<'_>> {
        self.chunks()
            .into_iter()
            .map(|items| Chunk { plan: self, items })
            .collect()
    }

    /// Bytes `items()[i]` takes in a bulk body.
    pub fn item_len(&self, i: usize) -> usize {
        let item = &self.items[i];
        item.meta.len() + item.doc.as_ref().map_or(0, |d| d.len() + 1)
    }

    /// Consecutive item ranges within the configured byte and action limits.
    pub fn chunks(&self) -> Vec<Range<usize>> {
        chunks(
            (0..self.items.len()).map(|i| self.item_len(i)),
            self.max_bytes,
            self.max_actions,
        )
    }

    /// Appends the NDJSON for `items` (indices into [`Plan::items`], any subset, any order).
    pub fn encode(&self, items: &[usize], out: &mut Vec<u8>) {
        for &i in items {
            let item = &self.items[i];
            out.extend_from_slice(self.meta_line(item));
            if let Some(doc) = &item.doc {
                out.extend_from_slice(&self.docs[doc.clone()]);
                out.push(b'\n');
            }
        }
    }

    /// The NDJSON for `items`, as [`Plan::encode`] writes it: borrowed from the plan when the
    /// items lie in it as one run (consecutive items as planned, nothing edited or superseded
    /// between them — the usual case, which costs no copy), else written out.
    pub fn body(&self, items: &[usize]) -> Cow<'_, [u8]> {
        match self.run(items) {
            Some(run) => Cow::Borrowed(&self.docs[run]),
            None => {
                let mut out = Vec::new();
                self.encode(items, &mut out);
                Cow::Owned(out)
            }
        }
    }

    /// Where `items` lie in the documents arena as one run, if they do.
    fn run(&self, items: &[usize]) -> Option<Range<usize>> {
        let mut run: Option<Range<usize>> = None;
        for &i in items {
            let item = self.items.get(i)?;
            let end = match &item.doc {
                Some(doc) if doc.start == item.meta.end => doc.end + 1,
                Some(_) => return None,
                None => item.meta.end,
            };
            if !item.inline || run.as_ref().is_some_and(|r| r.end != item.meta.start) {
                return None;
            }
            let start = run.map_or(item.meta.start, |r| r.start);
            run = Some(start..end);
        }
        Some(run.unwrap_or(0..0))
    }

    fn meta_line(&self, item: &Item) -> &[u8] {
        if item.inline {
            &self.docs[item.meta.clone()]
        } else {
            &self.meta[item.meta.clone()]
        }
    }
}

/// Writes the action lines of one record's `items` into the documents arena before its
/// document (which starts at `mark`), and a newline after the document: the bulk body
/// `action\n[document\n]` for each item, in order. A document no item sends is dropped.
pub(crate) fn place(docs: &mut Vec<u8>, mark: usize, items: &mut [Item]) {
    if items.iter().all(|item| item.doc.is_none()) {
        docs.truncate(mark);
    }
    let doc_len = docs.len() - mark;
    for item in items.iter_mut() {
        write_meta(docs, item);
        item.inline = true;
    }
    if doc_len == 0 {
        return;
    }
    // [document][lines] → [lines][document]: a short move of bytes still in cache.
    let lines = docs.len() - mark - doc_len;
    docs[mark..].rotate_right(lines);
    docs.push(b'\n');
    for item in items.iter_mut() {
        item.meta = item.meta.start - doc_len..item.meta.end - doc_len;
        if let Some(doc) = &mut item.doc {
            *doc = doc.start + lines..doc.end + lines;
        }
    }
}

/// Appends `item`'s action line to `meta` and points the item at it.
pub(crate) fn write_meta(meta: &mut Vec<u8>, item: &mut Item) {
    let start = meta.len();
    write_action(
        meta,
        item.action,
        &item.index,
        &item.id,
        item.version,
        item.routing.as_deref(),
    );
    item.meta = start..meta.len();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_versions_in_decimal() {
        for v in [0, 7, 10, 1_700_000_000_000_000, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }

    #[test]
    fn chunks_respect_both_limits() {
        assert_eq!(chunks([4, 4, 4, 4, 4], 10, 100), vec![0..2, 2..4, 4..5]);
        assert_eq!(chunks([1; 5], 100, 2), vec![0..2, 2..4, 4..5]);
        assert_eq!(chunks([3, 50, 3], 10, 100), vec![0..1, 1..2, 2..3]);
        assert!(chunks([], 10, 10).is_empty());
    }

    #[test]
    fn a_chunk_is_one_bulk_request_with_its_actions() {
        let planner = crate::Planner::new(crate::Config {
            index: "t".into(),
            versioning: false,
            max_chunk_actions: 2,
            ..crate::Config::default()
        })
        .unwrap();
        let record = |id: &str, name: &str| {
            format!(
                r#"{{"eventID":"{id}","eventName":"{name}","dynamodb":{{"Keys":{{"k":{{"S":"{id}"}}}},"NewImage":{{"k":{{"S":"{id}"}}}},"SequenceNumber":"{id}"}}}}"#
            )
        };
        let event = format!(
            r#"{{"Records":[{},{},{}]}}"#,
            record("1", "INSERT"),
            record("2", "REMOVE"),
            record("3", "MODIFY")
        );
        let plan = planner.plan(event.as_bytes(), None).unwrap();
        let chunks = plan.bulk_chunks();
        let got: Vec<(Range<usize>, String, Vec<Action>)> = chunks
            .iter()
            .map(|c| {
                let body = String::from_utf8(c.body().into_owned()).unwrap();
                (c.items(), body, c.actions())
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    0..2,
                    concat!(
                        r#"{"index":{"_index":"t","_id":"1"}}"#,
                        "\n",
                        r#"{"k":"1"}"#,
                        "\n",
                        r#"{"delete":{"_index":"t","_id":"2"}}"#,
                        "\n",
                    )
                    .to_string(),
                    vec![Action::Index, Action::Delete],
                ),
                (
                    2..3,
                    concat!(
                        r#"{"index":{"_index":"t","_id":"3"}}"#,
                        "\n",
                        r#"{"k":"3"}"#,
                        "\n",
                    )
                    .to_string(),
                    vec![Action::Index],
                ),
            ]
        );
    }
}
