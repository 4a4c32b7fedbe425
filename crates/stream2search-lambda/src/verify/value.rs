//! Documents as values that keep every number's text (`24.90` is not `24.9`), their digest, and
//! the exact comparison of an expected document with the index's `_source`, which tells the
//! first path where they differ.
//!
//! The comparison is structural: a key's place in an object is not a difference (a `_source`
//! whose keys were reordered by hand holds the same fields and answers the same searches), a
//! number's text, a value's type, a string's characters, an array's order and length are. An
//! array the table holds as a set (SS, NS, BS) is compared as a set: same members, in any order.

use std::collections::hash_map::DefaultHasher;
use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON value whose numbers are their text, exactly as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number's text.
    Num(String),
    Str(String),
    Arr(Vec<Value>),
    /// Members in the order written.
    Obj(Vec<(String, Value)>),
}

/// An object's members in the order written (serde_json alone sorts or drops that order).
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Members<'a>, M::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The deepest nesting read (DynamoDB allows 32 levels): deeper text is an error, not a stack
/// overflow.
const MAX_DEPTH: usize = 128;

impl Value {
    /// Reads JSON text, keeping number texts.
    pub fn parse(text: &str) -> Result<Value, String> {
        Value::parse_at(text, 0)
    }

    fn parse_at(text: &str, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        let text = text.trim();
        let err = |e: serde_json::Error| e.to_string();
        Ok(match text.as_bytes().first() {
            Some(b'{') => {
                let Members(members) = serde_json::from_str(text).map_err(err)?;
                let mut out = Vec::with_capacity(members.len());
                for (k, v) in members {
                    out.push((k, Value::parse_at(v.get(), depth + 1)?));
                }
                Value::Obj(out)
            }
            Some(b'[') => {
                let members: Vec<&RawValue> = serde_json::from_str(text).map_err(err)?;
                let mut out = Vec::with_capacity(members.len());
                for v in members {
                    out.push(Value::parse_at(v.get(), depth + 1)?);
                }
                Value::Arr(out)
            }
            Some(b'"') => Value::Str(serde_json::from_str(text).map_err(err)?),
            Some(b't' | b'f') => Value::Bool(serde_json::from_str(text).map_err(err)?),
            Some(b'n') => {
                serde_json::from_str::<()>(text).map_err(err)?;
                Value::Null
            }
            Some(b'-' | b'0'..=b'9') => {
                // Checked as a number, kept as its text.
                serde_json::from_str::<&RawValue>(text).map_err(err)?;
                Value::Num(text.to_string())
            }
            _ => return Err(format!("not a JSON value: {:?}", truncate(text, 40))),
        })
    }

    /// The object without its top-level member `field` (the indexed-at stamp).
    pub fn without(self, field: Option<&str>) -> Value {
        match (self, field) {
            (Value::Obj(members), Some(field)) => {
                Value::Obj(members.into_iter().filter(|(k, _)| k != field).collect())
            }
            (v, _) => v,
        }
    }

    /// A digest that is equal for equal values whatever their objects' key order: 128 bits, for
    /// comparing a document with its expectation without keeping either.
    pub fn digest(&self) -> u128 {
        let mut a = DefaultHasher::new();
        let mut b = DefaultHasher::new();
        b.write_u8(0xA5);
        self.feed(&mut a);
        self.feed(&mut b);
        (u128::from(a.finish()) << 64) | u128::from(b.finish())
    }

    fn feed<H: Hasher>(&self, h: &mut H) {
        match self {
            Value::Null => h.write_u8(0),
            Value::Bool(b) => {
                h.write_u8(1);
                b.hash(h);
            }
            Value::Num(n) => {
                h.write_u8(2);
                n.hash(h);
            }
            Value::Str(s) => {
                h.write_u8(3);
                s.hash(h);
            }
            Value::Arr(a) => {
                h.write_u8(4);
                h.write_usize(a.len());
                for v in a {
                    v.feed(h);
                }
            }
            Value::Obj(members) => {
                h.write_u8(5);
                h.write_usize(members.len());
                let mut sorted: Vec<&(String, Value)> = members.iter().collect();
                sorted.sort_by(|x, y| x.0.cmp(&y.0));
                for (k, v) in sorted {
                    k.hash(h);
                    v.feed(h);
                }
            }
        }
    }

