//! Heal and decommission: move every replica off a set of brokers.
//!
//! Each replica is replaced in place (same slot, so the preferred-leader slot is kept), on a
//! target chosen by [`pick_target`]: same rack when that keeps racks distinct, else a rack the
//! partition does not use, least projected net and disk utilization first, within capacity,
//! the disk limit, the per-broker move limit and the byte budget. The busiest partitions are
//! placed first, so the large ones find room while the cluster is emptiest (as in LPT
//! scheduling). A partition with several replicas to move gets one move covering all of them.
//!
//! **Under the peak.** A first pass places every replica without raising any broker's net in,
//! net out or disk above `max(peak before the drain, target_ratio x mean after it)` (the peak
//! over brokers that accept load; the mean counts the drained brokers' load on the others).
//! Least-projected-utilization placement under that ceiling fills the rack's brokers in
//! proportion to their headroom, so the copies run in parallel on many brokers instead of
//! piling onto the emptiest few (issue 12 item 3: on Cruise Control's dead-broker cluster the
//! old heal raised net in max/mean 1.27 -> 1.42). Only replicas that fit nowhere under the
//! ceiling get a second pass within capacity and the disk limit, counted in
//! [`Warning::AbovePeak`]: redundancy comes back before balance.

use std::collections::HashMap;

use super::place::{pick_target, Score};
use super::reason::{MoveReason, UnplaceableReason, Warning};
use super::snapshot::BrokerState;
use super::state::{State, NONE};

/// Which request is draining: decides the move reason and whether the sources still serve data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Drain {
    /// Sources are dead: they serve nothing, their moves are not counted against them.
    Heal,
    /// Sources are alive: they may lead and serve data, and their moves count.
    Decommission,
}

/// Moves every replica off `sources` (broker indexes).
pub(super) fn drain(st: &mut State, sources: &[u32], kind: Drain) {
    let mut is_src = vec![false; st.ids.len()];
    for &s in sources {
        is_src[s as usize] = true;
    }
    let mut seen = vec![false; st.snap.partitions.len()];
    let mut parts: Vec<u32> = Vec::new();
    for &s in sources {
        for &p in &st.hosted[s as usize] {
            if !std::mem::replace(&mut seen[p as usize], true) {
                parts.push(p);
            }
        }
    }
    parts.sort_unstable_by_key(|&p| {
        let i = &st.snap.partitions[p as usize];
        (
            std::cmp::Reverse(i.bytes_in_per_sec),
            std::cmp::Reverse(i.size_bytes),
            p,
        )
    });
    tracing::debug!(partitions = parts.len(), ?kind, "draining");
    let saved = peak_limits(st, sources);
    let mut lists = SourceLists::take(st, sources);
    let mut retry = Vec::new();
    for p in parts {
        if !drain_partition(st, &mut lists, p, &is_src, kind, false) {
            retry.push(p);
        }
    }
    (st.lim_in, st.lim_out, st.lim_disk) = saved;
    st.refresh_all_rooms();
    let before: u32 = st.moves.iter().map(|m| m.incoming).sum();
    for &p in &retry {
        drain_partition(st, &mut lists, p, &is_src, kind, true);
    }
    lists.give_back(st);
    let placed = st.moves.iter().map(|m| m.incoming).sum::<u32>() - before;
    if placed > 0 {
        st.plan
            .warnings
            .push(Warning::AbovePeak { replicas: placed });
    }
}

/// The sources' partition lists ([`State::hosted`]), held here while draining with each
/// partition's position, so taking a moved replica off its source costs O(1). Left in place,
/// [`State::replace`] would search the source's whole list for every replica it moves: a
/// broker's thousands of replicas made that quadratic (5,000 replicas, 12.5M comparisons).
/// Removal is the same `swap_remove` `replace` does, so the lists come back in the same order.
struct SourceLists {
    /// Per source (broker index): its list, and each partition's position in it.
    lists: Vec<(u32, Vec<u32>, HashMap<u32, usize>)>,
}

impl SourceLists {
    /// Takes the sources' lists out of `st` (they are left empty). A list naming a partition
    /// twice (a replica list with a broker twice) stays in `st` and is searched as before.
    fn take(st: &mut State, sources: &[u32]) -> Self {
        let mut lists = Vec::with_capacity(sources.len());
        for &s in sources {
            let list = &st.hosted[s as usize];
            let pos: HashMap<u32, usize> = list.iter().enumerate().map(|(i, &p)| (p, i)).collect();
            if pos.len() == list.len() {
                lists.push((s, std::mem::take(&mut st.hosted[s as usize]), pos));
            }
        }
        SourceLists { lists }
    }

