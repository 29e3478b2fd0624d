//! Choosing a target broker for one replica: rack rule first, then limits, then least load.
//!
//! Candidates come in tiers, and a later tier is looked at only when an earlier one has no
//! broker that fits: the replaced replica's own rack (when that keeps racks distinct), then racks
//! the partition does not use, then (only when the cluster has fewer racks than the replication
//! factor, so diversity is impossible) racks it already uses. Within a tier the broker with the
//! lowest projected utilization after the move wins, ties to the lower id. Cost: one pass over
//! the brokers of the allowed racks, never over partitions.
//!
//! Rack diversity is never traded for RF (DESIGN.md rule 1). The rack count is the cluster's
//! ([`State::racks`]), not the count of racks with a live broker: when the dead broker's rack
//! has no healthy broker left (its rack-mates are suspect, hung, restarting or dead, or the whole
//! AZ is down) and no unused rack has one either, the replica is unplaceable with
//! [`UnplaceableReason::RackUnavailable`], never co-located with another replica.

use super::reason::{Rejections, UnplaceableReason};
use super::record::ratio;
use super::state::{State, NONE};

/// What the score of a candidate looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Score {
    /// Max of net in, net out and disk utilization (heal, decommission).
    NetAndDisk,
    /// Max of net in and net out utilization (balance: disk is only a limit).
    Net,
}

/// Picks the broker to take slot `k` of partition `p`, or says why none fits: no allowed rack
/// has a healthy broker ([`UnplaceableReason::RackUnavailable`]), or every broker there was
/// rejected ([`UnplaceableReason::NoTarget`]).
pub(super) fn pick_target(
    st: &State,
    p: u32,
    k: usize,
    score: Score,
) -> Result<u32, UnplaceableReason> {
    let reps = st.replicas(p);
    let from = reps[k];
    let from_rack = st.rack[from as usize];
    let mut used: Vec<u32> = reps
        .iter()
        .enumerate()
        .filter(|&(j, &b)| j != k && st.rack[b as usize] != NONE)
        .map(|(_, &b)| st.rack[b as usize])
        .collect();
    used.sort_unstable();
    used.dedup();
    let diverse = st.racks >= reps.len();
    let bin = st.snap.partitions[p as usize].bytes_in_per_sec;
    let mut rej = Rejections::default();
    let mut tiers: Vec<Vec<u32>> = Vec::with_capacity(3);
    if from_rack != NONE && used.binary_search(&from_rack).is_err() {
        tiers.push(vec![from_rack]);
    }
    let unused: Vec<u32> = (0..st.rack_names.len() as u32)
        .filter(|r| *r != from_rack && used.binary_search(r).is_err())
        .collect();
    tiers.push(unused);
    if diverse {
        rej.rack_conflict = used
            .iter()
            .map(|&r| st.rack_brokers[r as usize].len() as u32)
            .sum();
    } else {
        tiers.push(used);
    }
    for tier in &tiers {
        let mut best: Option<(f64, u32)> = None;
        for &r in tier {
            let brokers = &st.rack_brokers[r as usize];
            if st.rack_room[r as usize] < bin {
                // No broker in the rack has room: skip the per-partition checks.
                for &b in brokers {
                    rej.considered += 1;
                    if !st.accepts[b as usize] {
                        rej.not_alive += 1;
                    } else if !st.disk_known[b as usize] {
                        rej.disk_unknown += 1;
                    } else if st.moves[b as usize].incoming >= st.limits.max_moves_per_broker {
                        rej.move_limit += 1;
                    } else {
                        rej.net_in_full += 1;
                    }
                }
                continue;
            }
            for &b in brokers {
                match evaluate(st, p, k, b, score) {
                    Ok(s) => {
                        if best.is_none_or(|(bs, _)| s < bs) {
                            best = Some((s, b));
                        }
                    }
                    Err(f) => f(&mut rej),
                }
                rej.considered += 1;
            }
        }
        if let Some((_, b)) = best {
            return Ok(b);
        }
    }
    if diverse {
        let allowed: Vec<u32> = tiers.iter().flatten().copied().collect();
        let healthy = allowed.iter().any(|&r| {
            st.rack_brokers[r as usize]
                .iter()
                .any(|&b| st.accepts[b as usize])
        });
        if !healthy {
            let mut racks: Vec<String> = allowed.iter().map(|&r| rack_label(st, r)).collect();
            if racks.is_empty() && from_rack != NONE {
                racks.push(rack_label(st, from_rack));
            }
            return Err(UnplaceableReason::RackUnavailable { racks });
        }
    }
    Err(UnplaceableReason::NoTarget(rej))
}

/// A rack's name for a reason; the "" rack (no `broker.rack`, or a broker missing from
/// DescribeCluster) reads "(no rack)".
fn rack_label(st: &State, r: u32) -> String {
    match st.rack_names[r as usize].as_str() {
        "" => "(no rack)".to_owned(),
        name => name.to_owned(),
    }
}

type Reject = fn(&mut Rejections);

/// Projected utilization score of moving slot `k` of `p` onto `b`, or the filter it fails.
fn evaluate(st: &State, p: u32, k: usize, b: u32, score: Score) -> Result<f64, Reject> {
    let bu = b as usize;
    if !st.accepts[bu] {
        return Err(|r| r.not_alive += 1);
    }
    // Nor back onto a broker this plan took a replica of `p` off: that copies bytes for nothing.
    let info = &st.snap.partitions[p as usize];
    if st.replicas(p).contains(&b) || info.replicas.contains(&st.ids[bu]) {
        return Err(|r| r.hosts_partition += 1);
    }
    if !st.disk_known[bu] {
        return Err(|r| r.disk_unknown += 1);
    }
    if st.moves[bu].incoming >= st.limits.max_moves_per_broker {
        return Err(|r| r.move_limit += 1);
    }
    let load = st.load[bu];
    let cap = st.cap[bu];
    let net_in = load.net_in.saturating_add(info.bytes_in_per_sec);
    if net_in > st.lim_in[bu] {
        return Err(|r| r.net_in_full += 1);
    }
    let old_leader = st.leader[p as usize];
    let new_leader = st.leader_after(p, k, b);
    let mut net_out = load.net_out;
    if new_leader != old_leader && new_leader != NONE {
        let out = st.leader_out(p);
        let nl = new_leader as usize;
        let after = st.load[nl].net_out.saturating_add(out);
        if after > st.lim_out[nl] {
            return Err(|r| r.net_out_full += 1);
        }
        if new_leader == b {
            net_out = after;
        }
    }
    let disk = load.disk.saturating_add(info.size_bytes);
    if disk > st.lim_disk[bu] {
        return Err(|r| r.disk_full += 1);
    }
    let net = ratio(net_in as f64, cap.net_in_bytes_per_sec as f64)
        .max(ratio(net_out as f64, cap.net_out_bytes_per_sec as f64));
    Ok(match score {
        Score::Net => net,
        Score::NetAndDisk => net.max(ratio(disk as f64, cap.disk_bytes as f64)),
    })
}
