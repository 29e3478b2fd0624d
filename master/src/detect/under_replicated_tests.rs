//! The heal flap of session 3: a reassignment ends between the two reads of one poll (the
//! reassignment list after it ended, the partition before), so its new replica looked out of
//! sync with nothing adding it: an unexplained URP for one poll, and the heal went act -> hold
//! -> act. Two snapshots reproduce it; the rest shows a real unexplained URP stays unexplained.

use super::*;
use crate::detect::tests::Fake;
use crate::detect::{run_all, FindingKind};
use crate::observe::ReassignmentView;

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.into(),
        partition,
    }
}

/// `t-0` moving from [1,2,3] to [4,2,3]: Kafka lists replicas target-then-removing, and 4 is
/// still copying (not in the ISR).
fn moving() -> Fake {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[4, 2, 3, 1]);
    f.add_partition("t", 1, &[1, 2, 3]);
    f.view.partitions[0].isr = vec![2, 3, 1];
    f.view.partitions[0].leader = Some(2);
    f.view.reassignments.insert(
        tp("t", 0),
        ReassignmentView {
            adding: vec![4],
            removing: vec![1],
        },
    );
    f
}

/// The next poll: the controller's list says the move ended; the metadata, read from a broker
/// that lags, still shows 4 out of sync.
fn ended_but_metadata_lags() -> Fake {
    let mut f = moving();
    f.view.reassignments.clear();
    f
}

fn unexplained(f: &Fake, recent: &RecentAdds) -> Vec<Finding> {
    let mut input = f.input();
    input.recently_added = Some(recent);
    run_all(&input)
        .into_iter()
        .filter(|x| x.kind == FindingKind::UnderReplicatedUnexplained)
        .collect()
}

#[test]
fn a_replica_of_a_reassignment_that_just_ended_is_not_unexplained() {
    let mut recent = RecentAdds::default();
    let before = moving();
    recent.observe(&before.view);
    assert!(unexplained(&before, &recent).is_empty());
    let after = ended_but_metadata_lags();
    recent.observe(&after.view);
    let u = unexplained(&after, &recent);
    assert!(
        u.is_empty(),
        "the just-finished move's replica 4 is catching up: {u:?}"
    );
}

#[test]
fn without_the_last_polls_the_race_is_an_unexplained_urp() {
    // What the detector saw before it remembered anything (the flap): documents the race.
    let after = ended_but_metadata_lags();
    let u = unexplained(&after, &RecentAdds::default());
    assert_eq!(u.len(), 1, "{u:?}");
    assert_eq!(u[0].partitions, vec![tp("t", 0)]);
}

#[test]
fn a_replica_still_out_of_sync_polls_after_the_move_ended_is_unexplained() {
    let mut recent = RecentAdds::default();
    recent.observe(&moving().view);
    let after = ended_but_metadata_lags();
    for _ in 0..RECENT_POLLS {
        recent.observe(&after.view);
        assert!(unexplained(&after, &recent).is_empty());
    }
    recent.observe(&after.view);
    let u = unexplained(&after, &recent);
    assert_eq!(u.len(), 1, "{} polls after: {u:?}", RECENT_POLLS + 1);
    assert!(
        u[0].evidence.contains("broker 4 that is"),
        "{}",
        u[0].evidence
    );
}

#[test]
fn a_real_urp_next_to_a_just_ended_move_stays_unexplained() {
    let mut recent = RecentAdds::default();
    recent.observe(&moving().view);
    let mut after = ended_but_metadata_lags();
    // Broker 2 drops out of t-0 (not a replica the move added) and of t-1 (never moved).
    after.view.partitions[0].isr.retain(|&r| r != 2);
    after.view.partitions[1].isr.retain(|&r| r != 2);
    recent.observe(&after.view);
    let u = unexplained(&after, &recent);
    assert_eq!(u.len(), 1, "{u:?}");
    assert_eq!(u[0].partitions, vec![tp("t", 0), tp("t", 1)]);
    assert!(
        u[0].evidence.contains("broker 2 that is"),
        "{}",
        u[0].evidence
    );
}

#[test]
fn a_just_added_replica_on_a_broker_that_is_not_healthy_is_unexplained() {
    let mut recent = RecentAdds::default();
    recent.observe(&moving().view);
    let mut after = ended_but_metadata_lags();
    // Kafka fenced 4 (its agent still reports: not confirmed dead, not catching up either).
    if let Some(b) = after.view.brokers.get_mut(&4) {
        b.fenced = true;
    }
    recent.observe(&after.view);
    let u = unexplained(&after, &recent);
    assert_eq!(u.len(), 1, "{u:?}");
}

#[test]
fn the_rule_text_names_the_window_it_applies() {
    assert!(
        RULE.contains(&format!("last {RECENT_POLLS} polls")),
        "{RULE}"
    );
}

/// Operator text: one partition moving, no broker dead: no `[]`, no "1 partitions".
#[test]
fn the_explained_urp_text_reads_well_with_no_dead_broker() {
    let f = moving();
    let fs: Vec<Finding> = run_all(&f.input())
        .into_iter()
        .filter(|x| x.kind == FindingKind::UnderReplicatedExplained)
        .collect();
    assert_eq!(fs.len(), 1, "{fs:?}");
    let e = &fs[0].evidence;
    assert!(e.starts_with("1 under-replicated partition,"), "{e}");
    assert!(!e.contains("[]"), "{e}");
    assert!(!e.contains("confirmed-dead"), "{e}");
    assert!(e.contains("a reassignment is adding"), "{e}");
}
