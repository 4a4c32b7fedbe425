//! Document ids from key attributes.
//!
//! Parts are joined by `|`; inside a part `\` is written `\\` and `|` is written `\|`, so two
//! different keys never share an id. An id over 512 bytes becomes a readable prefix, `\#` and the
//! SHA-256 of the full id: `\#` never occurs in an escaped id, so a hashed id cannot equal a plain one.

use sha2::{Digest, Sha256};

use crate::config::LongIdPolicy;
use crate::error::{RecordError, RecordErrorKind};
use crate::event::KeyPart;

/// OpenSearch's limit on `_id`, in bytes.
pub const MAX_ID_BYTES: usize = 512;

/// Builds the id from `keys`, in `order` when given, else by attribute name.
pub(crate) fn build(
    keys: &mut [KeyPart<'_>],
    order: Option<&[String]>,
    policy: LongIdPolicy,
) -> Result<String, RecordError> {
    if keys.is_empty() {
        return Err(RecordError::new(RecordErrorKind::Id, "Keys is empty"));
    }
    let mut id = String::with_capacity(keys.iter().map(|k| k.text.len() + 1).sum());
    let mut n = 0;
    match order {
        Some(order) => {
            for name in order {
                let Some(k) = keys.iter().find(|k| k.name == *name) else {
                    return Err(RecordError::new(
                        RecordErrorKind::Id,
                        format!("id key `{name}` is not among the record's Keys"),
                    ));
                };
                join(&mut id, n, &k.text);
                n += 1;
            }
        }
        None => {
            keys.sort_unstable_by(|a, b| a.name.cmp(&b.name));
            for k in keys.iter() {
                join(&mut id, n, &k.text);
                n += 1;
            }
        }
    }
    if id.len() <= MAX_ID_BYTES {
        return Ok(id);
    }
    match policy {
        LongIdPolicy::Reject => Err(RecordError::new(
            RecordErrorKind::Id,
            format!(
                "document id is {} bytes, over OpenSearch's {MAX_ID_BYTES}",
                id.len()
            ),
        )),
        LongIdPolicy::Hash => Ok(hashed(&id)),
    }
}

fn join(id: &mut String, n: usize, text: &str) {
    if n > 0 {
        id.push('|');
    }
    if !text.contains(['\\', '|']) {
        id.push_str(text);
        return;
    }
    for c in text.chars() {
        if c == '\\' || c == '|' {
            id.push('\\');
        }
        id.push(c);
    }
}

fn hashed(id: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(id.as_bytes());
    let mut cut = MAX_ID_BYTES - 2 - 64;
    while !id.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut prefix = &id[..cut];
    // Never end the prefix inside an escape pair.
    let backslashes = prefix.bytes().rev().take_while(|&b| b == b'\\').count();
    if backslashes % 2 == 1 {
        prefix = &prefix[..prefix.len() - 1];
    }
    let mut out = String::with_capacity(MAX_ID_BYTES);
    out.push_str(prefix);
    out.push_str("\\#");
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}
