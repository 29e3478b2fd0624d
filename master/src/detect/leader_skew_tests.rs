//! Leader rack skew when the in-sync replicas cannot allow ±1 (issue 11).

use std::collections::BTreeSet;

use super::changing_now;
use crate::detect::tests::Fake;
use crate::detect::{Finding, FindingKind};
use crate::execute::{MoveProgress, PlanProgress};
use crate::observe::TopicPartition;

fn skew(f: &Fake) -> Vec<Finding> {
    f.findings()
        .into_iter()
        .filter(|x| x.kind == FindingKind::LeaderRackSkew)
        .collect()
}

/// Brokers 1..=6 in az-a, az-b, az-c; topic "t" of 4 partitions, RF 2, every replica on
/// broker 1 (az-a) or 2 (az-b), all in sync: az-c can lead none of them.
fn no_replica_in_az_c(leaders: [i32; 4]) -> Fake {
    let mut f = Fake::six();
    for (i, leader) in leaders.into_iter().enumerate() {
        let replicas = if leader == 2 { [2, 1] } else { [1, 2] };
        f.add_partition("t", i as i32, &replicas);
    }
    f
}

/// Leaders 2/2/0 is the best these ISRs allow (max - min = 2): today's detector kept raising
/// it, and the policy kept asking the planner for a spread that cannot exist.
#[test]
fn no_finding_when_the_spread_is_the_best_the_isrs_allow() {
    let f = no_replica_in_az_c([1, 1, 2, 2]);
    let fs = skew(&f);
    assert!(fs.is_empty(), "{fs:?}");
}

/// Worse than the best: raised, and the evidence says ±1 is impossible, the best spread, and
/// why (how many partitions each rack could lead).
#[test]
fn finding_says_when_one_per_rack_is_impossible_and_why() {
    let f = no_replica_in_az_c([1, 1, 1, 1]);
    let fs = skew(&f);
    assert_eq!(fs.len(), 1, "{fs:?}");
    let e = &fs[0].evidence;
    assert!(e.contains("az-a=4 az-b=0 az-c=0"), "{e}");
    assert!(
        e.contains("the in-sync replicas allow at best az-a=2 az-b=2 az-c=0"),
        "{e}"
    );
    assert!(e.contains("max - min = 2"), "{e}");
    assert!(e.contains("±1 is impossible"), "{e}");
    assert!(e.contains("az-c: 0 of 4"), "{e}");
}

/// Where ±1 is possible the rule is as before, and the evidence does not claim otherwise.
#[test]
fn possible_spread_keeps_the_one_per_rack_rule() {
    let mut f = Fake::six();
    for p in 0..3 {
        f.add_partition("s", p, &[1, 2, 3]);
    }
    let fs = skew(&f);
    assert_eq!(fs.len(), 1, "{fs:?}");
    assert!(!fs[0].evidence.contains("impossible"), "{}", fs[0].evidence);
    // Spread 1/1/1: nothing.
    let mut f = Fake::six();
    f.add_partition("s", 0, &[1, 2, 3]);
    f.add_partition("s", 1, &[2, 3, 1]);
    f.add_partition("s", 2, &[3, 1, 2]);
    assert!(skew(&f).is_empty());
}

/// Replicas in every rack, but az-c's out of every ISR: the planner elects no leader on a
/// partition not fully in sync, so no spread is possible now and nothing is raised (the
/// under-replicated detector speaks for them). Today's detector kept raising 4/0/0.
#[test]
fn out_of_sync_replicas_are_not_asked_to_lead() {
    let mut f = Fake::six();
    for p in 0..4 {
        f.add_partition("t", p, &[1, 2, 3]);
        let v = f.view.partitions.last_mut().expect("just added");
        v.isr = vec![1, 2];
    }
    let fs = skew(&f);
    assert!(fs.is_empty(), "{fs:?}");
    // Back in sync: raised again, and ±1 is possible.
    for v in &mut f.view.partitions {
        v.isr = vec![1, 2, 3];
    }
    let fs = skew(&f);
    assert_eq!(fs.len(), 1, "{fs:?}");
    assert!(!fs[0].evidence.contains("impossible"), "{}", fs[0].evidence);
}

