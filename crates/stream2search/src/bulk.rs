//! Bulk NDJSON: action lines, and chunks bounded by bytes and by actions.

use std::ops::Range;

use crate::json::write_str;

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
}
