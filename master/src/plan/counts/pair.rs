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

use super::{electable, takes_lead};
use crate::plan::state::State;

/// Most-leading brokers of rack B searched for `q` (bounds the scan).
const MAX_DONORS: usize = 4;

/// A compensating election `(q, slot of z, y, z)` for moving `p`'s leadership from `h` to `x`.
pub(super) fn compensation(
    st: &State,
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
    let mut donors: Vec<u32> = st.rack_brokers[rack_x as usize]
        .iter()
        .copied()
        .filter(|&y| y != x && count[y as usize] > count[x as usize] + 1)
        .collect();
    donors.sort_unstable_by_key(|&y| (Reverse(count[y as usize]), y));
    for y in donors.into_iter().take(MAX_DONORS) {
        for &q in &st.hosted[y as usize] {
            if q == p
                || st.leader[q as usize] != y
                || st.snap.partitions[q as usize].topic != topic
                || !electable(st, q)
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
    None
}
