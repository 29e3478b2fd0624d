//! Planner safety cases from issue 7: rack diversity when healing, net out counted once,
//! preferred-leader elections, one plan per round, in-flight partitions.

use kmedic_master::plan::{
    plan, plan_round, BrokerState, ElectionReason, Limits, Request, UnplaceableReason, Warning,
};
use kmedic_master::sim::{assert_elects, assert_moves, health, Cluster};

mod plan_common;
use plan_common::{add_rated, brokers, heal, six};

#[test]
fn preferred_leaders_elects_an_alive_in_sync_preferred_leader_only() {
    let mut c = six();
    c.add_partition("t", 3, &[1, 3, 5], 1_000); // 1 preferred, alive, in sync: elected
    c.add_partition("t", 2, &[2, 4, 6], 1_000); // already led by its preferred leader
    c.add_partition("t", 5, &[4, 2, 5], 1_000); // 4 suspect: left alone
    let lagging = c.add_partition("t", 3, &[6, 3, 1], 1_000); // 6 out of sync: left alone
    let moving = c.add_partition("t", 5, &[1, 5, 3], 1_000); // reassigning: left alone
    c.snapshot.partitions[lagging].isr = vec![3, 1];
    c.set_reassigning(moving);
    c.set_state(4, BrokerState::Suspect);
    let p = plan(&c.snapshot, &Limits::default(), &Request::PreferredLeaders);
    assert!(p.moves.is_empty(), "{:#?}", p.moves);
    assert_eq!(p.elections.len(), 1, "{:#?}", p.elections);
    assert_elects(&p, "t", 0, 1);
    let e = &p.elections[0];
    assert_eq!(e.old_leader, Some(3));
    assert!(!e.after_reorder);
    assert_eq!(e.reason, ElectionReason::Preferred { preferred: 1 });
    assert!(e.to_string().contains("preferred leader 1"), "{e}");
    c.apply(&p);
    let again = plan(&c.snapshot, &Limits::default(), &Request::PreferredLeaders);
    assert!(again.is_empty(), "{again}");
}

#[test]
fn preferred_leaders_skips_an_election_that_would_overload_with_a_warning() {
    let mut c = six();
    let a = c.add_partition("t", 3, &[1, 3, 5], 1_000);
    c.set_rates(a, 0, 150_000_000);
    let b = c.add_partition("u", 1, &[1, 4, 6], 1_000);
    c.set_rates(b, 0, 100_000_000);
    // Broker 1 leads u at 100 MB/s out; leading t too would make 250 MB/s over its 200 MB/s.
    let p = plan(&c.snapshot, &Limits::default(), &Request::PreferredLeaders);
    assert!(p.elections.is_empty(), "{:#?}", p.elections);
    assert_eq!(
        p.warnings,
        vec![Warning::PreferredWouldOverload {
            topic: "t".into(),
            partition: 0,
            broker: 1,
            load_bytes_per_sec: 250_000_000,
            limit_bytes_per_sec: 200_000_000,
        }]
    );
}

/// Issue 7 item 1: the dead broker's only rack-mate is suspect (hung or restarting). Healing
/// into another rack would put two replicas in one AZ for good: the replica stays unplaced.
#[test]
fn heal_never_co_locates_when_the_rack_mate_is_suspect() {
    let mut c = six();
    c.add_partition("t", 3, &[1, 3, 5], 1_000);
    c.set_state(2, BrokerState::Suspect).kill(1);
    let p = heal(&c, &[1]);
    assert!(p.moves.is_empty(), "{p}");
    assert_eq!(p.unplaceable.len(), 1, "{p}");
    assert_eq!(
        p.unplaceable[0].reason,
        UnplaceableReason::RackUnavailable {
            racks: vec!["az-a".into()]
        }
    );
    assert!(p.to_string().contains("rack has no healthy broker"), "{p}");
}

/// A whole AZ down: nothing is healed into the surviving AZs.
#[test]
fn heal_never_co_locates_when_a_whole_rack_is_dead() {
    let mut c = six();
    c.add_partition("t", 3, &[1, 3, 5], 1_000);
    c.add_partition("t", 2, &[2, 4, 6], 1_000);
    c.kill(1).kill(2);
    let p = heal(&c, &[1, 2]);
    assert!(p.moves.is_empty(), "{p}");
    assert_eq!(p.unplaceable.len(), 2, "{p}");
    assert!(p.unplaceable.iter().all(
        |u| matches!(&u.reason, UnplaceableReason::RackUnavailable { racks } if racks == &["az-a"])
    ));
}

