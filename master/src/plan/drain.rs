//! Heal and decommission: move every replica off a set of brokers.
//!
//! Each replica is replaced in place (same slot, so the preferred-leader slot is kept), on a
//! target chosen by [`pick_target`]: same rack when that keeps racks distinct, else a rack the
//! partition does not use, least projected net and disk utilization first, within capacity,
//! the disk limit, the per-broker move limit and the byte budget. The busiest partitions are
//! placed first, so the large ones find room while the cluster is emptiest (as in LPT
//! scheduling). A partition with several replicas to move gets one move covering all of them.

use super::place::{pick_target, Score};
use super::reason::{MoveReason, UnplaceableReason};
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
    for p in parts {
        drain_partition(st, p, &is_src, kind);
    }
}

fn drain_partition(st: &mut State, p: u32, is_src: &[bool], kind: Drain) {
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
        return fail(st, reason);
    }
    if st.touched[p as usize] {
        return fail(st, UnplaceableReason::AlreadyPlanned);
    }
    if !has_data_source(st, p, is_src, kind) {
        return fail(st, UnplaceableReason::Offline);
    }
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