    /// Compact JSON text, numbers as their text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            Value::Num(n) => out.push_str(n),
            Value::Str(s) => out.push_str(&serde_json::Value::from(s.as_str()).to_string()),
            Value::Arr(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Value::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::from(k.as_str()).to_string());
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    At(usize),
}

/// A path as text: `dims.h`, `history[1]`, `"odd.name"` when a key needs quoting.
pub fn path_text(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                let plain = !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
                if !out.is_empty() {
                    out.push('.');
                }
                if plain {
                    out.push_str(k);
                } else {
                    out.push_str(&serde_json::Value::from(k.as_str()).to_string());
                }
            }
            Step::At(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    if out.is_empty() {
        out.push_str("(document)");
    }
    out
}

/// Where two documents first differ, and what each side holds there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `price`, `dims.h`, `tags` (a set).
    pub path: String,
    /// The table's side: its JSON text, or `absent`.
    pub table: String,
    /// The index's side.
    pub index: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: table {}, index {}",
            self.path,
            truncate(&self.table, 120),
            truncate(&self.index, 120)
        )
    }
}

/// `text`, cut at `max` characters with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The first place where `index` differs from `table`, in the table document's member order;
/// `None` when they are equal. `is_set(path)` tells whether the table holds the array at `path`
/// as a set.
pub fn first_difference(
    table: &Value,
    index: &Value,
    is_set: &dyn Fn(&[Step]) -> bool,
) -> Option<Mismatch> {
    let mut path = Vec::new();
    diff(table, index, &mut path, is_set)
}

fn diff(
    table: &Value,
    index: &Value,
    path: &mut Vec<Step>,
    is_set: &dyn Fn(&[Step]) -> bool,
) -> Option<Mismatch> {
    let here = |path: &[Step]| Mismatch {
        path: path_text(path),
        table: table.text(),
        index: index.text(),
    };
    match (table, index) {
        (Value::Obj(t), Value::Obj(i)) => {
            for (k, tv) in t {
                path.push(Step::Key(k.clone()));
                let found = i.iter().find(|(ik, _)| ik == k);
                let m = match found {
                    Some((_, iv)) => diff(tv, iv, path, is_set),
                    None => Some(Mismatch {
                        path: path_text(path),
                        table: tv.text(),
                        index: "absent".into(),
                    }),
                };
                path.pop();
                if m.is_some() {
                    return m;
                }
            }
            for (k, iv) in i {
                if !t.iter().any(|(tk, _)| tk == k) {
                    path.push(Step::Key(k.clone()));
                    let m = Mismatch {
                        path: path_text(path),
                        table: "absent".into(),
                        index: iv.text(),
                    };
                    path.pop();
                    return Some(m);
                }
            }
            None
        }
        (Value::Arr(t), Value::Arr(i)) if is_set(path) => {
            let mut want: Vec<String> = t.iter().map(Value::text).collect();
            let mut got: Vec<String> = i.iter().map(Value::text).collect();
            want.sort();
            got.sort();
            (want != got).then(|| here(path))
        }
        (Value::Arr(t), Value::Arr(i)) => {
            for (n, (tv, iv)) in t.iter().zip(i).enumerate() {
                path.push(Step::At(n));
                let m = diff(tv, iv, path, is_set);
                path.pop();
                if m.is_some() {
                    return m;
                }
            }
            (t.len() != i.len()).then(|| here(path))
        }
        _ => (table != index).then(|| here(path)),
    }
}

