//! Convergence and safety checks on a (simulated) cluster, computed independently of the
//! planner's own bookkeeping, plus assert helpers for tests.

use crate::plan::{BrokerState, Plan, Snapshot};

/// Health figures of a cluster under the planner's load model (see [`crate::plan`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    /// Partitions whose replicas share a rack although the cluster has at least RF racks
    /// (named racks of every broker, whatever its state: DESIGN.md rule 1).
    pub rack_violations: usize,
    /// Replicas on brokers that are not alive.
    pub replicas_on_unhealthy: usize,
    /// Partitions whose replica list has a duplicate broker.
    pub duplicate_replicas: usize,
    /// Max / mean net-in utilization over alive brokers.
    pub net_in_max_over_mean: f64,
    /// Max / mean net-out utilization over alive brokers.
    pub net_out_max_over_mean: f64,
    /// Max / mean disk utilization over alive brokers.
    pub disk_max_over_mean: f64,
    /// Max over alive brokers of net-in utilization divided by the best mean the rack rule
    /// allows: the cluster mean, or the broker's rack mean when every partition has a replica in
    /// every live rack (then rack totals cannot change) and that mean is higher.
    pub net_in_max_over_achievable: f64,
    /// Highest net-in utilization of an alive broker.
    pub net_in_max_utilization: f64,
    /// Highest net-out utilization of an alive broker.
    pub net_out_max_utilization: f64,
    /// Highest disk utilization of an alive broker.
    pub disk_max_utilization: f64,
    /// Max / mean replica count over alive brokers.
    pub replicas_max_over_mean: f64,
    /// Max / mean leader count over alive brokers.
    pub leaders_max_over_mean: f64,
}

/// The cluster's rack count for rack diversity: distinct named racks of every broker in the
/// snapshot, whatever its state; the "" rack counts only when no broker has a named one.
pub fn cluster_racks(snap: &Snapshot) -> usize {
    let mut racks: Vec<&str> = snap.brokers.iter().map(|b| b.rack.as_str()).collect();
    racks.sort_unstable();
    racks.dedup();
    let named = racks.iter().filter(|r| !r.is_empty()).count();
    if named > 0 {
        named
    } else {
        racks.len()
    }
}