    /// Takes `p` off source `from`'s list, as [`State::replace`] would have.
    fn remove(&mut self, from: u32, p: u32) {
        let Some((_, list, pos)) = self.lists.iter_mut().find(|(s, _, _)| *s == from) else {
            return;
        };
        let Some(i) = pos.remove(&p) else {
            return;
        };
        list.swap_remove(i);
        if let Some(&moved) = list.get(i) {
            pos.insert(moved, i);
        }
    }

    /// Puts the lists back (a source's list kept what was not moved off it).
    fn give_back(self, st: &mut State) {
        for (s, list, _) in self.lists {
            debug_assert!(st.hosted[s as usize].is_empty());
            st.hosted[s as usize] = list;
        }
    }
}

/// Tightens every broker's net in, net out and disk limits to `max(peak, ratio x mean)` of its
/// capacity, the figures over brokers that accept load with `sources`' load spread over them.
/// Returns the limits it replaced.
fn peak_limits(st: &mut State, sources: &[u32]) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    let saved = (st.lim_in.clone(), st.lim_out.clone(), st.lim_disk.clone());
    let ratio = st.limits.target_ratio;
    let mut ceiling = [0f64; 3];
    let (mut load, mut cap) = ([0f64; 3], [0f64; 3]);
    for b in 0..st.ids.len() {
        let (l, c) = (st.load[b], st.cap[b]);
        let l = [l.net_in, l.net_out, l.disk].map(|x| x as f64);
        let c = [
            c.net_in_bytes_per_sec,
            c.net_out_bytes_per_sec,
            c.disk_bytes,
        ]
        .map(|x| x as f64);
        let source = sources.contains(&(b as u32));
        for r in 0..3 {
            if st.accepts[b] || source {
                load[r] += l[r];
            }
            if st.accepts[b] {
                cap[r] += c[r];
                if c[r] > 0.0 {
                    ceiling[r] = ceiling[r].max(l[r] / c[r]);
                }
            }
        }
    }
    for r in 0..3 {
        if cap[r] > 0.0 {
            ceiling[r] = ceiling[r].max(ratio * load[r] / cap[r]);
        }
    }
    for b in 0..st.ids.len() {
        let c = st.cap[b];
        let lim = |x: u64, u: f64| (x as f64 * u) as u64;
        st.lim_in[b] = st.lim_in[b].min(lim(c.net_in_bytes_per_sec, ceiling[0]));
        st.lim_out[b] = st.lim_out[b].min(lim(c.net_out_bytes_per_sec, ceiling[1]));
        st.lim_disk[b] = st.lim_disk[b].min(lim(c.disk_bytes, ceiling[2]));
    }
    st.refresh_all_rooms();
    tracing::debug!(?ceiling, "drain limits: the pre-drain peak or the target");
    saved
}

/// Moves the replicas of `p` on the sources. On the first pass (`last` false) a replica that
/// fits no broker under the peak is left for the second pass: returns false then.
fn drain_partition(
    st: &mut State,
    lists: &mut SourceLists,
    p: u32,
    is_src: &[bool],
    kind: Drain,
    last: bool,
) -> bool {
    let slots: Vec<usize> = (0..st.replicas(p).len())
        .filter(|&k| is_src[st.replicas(p)[k] as usize])
        .collect();
    let fail = |st: &mut State, reason: UnplaceableReason| {
        for &k in &slots {
            let b = st.replicas(p)[k];
            st.record_unplaceable(p, b, reason.clone());
        }
    };
    if let Some(reason) = st.frozen[p as usize].reason() {
        fail(st, reason);
        return true;
    }
    // On the second pass the first one may have placed some of its replicas already.
    if st.touched[p as usize] && !last {
        fail(st, UnplaceableReason::AlreadyPlanned);
        return true;
    }
    if !has_data_source(st, p, is_src, kind) {
        fail(st, UnplaceableReason::Offline);
        return true;
    }
    let mut done = true;
    let size = st.snap.partitions[p as usize].size_bytes;
    let mut copied = 0u64;
    let mut first_from = None;
    for k in slots {
        let from = st.replicas(p)[k];
        let counts = st.state[from as usize] != BrokerState::Dead && kind == Drain::Decommission;
        let limit = st.limits.max_moves_per_broker;
        if counts && st.moves[from as usize].outgoing >= limit {
            st.record_unplaceable(p, from, UnplaceableReason::SourceMoveLimit { limit });
            continue;
        }
        let remaining = st.bytes_left.saturating_sub(copied);
        if size > remaining {
            let reason = UnplaceableReason::ByteBudget {
                needed_bytes: size,
                remaining_bytes: remaining,
            };
            st.record_unplaceable(p, from, reason);
            continue;
        }
        match pick_target(st, p, k, Score::NetAndDisk) {
            Ok(to) => {
                st.replace(p, k, to);
                lists.remove(from, p);
                copied += size;
                first_from.get_or_insert(st.ids[from as usize]);
            }
            Err(UnplaceableReason::NoTarget(_)) if !last => done = false,
            Err(reason) => st.record_unplaceable(p, from, reason),
        }
    }
    if let Some(from) = first_from {
        let reason = match kind {
            Drain::Heal => MoveReason::Heal { from },
            Drain::Decommission => MoveReason::Decommission { from },
        };
        st.record_move(p, copied, reason);
    }
    done
}