/// Whether the DynamoDB item (`{"NAME":{"T":...},...}`) holds the document's value at `path` as
/// a set. The first step is a document field: the attribute of that name, else (a renamed
/// OpenSearch metadata name, `ddb_id` for `_id`) the attribute `renamed` gives back.
pub fn is_set_in(item: &Value, path: &[Step], renamed: &dyn Fn(&str) -> Option<String>) -> bool {
    let Value::Obj(attrs) = item else {
        return false;
    };
    let Some((Step::Key(first), rest)) = path.split_first() else {
        return false;
    };
    let attr = attrs
        .iter()
        .find(|(k, _)| k == first)
        .or_else(|| {
            let original = renamed(first)?;
            attrs.iter().find(|(k, _)| *k == original)
        })
        .map(|(_, v)| v);
    let mut at = match attr {
        Some(v) => v,
        None => return false,
    };
    for step in rest {
        let Value::Obj(tagged) = at else {
            return false;
        };
        let Some((tag, inner)) = tagged.first() else {
            return false;
        };
        at = match (tag.as_str(), inner, step) {
            ("M", Value::Obj(m), Step::Key(k)) => match m.iter().find(|(mk, _)| mk == k) {
                Some((_, v)) => v,
                None => return false,
            },
            ("L", Value::Arr(l), Step::At(n)) => match l.get(*n) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    matches!(at, Value::Obj(tagged) if tagged.first().is_some_and(|(t, _)| matches!(t.as_str(), "SS" | "NS" | "BS")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        Value::parse(s).unwrap()
    }

    fn no_sets(_: &[Step]) -> bool {
        false
    }

    #[test]
    fn number_text_type_and_missing_fields_are_differences_and_key_order_is_not() {
        let table = v(r#"{"price":24.90,"inStock":true,"tags":["a","b"],"dims":{"h":24}}"#);
        let same = v(r#"{"dims":{"h":24},"tags":["a","b"],"inStock":true,"price":24.90}"#);
        assert_eq!(first_difference(&table, &same, &no_sets), None);
        assert_eq!(table.digest(), same.digest());
        let m = first_difference(
            &table,
            &v(r#"{"price":24.9,"inStock":true,"tags":["a","b"],"dims":{"h":24}}"#),
            &no_sets,
        )
        .unwrap();
        assert_eq!(m.to_string(), "price: table 24.90, index 24.9");
        let m = first_difference(
            &table,
            &v(r#"{"price":24.90,"inStock":1,"tags":["a","b"],"dims":{"h":24}}"#),
            &no_sets,
        )
        .unwrap();
        assert_eq!(m.to_string(), "inStock: table true, index 1");
        let m = first_difference(
            &table,
            &v(r#"{"price":24.90,"inStock":true,"tags":["a","b"],"dims":{"h":"24"}}"#),
            &no_sets,
        )
        .unwrap();
        assert_eq!(m.to_string(), "dims.h: table 24, index \"24\"");
        let m = first_difference(
            &table,
            &v(r#"{"price":24.90,"inStock":true,"tags":["a","b"],"dims":{"h":24},"x":null}"#),
            &no_sets,
        )
        .unwrap();
        assert_eq!(m.to_string(), "x: table absent, index null");
        let m = first_difference(
            &table,
            &v(r#"{"price":24.90,"inStock":true,"tags":["b","a"],"dims":{"h":24}}"#),
            &no_sets,
        )
        .unwrap();
        assert_eq!(m.to_string(), "tags[0]: table \"a\", index \"b\"");
        assert_ne!(
            table.digest(),
            v(r#"{"price":24.9,"inStock":true,"tags":["a","b"],"dims":{"h":24}}"#).digest()
        );
    }

    #[test]
    fn arrays_the_table_holds_as_sets_compare_as_sets() {
        let item = v(
            r#"{"tags":{"SS":["a","b"]},"ddb_id":{"S":"x"},"_id":{"NS":["1","2"]},"l":{"L":[{"M":{"s":{"BS":["AA=="]}}}]}}"#,
        );
        let renamed = |name: &str| name.strip_prefix("ddb").map(str::to_string);
        let sets = |p: &[Step]| is_set_in(&item, p, &renamed);
        assert!(sets(&[Step::Key("tags".into())]));
        assert!(!sets(&[Step::Key("ddb_id".into())]));
        assert!(sets(&[
            Step::Key("l".into()),
            Step::At(0),
            Step::Key("s".into())
        ]));
        assert!(!sets(&[Step::Key("l".into())]));
        let table = v(r#"{"tags":["a","b"]}"#);
        assert_eq!(
            first_difference(&table, &v(r#"{"tags":["b","a"]}"#), &sets),
            None
        );
        let m = first_difference(&table, &v(r#"{"tags":["a","c"]}"#), &sets).unwrap();
        assert_eq!(m.to_string(), r#"tags: table ["a","b"], index ["a","c"]"#);
    }

    #[test]
    fn strings_compare_by_their_characters_not_their_escapes() {
        assert_eq!(v(r#""\u00e9""#), v("\"é\""));
        assert!(Value::parse("{").is_err());
        assert!(Value::parse("nul").is_err());
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert!(Value::parse(&deep).is_ok());
        let deeper = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(Value::parse(&deeper).is_err());
    }
}
