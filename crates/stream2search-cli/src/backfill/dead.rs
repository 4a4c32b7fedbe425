//! The dead-letter file: one JSON line per item the backfill could not make durable for good,
//! `{"key":KEY,"reason":TEXT,"item":ITEM}`, KEY and ITEM exactly as read (KEY `null` when the
//! item has none).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The open file (appended to: a resumed run adds to it).
pub struct DeadLetters {
    path: PathBuf,
    file: File,
}

impl DeadLetters {
    /// Opens (or creates) `path` for appending.
    pub fn open(path: &Path) -> Result<DeadLetters, String> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(DeadLetters {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Writes `(key, reason, item)` lines and syncs them to disk before returning.
    pub fn write<'a>(
        &mut self,
        letters: impl Iterator<Item = (Option<&'a str>, &'a str, &'a str)>,
    ) -> Result<(), String> {
        let mut buf = Vec::new();
        for (key, reason, item) in letters {
            buf.extend_from_slice(b"{\"key\":");
            buf.extend_from_slice(key.unwrap_or("null").as_bytes());
            buf.extend_from_slice(b",\"reason\":");
            buf.extend_from_slice(serde_json::Value::from(reason).to_string().as_bytes());
            buf.extend_from_slice(b",\"item\":");
            buf.extend_from_slice(item.as_bytes());
            buf.extend_from_slice(b"}\n");
        }
        if buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}