/// A partition whose rack is reachable only by a chain (a -> b -> c) counts: the best here is
/// ±1, so 3/2/1 is raised even though no single partition of az-a has a replica in az-c.
#[test]
fn the_best_spread_follows_chains_of_transfers() {
    let mut f = Fake::six();
    for (p, r) in [[1, 2], [4, 5], [1, 5]].into_iter().enumerate() {
        f.add_partition("u", p as i32, &r);
    }
    f.add_partition("u", 3, &[2, 3]);
    f.add_partition("u", 4, &[5, 6]);
    f.add_partition("u", 5, &[3, 4]);
    // az-a 3, az-b 2, az-c 1: max - min 2 > the best, 1.
    let fs = skew(&f);
    assert_eq!(fs.len(), 1, "{fs:?}");
    assert!(!fs[0].evidence.contains("impossible"), "{}", fs[0].evidence);
}

/// Operator text: one partition led by its second replica reads "1 partition is", not
/// "1 partitions are".
#[test]
fn one_partition_not_led_by_its_preferred_leader_reads_singular() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2]);
    f.view.partitions[0].leader = Some(2);
    let fs: Vec<Finding> = f
        .findings()
        .into_iter()
        .filter(|x| x.kind == FindingKind::PreferredLeaderNotLeading)
        .collect();
    assert_eq!(fs.len(), 1, "{fs:?}");
    let e = &fs[0].evidence;
    assert!(
        e.starts_with("1 partition is not led by its in-sync preferred leader"),
        "{e}"
    );
}

/// t-0 after kmedic's zero-copy reorder [1, 2] -> [2, 1], its election still to come: the
/// preferred replica (2) is in sync and not leading.
fn reordered_not_yet_elected() -> Fake {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[2, 1]);
    f.add_partition("t", 1, &[1, 2]);
    f.view.partitions[0].leader = Some(1);
    f.view.partitions[1].leader = Some(2);
    f
}

fn not_preferred(f: &Fake, changing: Option<&BTreeSet<TopicPartition>>) -> Vec<Finding> {
    let mut input = f.input();
    input.changing = changing;
    crate::detect::run_all(&input)
        .into_iter()
        .filter(|x| x.kind == FindingKind::PreferredLeaderNotLeading)
        .collect()
}

/// A run wrote finding + alert + hold + cleared for kmedic's own reorder-then-elect, 4 times
/// (Y3 L1): the partitions a running plan changes are not reported; the others still are.
#[test]
fn partitions_the_executor_is_changing_are_not_reported_as_not_preferred() {
    let f = reordered_not_yet_elected();
    let fs = not_preferred(&f, None);
    assert_eq!(fs.len(), 1, "{fs:?}");
    assert_eq!(fs[0].partitions.len(), 2, "{fs:?}");
    let changing = BTreeSet::from([tp("t", 0)]);
    let fs = not_preferred(&f, Some(&changing));
    assert_eq!(fs.len(), 1, "{fs:?}");
    assert_eq!(fs[0].partitions, vec![tp("t", 1)], "{fs:?}");
    assert!(
        fs[0].evidence.starts_with("1 partition is"),
        "{}",
        fs[0].evidence
    );
    // Both being changed: no finding at all.
    let changing = BTreeSet::from([tp("t", 0), tp("t", 1)]);
    assert!(not_preferred(&f, Some(&changing)).is_empty());
}

fn progress(moves: &[(&str, i32)], finished: bool) -> PlanProgress {
    PlanProgress {
        moves: moves
            .iter()
            .map(|&(t, p)| MoveProgress {
                partition: tp(t, p),
                old_replicas: vec![1, 2],
                new_replicas: vec![2, 1],
                total_bytes: 0,
                copied_bytes: 0,
                status: crate::execute::Status::Done,
            })
            .collect(),
        finished,
        ..PlanProgress::default()
    }
}

/// What the round passes: every move of the plan the executor runs now (a reorder stays
/// "being changed" after its move is done, until the plan's elections ran and it finished);
/// nothing once the plan finished, or with no plan.
#[test]
fn a_running_plans_partitions_are_being_changed_until_it_finishes() {
    let running = progress(&[("t", 0), ("u", 3)], false);
    assert_eq!(
        changing_now(Some(&running)),
        BTreeSet::from([tp("t", 0), tp("u", 3)])
    );
    assert!(changing_now(Some(&progress(&[("t", 0)], true))).is_empty());
    assert!(changing_now(None).is_empty());
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.into(),
        partition,
    }
}
