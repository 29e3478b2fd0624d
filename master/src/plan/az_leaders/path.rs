//! The search for the next chain of leadership transfers in one topic: a breadth-first search
//! over racks whose edges are the possible hops (one partition's leadership from rack `a` to a
//! replica in rack `b`). Reads the [`Topic`] and advances its scan marks; elects nothing.

use std::collections::VecDeque;

use super::topic::Topic;
use crate::plan::balance::headroom;
use crate::plan::state::State;

/// One possible leadership transfer: partition `p` to the replica in slot `k`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hop {
    pub(super) p: u32,
    pub(super) k: usize,
}

/// The next chain of transfers: a shortest path of possible hops from a rack leading `n` to a
/// rack leading at most `n - 2`. Sources are tried busiest first; the sink is the reachable
/// rack with the fewest leaders (then the shortest path, then the lowest index). The hops are
/// returned sink end first: each frees the rack the one before it fills.
pub(super) fn next_path(st: &State, t: &mut Topic) -> Option<Vec<(usize, usize, Hop)>> {
    let count = t.count.clone();
    let racks = count.len();
    let min = *count.iter().min()?;
    let mut sources: Vec<usize> = (0..racks).filter(|&r| count[r] >= min + 2).collect();
    sources.sort_by_key(|&r| (std::cmp::Reverse(count[r]), r));
    for s in sources {
        // Breadth-first over racks; parent[r] = (previous rack, hop into r).
        let mut parent: Vec<Option<(usize, Hop)>> = vec![None; racks];
        let mut dist = vec![usize::MAX; racks];
        dist[s] = 0;
        let mut queue = VecDeque::from([s]);
        while let Some(a) = queue.pop_front() {
            for b in 0..racks {
                if dist[b] != usize::MAX {
                    continue;
                }
                if let Some(h) = hop(st, t, a, b) {
                    dist[b] = dist[a] + 1;
                    parent[b] = Some((a, h));
                    queue.push_back(b);
                }
            }
        }
        let sink = (0..racks)
            .filter(|&r| dist[r] != usize::MAX && r != s && count[r] + 2 <= count[s])
            .min_by_key(|&r| (count[r], dist[r], r));
        let Some(mut r) = sink else { continue };
        let mut path = Vec::new();
        while let Some((a, h)) = parent[r] {
            path.push((a, r, h));
            r = a;
        }
        return Some(path);
    }
    None
}

/// The best transfer of a partition the topic leads in rack `a` to a replica in rack `b`:
/// back to its original leader first (undoing a planned transfer), then the preferred replica
/// (no reorder), else the first that fits; the new leader in sync, on a broker that accepts
/// load, and within its net-out limit counting this topic's planned transfers. Among
/// partitions the first in `led[a]` order wins, the lowest slot within one.
///
/// Only partitions of `prio[a][b]` can give an original leader or preferred replica in `b`,
/// so the scan of `led[a]` for a fallback stops at the first fit, and starts after the
/// partitions an earlier scan of the pair found nothing in (`scanned`). Without both, a topic
/// with many partitions and uneven racks cost O(partitions²) per spread.
fn hop(st: &State, t: &mut Topic, a: usize, b: usize) -> Option<Hop> {
    let pair = a * t.count.len() + b;
    if let Some(h) = preferred_hop(st, t, b, pair) {
        return Some(h);
    }
    let led = &t.led[a];
    let mut at = t.scanned[pair] as usize;
    let mut found = None;
    while let Some(&p) = led.get(at) {
        if let Some(k) = (0..st.replicas(p).len()).find(|&k| slot_fits(st, t, p, k, b)) {
            found = Some(Hop { p, k });
            break;
        }
        at += 1;
    }
    t.scanned[pair] = at as u32;
    found
}

/// The first partition of `led[a]` (pair `a * racks + b`) whose original leader or preferred
/// replica is in `b` and fits, with the lowest such slot.
fn preferred_hop(st: &State, t: &mut Topic, b: usize, pair: usize) -> Option<Hop> {
    let mut best: Option<(u32, Hop)> = None;
    let mut list = std::mem::take(&mut t.prio[pair]);
    let start = t.prio_bad[pair] as usize;
    let mut bad = start;
    for j in start..list.len() {
        let p = list[j];
        let orig = st.leader[p as usize];
        let slot = st
            .replicas(p)
            .iter()
            .enumerate()
            .position(|(k, &x)| (x == orig || k == 0) && slot_fits(st, t, p, k, b));
        if let Some(k) = slot {
            let at = t.pos(p);
            if best.is_none_or(|(bp, _)| at < bp) {
                best = Some((at, Hop { p, k }));
            }
        } else {
            // Order in the list is free: keep the ones that do not fit at its start.
            list.swap(j, bad);
            bad += 1;
        }
    }
    t.prio[pair] = list;
    t.prio_bad[pair] = bad as u32;
    best.map(|(_, h)| h)
}

/// Whether slot `k` of `p` (led in the topic now) may take its leadership: a replica in rack
/// `b`, in sync, on a broker that accepts load, within 90 % (`balance::HEADROOM`) of its
/// net-out limit counting this topic's planned transfers, and whose net in is within 90 % of
/// its limit (the original leader always fits: it had the load before).
fn slot_fits(st: &State, t: &Topic, p: u32, k: usize, b: usize) -> bool {
    #[cfg(test)]
    super::tests::SLOTS.with(|c| c.set(c.get() + 1));
    let x = st.replicas(p)[k];
    let xu = x as usize;
    if st.rack[xu] != b as u32 || !st.accepts[xu] || !st.slot_in_sync(p, k) {
        return false;
    }
    if x == st.leader[p as usize] {
        return true;
    }
    // A new leader stays within `balance::HEADROOM` of its net-out limit, and no broker near
    // its net-in limit takes leadership: the margin an overload's elections and relief leave,
    // so the spread never undoes them nor re-fires the overload.
    let load = (st.load[xu].net_out as i64 + t.delta[xu]).max(0) as u64;
    load.saturating_add(st.leader_out(p)) <= headroom(st.lim_out[xu])
        && st.load[xu].net_in <= headroom(st.lim_in[xu])
}
