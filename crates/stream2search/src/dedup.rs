//! Dedup: of two changes of the same document (index, id, routing) in one event, the newer
//! supersedes the other, and the superseded records are decided by the item that replaced theirs.
//! The newer is the one with the higher version; with equal versions (or none), the later in the
//! event. DynamoDB Streams gives an item's changes in order, so that is the later one; Kinesis
//! may deliver them out of order, and then the later in the event can be the older change, which
//! OpenSearch would refuse as stale anyway. The
//! routing is part of the key: a MODIFY that changes the routing attribute deletes the copy under
//! the old routing (another shard) and indexes the new one, and neither may swallow the other.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::plan::Item;

/// (index, id, routing) → slot, keyed by [`key_hash`]; a hit is confirmed against the item itself, and
/// a collision of two different keys only costs the dedup of one of them (OpenSearch still
/// applies both actions in order, and external versions keep the newer).
pub(crate) type Keys = HashMap<u64, usize, BuildHasherDefault<Prehashed>>;

/// The map's hasher for keys that already are hashes.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(MIX);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const MIX: u64 = 0x517c_c1b7_2722_0a95;

/// A deterministic 64-bit hash of (index, id, routing), eight bytes at a time.
fn key_hash(index: &str, id: &str, routing: Option<&str>) -> u64 {
    let mut h = 0u64;
    for part in [
        index.as_bytes(),
        id.as_bytes(),
        routing.unwrap_or("").as_bytes(),
    ] {
        let mut words = part.chunks_exact(8);
        for w in &mut words {
            let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            h = (h.rotate_left(5) ^ w).wrapping_mul(MIX);
        }
        let mut last = [0u8; 8];
        last[..words.remainder().len()].copy_from_slice(words.remainder());
        h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(MIX);
        h = (h.rotate_left(5) ^ part.len() as u64).wrapping_mul(MIX);
    }
    h ^ (h >> 29)
}

/// Adds `item`, superseding an earlier item for the same (index, id, routing), or superseded by
/// it when the earlier item has a higher version.
pub(crate) fn add(slots: &mut Vec<Option<Item>>, by_key: &mut Keys, item: Item) {
    let hash = key_hash(&item.index, &item.id, item.routing.as_deref());
    add_hashed(slots, by_key, item, hash);
}

fn add_hashed(slots: &mut Vec<Option<Item>>, by_key: &mut Keys, mut item: Item, hash: u64) {
    let same = |old: &Option<Item>| {
        old.as_ref()
            .is_some_and(|o| o.index == item.index && o.id == item.id && o.routing == item.routing)
    };
    let earlier = by_key.get(&hash).copied().filter(|&old| same(&slots[old]));
    if let Some(old) = earlier
        && let Some(newer) = slots[old]
            .as_mut()
            .filter(|o| matches!((o.version, item.version), (Some(a), Some(b)) if a > b))
    {
        // The record that made it stays last; the superseded ones before it, in event order.
        let writer = newer.records.pop();
        newer.records.append(&mut item.records);
        newer.records.extend(writer);
        return;
    }
    by_key.insert(hash, slots.len());
    if let Some(prev) = earlier.and_then(|old| slots[old].take()) {
        let mut records = prev.records;
        records.append(&mut item.records);
        item.records = records;
    }
    slots.push(Some(item));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::Action;

    fn item(id: &str, position: usize) -> Item {
        Item {
            action: Action::Index,
            index: "t".into(),
            id: id.into(),
            version: None,
            routing: None,
            records: vec![position],
            doc: None,
            meta: 0..0,
            inline: false,
        }
    }

    fn versioned(id: &str, position: usize, version: u64) -> Item {
        Item {
            version: Some(version),
            ..item(id, position)
        }
    }

    fn kept(slots: Vec<Option<Item>>) -> Vec<(String, Option<u64>, Vec<usize>)> {
        slots
            .into_iter()
            .flatten()
            .map(|i| (i.id, i.version, i.records))
            .collect()
    }

    /// Out of order (Kinesis): the newer change stays, wherever it is in the event.
    #[test]
    fn the_higher_version_supersedes_whatever_the_order() {
        let (mut slots, mut by_key) = (Vec::new(), Keys::default());
        add(&mut slots, &mut by_key, versioned("a", 0, 30));
        add(&mut slots, &mut by_key, versioned("a", 1, 10));
        add(&mut slots, &mut by_key, versioned("b", 2, 5));
        add(&mut slots, &mut by_key, versioned("a", 3, 20));
        add(&mut slots, &mut by_key, versioned("b", 4, 6));
        assert_eq!(
            kept(slots.clone()),
            [
                // The newest (record 0) decides the older ones, and comes last.
                ("a".to_string(), Some(30), vec![1, 3, 0]),
                ("b".to_string(), Some(6), vec![2, 4]),
            ]
        );
        add(&mut slots, &mut by_key, versioned("a", 5, 30));
        assert_eq!(
            kept(slots),
            [
                ("b".to_string(), Some(6), vec![2, 4]),
                // Equal versions: the later in the event wins, as OpenSearch's external_gte does.
                ("a".to_string(), Some(30), vec![1, 3, 0, 5]),
            ]
        );
    }

    /// Two different keys with one hash: neither is merged into the other, no record is lost.
    #[test]
    fn a_hash_collision_only_costs_a_dedup() {
        let (mut slots, mut by_key) = (Vec::new(), Keys::default());
        add_hashed(&mut slots, &mut by_key, item("a", 0), 7);
        add_hashed(&mut slots, &mut by_key, item("b", 1), 7);
        add_hashed(&mut slots, &mut by_key, item("b", 2), 7);
        add_hashed(&mut slots, &mut by_key, item("a", 3), 7);
        let items: Vec<(String, Vec<usize>)> = slots
            .into_iter()
            .flatten()
            .map(|i| (i.id, i.records))
            .collect();
        assert_eq!(
            items,
            [
                ("a".to_string(), vec![0]),
                ("b".to_string(), vec![1, 2]),
                ("a".to_string(), vec![3]),
            ]
        );
    }

    #[test]
    fn key_hash_separates_index_from_id() {
        assert_ne!(key_hash("ab", "c", None), key_hash("a", "bc", None));
        assert_ne!(
            key_hash("t", "12345678", None),
            key_hash("t", "12345678\0", None)
        );
        assert_eq!(key_hash("t", "x", Some("r")), key_hash("t", "x", Some("r")));
    }
}
