//! Leaders spread across AZs (racks), per topic, by elections only (issue 11 item 1).
//!
//! Goal: every topic's leaders per live rack within ±1 (max - min <= 1), so AZ-aware producers
//! and consumers find a local leader for every topic. Only leadership changes: a replica that
//! already is the preferred one is elected as it is; any other is first made preferred by a
//! zero-copy reorder of the same replica set (Kafka's ElectLeaders elects only the preferred
//! replica, and a reorder also keeps `auto.leader.rebalance` from undoing the spread). No data
//! moves, and the replica sets (so the rack rule) are untouched.
//!
//! # Chains
//!
//! The old greedy pass only moved a leader straight from the busiest rack to the quietest one.
//! With RF below the rack count that can stall: rack A leads 3, B 2, C 1, A's partitions have
//! no replica in C but B's do. Each step here is a shortest path of leadership transfers
//! `A -> B -> C` (each hop one partition, each rack once), from a rack leading `n` to a rack
//! leading at most `n - 2`: the ends change by one, the racks in between keep their count. A
//! path may send a partition an earlier path of the same topic moved on again (or back), so the
//! topic's leaders are first planned on a scratch copy and each partition whose leader changed
//! is elected once at the end. This is the "cost-reducing path" of semi-matchings (Harvey,
//! Ladner, Lovász, Tamir 2006): when none is left, the per-rack counts are optimal for every
//! symmetric convex measure, so max - min is the smallest the replicas (in sync, on brokers that
//! accept load, within net out) allow. `tests/plan_az.rs` checks that against an exhaustive
//! search on random small topics.
//!
//! # Never fighting the network balance
//!
//! A new leader must stay within 90 % (`balance::HEADROOM`) of its broker's net-out limit
//! (`State::lim_out`): capacity, or inside a balance plan the balance's target-ratio limit,
//! which is never above the pre-plan peak; and no broker whose net in is above 90 % of its
//! limit takes leadership. That is the margin an overload's elections and relief leave under
//! the configured limit, so the spread never hands back the leadership they took off (the e2e
//! overload run looped: elections took 19 leaders off the hot broker, the spread put 14 back
//! onto it 5 s after the finding cleared, over again 15 s later, every minute). So the spread
//! never creates the overload that the next round's balance or relief would undo, and
//! [`Request::Balance`](super::Request::Balance) runs this spread after its own elections, so a
//! balance plan never leaves a topic's leaders skewed across AZs for a later round to fix. Among
//! candidates for one hop the preferred replica comes first (no reorder), then the target with
//! the lowest net-out utilization after the transfer.
//!
//! Racks are dense indexes and partitions visited in a fixed order, so the plan is
//! deterministic.
//!
//! # Modules and cost
//!
//! This file holds the entry points: [`spread`] (elects, on the plan's `State`) and
//! [`best_spread`] (the same search on a scratch state, for the leader-skew detector). The
//! search itself is pure: `topic.rs` keeps one topic's planned leaders per rack and applies a
//! path to them; `path.rs` finds the next path. Only [`spread`] elects, once per changed
//! partition, after the topic's search.
//!
//! Cost per topic, with `R` racks and `P` partitions: each path lowers the sum of the squared
//! per-rack leader counts by at least 2, so there are at most `P²/2` paths, in practice about
//! one per leader a rack has above the mean. A path is a breadth-first search over racks: at
//! most `R²` hop look-ups (rack pairs). A look-up of pair `(a, b)` first checks the partitions
//! led in `a` whose original leader or preferred replica is in `b` (the `prio` lists), skipping
//! those already known not to fit there (`prio_bad`), then scans the rest of `a`'s partitions
//! from where the last scan of the pair stopped (`scanned`) up to the first that fits; each
//! partition costs up to RF slot checks. The marks only move forward until a hop takes a
//! leader from a rack (its brokers lose net out, so pairs into it are scanned afresh) or
//! swaps a partition into an already scanned position. So one path costs `O(R² x P x RF)`
//! slot checks at worst, and about one slot check per look-up when every partition has an
//! in-sync replica with room in every rack (the rack-aware case; the test
//! `a_hop_does_not_scan_the_whole_rack_for_a_preferred_leader` bounds it).

