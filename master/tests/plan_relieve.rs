//! `Request::Relieve`: an overloaded broker brought under its own limits with the fewest bytes,
//! nothing else touched. Examples (the e2e overload trial's shape) and property tests on random
//! clusters: relief never raises another broker over a limit, never breaks rack diversity,
//! moves only partitions with a replica on a relieved broker, and never copies more bytes than
//! a balance would.

use std::collections::BTreeMap;

use kmedic_master::plan::{
    plan, BrokerState, Capacity, Limits, MoveReason, Plan, Request, Resource, Snapshot, Warning,
};
use kmedic_master::sim::{cluster_racks, rack_name, Cluster};
use proptest::prelude::*;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;

mod plan_common;
use plan_common::{random_brokers, shape, Shape};

const MB: u64 = 1_000_000;
const GB: u64 = 1_000_000_000;

/// (net in, net out, disk) per broker under the planner's load model.
fn loads(snap: &Snapshot) -> BTreeMap<i32, [u64; 3]> {
    let mut load: BTreeMap<i32, [u64; 3]> = snap.brokers.iter().map(|b| (b.id, [0; 3])).collect();
    for q in &snap.partitions {
        for r in &q.replicas {
            let l = load.entry(*r).or_default();
            l[0] += q.bytes_in_per_sec;
            l[2] += q.size_bytes;
        }
        if let Some(l) = q.leader {
            load.entry(l).or_default()[1] +=
                q.bytes_out_per_sec + q.bytes_in_per_sec * (q.replicas.len() as u64 - 1);
        }
    }
    load
}

fn after(c: &Cluster, p: &Plan) -> Snapshot {
    let mut a = Cluster {
        snapshot: c.snapshot.clone(),
    };
    a.apply(p);
    a.snapshot
}

fn set_cap(c: &mut Cluster, id: i32, net_in: u64, net_out: u64) {
    let b = c.snapshot.brokers.iter_mut().find(|b| b.id == id).unwrap();
    b.capacity.net_in_bytes_per_sec = net_in;
    b.capacity.net_out_bytes_per_sec = net_out;
}

/// Brokers 1 to 6 over racks az-a, az-b, az-c (round-robin), each with `net` bytes/s of net
/// in and out and 10 TB of disk.
fn six_brokers(net: u64) -> Cluster {
    let mut c = Cluster::new();
    let cap = Capacity {
        net_in_bytes_per_sec: net,
        net_out_bytes_per_sec: net,
        disk_bytes: 10_000 * GB,
    };
    for id in 1..=6 {
        c.add_broker_with(id, &rack_name((id as usize - 1) % 3), cap);
    }
    c
}

/// The e2e trial's shape on a busy cluster: broker 2 leads five hot partitions (RF 2, a
/// follower on each other broker) with low limits; the rest of the cluster carries uneven
/// unrelated load that a balance evens out.
fn hot_two() -> Cluster {
    let mut c = six_brokers(100 * MB);
    for (k, f) in [1, 3, 4, 5, 6].into_iter().enumerate() {
        let i = c.add_partition(&format!("hot{k}"), 2, &[2, f], 6 * GB);
        c.set_rates(i, 3 * MB, 0);
    }
    // Unrelated, uneven: brokers 1 and 3 carry most of it.
    for n in 0..24 {
        let reps = match n % 4 {
            0 => [1, 3, 5],
            1 => [3, 1, 6],
            2 => [1, 4, 3],
            _ => [4, 3, 5],
        };
        let i = c.add_partition("bulk", reps[0], &reps, 50 * GB);
        c.set_rates(i, 2 * MB, 2 * MB);
    }
    set_cap(&mut c, 2, 10 * MB, 10 * MB);
    c
}