/// Whether a live replica can serve the data new replicas copy: an in-sync replica that is not
/// dead (for heal, not a source either; draining and suspect brokers still serve).
fn has_data_source(st: &State, p: u32, is_src: &[bool], kind: Drain) -> bool {
    if st.leader[p as usize] == NONE {
        return false;
    }
    st.replicas(p).iter().enumerate().any(|(k, &b)| {
        let usable = match kind {
            Drain::Heal => !is_src[b as usize],
            Drain::Decommission => true,
        };
        usable && st.slot_in_sync(p, k) && st.state[b as usize] != BrokerState::Dead
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Limits;
    use crate::sim::{generate, Spec};

    /// The dead broker's list after a heal is what `State::replace` alone made of it: the
    /// partitions not moved, in the order its `swap_remove`s leave them (a later request of
    /// the round reads it).
    #[test]
    fn a_heal_gives_back_the_sources_list_as_replace_left_it() {
        let mut c = generate(&Spec::new(9, 900, 3));
        c.kill(2);
        // Some of broker 2's partitions cannot move (reassigning): they stay on its list.
        let on_2: Vec<usize> = (0..c.snapshot.partitions.len())
            .filter(|&i| c.snapshot.partitions[i].replicas.contains(&2))
            .collect();
        assert!(on_2.len() > 20, "{}", on_2.len());
        for &i in on_2.iter().step_by(7) {
            c.snapshot.partitions[i].reassigning = true;
        }
        let limits = Limits::default();
        let mut st = State::new(&c.snapshot, &limits, &[2]);
        let src = st.idx(2).unwrap();
        let mut expected = st.hosted[src as usize].clone();
        drain(&mut st, &[src], Drain::Heal);
        let snap = &c.snapshot;
        let index_of = |topic: &str, partition: i32| {
            (0..snap.partitions.len())
                .find(|&i| {
                    let p = &snap.partitions[i];
                    &**snap.topic_name(p.topic) == topic && p.partition == partition
                })
                .unwrap() as u32
        };
        let mut moved = 0;
        for m in &st.plan.moves {
            if m.old_replicas.contains(&2) && !m.new_replicas.contains(&2) {
                let p = index_of(&m.topic, m.partition);
                let pos = expected.iter().position(|&x| x == p).unwrap();
                expected.swap_remove(pos);
                moved += 1;
            }
        }
        assert!(moved > 0 && !expected.is_empty(), "{moved} {expected:?}");
        assert_eq!(st.hosted[src as usize], expected);
    }

    /// A replica id above every broker id of the snapshot (a broker missing from
    /// DescribeCluster) is still indexed, as an unknown broker: the heal keeps it in the new
    /// replica list and does not place anything on it.
    #[test]
    fn a_replica_id_above_every_broker_id_is_kept_as_an_unknown_broker() {
        let mut c = generate(&Spec::new(6, 300, 4));
        let i = (0..c.snapshot.partitions.len())
            .find(|&i| c.snapshot.partitions[i].replicas.contains(&1))
            .unwrap();
        let p = &mut c.snapshot.partitions[i];
        let k = p.replicas.iter().position(|&r| r != 1).unwrap();
        let gone = p.replicas[k];
        p.replicas[k] = 999;
        p.isr.retain(|&r| r != gone);
        if p.leader == Some(gone) {
            p.leader = Some(1);
        }
        c.kill(1);
        let limits = Limits::default();
        let plan = crate::plan::plan(
            &c.snapshot,
            &limits,
            &crate::plan::Request::Heal { dead: vec![1] },
        );
        let info = &c.snapshot.partitions[i];
        let m = plan
            .moves
            .iter()
            .find(|m| {
                m.partition == info.partition && *m.topic == **c.snapshot.topic_name(info.topic)
            })
            .expect("the partition's replica on broker 1 is healed");
        assert_eq!(m.new_replicas.len(), 3);
        assert!(m.new_replicas.contains(&999), "{m:?}");
        assert!(!m.new_replicas.contains(&1), "{m:?}");
        assert!(plan
            .moves
            .iter()
            .all(|m| m.new_replicas.iter().filter(|&&r| r == 999).count() <= 1));
    }
}
