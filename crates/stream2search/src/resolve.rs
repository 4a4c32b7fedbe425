//! Resolution: one [`Final`] per bulk item → one [`RecordResult`] per input record, ready for
//! [`crate::checkpoint`].

use crate::checkpoint::{RecordOutcome, RecordResult};
use crate::outcome::Final;
use crate::plan::{Plan, RecordStatus};

impl Plan {
    /// Per-record results from one [`Final`] per item (a missing one counts as not durable).
    pub fn resolve(&self, finals: &[Final]) -> Vec<RecordResult> {
        let mut decided: Vec<Option<RecordOutcome>> = vec![None; self.records.len()];
        for (i, item) in self.items.iter().enumerate() {
            let outcome = match finals.get(i) {
                Some(f) => RecordOutcome::from(f.clone()),
                None => RecordOutcome::NotDurable {
                    reason: "no outcome reported for its bulk item".into(),
                },
            };
            for &p in &item.records {
                let slot = &mut decided[p];
                // The worst outcome wins: not durable, then rejected, then the last item's.
                let keep_old = slot.as_ref().is_some_and(|o| rank(o) > rank(&outcome));
                if !keep_old {
                    *slot = Some(outcome.clone());
                }
            }
        }
        self.records
            .iter()
            .zip(decided)
            .map(|(rec, decided)| RecordResult {
                position: rec.position,
                sequence_number: rec.sequence_number.clone(),
                event_id: rec.event_id.clone(),
                outcome: match &rec.status {
                    RecordStatus::Invalid(e) => RecordOutcome::Invalid(e.clone()),
                    RecordStatus::Skipped(s) => RecordOutcome::Skipped(*s),
                    RecordStatus::Planned => decided.unwrap_or(RecordOutcome::NotDurable {
                        reason: "no bulk item decided this record".into(),
                    }),
                },
            })
            .collect()
    }
}

fn rank(o: &RecordOutcome) -> u8 {
    match o {
        RecordOutcome::NotDurable { .. } => 2,
        RecordOutcome::Rejected { .. } => 1,
        _ => 0,
    }
}