#[test]
fn relief_moves_only_the_hot_brokers_partitions_and_fewer_bytes_than_balance() {
    let c = hot_two();
    let limits = Limits::default();
    let before = loads(&c.snapshot);
    assert!(
        before[&2][0] > 10 * MB && before[&2][1] > 10 * MB,
        "{before:?}"
    );
    let relief = plan(&c.snapshot, &limits, &Request::Relieve { brokers: vec![2] });
    let balance = plan(&c.snapshot, &limits, &Request::Balance);
    assert!(relief.warnings.is_empty(), "{relief}");
    let l = loads(&after(&c, &relief))[&2];
    assert!(l[0] <= 10 * MB && l[1] <= 10 * MB, "{l:?}\n{relief}");
    for m in &relief.moves {
        assert!(m.topic.starts_with("hot"), "unrelated partition moved: {m}");
        // The operator reads why: a relief of broker 2 over its own limit, not a balance
        // (zero-copy reorders carry their election's why).
        let why = m.reason.to_string();
        assert!(
            m.bytes_to_copy == 0
                || why.starts_with("relieve: broker 2 ")
                    && why
                        .contains(" over 90 % of its configured limit 10000000 B/s (9000000 B/s)"),
            "{why}"
        );
    }
    for e in &relief.elections {
        assert_eq!(e.old_leader, Some(2), "{e}");
    }
    // Net in 15 MB/s over 10: two hot replicas (6 GB each) is the least that clears it.
    assert_eq!(relief.totals.bytes_moved, 12 * GB, "{relief}");
    assert!(
        balance.moves.iter().any(|m| !m.topic.starts_with("hot")),
        "the balance should even the unrelated load too: {balance}"
    );
    assert!(
        balance.totals.bytes_moved > relief.totals.bytes_moved,
        "balance {} <= relief {}",
        balance.totals.bytes_moved,
        relief.totals.bytes_moved
    );
}

/// Broker 2 follows four partitions (net in 6, 5, 4 and 10 MB/s; 1, 3, 10 and 15 GB) and is
/// 10 MB/s over 90 % of its net-in limit; the other five brokers carry even bulk load with room
/// for each. The cheapest relief is the 1 GB and 3 GB replicas (11 MB/s, 4 GB). Relief's cover
/// before took the 1 GB one, then only replicas no bigger than the 4 MB/s left (the 10 GB one)
/// and skipped the 3 GB one that clears it with room to spare: 11 GB (this test failed so).
#[test]
fn relief_takes_the_replica_just_over_a_small_excess_left() {
    let mut c = six_brokers(200 * MB);
    // Broker 2 the disk peak, so the targets' disk is not what limits them.
    c.snapshot.brokers[1].capacity.disk_bytes = 100 * GB;
    // 156 MB/s on each: the mean puts balance's own limit for broker 2 (14.5 MB/s) near the
    // 15 MB/s margin, so no way of relief's reaches the cheap pair by another excess.
    for pair in [[1, 3], [3, 4], [4, 5], [5, 6], [6, 1]] {
        let i = c.add_partition("bulk", pair[0], &pair, 100 * GB);
        c.set_rates(i, 78 * MB, 0);
    }
    for (name, leader, size, bytes_in) in [
        ("a", 1, 1, 6),
        ("f", 3, 3, 5),
        ("d", 4, 10, 4),
        ("e", 5, 15, 10),
    ] {
        let i = c.add_partition(name, leader, &[leader, 2], size * GB);
        c.set_rates(i, bytes_in * MB, 0);
    }
    // 25 MB/s in; 90 % of 16.67 MB/s is 15 MB/s: 10 MB/s over.
    set_cap(&mut c, 2, 16_666_667, 200 * MB);
    let limits = Limits::default();
    let p = plan(&c.snapshot, &limits, &Request::Relieve { brokers: vec![2] });
    check_relief(&c, &limits, &[2], &p);
    assert!(p.warnings.is_empty(), "{p}");
    assert_eq!(p.totals.bytes_moved, 4 * GB, "{p}");
    let mut topics: Vec<&str> = p.moves.iter().map(|m| &*m.topic).collect();
    topics.sort_unstable();
    assert_eq!(topics, ["a", "f"], "{p}");
}

#[test]
fn relief_without_room_says_so_with_figures() {
    let mut c = hot_two();
    // Every other broker's net in at its limit: no target for a hot replica.
    for id in [1, 3, 4, 5, 6] {
        let l = loads(&c.snapshot)[&id];
        set_cap(&mut c, id, l[0], 100 * MB);
    }
    let p = plan(
        &c.snapshot,
        &Limits::default(),
        &Request::Relieve { brokers: vec![2] },
    );
    assert_eq!(p.totals.bytes_moved, 0, "{p}");
    assert!(
        p.warnings.contains(&Warning::StillOverLimit {
            broker: 2,
            resource: Resource::NetIn,
            load_bytes_per_sec: 15 * MB,
            limit_bytes_per_sec: 10 * MB,
        }),
        "{p}"
    );
}

#[test]
fn relief_of_an_unknown_broker_is_a_warning() {
    let c = hot_two();
    let p = plan(
        &c.snapshot,
        &Limits::default(),
        &Request::Relieve { brokers: vec![99] },
    );
    assert!(p.moves.is_empty() && p.elections.is_empty(), "{p}");
    assert_eq!(p.warnings, vec![Warning::UnknownBroker { id: 99 }]);
}

