//! DynamoDB AttributeValues as the corpus generator builds them, and their compact JSON.
//!
//! The JSON is written by hand, in insertion order, exactly as Lambda delivers it: no white
//! space, non-ASCII characters as themselves, `"`, `\` and control characters escaped.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// One AttributeValue.
#[derive(Debug, Clone, PartialEq)]
pub enum Av {
    /// `{"S": ...}`
    S(String),
    /// `{"N": ...}`, the number's text.
    N(String),
    /// `{"B": ...}`, raw bytes (written as base64).
    B(Vec<u8>),
    /// `{"BOOL": ...}`
    Bool(bool),
    /// `{"NULL": true}`
    Null,
    /// `{"SS": [...]}`
    Ss(Vec<String>),
    /// `{"NS": [...]}`
    Ns(Vec<String>),
    /// `{"BS": [...]}`, raw bytes (written as base64).
    Bs(Vec<Vec<u8>>),
    /// `{"M": {...}}`, in insertion order.
    M(Item),
    /// `{"L": [...]}`
    L(Vec<Av>),
}

/// A map of attributes in insertion order (an item, a key, or an `M`).
pub type Item = Vec<(String, Av)>;

/// An `S` value.
pub fn s(text: impl Into<String>) -> Av {
    Av::S(text.into())
}

/// An `N` value from its text.
pub fn n(text: impl ToString) -> Av {
    Av::N(text.to_string())
}

/// An `M` value from `(name, value)` pairs.
pub fn m<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Av)>) -> Av {
    Av::M(item(pairs))
}

/// An item from `(name, value)` pairs.
pub fn item<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Av)>) -> Item {
    pairs.into_iter().map(|(k, v)| (k.into(), v)).collect()
}

/// Replaces the value of `name` in place (keeping its position), or appends it.
pub fn set(item: &mut Item, name: &str, value: Av) {
    match item.iter_mut().find(|(k, _)| k == name) {
        Some((_, v)) => *v = value,
        None => item.push((name.to_owned(), value)),
    }
}

impl Av {
    /// The type tag: `"S"`, `"N"`, ..., `"L"`.
    pub fn tag(&self) -> &'static str {
        match self {
            Av::S(_) => "S",
            Av::N(_) => "N",
            Av::B(_) => "B",
            Av::Bool(_) => "BOOL",
            Av::Null => "NULL",
            Av::Ss(_) => "SS",
            Av::Ns(_) => "NS",
            Av::Bs(_) => "BS",
            Av::M(_) => "M",
            Av::L(_) => "L",
        }
    }

    /// Appends this value's compact JSON.
    pub fn write(&self, out: &mut String) {
        out.push_str("{\"");
        out.push_str(self.tag());
        out.push_str("\":");
        match self {
            Av::S(v) | Av::N(v) => string(out, v),
            Av::B(v) => string(out, &STANDARD.encode(v)),
            Av::Bool(v) => out.push_str(if *v { "true" } else { "false" }),
            Av::Null => out.push_str("true"),
            Av::Ss(v) | Av::Ns(v) => array(out, v, |o, x| string(o, x)),
            Av::Bs(v) => array(out, v, |o, x| string(o, &STANDARD.encode(x))),
            Av::M(v) => write_item(out, v),
            Av::L(v) => array(out, v, |o, x| x.write(o)),
        }
        out.push('}');
    }

    /// A rough DynamoDB size estimate of this value, in bytes (for `SizeBytes` only).
    pub fn size(&self) -> usize {
        match self {
            Av::S(v) => v.len(),
            Av::N(v) => v.len() / 2 + 1,
            Av::B(v) => v.len(),
            Av::Bool(_) | Av::Null => 1,
            Av::Ss(v) => v.iter().map(String::len).sum(),
            Av::Ns(v) => v.iter().map(|x| x.len() / 2 + 1).sum(),
            Av::Bs(v) => v.iter().map(Vec::len).sum(),
            Av::L(v) => 3 + v.iter().map(|x| 1 + x.size()).sum::<usize>(),
            Av::M(v) => 3 + v.iter().map(|(k, x)| 1 + k.len() + x.size()).sum::<usize>(),
        }
    }
}

/// The size estimate of an item (names plus values).
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

/// Appends an item as a compact JSON object.
pub fn write_item(out: &mut String, item: &Item) {
    out.push('{');
    for (i, (name, value)) in item.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, name);
        out.push(':');
        value.write(out);
    }
    out.push('}');
}

fn array<T>(out: &mut String, items: &[T], mut each: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, x);
    }
    out.push(']');
}

/// Appends `text` as a JSON string: `"` and `\` escaped, `\n` `\r` `\t` `\b` `\f` short, other
/// control characters below U+0020 as `\u00XX`; everything else (DEL, U+2028, emoji) as itself.
pub fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(av: &Av) -> String {
        let mut out = String::new();
        av.write(&mut out);
        out
    }

    #[test]
    fn every_type_is_written_as_lambda_delivers_it() {
        let value = m([
            ("s", s("a\"b\\c\n\u{1}\u{7f}é😀")),
            ("n", n("-1.50")),
            ("b", Av::B(vec![0, 1, 0xfe, 0xff])),
            ("t", Av::Bool(true)),
            ("z", Av::Null),
            ("ss", Av::Ss(vec!["x".into(), "y".into()])),
            ("ns", Av::Ns(vec!["1".into(), "2.5".into()])),
            ("bs", Av::Bs(vec![vec![1], vec![]])),
            ("l", Av::L(vec![Av::Bool(false), m::<&str>([])])),
        ]);
        assert_eq!(
            json(&value),
            concat!(
                r#"{"M":{"s":{"S":"a\"b\\c\n\u0001"#,
                "\u{7f}é😀",
                r#""},"n":{"N":"-1.50"},"b":{"B":"AAH+/w=="},"t":{"BOOL":true},"#,
                r#""z":{"NULL":true},"ss":{"SS":["x","y"]},"ns":{"NS":["1","2.5"]},"#,
                r#""bs":{"BS":["AQ==",""]},"l":{"L":[{"BOOL":false},{"M":{}}]}}}"#
            )
        );
    }

    #[test]
    fn set_replaces_in_place_and_appends_new_names() {
        let mut it = item([("a", n(1)), ("b", n(2))]);
        set(&mut it, "a", n(3));
        set(&mut it, "c", n(4));
        assert_eq!(it, item([("a", n(3)), ("b", n(2)), ("c", n(4))]));
    }
}
