//! One move as the executor tracks it, and the pure checks against fresh cluster state: may it
//! be submitted (the view it was planned on still holds), and where is it now.

use super::ops::Fresh;
use super::progress::MoveProgress;
use super::status::{CancelReason, Status};
use crate::observe::snapshot::usual_count;
use crate::observe::TopicPartition;

/// A move being carried out.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    /// The partition.
    pub tp: TopicPartition,
    /// Replicas before.
    pub old: Vec<i32>,
    /// Replicas after.
    pub new: Vec<i32>,
    /// Replicas added (in `new`, not in `old`).
    pub adding: Vec<i32>,
    /// Replicas removed.
    pub removing: Vec<i32>,
    /// The planner's bytes to copy.
    pub planned_bytes: u64,
    /// Where it is.
    pub status: Status,
    /// A submission was sent (even if its answer was lost): a reassignment to exactly this
    /// target found in Kafka is ours.
    pub submitted: bool,
    /// Total bytes the new replicas must hold (leader size x adding), once read.
    pub total_bytes: u64,
    /// Bytes the new replicas hold.
    pub copied_bytes: u64,
    /// Mono ms of submission (or of adoption on resume).
    pub started_ms: u64,
    /// Its timeout, seconds.
    pub timeout_secs: u64,
    /// Mono ms when `copied_bytes` last grew.
    pub progress_ms: u64,
    /// The stuck event was sent.
    pub stuck_reported: bool,
    /// Started by an earlier run of kmedic (resume): tracked, never submitted again.
    pub resumed: bool,
    /// The last poll saw it ended off target (believed only when the next poll agrees).
    pub ended_once: bool,
}

impl Tracked {
    /// A pending move.
    pub fn new(tp: TopicPartition, old: Vec<i32>, new: Vec<i32>, planned_bytes: u64) -> Self {
        let adding = new.iter().filter(|b| !old.contains(b)).copied().collect();
        let removing = old.iter().filter(|b| !new.contains(b)).copied().collect();
        Self {
            tp,
            old,
            new,
            adding,
            removing,
            planned_bytes,
            status: Status::Pending,
            submitted: false,
            total_bytes: planned_bytes,
            copied_bytes: 0,
            started_ms: 0,
            timeout_secs: 0,
            progress_ms: 0,
            stuck_reported: false,
            resumed: false,
            ended_once: false,
        }
    }

    /// Brokers gaining or losing a replica (for the concurrency limits).
    pub fn brokers(&self) -> Vec<i32> {
        let mut b: Vec<i32> = self.adding.iter().chain(&self.removing).copied().collect();
        b.sort_unstable();
        b.dedup();
        b
    }

    /// `(topic, partition)` for admin calls.
    pub fn key(&self) -> (String, i32) {
        (self.tp.topic.clone(), self.tp.partition)
    }

    /// Whether Kafka's reassignment `adding`/`removing` is exactly this move's.
    fn matches(&self, adding: &[i32], removing: &[i32]) -> bool {
        let sorted = |v: &[i32]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v
        };
        sorted(adding) == sorted(&self.adding) && sorted(removing) == sorted(&self.removing)
    }

    /// Whether `replicas` are this move's old and new replicas together (the set Kafka shows
    /// while the move runs).
    fn in_transition(&self, replicas: &[i32]) -> bool {
        let mut all: Vec<i32> = self.old.iter().chain(&self.new).copied().collect();
        all.sort_unstable();
        all.dedup();
        let mut r = replicas.to_vec();
        r.sort_unstable();
        r != self.old_sorted() && r == all
    }

    fn old_sorted(&self) -> Vec<i32> {
        let mut o = self.old.clone();
        o.sort_unstable();
        o
    }

    /// The progress snapshot of this move.
    pub fn progress(&self) -> MoveProgress {
        MoveProgress {
            partition: self.tp.clone(),
            old_replicas: self.old.clone(),
            new_replicas: self.new.clone(),
            total_bytes: self.total_bytes,
            copied_bytes: self.copied_bytes,
            status: self.status.clone(),
        }
    }
}

/// What to do with a pending move, judged on fresh state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Submit it.
    Submit,
    /// Kafka already runs exactly this move, and we sent it (an answer was lost): track it.
    Adopt,
    /// Kafka already shows the target: nothing to submit.
    AlreadyDone,
    /// Do not submit.
    Drop(CancelReason),
}