/// A random cluster with `hot` brokers over their own network limits.
fn cluster(s: &Shape, aware: bool) -> Cluster {
    let (mut rng, mut c) = random_brokers(s, 5..30, |rng, c, id, _| {
        let state = match rng.random_range(0..12) {
            0 => BrokerState::Dead,
            1 => BrokerState::Suspect,
            _ => BrokerState::Alive,
        };
        c.set_state(id, state);
    });
    let Shape {
        brokers,
        racks,
        partitions,
        rf,
        ..
    } = *s;
    let ids: Vec<i32> = (1..=brokers as i32).collect();
    let aware = aware || rng.random_bool(0.5);
    for i in 0..partitions {
        let mut replicas: Vec<i32> = if aware {
            let mut rs: Vec<usize> = (0..racks).collect();
            rs.shuffle(&mut rng);
            rs.iter()
                .take(rf)
                .map(|&r| {
                    let in_rack: Vec<i32> = ids
                        .iter()
                        .copied()
                        .filter(|&b| (b as usize - 1) % racks == r)
                        .collect();
                    in_rack.choose(&mut rng).copied().unwrap_or(1)
                })
                .collect()
        } else {
            ids.choose_multiple(&mut rng, rf).copied().collect()
        };
        replicas.shuffle(&mut rng);
        let size = rng.random_range(1..100) * GB;
        let idx = c.add_partition(&format!("t{}", i % 5), replicas[0], &replicas, size);
        c.set_rates(
            idx,
            rng.random_range(0..20) * MB,
            rng.random_range(0..40) * MB,
        );
        let p = &mut c.snapshot.partitions[idx];
        p.isr.retain(|_| rng.random_bool(0.9));
        p.leader = p.isr.choose(&mut rng).copied();
        if p.leader.is_none() {
            p.isr.clear();
        }
        if rng.random_range(0..12) == 0 {
            c.set_reassigning(idx);
        }
    }
    c
}

/// Lowers the limits of the `n` busiest alive brokers under their load, so they are hot.
fn make_hot(c: &mut Cluster, n: usize, squeeze: f64) -> Vec<i32> {
    let load = loads(&c.snapshot);
    let mut alive: Vec<(u64, i32)> = c
        .snapshot
        .brokers
        .iter()
        .filter(|b| b.state == BrokerState::Alive)
        .map(|b| (load[&b.id][0] + load[&b.id][1], b.id))
        .collect();
    alive.sort_unstable_by(|a, b| b.cmp(a));
    let hot: Vec<i32> = alive.iter().take(n).map(|a| a.1).collect();
    for &id in &hot {
        let l = load[&id];
        let f = |x: u64| ((x as f64 * squeeze) as u64).max(1);
        set_cap(c, id, f(l[0]), f(l[1]));
    }
    let mut hot = hot;
    hot.sort_unstable();
    hot
}

