//! The Products function's one hook: staff notes never reach the search index.
//!
//! A product item may carry `internalNotes` (text for the team, not for shoppers). The hook
//! sends every document without that attribute; every other value goes out exactly as planned.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use stream2search_lambda::{Item, Verdict};

/// The attribute that stays out of the index.
pub const HIDDEN: &str = "internalNotes";

/// Drops [`HIDDEN`] from each indexed document; deletes and documents without it are sent as
/// planned, and nothing is parsed for them.
pub fn hide_internal_notes(item: &Item<'_>) -> Verdict {
    let Some(document) = item.document() else {
        return Verdict::Keep; // a delete
    };
    let needle = format!("\"{HIDDEN}\"");
    if !document
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
    {
        return Verdict::Keep;
    }
    // Each field as its JSON text: what the hook does not remove is sent byte for byte.
    let mut fields = match item.parse::<BTreeMap<String, Box<RawValue>>>() {
        Ok(Some(fields)) => fields,
        Ok(None) => return Verdict::Keep,
        Err(e) => return Verdict::Refuse(format!("the document is not readable: {e}")),
    };
    if fields.remove(HIDDEN).is_none() {
        return Verdict::Keep; // the name was only inside a value
    }
    match serde_json::to_vec(&fields) {
        Ok(document) => Verdict::document(document),
        Err(e) => Verdict::Refuse(format!("the document cannot be written: {e}")),
    }
}
