//! Index names: fixed, or built per record from a template such as `products-{category}`.
//! Every built name is checked against OpenSearch's rules and an allowed prefix, so record data
//! can never steer a write into another index.

use crate::error::{ConfigError, RecordError, RecordErrorKind, Setting};

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Attr(String),
}

/// A parsed `Config::index`.
#[derive(Debug, Clone)]
pub(crate) struct IndexSpec {
    parts: Vec<Part>,
    prefix: String,
    attrs: Vec<String>,
}

impl IndexSpec {
    pub fn parse(template: &str, prefix: Option<&str>) -> Result<Self, ConfigError> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(ConfigError::new(
                    Setting::Index,
                    format!("index template {template:?} has an unmatched `}}`"),
                ));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err(ConfigError::new(
                    Setting::Index,
                    format!("index template {template:?} has an unmatched `{{`"),
                ));
            };
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let name = &rest[open + 1..open + close];
            if name.is_empty() || name.contains('{') {
                return Err(ConfigError::new(
                    Setting::Index,
                    format!("index template {template:?} has an empty or nested placeholder"),
                ));
            }
            parts.push(Part::Attr(name.to_owned()));
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        let attrs: Vec<String> = parts
            .iter()
            .filter_map(|p| match p {
                Part::Attr(a) => Some(a.clone()),
                Part::Text(_) => None,
            })
            .collect();
        if attrs.is_empty() {
            validate(template).map_err(|why| {
                ConfigError::new(Setting::Index, format!("index {template:?}: {why}"))
            })?;
            return Ok(IndexSpec {
                parts,
                prefix: template.to_owned(),
                attrs,
            });
        }
        // The prefix is the setting at fault when it was given; else the template it came from.
        let (prefix, setting) = match (prefix, parts.first()) {
            (Some(p), _) => (p.to_owned(), Setting::IndexPrefix),
            (None, Some(Part::Text(t))) => (t.clone(), Setting::Index),
            _ => {
                return Err(ConfigError::new(
                    Setting::Index,
                    format!(
                        "index template {template:?} starts with a placeholder: set index_prefix so records cannot choose any index"
                    ),
                ));
            }
        };
        if prefix.is_empty() {
            return Err(ConfigError::new(
                Setting::IndexPrefix,
                "index_prefix must not be empty",
            ));
        }
        validate(&prefix)
            .map_err(|why| ConfigError::new(setting, format!("index prefix {prefix:?}: {why}")))?;
        Ok(IndexSpec {
            parts,
            prefix,
            attrs,
        })
    }

    /// The attributes the template reads, in placeholder order.
    pub fn attrs(&self) -> &[String] {
        &self.attrs
    }

    /// The name for one record, from the values of [`Self::attrs`].
    pub fn render(&self, values: &[Option<String>]) -> Result<String, RecordError> {
        if self.attrs.is_empty() {
            // A fixed name, validated when the planner was built.
            return Ok(self.prefix.clone());
        }
        let mut name = String::new();
        let mut i = 0;
        for part in &self.parts {
            match part {
                Part::Text(t) => name.push_str(t),
                Part::Attr(a) => {
                    let Some(v) = values.get(i).and_then(Option::as_deref) else {
                        return Err(RecordError::new(
                            RecordErrorKind::Index,
                            format!("index template needs attribute `{a}` as S, N or B"),
                        ));
                    };
                    name.push_str(&v.to_lowercase());
                    i += 1;
                }
            }
        }
        if !name.starts_with(&self.prefix) {
            return Err(RecordError::new(
                RecordErrorKind::Index,
                format!(
                    "index {name:?} does not start with the allowed prefix {:?}",
                    self.prefix
                ),
            ));
        }
        validate(&name).map_err(|why| {
            RecordError::new(RecordErrorKind::Index, format!("index {name:?}: {why}"))
        })?;
        Ok(name)
    }
}

/// OpenSearch's index name rules.
pub fn validate(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("index name is empty");
    }
    if name.len() > 255 {
        return Err("index name is longer than 255 bytes");
    }
    if name == "." || name == ".." {
        return Err("index name must not be `.` or `..`");
    }
    if name.starts_with(['_', '-', '+']) {
        return Err("index name must not start with `_`, `-` or `+`");
    }
    if name.contains(['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':']) {
        return Err("index name contains a character OpenSearch forbids");
    }
    if name.to_lowercase() != name {
        return Err("index name must be lower case");
    }
    Ok(())
}