/// Whether a pending move still makes sense on `fresh`: the partition exists with the replicas
/// it was planned from, nobody else reassigns it, every destination is alive, and it keeps the
/// replication factor (as many new replicas as old, no more than the topic's usual count:
/// DESIGN rule 1). Work planned on a view that no longer holds is dropped, never forced.
pub fn admission(m: &Tracked, fresh: &Fresh) -> Admission {
    let Some(p) = fresh.partitions.get(&m.tp) else {
        return Admission::Drop(CancelReason::PartitionGone);
    };
    if let Some(r) = fresh.reassigning.get(&m.tp) {
        if m.submitted && m.matches(&r.adding, &r.removing) {
            return Admission::Adopt;
        }
        return Admission::Drop(CancelReason::ReassigningByOthers);
    }
    if m.submitted && p.replicas == m.new {
        return Admission::AlreadyDone;
    }
    if m.resumed {
        return Admission::Drop(CancelReason::EndedBeforeResume {
            found: p.replicas.clone(),
        });
    }
    let topic = TopicPartition {
        topic: m.tp.topic.clone(),
        partition: i32::MIN,
    };
    let end = TopicPartition {
        partition: i32::MAX,
        ..topic.clone()
    };
    let counts = fresh
        .partitions
        .range(topic..=end)
        .map(|(_, p)| p.replicas.len());
    let topic_rf = usual_count(counts).unwrap_or(0);
    if m.new.len() != m.old.len() || m.new.len() > topic_rf {
        return Admission::Drop(CancelReason::ChangesReplicationFactor {
            old: m.old.len(),
            new: m.new.len(),
            topic: topic_rf,
        });
    }
    if p.replicas != m.old {
        return Admission::Drop(CancelReason::ViewChanged {
            expected: m.old.clone(),
            found: p.replicas.clone(),
        });
    }
    if let Some(&b) = m.adding.iter().find(|b| !fresh.live.contains(b)) {
        return Admission::Drop(CancelReason::DestinationDead { broker: b });
    }
    Admission::Submit
}

/// Where a running move is, on fresh state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Still copying.
    Running,
    /// Kafka no longer reassigns it and the replicas are the target.
    Done,
    /// Kafka no longer reassigns it but the replicas are not the target (cancelled or
    /// overridden by someone else).
    EndedElsewhere {
        /// The replicas found.
        found: Vec<i32>,
    },
    /// A destination is dead: cancel this partition only.
    DestinationDead {
        /// The dead broker.
        broker: i32,
    },
}