/// With more racks than RF, a rack the partition does not use is a fine target.
#[test]
fn heal_uses_an_unused_healthy_rack_when_its_own_rack_has_none() {
    let mut c = six();
    c.add_broker(7, "az-d");
    c.add_partition("t", 3, &[1, 3, 5], 1_000);
    c.set_state(2, BrokerState::Suspect).kill(1);
    let p = heal(&c, &[1]);
    assert_moves(&p, "t", 0, 1, 7);
    c.apply(&p);
    assert_eq!(health(&c.snapshot).rack_violations, 0);
}

/// Fewer racks than RF: diversity is impossible, so replicas may share racks (RF is kept).
#[test]
fn heal_with_fewer_racks_than_rf_may_share_a_rack() {
    let mut c = brokers(&[(1, "az-a"), (2, "az-a"), (3, "az-b"), (4, "az-b")]);
    c.add_partition("t", 3, &[1, 3, 4], 1_000);
    c.kill(1);
    let p = heal(&c, &[1]);
    assert_moves(&p, "t", 0, 1, 2);
}

/// Item 7, planner side: a leader at 1 MiB/s in, RF 3, consumers 1 MiB/s (fan-out 1) projects
/// 3 MiB/s out on its broker: 1 consumer stream and 2 replication streams, counted once.
#[test]
fn leader_net_out_is_consumers_plus_one_stream_per_follower() {
    const MIB: u64 = 1 << 20;
    let mut c = Cluster::new();
    for (id, rack) in [(1, "az-a"), (2, "az-b"), (3, "az-c")] {
        c.add_broker_with(
            id,
            rack,
            kmedic_master::plan::Capacity {
                net_in_bytes_per_sec: 10 * MIB,
                net_out_bytes_per_sec: 10 * MIB,
                disk_bytes: 1 << 40,
            },
        );
    }
    let p = c.add_partition("t", 1, &[1, 2, 3], 1_000);
    c.set_rates(p, MIB, MIB);
    let plan = plan(&c.snapshot, &Limits::default(), &Request::PreferredLeaders);
    let out = plan.totals.before.net_out_max_utilization * (10 * MIB) as f64;
    assert!((out - (3 * MIB) as f64).abs() < 1.0, "{out}");
}

/// Item 10: unknown disk capacity excludes a broker as a target, with the reason counted.
#[test]
fn heal_skips_a_broker_with_unknown_disk_capacity() {
    let mut c = six();
    c.add_broker(7, "az-a");
    c.add_partition("t", 3, &[1, 3, 5], 1_000);
    c.set_disk_unknown(2).kill(1);
    let p = heal(&c, &[1]);
    assert_moves(&p, "t", 0, 1, 7);
    c.set_disk_unknown(7);
    let p = heal(&c, &[1]);
    assert!(p.moves.is_empty(), "{p}");
    assert!(
        matches!(&p.unplaceable[0].reason, UnplaceableReason::NoTarget(r) if r.disk_unknown == 2),
        "{p}"
    );
}

/// Item 10: used disk as the volumes report it (not only replica sizes) counts against the
/// disk limit: a broker whose volume is nearly full of other data takes nothing.
#[test]
fn reported_used_disk_counts_against_the_disk_limit() {
    let mut c = six();
    c.add_broker(7, "az-a");
    c.add_partition("t", 3, &[1, 3, 5], 1_000_000);
    // Broker 2 looks empty by replica sizes, but its volume is 95 % used.
    c.set_disk_used(2, 7_600_000_000_000).kill(1);
    let p = heal(&c, &[1]);
    assert_moves(&p, "t", 0, 1, 7);
}