/// Every relief rule on one plan.
fn check_relief(c: &Cluster, limits: &Limits, hot: &[i32], p: &Plan) {
    let snap = &c.snapshot;
    // Every relief move's reason is true: its load is over the figure it names.
    for m in &p.moves {
        if let MoveReason::Relieve {
            load_bytes_per_sec,
            over_bytes_per_sec,
            ..
        } = m.reason
        {
            assert!(load_bytes_per_sec > over_bytes_per_sec, "{m}");
        }
    }
    let brokers: BTreeMap<i32, _> = snap.brokers.iter().map(|b| (b.id, b)).collect();
    let rack = |id: i32| brokers[&id].rack.clone();
    let part = |t: &str, n: i32| {
        snap.partitions
            .iter()
            .find(|q| &**snap.topic_name(q.topic) == t && q.partition == n)
            .unwrap()
    };
    // Only partitions with a replica on a relieved broker; only those replicas leave.
    for m in &p.moves {
        assert!(
            m.old_replicas.iter().any(|r| hot.contains(r)),
            "unrelated move {m}"
        );
        for r in m
            .old_replicas
            .iter()
            .filter(|r| !m.new_replicas.contains(r))
        {
            assert!(
                hot.contains(r),
                "replica on {r} moved off a broker not relieved: {m}"
            );
        }
        for a in m
            .new_replicas
            .iter()
            .filter(|a| !m.old_replicas.contains(a))
        {
            assert!(!hot.contains(a), "moved onto relieved broker {a}: {m}");
            assert_eq!(brokers[a].state, BrokerState::Alive, "onto {a}: {m}");
            // Rack diversity (DESIGN.md rule 1): the added replica's rack is its own.
            if cluster_racks(snap) >= m.new_replicas.len() {
                let same = m
                    .new_replicas
                    .iter()
                    .filter(|&&r| rack(r) == rack(*a))
                    .count();
                assert_eq!(same, 1, "rack shared by added replica {a}: {m}");
            }
        }
        assert!(!part(&m.topic, m.partition).reassigning, "{m}");
    }
    for e in &p.elections {
        let q = part(&e.topic, e.partition);
        assert!(
            q.replicas.iter().any(|r| hot.contains(r)),
            "unrelated election {e}"
        );
        assert!(e.old_leader.is_some_and(|l| hot.contains(&l)), "{e}");
        assert!(
            q.isr.contains(&e.new_leader) && !hot.contains(&e.new_leader),
            "{e}"
        );
    }
    // No other broker raised over a limit, nor above the highest utilization before.
    let before = loads(snap);
    let now = loads(&after(c, p));
    let util = |l: &[u64; 3], cap: &Capacity| {
        [
            l[0] as f64 / cap.net_in_bytes_per_sec as f64,
            l[1] as f64 / cap.net_out_bytes_per_sec as f64,
            l[2] as f64 / cap.disk_bytes as f64,
        ]
    };
    let mut peak = [0f64; 3];
    for b in snap
        .brokers
        .iter()
        .filter(|b| b.state == BrokerState::Alive)
    {
        let u = util(&before[&b.id], &b.capacity);
        for r in 0..3 {
            peak[r] = peak[r].max(u[r]);
        }
    }
    for b in snap.brokers.iter().filter(|b| !hot.contains(&b.id)) {
        let (was, is) = (before[&b.id], now[&b.id]);
        let cap = b.capacity;
        let lim = [
            cap.net_in_bytes_per_sec as f64,
            cap.net_out_bytes_per_sec as f64,
            cap.disk_bytes as f64 * limits.max_disk_utilization,
        ];
        let u = util(&is, &cap);
        for r in 0..3 {
            if is[r] > was[r] {
                assert!(
                    is[r] as f64 <= lim[r],
                    "broker {} resource {r}: {is:?} over {lim:?}\n{p}",
                    b.id
                );
                assert!(
                    u[r] <= peak[r] + 1e-9,
                    "broker {} resource {r} util {} above peak {}\n{p}",
                    b.id,
                    u[r],
                    peak[r]
                );
            }
        }
    }
    // Each relieved broker is under its own limits, or the plan says which and by how much.
    for &h in hot {
        let cap = brokers[&h].capacity;
        let l = now[&h];
        let over_in = l[0] > cap.net_in_bytes_per_sec;
        let over_out = l[1] > cap.net_out_bytes_per_sec;
        let warned = |res: Resource| {
            p.warnings.iter().any(|w| {
                matches!(w, Warning::StillOverLimit { broker, resource, .. }
                    if *broker == h && *resource == res)
            })
        };
        if brokers[&h].state == BrokerState::Alive {
            assert!(
                !over_in || warned(Resource::NetIn),
                "broker {h} in {l:?} {cap:?}\n{p}"
            );
            assert!(
                !over_out || warned(Resource::NetOut),
                "broker {h} out {l:?} {cap:?}\n{p}"
            );
        }
        // Never more load on a relieved broker.
        assert!(
            l[0] <= before[&h][0] && l[1] <= before[&h][1],
            "broker {h}\n{p}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn relief_keeps_every_rule(
        s in shape(4..14, 1..5, 10..80, 1..4),
        hot in 1usize..3,
        squeeze in 0.3f64..0.98,
    ) {
        let mut c = cluster(&s, false);
        let hot = make_hot(&mut c, hot, squeeze);
        let limits = Limits::default();
        let p = plan(&c.snapshot, &limits, &Request::Relieve { brokers: hot.clone() });
        check_relief(&c, &limits, &hot, &p);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Relief never copies more bytes than a balance of the same cluster that also brings the
    /// hot broker under relief's own target: 90 % (`HEADROOM`) of its net in and net out
    /// limits, and its disk limit.
    ///
    /// Why the margin, not the limits themselves: relief stops at the margin (so the
    /// detector's lagging rate does not re-fire), balance at its own limit; a balance that
    /// leaves the broker between the two did less than relief must, and on the seed
    /// 11134226931317142035 (kept in the regressions file) it copied 261 GB and left broker 5
    /// at net in 101 MB/s over its 95 MB/s margin, while relief cleared it with 298 GB (386 GB
    /// before its cover looked at targets), every cheaper replica of broker 5 having no
    /// target: the other replica's rack rules out the brokers with room, and balance made room
    /// on them by moving other brokers' replicas, which relief may not. On 4755219170413534920
    /// the old cover copied 446 GB against balance's 257 GB; it now copies 257 GB.
    ///
    /// Balance seldom brings the hot broker that far (about 1 case in 100 here), hence the
    /// case count.
    #[test]
    fn relief_never_moves_more_than_balance(
        s in shape(4..14, 3..5, 10..80, 2..4),
        squeeze in 0.3f64..0.98,
    ) {
        let mut c = cluster(&s, true);
        let hot = make_hot(&mut c, 1, squeeze);
        prop_assume!(!hot.is_empty());
        let limits = Limits::default();
        let relief = plan(&c.snapshot, &limits, &Request::Relieve { brokers: hot.clone() });
        let balance = plan(&c.snapshot, &limits, &Request::Balance);
        let cap = c.snapshot.brokers.iter().find(|b| b.id == hot[0]).unwrap().capacity;
        let l = loads(&after(&c, &balance))[&hot[0]];
        // Relief's target, `balance::HEADROOM` of the limit.
        let margin = |x: u64| (x as f64 * 0.9) as u64;
        let relieved_by_balance = l[0] <= margin(cap.net_in_bytes_per_sec)
            && l[1] <= margin(cap.net_out_bytes_per_sec)
            && l[2] as f64 <= cap.disk_bytes as f64 * limits.max_disk_utilization;
        if relieved_by_balance {
            prop_assert!(
                relief.totals.bytes_moved <= balance.totals.bytes_moved,
                "relief {} > balance {}\nrelief: {}\nbalance: {}",
                relief.totals.bytes_moved,
                balance.totals.bytes_moved,
                relief,
                balance
            );
        }
    }
}

/// Every relief move's reason names a figure its load is over. Relief works a broker down to
/// 90 % of its configured net limit (`balance::HEADROOM`), so a move made between 90 % and 100 %
/// is over 90 % of the limit, not over the limit; before, it read "net in 990000 B/s over its
/// configured limit 1048576 B/s" (load below the figure it claimed to be over).
#[test]
fn relief_reasons_name_the_figure_the_load_is_over() {
    const MIB: u64 = 1_048_576;
    let mut c = six_brokers(100 * MB);
    // Broker 2 follows ten partitions of 110 000 B/s: 1.1 MB/s in, over 1 MiB/s; two moves.
    let rows = [[1, 2], [3, 2], [4, 2], [5, 2], [6, 2]];
    for _ in 0..2 {
        for r in rows {
            let i = c.add_partition("warm", r[0], &r, MB);
            c.set_rates(i, 110_000, 0);
        }
    }
    set_cap(&mut c, 2, MIB, MIB);
    let p = plan(
        &c.snapshot,
        &Limits::default(),
        &Request::Relieve { brokers: vec![2] },
    );
    assert_eq!(p.moves.len(), 2, "{p}");
    let num = |s: &str| -> u64 {
        s.trim_start_matches(|c: char| !c.is_ascii_digit())
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no figure in {s:?}"))
    };
    let mut under_limit = 0;
    for m in &p.moves {
        let why = m.reason.to_string();
        // "relieve: broker 2 net in <load> B/s over <what> <figure> B/s ..."
        let (head, tail) = why
            .split_once(" B/s over ")
            .unwrap_or_else(|| panic!("{why}"));
        let load = num(head.trim_start_matches("relieve: broker 2"));
        let over = if let Some(t) = tail.strip_prefix("90 % of its configured limit ") {
            assert_eq!(num(t), MIB, "{why}");
            let (_, paren) = t.split_once('(').unwrap_or_else(|| panic!("{why}"));
            num(paren)
        } else {
            num(tail)
        };
        assert!(
            load > over,
            "load {load} not over the figure {over} it names: {why}"
        );
        if load <= MIB {
            under_limit += 1;
            assert!(
                why.contains("over 90 % of its configured limit 1048576 B/s (943718 B/s)"),
                "{why}"
            );
        }
    }
    assert_eq!(under_limit, 1, "{p}");
}
