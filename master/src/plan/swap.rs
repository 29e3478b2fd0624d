//! Replica swaps: relieve a broker over its disk limit when no single move fits anywhere.
//!
//! After network balance every broker with disk room may be at its net-in limit, so moving a
//! big replica off a disk-heavy broker fails everywhere (on Cruise Control's skewed cluster this
//! stopped disk at max/mean 1.60). A swap exchanges a big replica `X` (partition `p`) on the
//! over-full broker `b` with a small replica `Y` (partition `q`) on a broker `t`
//! **of the same rack**:
//!
//! - disk: `b` sheds `size(X) - size(Y)`, `t` takes it, and must stay under its disk limit;
//! - net in: `t` gains `in(X) - in(Y)`, `b` the opposite; each must stay under its net-in limit
//!   or not get worse;
//! - net out: a follower carries none; a leader in the preferred slot hands leadership to the
//!   broker taking its place, so its net out goes along, under the same rule as net in (a
//!   leader in another slot is not swapped: Kafka would elect a third broker);
//! - racks: each partition swaps one replica for another in the same rack, so no partition's
//!   racks change and no rack rule can break;
//! - neither partition may return to a broker it was on in the snapshot, and both must be
//!   movable by balance ([`slot_movable`]: not frozen, fully in sync, original in-sync slots)
//!   or a replica this plan's balance placed there ([`planned`]): that move is re-targeted to
//!   the other broker, one copy either way, so it adds no bytes.
//!
//! Fewest bytes first: for each `X` (largest that does not overshoot the excess first, as
//! single moves do) the partner is the cheapest `Y` over all brokers of the rack (a planned
//! one copies nothing more), then the smallest; a swap copies `size(X) + size(Y)` (less the
//! planned ones) for a relief of `size(X) - size(Y)`. Each broker's list is sorted once per
//! call, so the search stops at the first replica that fits or at the best found so far.
//!
//! Why planned replicas: on Cruise Control's skewed cluster the network steps filled the rack
//! peers with disk room to their net-in limit with replicas they placed there, so those peers
//! had 3-9 original replicas left to swap and disk stopped at max/mean 1.129.

use super::balance::slot_movable;
use super::reason::{MoveReason, Resource};
use super::state::{Frozen, State};

/// One swappable replica: (bytes moving it copies, size, partition).
type Cand = (u64, u64, u32);

/// Replicas of broker `b` that balance may move in a swap, cheapest copy first, then smallest:
/// followers, and leaders in the preferred slot (the new broker becomes the leader: net out
/// goes along); original replicas ([`slot_movable`]) and replicas this plan placed on `b`
/// ([`planned`]: re-targeting their move copies nothing more).
fn candidates(st: &State, b: u32) -> Vec<Cand> {
    let mut v: Vec<Cand> = st.hosted[b as usize]
        .iter()
        .copied()
        .filter(|&p| out_along(st, p, b).is_some() && swappable(st, p, b))
        .map(|p| {
            (
                copy_cost(st, p, b),
                st.snap.partitions[p as usize].size_bytes,
                p,
            )
        })
        .collect();
    v.sort_unstable();
    v
}

/// Whether the replica of `p` on `b` may change broker in a swap.
pub(super) fn swappable(st: &State, p: u32, b: u32) -> bool {
    slot_movable(st, p, b) || planned(st, p, b)
}

/// Bytes a swap copies for moving the replica of `p` off `b`: none for a replica this plan
/// placed there (its copy goes to the new broker instead), else the partition's size.
pub(super) fn copy_cost(st: &State, p: u32, b: u32) -> u64 {
    if planned(st, p, b) {
        0
    } else {
        st.snap.partitions[p as usize].size_bytes
    }
}

/// Whether the replica of `p` on `b` was placed there by this plan's balance (not in the
/// snapshot, not yet copied): a swap may re-target that move to another broker of the same
/// rack for no extra bytes. On Cruise Control's skewed cluster the brokers with disk room had
/// been filled to their net-in limit by such replicas, and only a handful of their original
/// replicas were left to swap, which stopped disk at 1.129.
pub(super) fn planned(st: &State, p: u32, b: u32) -> bool {
    let pu = p as usize;
    let Some(k) = st.replicas(p).iter().position(|&x| x == b) else {
        return false;
    };
    let info = &st.snap.partitions[pu];
    if st.slot_in_sync(p, k)
        || st.frozen[pu] != Frozen::No
        || info.replicas.contains(&st.ids[b as usize])
        || !info.replicas.iter().all(|r| info.isr.contains(r))
    {
        return false;
    }
    matches!(
        st.plan
            .moves
            .get(st.move_ix[pu] as usize)
            .map(|m| &m.reason),
        Some(
            MoveReason::Balance { .. } | MoveReason::Swap { .. } | MoveReason::ReplicaCount { .. }
        )
    )
}

