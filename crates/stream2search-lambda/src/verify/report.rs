//! What a verify run found and did: the counts, one line per difference, and the same as JSON.

use std::fmt;

use serde::Serialize;

/// How a document differs from the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    /// The table holds the item; the index has no document for it.
    Missing,
    /// The index holds a document no table item makes.
    Extra,
    /// Both hold it, with different contents.
    Different,
    /// The item cannot be converted (the Lambda dead-letters it): no document can equal it.
    Unconvertible,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Missing => "missing",
            Kind::Extra => "extra",
            Kind::Different => "different",
            Kind::Unconvertible => "unconvertible",
        })
    }
}

/// One difference, after the recheck.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    /// Missing, extra, different or unconvertible.
    pub kind: Kind,
    /// The document id (`None` for an item whose id cannot be made).
    pub id: Option<String>,
    /// The index the document is (or belongs) in.
    pub index: Option<String>,
    /// The item's key, DynamoDB JSON text, when known.
    pub key: Option<String>,
    /// For `different`: the first differing path, and each side's JSON text there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The table's side at `path`, JSON text.
    pub table: Option<String>,
    /// The index's side at `path`, JSON text.
    #[serde(skip_serializing_if = "Option::is_none", rename = "indexValue")]
    pub index_value: Option<String>,
    /// Why, in words (`unconvertible`'s reason; a note for the others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What `--repair` did about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repair: Option<String>,
    /// Whether `--repair` made the index hold the table's item here.
    #[serde(skip)]
    pub repaired: bool,
}

/// `KIND ID: DETAIL`, one line.
impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match (&self.id, &self.key) {
            (Some(id), _) => id.as_str(),
            (None, Some(key)) => key.as_str(),
            (None, None) => "-",
        };
        write!(f, "{} {who}: ", self.kind)?;
        match self.kind {
            Kind::Missing => f.write_str("in the table, not in the index")?,
            Kind::Extra => f.write_str("in the index, not in the table")?,
            Kind::Different => write!(
                f,
                "{}: table {}, index {}",
                self.path.as_deref().unwrap_or("(document)"),
                self.table.as_deref().unwrap_or("?"),
                self.index_value.as_deref().unwrap_or("?")
            )?,
            Kind::Unconvertible => f.write_str(self.reason.as_deref().unwrap_or(""))?,
        }
        if self.kind != Kind::Unconvertible
            && let Some(reason) = &self.reason
        {
            write!(f, " ({reason})")?;
        }
        if let Some(repair) = &self.repair {
            write!(f, "; repair: {repair}")?;
        }
        Ok(())
    }
}

/// The whole run.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The table's name, or the export's location.
    pub table: String,
    /// The index (or template) compared.
    pub index: String,
    /// Items read from the table.
    pub items: u64,
    /// Documents read from the index.
    pub documents: u64,
    /// Items with no document.
    pub missing: u64,
    /// Documents no item makes.
    pub extra: u64,
    /// Documents whose contents differ from their item's.
    pub different: u64,
    /// Items that cannot be converted.
    pub unconvertible: u64,
    /// Suspected differences read again (item and document) before being reported.
    pub rechecked: u64,
    /// Of those, found equal on the recheck: changes that were on their way while verify read.
    pub settled: u64,
    /// With `--repair`: documents written, deleted, and differences left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repair: Option<Repair>,
    /// Every difference, up to `--max-report`.
    pub differences: Vec<Difference>,
    /// Differences not listed (over `--max-report`).
    pub unlisted: u64,
    /// How long the run took.
    pub seconds: f64,
    /// Items read per second while the table was read.
    pub items_per_second: f64,
    /// The index equals the table (after the repair, with `--repair`).
    pub equal: bool,
}

/// What `--repair` did.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Repair {
    /// Documents written.
    pub written: u64,
    /// Documents deleted.
    pub deleted: u64,
    /// Writes the index refused because it holds a newer version: a change after verify's read.
    pub stale: u64,
    /// Differences not repaired (refused, failed, or unconvertible items).
    pub left: u64,
}

impl Report {
    /// The counts line.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "verify {} -> {}: items {}, documents {}, missing {}, extra {}, different {}, \
             unconvertible {}; rechecked {}, settled {}; {:.1} s, items/s {:.0}",
            self.table,
            self.index,
            self.items,
            self.documents,
            self.missing,
            self.extra,
            self.different,
            self.unconvertible,
            self.rechecked,
            self.settled,
            self.seconds,
            self.items_per_second,
        );
        if let Some(r) = &self.repair {
            line.push_str(&format!(
                "; repair: written {}, deleted {}, stale {}, left {}",
                r.written, r.deleted, r.stale, r.left
            ));
        }
        line
    }
}
