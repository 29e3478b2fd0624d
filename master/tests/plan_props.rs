//! Property tests: the planner's safety rules hold on random clusters, for every request kind.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kmedic_master::plan::{plan, plan_round, BrokerState, Limits, Plan, Request, Snapshot};
use kmedic_master::sim::{cluster_racks, generate, health, Cluster, Spec};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

mod plan_common;
use plan_common::{random_brokers, shape, Shape};

/// A random cluster: any placement (rack-aware or not), random ISR and leaders, some brokers
/// dead, suspect or draining, some partitions reassigning or with a move in flight.
fn cluster(s: &Shape) -> Cluster {
    let (mut rng, mut c) = random_brokers(s, 1..20, |rng, c, id, cap| {
        let state = match rng.random_range(0..10) {
            0 => BrokerState::Dead,
            1 => BrokerState::Suspect,
            2 => BrokerState::Decommissioning,
            _ => BrokerState::Alive,
        };
        c.set_state(id, state);
        match rng.random_range(0..8) {
            0 => {
                c.set_disk_unknown(id);
            }
            1 => {
                let used = rng.random_range(0..=cap.disk_bytes);
                c.set_disk_used(id, used);
            }
            _ => {}
        }
    });
    let ids: Vec<i32> = (1..=s.brokers as i32).collect();
    for i in 0..s.partitions {
        let topic = format!("t{}", i % 4);
        let mut replicas: Vec<i32> = ids.choose_multiple(&mut rng, s.rf).copied().collect();
        replicas.shuffle(&mut rng);
        let size = rng.random_range(1..100) * 1_000_000_000;
        let idx = c.add_partition(&topic, replicas[0], &replicas, size);
        c.set_rates(
            idx,
            rng.random_range(0..20_000_000),
            rng.random_range(0..40_000_000),
        );
        let p = &mut c.snapshot.partitions[idx];
        p.isr.retain(|_| rng.random_bool(0.8));
        p.leader = match rng.random_range(0..6) {
            0 => None,
            _ => p.isr.choose(&mut rng).copied(),
        };
        if p.leader.is_none() {
            p.isr.clear();
        }
        match rng.random_range(0..12) {
            0 => {
                c.set_reassigning(idx);
            }
            1 => {
                let mut new = replicas.clone();
                new[0] = *ids.choose(&mut rng).unwrap();
                c.add_in_flight(idx, &new);
            }
            _ => {}
        }
    }
    c
}

fn request(kind: u8, c: &Cluster, seed: u64) -> Request {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let with = |s: BrokerState| -> Vec<i32> {
        c.snapshot
            .brokers
            .iter()
            .filter(|b| b.state == s)
            .map(|b| b.id)
            .collect()
    };
    match kind {
        0 => {
            let mut dead = with(BrokerState::Dead);
            if dead.is_empty() {
                dead.push(rng.random_range(1..=c.snapshot.brokers.len() as i32));
            }
            Request::Heal { dead }
        }
        1 => {
            let mut brokers = with(BrokerState::Decommissioning);
            brokers.push(rng.random_range(1..=c.snapshot.brokers.len() as i32));
            Request::Decommission { brokers }
        }
        2 => Request::Balance,
        3 => Request::SpreadLeaders,
        _ => Request::PreferredLeaders,
    }
}

fn excluded(req: &Request) -> Vec<i32> {
    match req {
        Request::Heal { dead } => dead.clone(),
        Request::Decommission { brokers } => brokers.clone(),
        _ => Vec::new(),
    }
}