/// Net out that moves with the replica of `p` on `b`: none for a follower, the leader's for
/// the leader in slot 0; `None` for a leader in another slot (Kafka would elect a third broker).
pub(super) fn out_along(st: &State, p: u32, b: u32) -> Option<u64> {
    if st.leader[p as usize] != b {
        Some(0)
    } else if st.replicas(p).first() == Some(&b) {
        Some(st.leader_out(p))
    } else {
        None
    }
}

/// Whether the (snapshot or current) replicas of `p` include broker `b`.
pub(super) fn on(st: &State, p: u32, b: u32) -> bool {
    st.replicas(p).contains(&b)
        || st.snap.partitions[p as usize]
            .replicas
            .contains(&st.ids[b as usize])
}

/// `max_disk_utilization` of `b`'s disk: the most any broker receiving a replica may hold.
pub(super) fn disk_cap(st: &State, b: u32) -> u64 {
    (st.cap[b as usize].disk_bytes as f64 * st.limits.max_disk_utilization) as u64
}

/// Whether moving the replica of `p` on `b` to another broker of `b`'s rack keeps the rack
/// rule: no other replica of `p` is in that rack (a partition that already shares a rack is
/// not moved inside it), unless the cluster has fewer racks than replicas.
pub(super) fn rack_unique(st: &State, p: u32, b: u32) -> bool {
    let reps = st.replicas(p);
    let rack = st.rack[b as usize];
    st.racks < reps.len()
        || reps
            .iter()
            .filter(|&&x| st.rack[x as usize] == rack)
            .count()
            == 1
}

/// Swaps replicas off `b` while it is over its disk limit and a swap fits. Returns the number
/// of swaps made.
pub(super) fn relieve_disk(st: &mut State, b: u32) -> usize {
    let bu = b as usize;
    let rack = st.rack[bu];
    // A swap puts a replica on `b` too: it must accept one, with its disk known this round.
    if rack == u32::MAX || !st.accepts[bu] || !st.disk_known[bu] {
        return 0;
    }
    let max_moves = st.limits.max_moves_per_broker;
    let peers: Vec<u32> = st.rack_brokers[rack as usize]
        .iter()
        .copied()
        .filter(|&t| t != b && st.accepts[t as usize] && st.disk_known[t as usize])
        .collect();
    let mut lists: Vec<Option<Vec<Cand>>> = vec![None; peers.len()];
    let excess = |st: &State| st.load[bu].disk.saturating_sub(st.lim_disk[bu]);
    let mut mine = candidates(st, b);
    mine.sort_unstable_by_key(|&(c, s, p)| (s, c, p));
    // Largest first among those no bigger than the excess, then the smallest that clears it.
    mine.reverse();
    let mut swaps = 0;
    for pass in 0..2 {
        if pass == 1 {
            mine.reverse();
        }
        for &(cx, sx, p) in &mine {
            let e = excess(st);
            if e == 0 {
                return swaps;
            }
            if (pass == 0 && sx > e) || (pass == 1 && sx < e) {
                continue;
            }
            if !swappable(st, p, b) || out_along(st, p, b).is_none() || !rack_unique(st, p, b) {
                continue;
            }
            if st.moves[bu].outgoing >= max_moves || st.moves[bu].incoming >= max_moves {
                return swaps;
            }
            if let Some((t, q, cy)) = best_partner(st, b, p, &peers, &mut lists) {
                if cx + cy > st.bytes_left {
                    continue;
                }
                apply(st, b, p, t, q);
                swaps += 1;
                if pass == 1 {
                    return swaps;
                }
            }
        }
    }
    swaps
}

