//! A lower bound on the bytes a balance must copy that knows racks (issue 10 item 4), beside
//! `kmedic_master::sim::bytes_lower_bound` (which it equals when racks are even).
//!
//! Same argument as `sim::bound`: a broker over its limit `L(b)` by `E(b)` must shed replicas
//! whose net in sums to at least `E(b)`, each copying its size; the fractional knapsack (by
//! size / net in) is a lower bound of that, and brokers' sets are disjoint, so they add up.
//!
//! The difference is the limit. When rack totals are pinned (every partition has a replica in
//! every live rack, so no valid plan can move net in between racks), a rack whose brokers are
//! fewer carries more per broker whatever the plan does, and the planner's goal for a broker is
//! `target x max(cluster mean, its rack's mean) x capacity` (`plan` balance; `sim::Health::
//! net_in_max_over_achievable`). `sim::bytes_lower_bound` uses the cluster mean for every
//! broker, so on uneven racks it counts excess no plan can remove and is no lower bound for that
//! goal (we saw plans copy 0.3 % of it). This one uses the rack floor, so it is a true lower
//! bound for the goal the planner pursues, on even and uneven racks.

use std::collections::HashMap;

use kmedic_master::plan::{BrokerState, Snapshot};

/// The rack-aware lower bound on bytes to copy for `snap` to reach `target` on net in.
pub fn rack_aware_lower_bound(snap: &Snapshot, target: f64) -> u64 {
    let pos: HashMap<i32, usize> = snap
        .brokers
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id, i))
        .collect();
    let n = snap.brokers.len();
    let alive: Vec<bool> = snap
        .brokers
        .iter()
        .map(|b| b.state == BrokerState::Alive)
        .collect();
    let mut items: Vec<Vec<(u64, u64)>> = vec![Vec::new(); n];
    let mut load = vec![0f64; n];
    for p in &snap.partitions {
        for r in &p.replicas {
            if let Some(&i) = pos.get(r) {
                load[i] += p.bytes_in_per_sec as f64;
                if p.bytes_in_per_sec > 0 {
                    items[i].push((p.size_bytes, p.bytes_in_per_sec));
                }
            }
        }
    }
    let cap = |i: usize| snap.brokers[i].capacity.net_in_bytes_per_sec as f64;
    let mean_of = |f: &dyn Fn(usize) -> bool| {
        let (l, c) = (0..n)
            .filter(|&i| alive[i] && f(i))
            .fold((0.0, 0.0), |(l, c), i| (l + load[i], c + cap(i)));
        if c > 0.0 {
            l / c
        } else {
            0.0
        }
    };
    let cluster = mean_of(&|_| true);
    let mut live_racks: Vec<&str> = (0..n)
        .filter(|&i| alive[i])
        .map(|i| snap.brokers[i].rack.as_str())
        .collect();
    live_racks.sort_unstable();
    live_racks.dedup();
    // Pinned: every partition has a replica in every live rack.
    let pinned = live_racks.len() > 1
        && snap.partitions.iter().all(|p| {
            live_racks.iter().all(|rack| {
                p.replicas
                    .iter()
                    .any(|r| pos.get(r).is_some_and(|&i| snap.brokers[i].rack == *rack))
            })
        });
    let mut rack_mean: HashMap<&str, f64> = HashMap::new();
    if pinned {
        for rack in &live_racks {
            rack_mean.insert(rack, mean_of(&|i| snap.brokers[i].rack == *rack));
        }
    }
    let mut bound = 0f64;
    for i in (0..n).filter(|&i| alive[i]) {
        let floor = rack_mean
            .get(snap.brokers[i].rack.as_str())
            .copied()
            .unwrap_or(0.0);
        let limit = (cap(i) * cluster.max(floor) * target).min(cap(i)).floor();
        let mut excess = load[i] - limit;
        if excess <= 0.0 {
            continue;
        }
        let reps = &mut items[i];
        reps.sort_unstable_by(|a, b| (a.0 as u128 * b.1 as u128).cmp(&(b.0 as u128 * a.1 as u128)));
        for &(size, rate) in reps.iter() {
            if excess <= 0.0 {
                break;
            }
            bound += (excess / rate as f64).min(1.0) * size as f64;
            excess -= rate as f64;
        }
    }
    bound as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use kmedic_master::sim::{bytes_lower_bound, generate, Cluster, Spec};

    #[test]
    fn equals_the_simulator_bound_on_even_racks() {
        let mut spec = Spec::new(30, 30_000, 3);
        spec.topic_skew = 1.0;
        spec.partition_skew = 0.6;
        let c = generate(&spec);
        let ours = rack_aware_lower_bound(&c.snapshot, 1.05);
        let sim = bytes_lower_bound(&c.snapshot, 1.05);
        assert!(sim > 0);
        assert!(ours.abs_diff(sim) <= sim / 1_000_000 + 1, "{ours} vs {sim}");
    }

    #[test]
    fn a_small_rack_s_pinned_load_is_no_excess() {
        // Racks a (2 brokers) and b (1 broker), RF 2: every partition has one replica per rack,
        // so broker 3 carries twice what 1 and 2 do, and no plan can change that.
        let mut c = Cluster::new();
        c.add_broker(1, "a").add_broker(2, "a").add_broker(3, "b");
        for (i, leader) in [1, 2, 1, 2].into_iter().enumerate() {
            let p = c.add_partition("t", leader, &[leader, 3], 1_000 + i as u64);
            c.set_rates(p, 1_000_000, 0);
        }
        assert!(bytes_lower_bound(&c.snapshot, 1.05) > 0);
        assert_eq!(rack_aware_lower_bound(&c.snapshot, 1.05), 0);
        // Skew within rack a is still excess: broker 1 takes three more partitions (5 MB/s
        // against a limit of 1.05 x 14/3 MB/s).
        for _ in 0..3 {
            let p = c.add_partition("t", 1, &[1, 3], 5_000);
            c.set_rates(p, 1_000_000, 0);
        }
        assert!(rack_aware_lower_bound(&c.snapshot, 1.05) > 0);
    }
}
