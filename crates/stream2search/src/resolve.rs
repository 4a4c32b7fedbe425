//! Resolution: one [`RecordOutcome`] per bulk item (how it ended after all attempts) → one
//! [`RecordResult`] per input record, ready for [`crate::checkpoint`].

use crate::checkpoint::{RecordOutcome, RecordResult};
use crate::plan::{Plan, RecordStatus};

impl Plan {
    /// Per-record results from one outcome per item, in the order of [`Plan::items`] (a missing
    /// one counts as not durable). Each record an item decides gets the item's outcome.
    pub fn resolve(&self, items: &[RecordOutcome]) -> Vec<RecordResult> {
        let mut decided: Vec<Option<RecordOutcome>> = vec![None; self.records.len()];
        for (i, item) in self.items.iter().enumerate() {
            let outcome = match items.get(i) {
                Some(o) => o.clone(),
                None => RecordOutcome::NotDurable {
                    reason: "no outcome reported for its bulk item".into(),
                },
            };
            for &p in &item.records {
                let slot = &mut decided[p];
                // The worst outcome wins: not durable, then poison, then the last item's.
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

/// Not durable 2, poison 1, done 0.
fn rank(o: &RecordOutcome) -> u8 {
    if o.is_poison() {
        1
    } else if o.is_durable() {
        0
    } else {
        2
    }
}