/// The partner `(t, q, bytes moving q copies)` for moving `p` off `b`: the cheapest, then
/// smallest, replica on a rack peer that keeps both brokers within their limits (module doc).
fn best_partner(
    st: &State,
    b: u32,
    p: u32,
    peers: &[u32],
    lists: &mut [Option<Vec<Cand>>],
) -> Option<(u32, u32, u64)> {
    let bu = b as usize;
    let max_moves = st.limits.max_moves_per_broker;
    let info = &st.snap.partitions[p as usize];
    let (sx, in_x) = (info.size_bytes, info.bytes_in_per_sec);
    let out_x = out_along(st, p, b).unwrap_or(0);
    let mut best: Option<(u64, u64, u32, u32)> = None;
    for (i, &t) in peers.iter().enumerate() {
        let tu = t as usize;
        if st.moves[tu].incoming >= max_moves || st.moves[tu].outgoing >= max_moves || on(st, p, t)
        {
            continue;
        }
        let (lt, lb) = (st.load[tu], st.load[bu]);
        // t takes size(X) - size(Y) of disk: at least size(Y) must go back.
        let room = st.lim_disk[tu].saturating_sub(lt.disk);
        let list = lists[i].get_or_insert_with(|| candidates(st, t));
        for &(cy, sy, q) in list.iter() {
            // Sorted by (cost, size): nothing later in the list beats the best found.
            if best.is_some_and(|(bc, bs, _, _)| (cy, sy) >= (bc, bs)) {
                break;
            }
            if sy >= sx {
                // No relief; the re-targeted (free) ones come first, sorted by size.
                if cy == 0 {
                    continue;
                }
                break;
            }
            if sx - sy > room {
                continue;
            }
            if q == p || on(st, q, b) || !swappable(st, q, t) {
                continue;
            }
            let Some(out_y) = out_along(st, q, t) else {
                continue;
            };
            let in_y = st.snap.partitions[q as usize].bytes_in_per_sec;
            let t_in = (lt.net_in + in_x).saturating_sub(in_y);
            let b_in = lb.net_in.saturating_sub(in_x) + in_y;
            // Both brokers receive a replica: both end within every limit.
            let t_ok = t_in <= st.lim_in[tu];
            let b_ok = b_in <= st.lim_in[bu]
                && lb.disk.saturating_sub(sx) + sy <= disk_cap(st, b)
                && rack_unique(st, q, t);
            let t_out = (lt.net_out + out_x).saturating_sub(out_y);
            let b_out = lb.net_out.saturating_sub(out_x) + out_y;
            // Net out: within the limit, or no worse (and within capacity): a leader handed
            // over for a leader of no more net out.
            let t_ok = t_ok
                && (t_out <= st.lim_out[tu] || out_y >= out_x)
                && t_out <= st.cap[tu].net_out_bytes_per_sec;
            let b_ok = b_ok
                && (b_out <= st.lim_out[bu] || out_y <= out_x)
                && b_out <= st.cap[bu].net_out_bytes_per_sec;
            if t_ok && b_ok {
                best = Some((cy, sy, t, q));
                break;
            }
        }
    }
    best.map(|(cy, _, t, q)| (t, q, cy))
}

/// Exchanges the replica of `p` on `b` with the replica of `q` on `t`.
fn apply(st: &mut State, b: u32, p: u32, t: u32, q: u32) {
    let (load, limit) = (st.load[b as usize].disk, st.lim_disk[b as usize]);
    let (Some(kx), Some(ky)) = (
        st.replicas(p).iter().position(|&x| x == b),
        st.replicas(q).iter().position(|&x| x == t),
    ) else {
        return; // unreachable: both were checked to be there
    };
    let (from, with) = (st.ids[b as usize], st.ids[t as usize]);
    let (cx, cy) = (copy_cost(st, p, b), copy_cost(st, q, t));
    let (px, py) = (planned(st, p, b), planned(st, q, t));
    st.replace(p, kx, t);
    if px {
        retargeted(st, b);
    }
    st.record_move(
        p,
        cx,
        MoveReason::Balance {
            from,
            resource: Resource::Disk,
            load_bytes_per_sec: load,
            limit_bytes_per_sec: limit,
        },
    );
    st.replace(q, ky, b);
    if py {
        retargeted(st, t);
    }
    st.record_move(
        q,
        cy,
        MoveReason::Swap {
            over: from,
            with,
            resource: Resource::Disk,
        },
    );
}

/// A replica this plan had placed on `from` goes elsewhere instead: `from` neither receives it
/// nor gives it up (`replace` counted both).
pub(super) fn retargeted(st: &mut State, from: u32) {
    let m = &mut st.moves[from as usize];
    m.incoming = m.incoming.saturating_sub(1);
    m.outgoing = m.outgoing.saturating_sub(1);
}
