//! The backfill's checkpoint file: the table, the segment count, the version every document of
//! the backfill carries, and per segment where its next page starts and whether it is finished.
//! Written whole to a temporary file and renamed over the old one, so a crash leaves either.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// The table scanned.
    pub table: String,
    /// `TotalSegments`.
    pub segments: u32,
    /// The seconds of the backfill's version (the version is this × 10^6).
    pub version_seconds: u64,
    /// One entry per segment, in order.
    pub progress: Vec<Segment>,
}

/// One segment's progress: everything before `next` is durable in the index (or dead-lettered).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Segment {
    /// The `LastEvaluatedKey` of the last durable page, as DynamoDB gave it (`None`: from the start).
    pub next: Option<Box<RawValue>>,
    /// Every page is durable.
    pub done: bool,
    /// Items durable so far.
    pub items: u64,
    /// Pages durable so far.
    pub pages: u64,
}

impl State {
    /// A fresh state.
    pub fn new(table: &str, segments: u32, version_seconds: u64) -> State {
        State {
            table: table.to_string(),
            segments,
            version_seconds,
            progress: vec![Segment::default(); segments as usize],
        }
    }

    /// The state in `path`, if there is one, checked against this run's table and segments.
    pub fn load(path: &Path, table: &str, segments: u32) -> Result<Option<State>, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let state: State = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not a backfill checkpoint: {e}", path.display()))?;
        if state.table != table || state.segments != segments {
            return Err(format!(
                "{}: the checkpoint is of table {} in {} segments, not of table {table} in \
                 {segments}; remove it or pass its --table and --segments",
                path.display(),
                state.table,
                state.segments
            ));
        }
        if state.progress.len() != segments as usize {
            return Err(format!(
                "{}: {} segments listed, {segments} expected",
                path.display(),
                state.progress.len()
            ));
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

    #[test]
    fn checkpoint_keeps_the_key_text_and_refuses_another_table_or_segment_count() {
        let dir = std::env::temp_dir().join(format!("s2s-backfill-cp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cp.json");
        let mut state = State::new("T", 2, 1_764_489_300);
        state.progress[1].next =
            Some(RawValue::from_string(r#"{"k":{"N":"1.50"}}"#.to_string()).unwrap());
        state.progress[0].done = true;
        state.save(&path).unwrap();
        let back = State::load(&path, "T", 2).unwrap().unwrap();
        assert_eq!(back.version_seconds, 1_764_489_300);
        assert!(back.progress[0].done);
        assert_eq!(
            back.progress[1].next.as_ref().unwrap().get(),
            r#"{"k":{"N":"1.50"}}"#
        );
        assert!(State::load(&path, "U", 2).unwrap_err().contains("table T"));
        assert!(State::load(&path, "T", 3).is_err());
        assert!(
            State::load(&dir.join("none.json"), "T", 2)
                .unwrap()
                .is_none()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
