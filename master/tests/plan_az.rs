//! Issue 11 item 1: each topic's leaders within ±1 per AZ (rack), by elections only, in
//! spread-leaders plans and in balance plans, never over a broker's net-out limit.

use std::collections::BTreeMap;

use kmedic_master::plan::{plan, plan_round, Capacity, Limits, Request, Snapshot};
use kmedic_master::sim::{generate, rack_name, Cluster, Spec};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

mod plan_common;
use plan_common::{add_rated, assert_elections_only, six};

const RACKS: usize = 3;

/// Topic name -> leaders per rack index (racks named by `rack_name`).
fn leaders_per_rack(snap: &Snapshot) -> BTreeMap<String, [u32; RACKS]> {
    let rack_of = |id: i32| {
        let r = &snap.broker(id).expect("known broker").rack;
        (0..RACKS).position(|i| &rack_name(i) == r).expect("rack")
    };
    let mut out: BTreeMap<String, [u32; RACKS]> = BTreeMap::new();
    for p in &snap.partitions {
        let entry = out.entry(snap.topic_name(p.topic).to_string()).or_default();
        if let Some(l) = p.leader {
            entry[rack_of(l)] += 1;
        }
    }
    out
}

fn spread_of(c: &[u32; RACKS]) -> u32 {
    c.iter().max().unwrap_or(&0) - c.iter().min().unwrap_or(&0)
}

/// The smallest max - min any choice of leaders allows: a partition whose replicas are all in
/// sync and that has a leader may be led from the rack of any replica; any other keeps its
/// leader (the planner leaves it alone). Exhaustive, so only for small topics.
fn best_spread(snap: &Snapshot, topic: &str) -> u32 {
    let rack_of = |id: i32| {
        let r = &snap.broker(id).expect("known broker").rack;
        (0..RACKS).position(|i| &rack_name(i) == r).expect("rack")
    };
    let mut choices: Vec<Vec<usize>> = Vec::new();
    for p in &snap.partitions {
        if &**snap.topic_name(p.topic) != topic {
            continue;
        }
        let Some(l) = p.leader else { continue };
        let free = p.replicas.iter().all(|r| p.isr.contains(r));
        let mut racks: Vec<usize> = if free {
            p.replicas.iter().map(|&r| rack_of(r)).collect()
        } else {
            vec![rack_of(l)]
        };
        racks.sort_unstable();
        racks.dedup();
        choices.push(racks);
    }
    let mut best = u32::MAX;
    let mut counts = [0u32; RACKS];
    fn walk(choices: &[Vec<usize>], counts: &mut [u32; RACKS], best: &mut u32) {
        match choices.split_first() {
            None => *best = (*best).min(spread_of(counts)),
            Some((first, rest)) => {
                for &r in first {
                    counts[r] += 1;
                    walk(rest, counts, best);
                    counts[r] -= 1;
                }
            }
        }
    }
    walk(&choices, &mut counts, &mut best);
    best
}

/// Random placement (rack-aware or not), random ISR, leaders in the ISR, all brokers alive.
fn cluster(seed: u64, brokers: usize, parts: usize, rf: usize, rates: bool) -> Cluster {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut c = Cluster::new();
    for i in 0..brokers {
        let cap = Capacity {
            net_in_bytes_per_sec: 1_000_000_000,
            net_out_bytes_per_sec: rng.random_range(20..200) * 1_000_000,
            disk_bytes: 10_000_000_000_000,
        };
        c.add_broker_with(i as i32 + 1, &rack_name(i % RACKS), cap);
    }
    let ids: Vec<i32> = (1..=brokers as i32).collect();
    for i in 0..parts {
        let topic = format!("t{}", i % 2);
        let mut replicas: Vec<i32> = ids
            .choose_multiple(&mut rng, rf.min(brokers))
            .copied()
            .collect();
        replicas.shuffle(&mut rng);
        let idx = c.add_partition(&topic, replicas[0], &replicas, 1_000_000);
        if rates {
            c.set_rates(
                idx,
                rng.random_range(0..10_000_000),
                rng.random_range(0..20_000_000),
            );
        }
        let p = &mut c.snapshot.partitions[idx];
        let leader = replicas[rng.random_range(0..replicas.len())];
        p.leader = Some(leader);
        p.isr.retain(|&r| r == leader || rng.random_bool(0.85));
    }
    c
}

