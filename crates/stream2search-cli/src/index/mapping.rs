//! The body `stream2search index create` sends: a mapping under which OpenSearch refuses no item
//! DynamoDB can hold, and the settings that versioned writes depend on.
//!
//! What the rules rest on was probed on OpenSearch 2.19 and 3.8 (`docs/mapping.md`, and the
//! `mapping` probes of `stream2search-testkit`):
//! - with `index.mapping.ignore_malformed`, a field of any of [`ALLOWED_TYPES`] accepts every
//!   value a DynamoDB attribute can hold (a map, a list of mixed types, a 38-digit number, a
//!   boolean, ...): what does not fit is left out of that field's index and kept in `_source`;
//! - an `object` field refuses a scalar whatever the settings, and a field created by dynamic
//!   mapping from one document's list of mixed types is refused unless every type maps the same
//!   way. So every attribute nobody mapped gets the one [`catch_all`] mapping, maps included.

use std::fmt;

use serde_json::{Map, Value, json};

/// The version of these rules, kept in the index's `_meta`.
pub const RULES: u64 = 1;

/// How long OpenSearch remembers a delete by default here (`index.gc_deletes`).
pub const DEFAULT_GC_DELETES: &str = "24h";

/// Field types that the probes showed to accept every DynamoDB value under
/// `index.mapping.ignore_malformed` (OpenSearch 2.19 and 3.8).
pub const ALLOWED_TYPES: [&str; 20] = [
    "text",
    "match_only_text",
    "keyword",
    "wildcard",
    "search_as_you_type",
    "token_count",
    "long",
    "integer",
    "short",
    "byte",
    "double",
    "float",
    "half_float",
    "unsigned_long",
    "boolean",
    "date",
    "date_nanos",
    "ip",
    "geo_point",
    "flat_object",
];

/// Field types the probes showed to refuse some DynamoDB value, and which.
const REFUSING_TYPES: [(&str, &str); 8] = [
    ("object", "a string, number, boolean or set"),
    ("nested", "a string, number, boolean or set"),
    ("scaled_float", "a map"),
    ("binary", "a map"),
    ("completion", "a number, a boolean or a map"),
    ("integer_range", "a map"),
    ("long_range", "a map"),
    ("double_range", "a map"),
];

/// The mapping of every attribute that the user did not map: full text, an exact keyword (up
/// to 256 characters) and a number where the value is one.
pub fn catch_all() -> Value {
    json!({
        "type": "text",
        "fields": {
            "keyword": {"type": "keyword", "ignore_above": 256},
            "number": {"type": "double", "ignore_malformed": true}
        }
    })
}

/// A `--mapping` file that the catch-all rules contradict, or that is not a mapping.
#[derive(Debug, PartialEq, Eq)]
pub struct MappingError(String);

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MappingError {}

fn error(message: impl Into<String>) -> MappingError {
    MappingError(message.into())
}

/// Mappings for named attributes, checked against the catch-all rules.
#[derive(Debug, Clone, PartialEq)]
pub struct UserMapping {
    properties: Map<String, Value>,
}

impl UserMapping {
    /// Reads `{"properties": {...}}` (or the same inside `{"mappings": ...}`).
    pub fn parse(text: &[u8]) -> Result<UserMapping, MappingError> {
        let value: Value =
            serde_json::from_slice(text).map_err(|e| error(format!("not JSON: {e}")))?;
        let Value::Object(mut top) = value else {
            return Err(error("not a JSON object with \"properties\""));
        };
        if let Some(Value::Object(inner)) = top.remove("mappings") {
            if !top.is_empty() {
                let extra = top.keys().next().cloned().unwrap_or_default();
                return Err(error(format!(
                    "\"{extra}\": only \"properties\" may be given (settings are flags of index create)"
                )));
            }
            top = inner;
        }
        if let Some(key) = top.keys().find(|k| *k != "properties") {
            return Err(error(format!(
                "\"{key}\": only \"properties\" may be given; the catch-all rules set dynamic \
                 mapping, and _source must stay the exact item"
            )));
        }
        let properties = match top.remove("properties") {
            Some(Value::Object(p)) => p,
            Some(_) => return Err(error("\"properties\" must be an object")),
            None => {
                return Err(error(
                    "no \"properties\": give {\"properties\": {\"name\": {\"type\": \"text\"}}}",
                ));
            }
        };
        for (name, field) in &properties {
            check_name(name)?;
            check_field(name, field, false)?;
        }
        Ok(UserMapping { properties })
    }

    /// The mapped attributes, as given.
    pub fn properties(&self) -> &Map<String, Value> {
        &self.properties
    }
}

