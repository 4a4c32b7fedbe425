//! The backfill's checkpoint file: what is read (a table in N segments, or an export), the version
//! every document of the backfill carries, and per unit (a Scan segment, or an export data file)
//! where it stands, as the [`Unit`] the runner takes: a segment's `start` is the
//! `LastEvaluatedKey` of its last durable page, a file's `skip` the lines already durable.
//! Written whole to a temporary file and renamed over the old one, so a crash leaves either.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stream2search_lambda::backfill::Unit;

/// What a backfill reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Source {
    /// A parallel Scan of a live table.
    Table {
        /// The table.
        table: String,
        /// `TotalSegments`.
        segments: u32,
    },
    /// A DynamoDB export: its location as given.
    Export {
        /// `s3://bucket/prefix/AWSDynamoDB/<export-id>/` or a local directory.
        export: String,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Table { table, segments } => write!(f, "table {table} in {segments} segments"),
            Source::Export { export } => write!(f, "export {export}"),
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// What is read.
    #[serde(flatten)]
    pub source: Source,
    /// The seconds of the backfill's version (the version is this × 10^6).
    pub version_seconds: u64,
    /// One entry per unit, in order.
    pub progress: Vec<Entry>,
}

/// One unit's progress: everything before `unit`'s position is durable in the index (or
/// dead-lettered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Where the unit's next page starts.
    pub unit: Unit,
    /// Every page is durable.
    pub done: bool,
    /// Items durable so far.
    pub items: u64,
    /// Pages durable so far.
    pub pages: u64,
}

impl Entry {
    /// A unit at its beginning.
    pub fn new(unit: Unit) -> Entry {
        Entry {
            unit,
            done: false,
            items: 0,
            pages: 0,
        }
    }
}

impl State {
    /// A fresh state of `units`, each at its beginning.
    pub fn new(source: Source, version_seconds: u64, units: Vec<Unit>) -> State {
        State {
            source,
            version_seconds,
            progress: units.into_iter().map(Entry::new).collect(),
        }
    }

    /// The state in `path`, if there is one, checked against this run's source.
    pub fn load(path: &Path, source: &Source) -> Result<Option<State>, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let state: State = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not a backfill checkpoint: {e}", path.display()))?;
        if &state.source != source {
            return Err(format!(
                "{}: the checkpoint is of {}, not of {source}; remove it or pass the same source",
                path.display(),
                state.source,
            ));
        }
        if let Source::Table { table, segments } = source {
            let expected = (0..*segments).map(|s| (table.as_str(), s));
            let listed = state.progress.iter().map(|e| match &e.unit {
                Unit::Segment { table, segment, .. } => Some((table.as_str(), *segment)),
                Unit::File { .. } => None,
            });
            if !listed.eq(expected.map(Some)) {
                return Err(format!(
                    "{}: the checkpoint does not list segments 0 to {} of table {table} in order",
                    path.display(),
                    segments.saturating_sub(1)
                ));
            }
        }
        Ok(Some(state))
    }

    /// Writes the state to `path` atomically (a temporary file beside it, then a rename).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let mut tmp = PathBuf::from(path);
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        tmp.set_file_name(name);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, segments: u32) -> Source {
        Source::Table {
            table: name.into(),
            segments,
        }
    }

    #[test]
    fn checkpoint_keeps_positions_and_refuses_another_source() {
        let dir = std::env::temp_dir().join(format!("s2s-backfill-cp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cp.json");
        let units = stream2search_lambda::backfill::Backfiller::segments("T", 2);
        let mut state = State::new(table("T", 2), 1_764_489_300, units);
        state.progress[1].unit = Unit::Segment {
            table: "T".into(),
            segment: 1,
            total_segments: 2,
            start: Some(serde_json::json!({"k": {"N": "1.50"}})),
        };
        state.progress[0].done = true;
        state.save(&path).unwrap();
        // The file as written: the source's fields at the top, each unit in the wire format.
        let text: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(text["table"], "T");
        assert_eq!(text["segments"], 2);
        assert_eq!(
            text["progress"][1]["unit"],
            serde_json::json!({"kind": "segment", "table": "T", "segment": 1, "totalSegments": 2,
                               "start": {"k": {"N": "1.50"}}})
        );
        let back = State::load(&path, &table("T", 2)).unwrap().unwrap();
        assert_eq!(back.version_seconds, 1_764_489_300);
        assert_eq!(back.progress, state.progress);
        assert!(
            State::load(&path, &table("U", 2))
                .unwrap_err()
                .contains("of table T in 2 segments, not of table U in 2 segments")
        );
        assert!(State::load(&path, &table("T", 3)).is_err());
        let export = Source::Export {
            export: "s3://b/AWSDynamoDB/1/".into(),
        };
        assert!(
            State::load(&path, &export)
                .unwrap_err()
                .contains("not of export s3://b/AWSDynamoDB/1/")
        );
        assert!(
            State::load(&dir.join("none.json"), &table("T", 2))
                .unwrap()
                .is_none()
        );

        // An export's files, each with its durable lines.
        let files = vec![
            Unit::File {
                location: "s3://b/AWSDynamoDB/1/data/a.json.gz".into(),
                skip: 0,
            },
            Unit::File {
                location: "s3://b/AWSDynamoDB/1/data/b.json.gz".into(),
                skip: 0,
            },
        ];
        let mut state = State::new(export.clone(), 1_764_489_000, files);
        state.progress[0].unit = Unit::File {
            location: "s3://b/AWSDynamoDB/1/data/a.json.gz".into(),
            skip: 1200,
        };
        state.save(&path).unwrap();
        let text: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(text["export"], "s3://b/AWSDynamoDB/1/");
        assert_eq!(text["progress"][0]["unit"]["skip"], 1200);
        let back = State::load(&path, &export).unwrap().unwrap();
        assert_eq!(back.progress, state.progress);
        assert!(State::load(&path, &table("T", 2)).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