/// Net out per broker under the planner's load model.
fn net_out(snap: &Snapshot) -> BTreeMap<i32, u64> {
    let mut out: BTreeMap<i32, u64> = snap.brokers.iter().map(|b| (b.id, 0)).collect();
    for p in &snap.partitions {
        if let Some(l) = p.leader {
            let followers = p.replicas.len().saturating_sub(1) as u64;
            *out.entry(l).or_default() += p.bytes_out_per_sec + p.bytes_in_per_sec * followers;
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Without capacity limits in the way, spread-leaders reaches the best max - min over racks
    /// that the replicas allow, for every topic (±1 whenever any choice of leaders gives ±1):
    /// RF 1 to 3 on 3 racks, any placement, random ISR. Elections only.
    #[test]
    fn spread_reaches_the_best_the_replicas_allow(
        seed in any::<u64>(),
        brokers in 3usize..10,
        parts in 0usize..14,
        rf in 1usize..4,
    ) {
        let mut c = cluster(seed, brokers, parts, rf, false);
        let p = plan(&c.snapshot, &Limits::default(), &Request::SpreadLeaders);
        assert_elections_only(&p);
        for e in &p.elections {
            let q = &c.snapshot.partitions[c.find(&e.topic, e.partition).expect("partition")];
            prop_assert!(q.isr.contains(&e.new_leader), "leader not in ISR: {e}");
        }
        let before = c.snapshot.clone();
        c.apply(&p);
        for (topic, counts) in leaders_per_rack(&c.snapshot) {
            let best = best_spread(&before, &topic);
            prop_assert_eq!(spread_of(&counts), best, "topic {} per rack {:?}", topic, counts);
            if best <= 1 {
                prop_assert!(spread_of(&counts) <= 1);
            }
        }
        // Nothing left to do: a second plan is empty.
        let again = plan(&c.snapshot, &Limits::default(), &Request::SpreadLeaders);
        prop_assert!(again.elections.is_empty(), "{}", again);
    }

    /// With real rates and random net-out capacities, no spread election takes a broker over
    /// its net-out capacity (the overload detector's limit), so the spread never creates work
    /// for the network balance; elections only.
    #[test]
    fn spread_never_overloads_a_new_leader(
        seed in any::<u64>(),
        brokers in 3usize..10,
        parts in 0usize..30,
        rf in 1usize..4,
    ) {
        let mut c = cluster(seed, brokers, parts, rf, true);
        let before = net_out(&c.snapshot);
        let p = plan(&c.snapshot, &Limits::default(), &Request::SpreadLeaders);
        assert_elections_only(&p);
        c.apply(&p);
        for (id, after) in net_out(&c.snapshot) {
            let cap = c.snapshot.broker(id).expect("broker").capacity.net_out_bytes_per_sec;
            if after > before[&id] {
                prop_assert!(after <= cap, "broker {id}: net out {after} > capacity {cap}");
            }
        }
    }

    /// A balance plan includes the AZ spread: on a rack-aware RF 3 cluster whose leaders all
    /// sit in az-a, one balance plan leaves every topic within ±1 per rack, by elections only.
    #[test]
    fn a_balance_plan_leaves_every_topic_within_one_per_rack(
        seed in any::<u64>(),
        brokers in 3usize..12,
        replicas in 3usize..300,
    ) {
        let mut spec = Spec::new(brokers.max(3), replicas, seed);
        spec.topics = 4;
        let mut c = generate(&spec);
        let first_rack: Vec<i32> = c
            .snapshot
            .brokers
            .iter()
            .filter(|b| b.rack == rack_name(0))
            .map(|b| b.id)
            .collect();
        for p in &mut c.snapshot.partitions {
            p.bytes_in_per_sec = 0;
            p.bytes_out_per_sec = 0;
            // Equal sizes would still leave disk to balance; this is about leaders only.
            p.size_bytes = 0;
            // Skew: the first rack's replica first and leading.
            if let Some(k) = p.replicas.iter().position(|r| first_rack.contains(r)) {
                p.replicas.swap(0, k);
                p.leader = Some(p.replicas[0]);
            }
        }
        // Replica-count balance moves replicas (zero bytes here): off, this is about leaders.
        // The leader-count band stays on: its elections run inside balance before the spread
        // and must never undo a topic's AZ spread (seed 0 / 3 brokers / 21 replicas once ended
        // a topic at 0/2/1).
        let limits = Limits {
            replica_count_band: 0.0,
            ..Limits::default()
        };
        let p = plan_round(&c.snapshot, &limits, &[Request::Balance]);
        assert_elections_only(&p);
        let before = c.snapshot.clone();
        c.apply(&p);
        for (topic, counts) in leaders_per_rack(&c.snapshot) {
            if best_small(&before, &topic) {
                prop_assert!(spread_of(&counts) <= 1, "topic {} per rack {:?}", topic, counts);
            }
        }
    }
}

/// Whether every partition of `topic` is in sync with a replica in every rack (then ±1 is
/// always possible).
fn best_small(snap: &Snapshot, topic: &str) -> bool {
    snap.partitions
        .iter()
        .filter(|p| &**snap.topic_name(p.topic) == topic)
        .all(|p| {
            let mut racks: Vec<String> = p
                .replicas
                .iter()
                .map(|&r| snap.broker(r).expect("broker").rack.clone())
                .collect();
            racks.sort();
            racks.dedup();
            p.leader.is_some()
                && racks.len() == RACKS
                && p.replicas.iter().all(|r| p.isr.contains(r))
        })
}

/// Balance and the spread agree within one plan: broker 1 (az-a) is over its net out and leads
/// every partition of "hot"; the balance elections take leadership off it and the spread then
/// evens "hot" across racks within the balance's own limits, so the next round has nothing to
/// do (no fight between rounds).
#[test]
fn balance_and_spread_agree_and_the_next_round_is_quiet() {
    let mut c = six();
    let cap = c.snapshot.brokers[0].capacity.net_out_bytes_per_sec;
    let rows: [[i32; 3]; 6] = [
        [1, 3, 5],
        [1, 4, 6],
        [1, 3, 6],
        [1, 4, 5],
        [2, 3, 5],
        [2, 4, 6],
    ];
    // Size 0: this is about net out, not the disk goal. Four partitions on broker 1 put it at
    // 1.2x its capacity.
    add_rated(&mut c, "hot", None, &rows, 0, (0, cap * 3 / 10));
    let limits = Limits {
        target_ratio: 1.2,
        // Replica-count balance would move replicas (zero bytes here); this is about leaders.
        replica_count_band: 0.0,
        ..Limits::default()
    };
    let round = [Request::Balance, Request::SpreadLeaders];
    let p = plan_round(&c.snapshot, &limits, &round);
    assert_elections_only(&p);
    assert!(!p.elections.is_empty(), "{p}");
    c.apply(&p);
    assert_eq!(leaders_per_rack(&c.snapshot)["hot"], [2, 2, 2]);
    for (id, out) in net_out(&c.snapshot) {
        assert!(
            out <= cap,
            "broker {id} over capacity after the plan: {out}"
        );
    }
    let next = plan_round(&c.snapshot, &limits, &round);
    assert!(next.elections.is_empty() && next.moves.is_empty(), "{next}");
}
