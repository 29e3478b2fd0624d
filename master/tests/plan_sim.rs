//! Scenario tests on generated clusters: the planner converges, keeps racks, and never copies
//! fewer bytes than the lower bound says any plan must.

use kmedic_master::plan::{plan, Limits, Request};
use kmedic_master::sim::{
    bytes_lower_bound, converged, generate, health, rack_name, Event, Scenario, Spec,
};

#[test]
fn heal_scale_out_and_drain_converge() {
    // 10 brokers per rack; broker 4 (az-a) dies, one broker joins each rack, broker 8 (az-b)
    // is drained: 10, 10 and 11 brokers. With RF 3 over 3 racks each rack carries the same net
    // in, so the largest rack sets the floor of max/mean (31/30), within the 1.10 target.
    let mut spec = Spec::new(30, 6_000, 1);
    spec.topics = 20;
    let limits = Limits {
        target_ratio: 1.10,
        ..Limits::default()
    };
    let mut s = Scenario {
        cluster: generate(&spec),
        events: vec![
            (0, Event::Kill(4)),
            (
                2,
                Event::AddBroker {
                    id: 31,
                    rack: rack_name(0),
                },
            ),
            (
                2,
                Event::AddBroker {
                    id: 32,
                    rack: rack_name(1),
                },
            ),
            (
                2,
                Event::AddBroker {
                    id: 33,
                    rack: rack_name(2),
                },
            ),
            (4, Event::Decommission(8)),
        ],
        limits: limits.clone(),
    };
    let ticks = s.run(8);
    assert!(matches!(ticks[0].request, Request::Heal { .. }));
    assert_eq!(ticks[0].unplaceable, 0);
    assert_eq!(
        ticks[0].health.replicas_on_unhealthy, 0,
        "heal left replicas on the dead broker"
    );
    assert!(ticks[2].moves > 0, "new brokers got nothing");
    assert!(matches!(ticks[4].request, Request::Decommission { .. }));
    for t in &ticks {
        assert_eq!(
            t.health.rack_violations, 0,
            "tick {}: {:?}",
            t.tick, t.health
        );
    }
    assert!(
        converged(&ticks, limits.target_ratio),
        "{:#?}",
        ticks.last()
    );
    // Once converged, balance has nothing left to do.
    let again = plan(&s.cluster.snapshot, &limits, &Request::Balance);
    assert!(again.moves.is_empty(), "{} more moves", again.moves.len());
}

#[test]
fn balance_reaches_target_and_respects_the_lower_bound() {
    for seed in 0..4 {
        let mut spec = Spec::new(27, 9_000, seed);
        spec.topics = 40;
        spec.empty_brokers = 3;
        let mut c = generate(&spec);
        let limits = Limits {
            target_ratio: 1.05,
            ..Limits::default()
        };
        let bound = bytes_lower_bound(&c.snapshot, limits.target_ratio);
        let p = plan(&c.snapshot, &limits, &Request::Balance);
        c.apply(&p);
        let h = health(&c.snapshot);
        assert!(
            h.net_in_max_over_mean <= 1.05 + 1e-9,
            "seed {seed}: {h:?} {:?}",
            p.warnings
        );
        assert!(
            h.net_out_max_over_mean <= 1.05 + 1e-9,
            "seed {seed}: {h:?} {:?}",
            p.warnings
        );
        assert_eq!(h.rack_violations, 0);
        assert!(
            bound > 0,
            "seed {seed}: the scale-out leaves nothing to move?"
        );
        assert!(
            p.totals.bytes_moved >= bound,
            "seed {seed}: moved {} < bound {bound}",
            p.totals.bytes_moved
        );
    }
}

#[test]
fn balance_evens_racks_it_cannot_empty() {
    // 12 brokers in az-a but 9 in az-b and az-c: at RF 3 every rack carries the same net in,
    // so az-b and az-c brokers sit at 1.1 x the cluster mean whatever the plan. The balancer
    // must still even load within each rack rather than give up.
    let mut spec = Spec::new(27, 8_100, 3);
    spec.topics = 30;
    let mut c = generate(&spec);
    for id in 28..=30 {
        c.add_broker(id, &rack_name(0));
    }
    let limits = Limits {
        target_ratio: 1.05,
        ..Limits::default()
    };
    let p = plan(&c.snapshot, &limits, &Request::Balance);
    c.apply(&p);
    let mut rack_loads: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for b in &c.snapshot.brokers {
        let load: u64 = c
            .snapshot
            .partitions
            .iter()
            .filter(|q| q.replicas.contains(&b.id))
            .map(|q| q.bytes_in_per_sec)
            .sum();
        rack_loads.entry(b.rack.clone()).or_default().push(load);
    }
    // Every broker within the target of the cluster mean, or of its rack's mean where the
    // rack's total is pinned above the cluster's.
    let all: Vec<u64> = rack_loads.values().flatten().copied().collect();
    let cluster_mean = all.iter().sum::<u64>() as f64 / all.len() as f64;
    for (rack, loads) in rack_loads {
        let rack_mean = loads.iter().sum::<u64>() as f64 / loads.len() as f64;
        let max = *loads.iter().max().unwrap() as f64;
        let bound = 1.05 * rack_mean.max(cluster_mean);
        assert!(max <= bound, "rack {rack}: max {max} over {bound} (rack mean {rack_mean}, cluster mean {cluster_mean})");
        if rack_mean > cluster_mean {
            assert!(
                max / cluster_mean > 1.05,
                "rack {rack} should be pinned above the target"
            );
        }
    }
    assert_eq!(health(&c.snapshot).rack_violations, 0);
}

#[test]
fn spread_leaders_evens_every_topic_on_a_generated_cluster() {
    let mut spec = Spec::new(30, 9_000, 5);
    spec.topics = 25;
    let mut c = generate(&spec);
    let p = plan(&c.snapshot, &Limits::default(), &Request::SpreadLeaders);
    assert!(!p.elections.is_empty());
    assert_eq!(p.totals.bytes_moved, 0);
    c.apply(&p);
    let rack = |id: i32| c.snapshot.broker(id).unwrap().rack.clone();
    let mut per_topic: std::collections::BTreeMap<(u32, String), u32> = Default::default();
    for q in &c.snapshot.partitions {
        *per_topic
            .entry((q.topic.0, rack(q.leader.unwrap())))
            .or_default() += 1;
    }
    for t in 0..c.snapshot.topics.len() as u32 {
        let counts: Vec<u32> = (0..3)
            .map(|r| per_topic.get(&(t, rack_name(r))).copied().unwrap_or(0))
            .collect();
        let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(hi - lo <= 1, "topic {t}: leaders per rack {counts:?}");
    }
}
