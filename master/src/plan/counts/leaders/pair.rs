//! Paired elections: leader counts move across racks while every topic's leaders per rack
//! stay as they are.
//!
//! With one replica per rack (RF = rack count) every election changes racks, and the AZ spread
//! that runs before the count step leaves each topic's leaders per rack within one of each
//! other, so a single election from a rack leading more of the topic to one leading fewer is
//! rarely left ([`TopicRacks::keeps_spread`](super::TopicRacks::keeps_spread)); on Cruise Control's skewed cluster leader counts
//! stopped at max/mean 1.39. A pair hands `p`'s leadership from `h` (rack A) to `x` (rack B)
//! and a partition `q` of the same topic from `y` (rack B, leading at least two more than `x`)
//! to an in-sync replica `z` in rack A below the band's top: the topic's per-rack counts do not
//! change, `h` loses a leader, `z` gains one, and inside rack B leadership moves from `y` to
//! `x`. Zero bytes: both are elections of original in-sync replicas ([`electable`],
//! [`takes_lead`]) within their net-out limits.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use super::{electable, takes_lead};
use crate::plan::snapshot::TopicId;
use crate::plan::state::State;

/// The partitions each broker leads, per topic, for [`compensation`]'s scan of a donor: without
/// it every call walked each donor's whole replica list (about 5,000 at 270 brokers / 1.3M
/// replicas) for one topic, and a balance with uneven racks took 48 s instead of about 1 s.
/// Entries are checked again when read (leader, electable), so a leadership lost is harmless;
/// a leadership gained is recorded with [`LedByTopic::gained`].
pub(super) struct LedByTopic {
    led: HashMap<(TopicId, u32), Vec<u32>>,
    /// Each rack's brokers, most leaders first, computed when first asked after an election
    /// (sorting a rack per call was the next cost).
    by_count: Vec<Option<Vec<u32>>>,
    /// `(topic, x, h)` searched in vain since the last election: the answer depends only on the
    /// topic, the two brokers and the leader counts (`p` itself is led by `h`, never a `q`).
    failed: HashSet<(TopicId, u32, u32)>,
    /// [`electable`] of each partition, computed once: an election makes a partition
    /// unelectable (touched, its leader no longer the snapshot's), and nothing else in the
    /// leader step changes it. Half the chain search's time went to asking again.
    electable: Vec<bool>,
}

impl LedByTopic {
    pub(super) fn new(st: &State) -> Self {
        let mut map: HashMap<(TopicId, u32), Vec<u32>> = HashMap::new();
        // Each broker's replica order, as the scan had it.
        for (y, hosted) in st.hosted.iter().enumerate() {
            for &q in hosted {
                if st.leader[q as usize] == y as u32 {
                    let topic = st.snap.partitions[q as usize].topic;
                    map.entry((topic, y as u32)).or_default().push(q);
                }
            }
        }
        LedByTopic {
            electable: (0..st.snap.partitions.len() as u32)
                .map(|p| electable(st, p))
                .collect(),
            led: map,
            by_count: vec![None; st.rack_brokers.len()],
            failed: HashSet::new(),
        }
    }

    /// `to` now leads `p` (after an election: leader counts changed too).
    /// Whether the leader step may still elect a new leader for `p` ([`electable`]).
    pub(super) fn electable(&self, p: u32) -> bool {
        self.electable.get(p as usize).copied().unwrap_or(false)
    }

    pub(super) fn gained(&mut self, st: &State, p: u32, to: u32) {
        if let Some(e) = self.electable.get_mut(p as usize) {
            *e = false;
        }
        let topic = st.snap.partitions[p as usize].topic;
        let led = self.led.entry((topic, to)).or_default();
        if !led.contains(&p) {
            led.push(p);
        }
        self.by_count.iter_mut().for_each(|r| *r = None);
        self.failed.clear();
    }

    pub(super) fn led(&self, topic: TopicId, y: u32) -> &[u32] {
        self.led.get(&(topic, y)).map_or(&[], Vec::as_slice)
    }

    /// Rack `r`'s brokers, most leaders first (ties: lowest index).
    fn by_count(&mut self, st: &State, count: &[u32], r: usize) -> &[u32] {
        self.by_count[r].get_or_insert_with(|| {
            let mut v = st.rack_brokers[r].clone();
            v.sort_unstable_by_key(|&y| (Reverse(count[y as usize]), y));
            v
        })
    }
}

/// Most-leading brokers of rack B searched for `q` (bounds the scan).
const MAX_DONORS: usize = 4;

/// A compensating election `(q, slot of z, y, z)` for moving `p`'s leadership from `h` to `x`.
pub(super) fn compensation(
    st: &State,
    index: &mut LedByTopic,
    count: &[u32],
    high: u32,
    p: u32,
    h: u32,
    x: u32,
) -> Option<(u32, usize, u32, u32)> {
    let (rack_h, rack_x) = (st.rack[h as usize], st.rack[x as usize]);
    if rack_h == rack_x || rack_x as usize >= st.rack_brokers.len() {
        return None;
    }
    let topic = st.snap.partitions[p as usize].topic;
    if index.failed.contains(&(topic, x, h)) {
        return None;
    }
    let donors: Vec<u32> = index
        .by_count(st, count, rack_x as usize)
        .iter()
        .copied()
        .filter(|&y| y != x && count[y as usize] > count[x as usize] + 1)
        .take(MAX_DONORS)
        .collect();
    for y in donors {
        for &q in index.led(topic, y) {
            if q == p
                || st.leader[q as usize] != y
                || st.snap.partitions[q as usize].topic != topic
                || !index.electable(q)
            {
                continue;
            }
            let out = st.leader_out(q);
            let z = st.replicas(q).iter().enumerate().find(|&(k, &z)| {
                z != h
                    && st.rack[z as usize] == rack_h
                    && count[z as usize] < high
                    && count[z as usize] + 1 < count[h as usize]
                    && takes_lead(st, q, k, out)
            });
            if let Some((k, &z)) = z {
                return Some((q, k, y, z));
            }
        }
    }
    index.failed.insert((topic, x, h));
    None
}