/// Item 11: balance and spread-leaders in one round never give one partition two elections,
/// and every election agrees with the partition's move (if any).
#[test]
fn one_round_elects_at_most_one_leader_per_partition() {
    let mut c = six();
    // Broker 1 leads everything of topic "hot" from az-a: over its net out, and the topic's
    // leaders all sit in one rack. Balance and spread-leaders both want to move leadership.
    let hot = [[1, 3, 5], [1, 4, 6], [1, 3, 6], [1, 4, 5]];
    add_rated(&mut c, "hot", None, &hot, 1_000, (1_000_000, 5_000_000));
    // Broker 3 (az-b) already leads a little, so balance prefers 5 (az-c) for hot-0, while
    // spread-leaders fills az-b, the first quiet rack, with 3.
    let cold = [[3, 2, 6], [4, 2, 6], [6, 4, 2]];
    add_rated(&mut c, "cold", None, &cold, 1_000, (1_000_000, 1_000_000));
    let limits = Limits {
        target_ratio: 1.2,
        ..Limits::default()
    };
    let requests = [
        Request::Balance,
        Request::SpreadLeaders,
        Request::PreferredLeaders,
    ];
    // Planned separately on one snapshot, the two requests can pick different leaders.
    let separate: Vec<_> = requests[..2]
        .iter()
        .map(|r| plan(&c.snapshot, &limits, r))
        .collect();
    let leaders_of = |p: &kmedic_master::plan::Plan, n: i32| -> Vec<i32> {
        p.elections
            .iter()
            .filter(|e| &*e.topic == "hot" && e.partition == n)
            .map(|e| e.new_leader)
            .collect()
    };
    assert_eq!(
        (leaders_of(&separate[0], 0), leaders_of(&separate[1], 0)),
        (vec![5], vec![3]),
        "the case should make balance and spread-leaders disagree on hot-0"
    );

    let p = plan_round(&c.snapshot, &limits, &requests);
    let mut seen = std::collections::BTreeSet::new();
    for e in &p.elections {
        assert!(
            seen.insert((e.topic.clone(), e.partition)),
            "two elections: {e}"
        );
        if let Some(m) = p
            .moves
            .iter()
            .find(|m| m.topic == e.topic && m.partition == e.partition)
        {
            assert_eq!(m.new_replicas[0], e.new_leader, "{m} vs {e}");
        }
    }
    let mut moved = std::collections::BTreeSet::new();
    for m in &p.moves {
        assert!(
            moved.insert((m.topic.clone(), m.partition)),
            "two moves: {m}"
        );
    }
    assert!(!p.elections.is_empty(), "{p}");
    // Applying the round's plan leaves nothing for another round of the same requests to
    // undo: the leaders it picked stay.
    c.apply(&p);
    let again = plan_round(&c.snapshot, &limits, &requests);
    for e in &again.elections {
        assert!(
            !seen.contains(&(e.topic.clone(), e.partition)),
            "flip-flop: {e}"
        );
    }
}

/// Item 11: a heal and an election request in one round: the heal is planned first whatever
/// the order given, and its partition gets no election.
#[test]
fn one_round_heals_first_and_does_not_elect_a_healed_partition() {
    let mut c = six();
    // t-0 is led by 3 though 1 is preferred; 1 is dead.
    c.add_partition("t", 3, &[1, 3, 5], 1_000);
    c.add_partition("t", 4, &[2, 4, 6], 1_000);
    c.kill(1);
    let p = plan_round(
        &c.snapshot,
        &Limits::default(),
        &[Request::PreferredLeaders, Request::Heal { dead: vec![1] }],
    );
    assert_moves(&p, "t", 0, 1, 2);
    assert!(
        p.elections.iter().all(|e| e.partition != 0),
        "{:#?}",
        p.elections
    );
    assert_elects(&p, "t", 1, 2);
}

/// Partitions in flight (ours) are untouchable and their adding replicas count on the target.
#[test]
fn in_flight_partitions_get_no_election_and_count_on_their_target() {
    let mut c = six();
    let a = c.add_partition("t", 3, &[1, 3, 5], 1_000);
    c.add_in_flight(a, &[2, 3, 5]);
    let p = plan(&c.snapshot, &Limits::default(), &Request::PreferredLeaders);
    assert!(p.is_empty(), "{p}");
}

/// A dead broker missing from DescribeCluster has no rack (""): its replica goes to the rack
/// the partition lacks, and the "" rack does not count as a rack of the cluster.
#[test]
fn heal_of_a_broker_without_rack_fills_the_missing_rack() {
    let mut c = six();
    c.add_broker(9, "");
    c.add_partition("t", 3, &[9, 3, 5], 1_000);
    c.kill(9);
    let p = heal(&c, &[9]);
    assert_moves(&p, "t", 0, 9, 1);
    // RF 4 over 3 named racks: diversity is impossible, so a shared rack is allowed.
    let mut c = six();
    c.add_broker(9, "");
    c.add_partition("u", 3, &[9, 3, 5, 1], 1_000);
    c.kill(9);
    let p = heal(&c, &[9]);
    assert_eq!(p.moves.len(), 1, "{p}");
}
