//! A lower bound on the bytes any balance plan must copy.
//!
//! For a broker `b` over its net-in limit `L(b) = min(cap, target_ratio x mean utilization x
//! cap)` by `E(b) = in(b) - L(b)`:
//! - net in only drops when replicas leave `b` (leader changes move net out, not net in), and a
//!   replica `r` leaving takes `in(r)` off and copies `size(r)` bytes to its new broker;
//! - so `b` needs a set `S` of its replicas with `sum in(r) >= E(b)`, costing `sum size(r)`.
//!   The cheapest such set costs at least the fractional-knapsack optimum: take replicas in
//!   order of `size / in`, the last one fractionally. That greedy is optimal for the fractional
//!   problem, whose optimum is below the integral one.
//!
//! Each moved replica leaves exactly one broker, so the sets for different brokers are disjoint
//! and their costs add up. Net out contributes nothing to the bound, since elections can fix it
//! at zero bytes. The sum is therefore a lower bound for every plan that brings all brokers
//! under their net-in limits (it ignores rack rules and target room, which only make it harder).
//!
//! The bound is for the cluster-mean target. When rack totals are pinned (every partition has a
//! replica in every live rack) and racks differ in size, the planner lets brokers of the smaller
//! racks stay up to the target x their rack's mean, and a plan may then copy less than this;
//! the benchmarks use racks of equal size, where both targets are the same.

use crate::plan::{BrokerState, Snapshot};

/// The lower bound on bytes to copy for `snap` to reach `target_ratio` on net in (see module).
pub fn bytes_lower_bound(snap: &Snapshot, target_ratio: f64) -> u64 {
    let pos = snap.broker_positions();
    let n = snap.brokers.len();
    let mut replicas: Vec<Vec<(u64, u64)>> = vec![Vec::new(); n];
    let mut load = vec![0u64; n];
    for p in &snap.partitions {
        for r in &p.replicas {
            if let Some(&i) = pos.get(r) {
                load[i] += p.bytes_in_per_sec;
                replicas[i].push((p.size_bytes, p.bytes_in_per_sec));
            }
        }
    }
    let alive: Vec<bool> = snap
        .brokers
        .iter()
        .map(|b| b.state == BrokerState::Alive)
        .collect();
    let cap = |i: usize| snap.brokers[i].capacity.net_in_bytes_per_sec as f64;
    let total_load: f64 = (0..n).filter(|&i| alive[i]).map(|i| load[i] as f64).sum();
    let total_cap: f64 = (0..n).filter(|&i| alive[i]).map(cap).sum();
    if total_cap <= 0.0 {
        return 0;
    }
    let mean = total_load / total_cap;
    let mut bound = 0f64;
    for i in (0..n).filter(|&i| alive[i]) {
        let limit = (cap(i) * mean * target_ratio).min(cap(i)).floor();
        let mut excess = load[i] as f64 - limit;
        if excess <= 0.0 {
            continue;
        }
        let reps = &mut replicas[i];
        reps.retain(|r| r.1 > 0);
        reps.sort_unstable_by(|a, b| (a.0 as u128 * b.1 as u128).cmp(&(b.0 as u128 * a.1 as u128)));
        for &(size, rate) in reps.iter() {
            if excess <= 0.0 {
                break;
            }
            let take = (excess / rate as f64).min(1.0);
            bound += take * size as f64;
            excess -= rate as f64;
        }
    }
    bound as u64
}
