//! Where each shard stands, kept in a local JSON file so that a restart resumes where it
//! stopped; and which shards may be read now (a parent before its children).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::source::{Shard, Start};

/// One shard's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Resume just after this SequenceNumber (everything up to it is done).
    After(String),
    /// Resume at this SequenceNumber (a partial batch response named it).
    At(String),
    /// The shard is closed and every record of it is done.
    Finished,
}

/// The checkpoint file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The stream these positions belong to.
    pub stream: String,
    /// Positions by shard id; a shard not listed starts at TRIM_HORIZON.
    pub shards: BTreeMap<String, Position>,
}

impl State {
    /// Reads `path`, or a fresh state for `stream` when the file does not exist. A file written
    /// for another stream is an error (the table was recreated: remove the file).
    pub fn load(path: &Path, stream: &str) -> Result<State, String> {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(State {
                    stream: stream.to_string(),
                    shards: BTreeMap::new(),
                });
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let state: State = serde_json::from_slice(&text)
            .map_err(|e| format!("{}: not a checkpoint file: {e}", path.display()))?;
        if state.stream != stream {
            return Err(format!(
                "{}: checkpoints of stream {}, not {stream} (remove the file to start over)",
                path.display(),
                state.stream
            ));
        }
        Ok(state)
    }

    /// Writes the file whole (a temporary file renamed over it), so a crash leaves the old or
    /// the new state, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let mut tmp = PathBuf::from(path);
        tmp.as_mut_os_string().push(".tmp");
        let text = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Where to start reading `shard`; `None` when it is finished.
    pub fn start(&self, shard: &str) -> Option<Start> {
        match self.shards.get(shard) {
            None => Some(Start::TrimHorizon),
            Some(Position::After(seq)) => Some(Start::After(seq.clone())),
            Some(Position::At(seq)) => Some(Start::At(seq.clone())),
            Some(Position::Finished) => None,
        }
    }

    /// The shards to read now, in the order listed: not finished, and whose parents (one, or
    /// two for a merged Kinesis shard) are each finished or no longer listed (trimmed away).
    pub fn ready<'a>(&self, shards: &'a [Shard]) -> Vec<&'a Shard> {
        let finished = |id: &str| self.shards.get(id) == Some(&Position::Finished);
        let listed = |id: &str| shards.iter().any(|s| s.id == id);
        shards
            .iter()
            .filter(|s| !finished(&s.id))
            .filter(|s| {
                [&s.parent, &s.adjacent_parent]
                    .into_iter()
                    .flatten()
                    .all(|p| finished(p) || !listed(p))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parent: Option<&str>) -> Shard {
        Shard {
            id: id.into(),
            parent: parent.map(Into::into),
            adjacent_parent: None,
        }
    }

    #[test]
    fn children_wait_until_their_parent_is_finished() {
        let shards = [
            shard("child-a", Some("parent")),
            shard("parent", Some("trimmed")),
            shard("child-b", Some("parent")),
            shard("grandchild", Some("child-a")),
        ];
        let mut state = State::default();
        let ids = |state: &State| -> Vec<String> {
            state.ready(&shards).iter().map(|s| s.id.clone()).collect()
        };
        assert_eq!(ids(&state), ["parent"]);
        state
            .shards
            .insert("parent".into(), Position::After("9".into()));
        assert_eq!(ids(&state), ["parent"]);
        state.shards.insert("parent".into(), Position::Finished);
        assert_eq!(ids(&state), ["child-a", "child-b"]);
        state.shards.insert("child-a".into(), Position::Finished);
        assert_eq!(ids(&state), ["child-b", "grandchild"]);
    }

    #[test]
    fn a_merged_shard_waits_for_both_parents() {
        let merged = Shard {
            adjacent_parent: Some("right".into()),
            ..shard("merged", Some("left"))
        };
        let shards = [shard("left", None), shard("right", None), merged];
        let mut state = State::default();
        let ids = |state: &State| -> Vec<String> {
            state.ready(&shards).iter().map(|s| s.id.clone()).collect()
        };
        assert_eq!(ids(&state), ["left", "right"]);
        state.shards.insert("left".into(), Position::Finished);
        assert_eq!(ids(&state), ["right"]);
        state.shards.insert("right".into(), Position::Finished);
        assert_eq!(ids(&state), ["merged"]);
    }

    #[test]
    fn file_round_trips_and_belongs_to_one_stream() {
        let path = std::env::temp_dir().join(format!("s2s-state-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut state = State::load(&path, "arn:1").unwrap();
        assert_eq!(state.start("s"), Some(Start::TrimHorizon));
        state.shards.insert("s".into(), Position::At("12".into()));
        state.shards.insert("t".into(), Position::Finished);
        state.save(&path).unwrap();
        let again = State::load(&path, "arn:1").unwrap();
        assert_eq!(again, state);
        assert_eq!(again.start("s"), Some(Start::At("12".into())));
        assert_eq!(again.start("t"), None);
        assert!(
            State::load(&path, "arn:2")
                .unwrap_err()
                .contains("remove the file")
        );
        std::fs::remove_file(&path).unwrap();
    }
}
