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
    let mut retry = Vec::new();
    for p in parts {
        if !drain_partition(st, p, &is_src, kind, false) {
            retry.push(p);
        }
    }
    (st.lim_in, st.lim_out, st.lim_disk) = saved;
    st.refresh_all_rooms();
    if retry.is_empty() {
        return;
    }
    let before: u32 = st.moves.iter().map(|m| m.incoming).sum();
    for &p in &retry {
        drain_partition(st, p, &is_src, kind, true);
    }
    let placed = st.moves.iter().map(|m| m.incoming).sum::<u32>() - before;
    if placed > 0 {
        st.plan
            .warnings
            .push(Warning::AbovePeak { replicas: placed });
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
fn drain_partition(st: &mut State, p: u32, is_src: &[bool], kind: Drain, last: bool) -> bool {
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