/// Checks every safety rule of `p` against its input.
fn check(snap: &Snapshot, limits: &Limits, req: &Request, p: &Plan) {
    let ex = excluded(req);
    let broker: HashMap<i32, _> = snap.brokers.iter().map(|b| (b.id, b)).collect();
    let accepts = |id: i32| {
        broker
            .get(&id)
            .is_some_and(|b| b.state == BrokerState::Alive)
            && !ex.contains(&id)
    };
    // Rule 1 counts the cluster's racks, live or not: a dead AZ never turns diversity off.
    let racks = cluster_racks(snap);
    let rack = |id: i32| broker.get(&id).map(|b| b.rack.as_str());
    let part: HashMap<(&str, i32), &_> = snap
        .partitions
        .iter()
        .map(|q| ((&**snap.topic_name(q.topic), q.partition), q))
        .collect();
    let in_flight: BTreeSet<(&str, i32)> = snap
        .in_flight
        .iter()
        .map(|m| (&**snap.topic_name(m.topic), m.partition))
        .collect();
    let frozen = |t: &str, n: i32| part[&(t, n)].reassigning || in_flight.contains(&(t, n));

    let mut seen = BTreeSet::new();
    let mut incoming: BTreeMap<i32, u32> = BTreeMap::new();
    let mut outgoing: BTreeMap<i32, u32> = BTreeMap::new();
    for m in &p.moves {
        let q = part[&(&*m.topic, m.partition)];
        assert!(
            seen.insert((m.topic.clone(), m.partition)),
            "two moves for {m}"
        );
        assert!(
            !frozen(&m.topic, m.partition),
            "frozen partition moved: {m}"
        );
        assert_eq!(m.old_replicas, q.replicas, "{m}");
        // RF kept, no duplicate broker.
        assert_eq!(m.new_replicas.len(), m.old_replicas.len(), "{m}");
        let distinct: BTreeSet<_> = m.new_replicas.iter().collect();
        assert_eq!(distinct.len(), m.new_replicas.len(), "{m}");
        let added: Vec<i32> = m
            .new_replicas
            .iter()
            .copied()
            .filter(|r| !m.old_replicas.contains(r))
            .collect();
        let removed: Vec<i32> = m
            .old_replicas
            .iter()
            .copied()
            .filter(|r| !m.new_replicas.contains(r))
            .collect();
        assert_eq!(m.bytes_to_copy, q.size_bytes * added.len() as u64, "{m}");
        for &a in &added {
            assert!(
                accepts(a),
                "moved onto broker {a} that accepts nothing: {m}"
            );
            assert!(
                broker[&a].disk_known,
                "moved onto broker {a} whose disk capacity is unknown: {m}"
            );
            *incoming.entry(a).or_default() += 1;
            // Racks distinct whenever the cluster has enough racks.
            if racks >= m.new_replicas.len() {
                let same = m
                    .new_replicas
                    .iter()
                    .filter(|&&r| rack(r) == rack(a))
                    .count();
                assert_eq!(same, 1, "rack shared by added replica {a}: {m}");
            }
        }
        for &r in &removed {
            // A broker the request says is dead serves nothing: its moves do not count.
            let dead = matches!(req, Request::Heal { .. })
                || broker.get(&r).is_none_or(|b| b.state == BrokerState::Dead);
            if !dead {
                *outgoing.entry(r).or_default() += 1;
            }
        }
        // ISR never shrinks: only replaced replicas leave, and for heal/decommission only
        // replicas on the drained brokers.
        assert_eq!(added.len(), removed.len(), "{m}");
        if !ex.is_empty() {
            assert!(
                removed.iter().all(|r| ex.contains(r)),
                "kept replica removed: {m}"
            );
        }
        // Slots keep their place (in-place replacement), except in a pure reorder; a move
        // joined with a reorder (an election then a follower moved) keeps the reordered slots.
        if !added.is_empty() {
            let mut old = m.old_replicas.clone();
            let reordered = p
                .elections
                .iter()
                .find(|e| e.after_reorder && e.topic == m.topic && e.partition == m.partition);
            if let Some(e) = reordered {
                let k = old.iter().position(|&r| r == e.new_leader);
                assert!(k.is_some(), "reorder to a replica not in the old list: {m}");
                old.swap(0, k.unwrap_or(0));
                assert_eq!(m.new_replicas.first(), Some(&e.new_leader), "{m} vs {e}");
            }
            for (o, n) in old.iter().zip(&m.new_replicas) {
                assert!(
                    o == n || removed.contains(o) && added.contains(n),
                    "slot changed: {m}"
                );
            }
        }
    }
    // Preferred-leader elections move nothing, not even a reorder.
    if matches!(req, Request::PreferredLeaders) {
        assert!(p.moves.is_empty(), "{p}");
        for e in &p.elections {
            let q = part[&(&*e.topic, e.partition)];
            assert_eq!(Some(&e.new_leader), q.replicas.first(), "{e}");
        }
    }
    // Spreading leaders moves no data: its only moves are zero-copy reorders.
    if matches!(req, Request::SpreadLeaders) {
        assert_eq!(p.totals.bytes_moved, 0);
        for m in &p.moves {
            let (mut a, mut b) = (m.old_replicas.clone(), m.new_replicas.clone());
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "spread leaders changed a replica set: {m}");
        }
    }
    let mut elected = BTreeSet::new();
    for e in &p.elections {
        let q = part[&(&*e.topic, e.partition)];
        assert!(
            elected.insert((e.topic.clone(), e.partition)),
            "two elections: {e}"
        );
        assert!(
            !frozen(&e.topic, e.partition),
            "frozen partition elected: {e}"
        );
        assert!(q.isr.contains(&e.new_leader), "leader not in ISR: {e}");
        assert!(
            accepts(e.new_leader),
            "leader on a broker that accepts nothing: {e}"
        );
    }
    assert!(p.totals.bytes_moved <= limits.max_bytes_to_move);
    assert_eq!(
        p.totals.bytes_moved,
        p.moves.iter().map(|m| m.bytes_to_copy).sum::<u64>()
    );
    for (b, n) in incoming.iter().chain(&outgoing) {
        assert!(*n <= limits.max_moves_per_broker, "broker {b}: {n} moves");
    }
    // Targets stay within capacity after the plan (same load model as the planner).
    let mut after = Cluster {
        snapshot: snap.clone(),
    };
    after.apply(p);
    let mut disk_before: BTreeMap<i32, u64> = BTreeMap::new();
    for q in &snap.partitions {
        for r in &q.replicas {
            *disk_before.entry(*r).or_default() += q.size_bytes;
        }
    }
    for m in &snap.in_flight {
        let q = part[&(&**snap.topic_name(m.topic), m.partition)];
        for r in m.new_replicas.iter().filter(|r| !q.replicas.contains(r)) {
            *disk_before.entry(*r).or_default() += q.size_bytes;
        }
    }
    let mut load: BTreeMap<i32, (u64, u64, u64)> = BTreeMap::new();
    for q in &after.snapshot.partitions {
        for r in &q.replicas {
            let l = load.entry(*r).or_default();
            l.0 += q.bytes_in_per_sec;
            l.2 += q.size_bytes;
        }
        if let Some(l) = q.leader {
            load.entry(l).or_default().1 +=
                q.bytes_out_per_sec + q.bytes_in_per_sec * (q.replicas.len() as u64 - 1);
        }
    }
    let new_leaders: BTreeSet<i32> = p.elections.iter().map(|e| e.new_leader).collect();
    for (&b, &(i, o, d)) in &load {
        let Some(info) = broker.get(&b) else { continue };
        let cap = info.capacity;
        if incoming.contains_key(&b) {
            assert!(
                i <= cap.net_in_bytes_per_sec,
                "broker {b} net in {i} over capacity"
            );
            let disk_limit = limits.max_disk_utilization * cap.disk_bytes as f64;
            assert!(d as f64 <= disk_limit, "broker {b} disk {d} over limit");
            // Reported used bytes count too: the larger of used and replica sizes, plus what
            // the plan added.
            if let Some(used) = info.disk_used_bytes {
                let before = disk_before.get(&b).copied().unwrap_or(0);
                let projected = used.max(before) as f64 + d as f64 - before as f64;
                assert!(
                    projected <= disk_limit,
                    "broker {b} disk {projected} (used {used}) over limit"
                );
            }
        }
        if new_leaders.contains(&b) {
            assert!(
                o <= cap.net_out_bytes_per_sec,
                "broker {b} net out {o} over capacity"
            );
        }
    }
    // Heal and decommission: every replica on a drained broker moved or reported.
    if !ex.is_empty() {
        let unplaced: BTreeSet<(&str, i32, i32)> = p
            .unplaceable
            .iter()
            .map(|u| (&*u.topic, u.partition, u.replica))
            .collect();
        for q in &after.snapshot.partitions {
            for r in q.replicas.iter().filter(|r| ex.contains(r)) {
                let t = &**snap.topic_name(q.topic);
                assert!(
                    unplaced.contains(&(t, q.partition, *r)),
                    "{t}-{} left on {r} unreported",
                    q.partition
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn plans_keep_every_rule(
        s in shape(1..12, 1..5, 0..40, 1..4),
        kind in 0u8..5,
        budget_gb in 1u64..2_000,
        max_moves in 1u32..8,
        ratio in 1.0f64..1.5,
    ) {
        let c = cluster(&s);
        let req = request(kind, &c, s.seed);
        let limits = Limits {
            target_ratio: ratio,
            max_bytes_to_move: budget_gb * 1_000_000_000,
            max_moves_per_broker: max_moves,
            ..Limits::default()
        };
        let p = plan(&c.snapshot, &limits, &req);
        check(&c.snapshot, &limits, &req, &p);
        // Same input, same output; and broker order in the snapshot does not matter.
        prop_assert_eq!(&plan(&c.snapshot, &limits, &req), &p);
        let mut shuffled = c.snapshot.clone();
        shuffled.brokers.reverse();
        prop_assert_eq!(&plan(&shuffled, &limits, &req), &p);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// DESIGN.md rule 1 under random dead and suspect sets (whole AZs included): on a
    /// rack-aware cluster with at least RF racks, no heal, decommission or balance ever puts two
    /// replicas of a partition in one rack. What cannot be placed is reported instead.
    #[test]
    fn never_two_replicas_in_one_rack_with_at_least_rf_racks(
        seed in any::<u64>(),
        racks in 3usize..5,
        per_rack in 1usize..4,
        dead_mask in any::<u16>(),
        suspect_mask in any::<u16>(),
        whole_rack in proptest::option::of(0usize..5),
        kind in 0u8..3,
    ) {
        let brokers = racks * per_rack;
        let mut spec = Spec::new(brokers, 60 * brokers, seed);
        spec.racks = racks;
        spec.topics = 3;
        let mut c = generate(&spec);
        prop_assume!(health(&c.snapshot).rack_violations == 0);
        let mut dead = Vec::new();
        for b in 1..=brokers as i32 {
            let in_dead_rack = whole_rack.is_some_and(|r| (b as usize - 1) % racks == r);
            if in_dead_rack || dead_mask & (1 << (b % 16)) != 0 && b % 3 == 0 {
                dead.push(b);
            } else if suspect_mask & (1 << (b % 16)) != 0 {
                c.set_state(b, BrokerState::Suspect);
            }
        }
        for &b in &dead {
            c.kill(b);
        }
        let req = match kind {
            0 if !dead.is_empty() => Request::Heal { dead: dead.clone() },
            1 => Request::Decommission { brokers: vec![(seed % brokers as u64) as i32 + 1] },
            _ => Request::Balance,
        };
        let limits = Limits::default();
        let p = plan(&c.snapshot, &limits, &req);
        check(&c.snapshot, &limits, &req, &p);
        c.apply(&p);
        prop_assert_eq!(health(&c.snapshot).rack_violations, 0, "{}", p);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// `plan_round` over any sequence of requests: one move and one election per partition at
    /// most, elections agree with moves, frozen partitions untouched, targets healthy and with
    /// known disk, racks distinct whenever the cluster has enough racks.
    #[test]
    fn a_round_plan_is_consistent(
        s in shape(3..12, 1..5, 0..40, 1..4),
        kinds in proptest::collection::vec(0u8..5, 1..5),
    ) {
        let c = cluster(&s);
        let reqs: Vec<Request> = kinds.iter().map(|&k| request(k, &c, s.seed)).collect();
        let limits = Limits::default();
        let p = plan_round(&c.snapshot, &limits, &reqs);
        let snap = &c.snapshot;
        let excluded: BTreeSet<i32> = reqs.iter().flat_map(excluded).collect();
        let broker: HashMap<i32, _> = snap.brokers.iter().map(|b| (b.id, b)).collect();
        let rack_count = cluster_racks(snap);
        let frozen: BTreeSet<(&str, i32)> = snap
            .partitions
            .iter()
            .filter(|q| q.reassigning)
            .map(|q| (&**snap.topic_name(q.topic), q.partition))
            .chain(snap.in_flight.iter().map(|m| (&**snap.topic_name(m.topic), m.partition)))
            .collect();
        let mut moved = BTreeMap::new();
        for m in &p.moves {
            prop_assert!(moved.insert((&*m.topic, m.partition), m).is_none(), "two moves: {}", m);
            prop_assert!(!frozen.contains(&(&*m.topic, m.partition)), "frozen moved: {}", m);
            for a in m.new_replicas.iter().filter(|r| !m.old_replicas.contains(r)) {
                let b = broker[a];
                prop_assert!(b.state == BrokerState::Alive && b.disk_known, "{}", m);
                prop_assert!(!excluded.contains(a), "onto a drained broker: {}", m);
                if rack_count >= m.new_replicas.len() {
                    let same = m.new_replicas.iter().filter(|r| broker.get(r).map(|x| &x.rack) == Some(&b.rack)).count();
                    prop_assert_eq!(same, 1, "rack shared: {}", m);
                }
            }
        }
        let mut elected = BTreeSet::new();
        for e in &p.elections {
            prop_assert!(elected.insert((&*e.topic, e.partition)), "two elections: {}", e);
            prop_assert!(!frozen.contains(&(&*e.topic, e.partition)), "frozen elected: {}", e);
            if let Some(m) = moved.get(&(&*e.topic, e.partition)) {
                prop_assert_eq!(m.new_replicas[0], e.new_leader, "{} vs {}", m, e);
            }
        }
        prop_assert!(p.totals.bytes_moved <= limits.max_bytes_to_move);
        // One request alone is the same as `plan`.
        prop_assert_eq!(&plan_round(snap, &limits, &reqs[..1]), &plan(snap, &limits, &reqs[0]));
    }
}