/// Judges a running move on `fresh`.
pub fn observe(m: &Tracked, fresh: &Fresh) -> Observed {
    if fresh.reassigning.contains_key(&m.tp) {
        return match m.adding.iter().find(|b| !fresh.live.contains(b)) {
            Some(&broker) => Observed::DestinationDead { broker },
            None => Observed::Running,
        };
    }
    match fresh.partitions.get(&m.tp) {
        Some(p) if p.replicas == m.new => Observed::Done,
        // Metadata (served by any broker) can lag the controller for a moment: the move is no
        // longer listed but the replicas are still old + new. Not ended: look again next poll.
        Some(p) if m.in_transition(&p.replicas) => Observed::Running,
        Some(p) => Observed::EndedElsewhere {
            found: p.replicas.clone(),
        },
        None => Observed::EndedElsewhere { found: Vec::new() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::ops::PartitionState;
    use kmedic_common::admin::OngoingReassignment;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".into(),
            partition: p,
        }
    }

    fn fresh(replicas: &[i32], live: &[i32]) -> Fresh {
        let mut f = Fresh {
            live: live.iter().copied().collect(),
            ..Fresh::default()
        };
        f.partitions.insert(
            tp(0),
            PartitionState {
                replicas: replicas.to_vec(),
                leader: replicas.first().copied(),
                isr: replicas.to_vec(),
            },
        );
        f
    }

    fn reassigning(f: &mut Fresh, adding: &[i32], removing: &[i32]) {
        f.reassigning.insert(
            tp(0),
            OngoingReassignment {
                topic: "t".into(),
                partition: 0,
                replicas: vec![],
                adding: adding.to_vec(),
                removing: removing.to_vec(),
            },
        );
    }

    #[test]
    fn a_move_planned_on_a_view_that_no_longer_holds_is_dropped() {
        let m = Tracked::new(tp(0), vec![1, 2, 3], vec![4, 2, 3], 10);
        assert_eq!(
            admission(&m, &fresh(&[1, 2, 3], &[2, 3, 4])),
            Admission::Submit
        );
        assert_eq!(
            admission(&m, &fresh(&[5, 2, 3], &[2, 3, 4, 5])),
            Admission::Drop(CancelReason::ViewChanged {
                expected: vec![1, 2, 3],
                found: vec![5, 2, 3]
            })
        );
        assert_eq!(
            admission(&m, &fresh(&[1, 2, 3], &[2, 3])),
            Admission::Drop(CancelReason::DestinationDead { broker: 4 })
        );
        assert_eq!(
            admission(&m, &Fresh::default()),
            Admission::Drop(CancelReason::PartitionGone)
        );
    }

    #[test]
    fn a_reassignment_by_someone_else_is_left_alone_but_our_own_is_adopted() {
        let mut m = Tracked::new(tp(0), vec![1, 2, 3], vec![4, 2, 3], 10);
        let mut f = fresh(&[1, 2, 3, 4], &[2, 3, 4]);
        reassigning(&mut f, &[4], &[1]);
        assert_eq!(
            admission(&m, &f),
            Admission::Drop(CancelReason::ReassigningByOthers)
        );
        m.submitted = true;
        assert_eq!(admission(&m, &f), Admission::Adopt);
        reassigning(&mut f, &[5], &[1]);
        assert_eq!(
            admission(&m, &f),
            Admission::Drop(CancelReason::ReassigningByOthers)
        );
    }

    /// A plan never changes a replication factor (DESIGN.md rule 1). Seen live: Metadata
    /// showed t-0 mid-reassignment as [5, 6, 4, 2] after the list dropped it, and a heal
    /// planned [5, 6, 4, 2] -> [5, 6, 4, 1] (RF 4; the topic's partitions have 3). Failed
    /// before: both moves were submitted.
    #[test]
    fn a_move_that_changes_the_replication_factor_is_refused() {
        let grows = Tracked::new(tp(0), vec![1, 2, 3], vec![4, 2, 3, 5], 10);
        let got = admission(&grows, &fresh(&[1, 2, 3], &[1, 2, 3, 4, 5]));
        let grown = CancelReason::ChangesReplicationFactor {
            old: 3,
            new: 4,
            topic: 3,
        };
        assert_eq!(got, Admission::Drop(grown));
        let m = Tracked::new(tp(0), vec![5, 6, 4, 2], vec![5, 6, 4, 1], 10);
        let mut f = fresh(&[5, 6, 4, 2], &[1, 2, 3, 4, 5, 6]);
        for p in [1, 2] {
            let mut other = f.partitions[&tp(0)].clone();
            other.replicas = vec![1, 2, 3];
            f.partitions.insert(tp(p), other);
        }
        let kept_at_4 = CancelReason::ChangesReplicationFactor {
            old: 4,
            new: 4,
            topic: 3,
        };
        assert_eq!(admission(&m, &f), Admission::Drop(kept_at_4.clone()));
        assert!(kept_at_4
            .to_string()
            .contains("4 -> 4 replicas, the topic has 3"));
        // The same move on a topic whose partitions have 4 replicas is a plain heal.
        for p in [1, 2] {
            f.partitions.get_mut(&tp(p)).unwrap().replicas = vec![1, 2, 3, 4];
        }
        assert_eq!(admission(&m, &f), Admission::Submit);
    }

    #[test]
    fn running_moves_are_judged_from_fresh_state() {
        let m = Tracked::new(tp(0), vec![1, 2, 3], vec![4, 2, 3], 10);
        let mut f = fresh(&[1, 2, 3, 4], &[2, 3, 4]);
        reassigning(&mut f, &[4], &[1]);
        assert_eq!(observe(&m, &f), Observed::Running);
        f.live.remove(&4);
        assert_eq!(observe(&m, &f), Observed::DestinationDead { broker: 4 });
        assert_eq!(observe(&m, &fresh(&[4, 2, 3], &[2, 3, 4])), Observed::Done);
        // Found on the testbed: the move is no longer listed but Metadata still shows old + new
        // replicas for a moment. That is not "ended elsewhere".
        assert_eq!(
            observe(&m, &fresh(&[4, 2, 3, 1], &[2, 3, 4])),
            Observed::Running
        );
        assert_eq!(
            observe(&m, &fresh(&[1, 2, 3], &[2, 3, 4])),
            Observed::EndedElsewhere {
                found: vec![1, 2, 3]
            }
        );
    }
}
