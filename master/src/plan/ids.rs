//! Broker id -> dense index. Broker ids are small non-negative integers in practice, so a
//! direct-indexed table replaces hashing on the hot path (one lookup per replica, 1M+ per
//! plan); ids outside a sane range fall back to a hash map.

use std::collections::HashMap;

/// Largest id range served by the direct table (4M entries x 4 bytes = 16 MB at most).
const DENSE_MAX: i64 = 1 << 22;

/// Maps broker ids to dense indexes.
#[derive(Debug, Default, Clone)]
pub(super) struct IdIndex {
    dense: Vec<u32>,
    sparse: HashMap<i32, u32>,
}

const ABSENT: u32 = u32::MAX;

impl IdIndex {
    /// An index sized for ids up to `max_id`.
    pub fn with_max(max_id: i32) -> Self {
        let len = if (0..DENSE_MAX).contains(&(max_id as i64)) {
            max_id as usize + 1
        } else {
            0
        };
        IdIndex {
            dense: vec![ABSENT; len],
            sparse: HashMap::new(),
        }
    }

    /// The index of `id`, if known.
    #[inline]
    pub fn get(&self, id: i32) -> Option<u32> {
        match self.dense.get(id as usize) {
            Some(&ABSENT) => None,
            Some(&i) if id >= 0 => Some(i),
            _ => self.sparse.get(&id).copied(),
        }
    }

    /// Records `id` at index `i`.
    pub fn insert(&mut self, id: i32, i: u32) {
        match self.dense.get_mut(id as usize) {
            Some(slot) if id >= 0 => *slot = i,
            _ => {
                self.sparse.insert(id, i);
            }
        }
    }
}