mod path;
#[cfg(test)]
mod tests;
mod topic;

use std::sync::Arc;

use super::reason::ElectionReason;
use super::snapshot::Snapshot;
use super::state::State;
use super::Limits;
use topic::Topic;

/// Spreads every topic's leaders across live racks in `st`.
pub(super) fn spread(st: &mut State) {
    if st.live_racks < 2 {
        return;
    }
    for topic in by_topic(st) {
        spread_topic(st, &topic);
    }
}

/// Partition indexes grouped by topic, topics in id order (a counting sort, no hashing).
fn by_topic(st: &State) -> Vec<Vec<u32>> {
    let mut groups: Vec<Vec<u32>> = vec![Vec::new(); st.snap.topics.len()];
    for (i, p) in st.snap.partitions.iter().enumerate() {
        if let Some(g) = groups.get_mut(p.topic.0 as usize) {
            g.push(i as u32);
        }
    }
    groups
}

/// One topic's leaders per rack now and at best, from [`best_spread`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpread {
    /// The topic.
    pub topic: Arc<str>,
    /// Every rack of the snapshot's brokers, in name order; `now` and `best` index it.
    pub racks: Vec<String>,
    /// Leaders per rack now.
    pub now: Vec<u32>,
    /// Leaders per rack after the spread-leaders plan (this module's path search): the best
    /// the replicas allow (in sync, on brokers that accept load, within net out), so max - min
    /// over the live racks is the smallest any choice of leaders reaches. Partitions the
    /// planner may not touch (not fully in sync, reassigning) keep their leader.
    pub best: Vec<u32>,
}

/// For each topic of `snapshot` that `wanted` accepts, its leaders per rack now and the best
/// spread the planner can reach, computed by the very search [`spread`] plans with, without
/// electing anything. The leader-skew detector asks this so it never raises a skew, and the
/// policy never asks for a spread, that the replicas cannot allow. Empty with fewer than two
/// live racks (nothing to spread).
pub fn best_spread(snapshot: &Snapshot, wanted: impl Fn(&str) -> bool) -> Vec<TopicSpread> {
    let limits = Limits::default();
    let st = State::new(snapshot, &limits, &[]);
    if st.live_racks < 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for parts in by_topic(&st) {
        let Some(&first) = parts.first() else {
            continue;
        };
        let topic = snapshot.topic_name(snapshot.partitions[first as usize].topic);
        if !wanted(topic) {
            continue;
        }
        let mut t = Topic::of(&st, &parts);
        let now = t.count.clone();
        t.even_out(&st);
        out.push(TopicSpread {
            topic: topic.clone(),
            racks: st.rack_names.clone(),
            now,
            best: t.count,
        });
    }
    out
}

/// Spreads one topic's leaders.
fn spread_topic(st: &mut State, parts: &[u32]) {
    let mut t = Topic::of(st, parts);
    let before = t.count.clone();
    t.even_out(st);
    elect_changed(st, &t, &before);
}

/// One election per partition whose leader changed, in partition order.
fn elect_changed(st: &mut State, t: &Topic, before: &[u32]) {
    for &(p, new) in &t.now {
        let old = st.leader[p as usize];
        if new == old {
            continue;
        }
        let Some(k) = st.replicas(p).iter().position(|&x| x == new) else {
            continue;
        };
        let (from, to) = (
            st.rack[old as usize] as usize,
            st.rack[new as usize] as usize,
        );
        let reason = ElectionReason::SpreadLeaders {
            from_rack: st.rack_names[from].clone(),
            to_rack: st.rack_names[to].clone(),
            from_rack_leaders: before[from],
            to_rack_leaders: before[to],
        };
        st.elect(p, k, reason);
    }
}