fn check_name(name: &str) -> Result<(), MappingError> {
    if name.is_empty() {
        return Err(error("an empty attribute name cannot be mapped"));
    }
    if name.contains('.') {
        return Err(error(format!(
            "{name}: a dotted name maps an object path, and an object refuses items where that \
             attribute is not a map; map the top-level attribute (as flat_object to search inside it)"
        )));
    }
    Ok(())
}

fn check_field(name: &str, field: &Value, sub: bool) -> Result<(), MappingError> {
    let Value::Object(field) = field else {
        return Err(error(format!(
            "{name}: a field mapping must be an object with a \"type\""
        )));
    };
    let kind = match field.get("type") {
        Some(Value::String(t)) => t.as_str(),
        None if field.contains_key("properties") => "object",
        _ => return Err(error(format!("{name}: a field mapping needs a \"type\""))),
    };
    if let Some((_, refuses)) = REFUSING_TYPES.iter().find(|(t, _)| *t == kind) {
        let hint = if kind == "object" || kind == "nested" {
            "flat_object (searchable by path)"
        } else {
            "double or keyword"
        };
        return Err(error(format!(
            "{name}: OpenSearch refuses {refuses} in a {kind} field, which DynamoDB allows in any \
             attribute; map it as {hint}, or leave it to the catch-all"
        )));
    }
    if !ALLOWED_TYPES.contains(&kind) {
        return Err(error(format!(
            "{name}: type {kind} is not known to accept every DynamoDB value; use one of {}",
            ALLOWED_TYPES.join(", ")
        )));
    }
    if field.get("ignore_malformed") == Some(&Value::Bool(false)) {
        return Err(error(format!(
            "{name}: ignore_malformed false makes OpenSearch refuse items whose {name} does not fit"
        )));
    }
    for key in ["copy_to", "properties"] {
        if field.contains_key(key) {
            return Err(error(format!("{name}: \"{key}\" is not supported here")));
        }
    }
    if let Some(fields) = field.get("fields") {
        if sub {
            return Err(error(format!(
                "{name}: a multi-field cannot have fields of its own"
            )));
        }
        let Value::Object(fields) = fields else {
            return Err(error(format!("{name}: \"fields\" must be an object")));
        };
        for (subname, subfield) in fields {
            check_name(subname)?;
            check_field(&format!("{name}.{subname}"), subfield, true)?;
        }
    }
    Ok(())
}

/// Settings of the index that `index create` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `index.number_of_shards` (the server's default when `None`).
    pub shards: Option<u32>,
    /// `index.number_of_replicas` (the server's default when `None`).
    pub replicas: Option<u32>,
    /// `index.gc_deletes`, e.g. `24h`.
    pub gc_deletes: String,
    /// `index.mapping.total_fields.limit` (the server's default, 1,000, when `None`).
    pub field_limit: Option<u32>,
    /// OpenSearch Serverless: index settings other than the refresh interval cannot be set.
    pub serverless: bool,
}

/// What the index's `_meta` says about how it was made: compared on a second `index create`.
pub fn meta(user: Option<&UserMapping>, options: &Options) -> Value {
    json!({
        "rules": RULES,
        "at_field_limit": "stop_dynamic_mapping",
        "properties": user.map_or_else(|| Value::Object(Map::new()), |u| Value::Object(u.properties.clone())),
        "gc_deletes": if options.serverless { Value::Null } else { Value::from(options.gc_deletes.clone()) },
        "field_limit": options.field_limit,
        "shards": options.shards,
        "replicas": options.replicas,
    })
}

/// The exact body of `PUT /<index>`: settings, mappings and, for `aliases`, the aliases.
pub fn body(user: Option<&UserMapping>, options: &Options, aliases: Option<&Value>) -> Value {
    let mut mappings = json!({
        "_meta": {"stream2search": meta(user, options)},
        "dynamic": "true",
        "date_detection": false,
        "numeric_detection": false,
        "dynamic_templates": [{"stream2search_any": {"match_mapping_type": "*", "mapping": catch_all()}}],
    });
    if let Some(user) = user {
        mappings["properties"] = Value::Object(user.properties.clone());
    }
    let mut body = Map::new();
    if !options.serverless {
        let mut index = Map::new();
        if let Some(shards) = options.shards {
            index.insert("number_of_shards".into(), shards.into());
        }
        if let Some(replicas) = options.replicas {
            index.insert("number_of_replicas".into(), replicas.into());
        }
        index.insert("gc_deletes".into(), options.gc_deletes.clone().into());
        let mut mapping = json!({"ignore_malformed": true});
        if let Some(limit) = options.field_limit {
            mapping["total_fields"] = json!({ "limit": limit });
        }
        index.insert("mapping".into(), mapping);
        body.insert("settings".into(), json!({ "index": index }));
    }
    body.insert("mappings".into(), mappings);
    if let Some(aliases) = aliases {
        body.insert("aliases".into(), aliases.clone());
    }
    Value::Object(body)
}