/// Computes [`Health`] for `snap`.
pub fn health(snap: &Snapshot) -> Health {
    let n = snap.brokers.len();
    let pos = snap.broker_positions();
    let alive: Vec<bool> = snap
        .brokers
        .iter()
        .map(|b| b.state == BrokerState::Alive)
        .collect();
    let mut live_racks: Vec<&str> = snap
        .brokers
        .iter()
        .filter(|b| b.state == BrokerState::Alive)
        .map(|b| b.rack.as_str())
        .collect();
    live_racks.sort_unstable();
    live_racks.dedup();
    let rack_count = cluster_racks(snap);
    let (mut net_in, mut net_out, mut disk) = (vec![0u64; n], vec![0u64; n], vec![0u64; n]);
    let (mut replicas, mut leaders) = (vec![0u64; n], vec![0u64; n]);
    let mut h = Health::default();
    for p in &snap.partitions {
        let mut racks: Vec<&str> = Vec::with_capacity(p.replicas.len());
        let mut ids = p.replicas.clone();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != p.replicas.len() {
            h.duplicate_replicas += 1;
        }
        for r in &p.replicas {
            match pos.get(r) {
                Some(&i) => {
                    net_in[i] += p.bytes_in_per_sec;
                    disk[i] += p.size_bytes;
                    replicas[i] += 1;
                    racks.push(&snap.brokers[i].rack);
                    if !alive[i] {
                        h.replicas_on_unhealthy += 1;
                    }
                }
                None => h.replicas_on_unhealthy += 1,
            }
        }
        if let Some(&i) = p.leader.and_then(|l| pos.get(&l)) {
            let followers = p.replicas.len().saturating_sub(1) as u64;
            net_out[i] += p.bytes_out_per_sec + p.bytes_in_per_sec * followers;
            leaders[i] += 1;
        }
        racks.sort_unstable();
        racks.dedup();
        if rack_count >= p.replicas.len() && racks.len() < p.replicas.len() {
            h.rack_violations += 1;
        }
    }
    let util = |load: &[u64], cap: &dyn Fn(usize) -> u64| -> (f64, f64) {
        let (mut sum_l, mut sum_c, mut max) = (0f64, 0f64, 0f64);
        for i in (0..n).filter(|&i| alive[i]) {
            let c = cap(i) as f64;
            sum_l += load[i] as f64;
            sum_c += c;
            if c > 0.0 {
                max = f64::max(max, load[i] as f64 / c);
            }
        }
        let mean = if sum_c > 0.0 { sum_l / sum_c } else { 0.0 };
        (if mean > 0.0 { max / mean } else { 0.0 }, max)
    };
    let caps = |i: usize| snap.brokers[i].capacity;
    (h.net_in_max_over_mean, h.net_in_max_utilization) =
        util(&net_in, &|i| caps(i).net_in_bytes_per_sec);
    (h.net_out_max_over_mean, h.net_out_max_utilization) =
        util(&net_out, &|i| caps(i).net_out_bytes_per_sec);
    (h.disk_max_over_mean, h.disk_max_utilization) = util(&disk, &|i| caps(i).disk_bytes);
    (h.replicas_max_over_mean, _) = util(&replicas, &|_| 1);
    (h.leaders_max_over_mean, _) = util(&leaders, &|_| 1);
    h.net_in_max_over_achievable = h.net_in_max_over_mean;
    let min_rf = snap
        .partitions
        .iter()
        .map(|p| p.replicas.len())
        .filter(|&r| r > 0)
        .min();
    if min_rf.is_some_and(|rf| rf >= live_racks.len()) {
        let mean = |rack: Option<&str>| {
            let (mut l, mut c) = (0f64, 0f64);
            for i in (0..n).filter(|&i| alive[i]) {
                if rack.is_none_or(|r| snap.brokers[i].rack == r) {
                    l += net_in[i] as f64;
                    c += caps(i).net_in_bytes_per_sec as f64;
                }
            }
            if c > 0.0 {
                l / c
            } else {
                0.0
            }
        };
        let cluster = mean(None);
        h.net_in_max_over_achievable = (0..n)
            .filter(|&i| alive[i])
            .map(|i| {
                let u = net_in[i] as f64 / (caps(i).net_in_bytes_per_sec as f64).max(1.0);
                u / cluster
                    .max(mean(Some(&snap.brokers[i].rack)))
                    .max(f64::MIN_POSITIVE)
            })
            .fold(0.0, f64::max);
    }
    h
}

/// Asserts that `plan` moves `topic`-`partition`'s replica from broker `from` to broker `to`,
/// in the same slot.
pub fn assert_moves(plan: &Plan, topic: &str, partition: i32, from: i32, to: i32) {
    let m = plan
        .moves
        .iter()
        .find(|m| &*m.topic == topic && m.partition == partition)
        .unwrap_or_else(|| panic!("no move for {topic}-{partition} in {:#?}", plan.moves));
    let slot = m
        .old_replicas
        .iter()
        .position(|&r| r == from)
        .unwrap_or_else(|| {
            panic!(
                "{topic}-{partition}: broker {from} not in old replicas {:?}",
                m.old_replicas
            )
        });
    assert_eq!(
        m.new_replicas.get(slot),
        Some(&to),
        "{topic}-{partition}: expected {from} -> {to} in slot {slot}, got {:?} -> {:?}",
        m.old_replicas,
        m.new_replicas
    );
}

/// Asserts that `plan` elects `leader` for `topic`-`partition`.
pub fn assert_elects(plan: &Plan, topic: &str, partition: i32, leader: i32) {
    let e = plan
        .elections
        .iter()
        .find(|e| &*e.topic == topic && e.partition == partition)
        .unwrap_or_else(|| {
            panic!(
                "no election for {topic}-{partition} in {:#?}",
                plan.elections
            )
        });
    assert_eq!(e.new_leader, leader, "{topic}-{partition}: {e}");
}

/// Asserts that `plan` does not touch `topic`-`partition`.
pub fn assert_untouched(plan: &Plan, topic: &str, partition: i32) {
    let hit = |t: &str, p: i32| t == topic && p == partition;
    assert!(
        !plan.moves.iter().any(|m| hit(&m.topic, m.partition))
            && !plan.elections.iter().any(|e| hit(&e.topic, e.partition)),
        "{topic}-{partition} was touched"
    );
}