/// Checks a `--gc-deletes` value: a positive whole number with a unit (`ms`, `s`, `m`, `h`, `d`).
pub fn check_gc_deletes(value: &str) -> Result<(), String> {
    let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &value[digits.len()..];
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && ["ms", "s", "m", "h", "d"].contains(&unit);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--gc-deletes {value}: give a time such as 24h, 90m or 7d"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UserMapping, MappingError> {
        UserMapping::parse(text.as_bytes())
    }

    #[test]
    fn accepts_properties_alone_or_inside_mappings() {
        let a =
            parse(r#"{"properties":{"name":{"type":"text"},"price":{"type":"double"}}}"#).unwrap();
        let b = parse(
            r#"{"mappings":{"properties":{"name":{"type":"text"},"price":{"type":"double"}}}}"#,
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.properties().len(), 2);
    }

    #[test]
    fn refuses_types_that_refuse_some_dynamodb_value() {
        for (mapping, needle) in [
            (
                r#"{"properties":{"price":{"type":"scaled_float","scaling_factor":100}}}"#,
                "price: OpenSearch refuses a map in a scaled_float field",
            ),
            (
                r#"{"properties":{"dims":{"properties":{"h":{"type":"long"}}}}}"#,
                "dims: OpenSearch refuses a string, number, boolean or set in a object field",
            ),
            (
                r#"{"properties":{"dims":{"type":"nested"}}}"#,
                "flat_object",
            ),
            (
                r#"{"properties":{"blob":{"type":"binary"}}}"#,
                "refuses a map",
            ),
            (
                r#"{"properties":{"x":{"type":"percolator"}}}"#,
                "x: type percolator is not known",
            ),
            (
                r#"{"properties":{"n":{"type":"long","ignore_malformed":false}}}"#,
                "ignore_malformed false",
            ),
            (
                r#"{"properties":{"dims.h":{"type":"long"}}}"#,
                "dims.h: a dotted name",
            ),
            (
                r#"{"properties":{"name":{"type":"text","fields":{"raw":{"type":"completion"}}}}}"#,
                "name.raw: OpenSearch refuses a number",
            ),
            (
                r#"{"properties":{"name":{"type":"text"}},"dynamic":"strict"}"#,
                "\"dynamic\": only \"properties\"",
            ),
            (
                r#"{"properties":{"name":{"type":"text"}},"_source":{"excludes":["x"]}}"#,
                "_source must stay the exact item",
            ),
            (
                r#"{"properties":{"name":{"type":"text","copy_to":"all"}}}"#,
                "copy_to",
            ),
            (r#"[1]"#, "not a JSON object"),
            (r#"{"properties":"#, "not JSON"),
            (r#"{"mapping":{}}"#, "\"mapping\": only"),
        ] {
            let err = parse(mapping).map(|_| ()).unwrap_err().to_string();
            assert!(err.contains(needle), "{mapping}: {err}");
        }
    }

    #[test]
    fn body_has_the_catch_all_and_the_settings() {
        let user = parse(r#"{"properties":{"name":{"type":"text"}}}"#).unwrap();
        let options = Options {
            shards: Some(2),
            replicas: Some(0),
            gc_deletes: "24h".into(),
            field_limit: None,
            serverless: false,
        };
        let body = body(Some(&user), &options, None);
        assert_eq!(
            body["settings"]["index"]["mapping"]["ignore_malformed"],
            true
        );
        assert_eq!(body["settings"]["index"]["gc_deletes"], "24h");
        assert_eq!(body["settings"]["index"]["number_of_shards"], 2);
        assert_eq!(body["mappings"]["properties"]["name"]["type"], "text");
        assert_eq!(
            body["mappings"]["dynamic_templates"][0]["stream2search_any"]["match_mapping_type"],
            "*"
        );
        assert!(body.get("aliases").is_none());
        let serverless = Options {
            serverless: true,
            ..options
        };
        assert!(
            self::body(None, &serverless, None)
                .get("settings")
                .is_none()
        );
    }

    #[test]
    fn gc_deletes_needs_a_number_and_a_unit() {
        for ok in ["24h", "90m", "7d", "60s", "500ms"] {
            assert_eq!(check_gc_deletes(ok), Ok(()));
        }
        for bad in ["", "h", "24", "-1h", "1.5h", "24 h", "24y"] {
            assert!(check_gc_deletes(bad).is_err(), "{bad}");
        }
    }
}
