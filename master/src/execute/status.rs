//! The status of a step or a move, the table of allowed transitions, and typed cancel reasons.

use std::fmt;

use serde::Serialize;

/// Why a move (or a whole plan) was cancelled or never submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum CancelReason {
    /// A broker receiving a new replica is dead (fenced or absent from DescribeCluster).
    DestinationDead {
        /// The broker.
        broker: i32,
    },
    /// The partition changed since the plan was made (replicas differ), so the move no longer
    /// does what was planned: it is dropped, never forced.
    ViewChanged {
        /// Replicas the plan expected.
        expected: Vec<i32>,
        /// Replicas found.
        found: Vec<i32>,
    },
    /// The partition no longer exists.
    PartitionGone,
    /// The move would change the partition's replication factor: its new replica list is not
    /// as long as its old one, or is longer than its topic's usual count in fresh state (a
    /// partition read mid-reassignment with an extra replica). A plan never changes the
    /// replication factor (DESIGN rule 1): refused, never submitted.
    ChangesReplicationFactor {
        /// Replicas the move was planned from.
        old: usize,
        /// Replicas the move ends with.
        new: usize,
        /// The topic's replication factor in fresh state (the count most partitions have).
        topic: usize,
    },
    /// Kafka reports a reassignment of this partition that this executor did not start
    /// (DESIGN rule 2: left alone).
    ReassigningByOthers,
    /// No byte progress for this long (and `execute.cancel_stuck` is on).
    Stuck {
        /// Seconds without progress.
        secs: u64,
    },
    /// The move took longer than its timeout.
    TimedOut {
        /// The timeout, in seconds.
        limit_secs: u64,
    },
    /// Kafka refused the submission.
    Refused {
        /// Kafka's error.
        error: String,
    },
    /// The operator (or the service) cancelled the plan.
    Operator,
    /// A move kmedic started before a restart is no longer running and the partition is not
    /// at its target (cancelled by someone): not submitted again.
    EndedBeforeResume {
        /// The replicas found.
        found: Vec<i32>,
    },
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelReason::DestinationDead { broker } => {
                write!(f, "destination broker {broker} is dead")
            }
            CancelReason::ViewChanged { expected, found } => write!(
                f,
                "the partition changed under the plan: replicas {found:?}, planned from {expected:?}"
            ),
            CancelReason::PartitionGone => f.write_str("the partition no longer exists"),
            CancelReason::ChangesReplicationFactor { old, new, topic } => write!(
                f,
                "refused: the move would change the replication factor ({old} -> {new} \
                 replicas, the topic has {topic}); a plan never changes it (DESIGN rule 1)"
            ),
            CancelReason::ReassigningByOthers => {
                f.write_str("already reassigning, not by kmedic (left alone)")
            }
            CancelReason::Stuck { secs } => write!(f, "no byte progress for {secs} s"),
            CancelReason::TimedOut { limit_secs } => write!(f, "not done within {limit_secs} s"),
            CancelReason::Refused { error } => write!(f, "refused by Kafka: {error}"),
            CancelReason::Operator => f.write_str("cancelled by the operator"),
            CancelReason::EndedBeforeResume { found } => write!(
                f,
                "started before a restart, no longer running, replicas {found:?} (not resubmitted)"
            ),
        }
    }
}

impl CancelReason {
    /// Whether the partition should go back to the planner (its need is still there).
    pub fn replan(&self) -> bool {
        !matches!(self, CancelReason::Operator)
    }
}

/// Where a step or a move is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Not started.
    Pending,
    /// Started (a reassignment submitted, a throttle being set); not yet seen done.
    Running,
    /// Seen done in fresh cluster state.
    Done,
    /// Cancelled, or never started, for this reason.
    Cancelled(CancelReason),
    /// Failed with an error (not a decision to stop).
    Failed {
        /// The error.
        error: String,
    },
}

/// A transition the table forbids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal status transition {from} -> {to}")]
pub struct IllegalTransition {
    /// From.
    pub from: &'static str,
    /// To.
    pub to: &'static str,
}

impl Status {
    /// A short name.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Done => "done",
            Status::Cancelled(_) => "cancelled",
            Status::Failed { .. } => "failed",
        }
    }

    /// Done, cancelled or failed: nothing more happens.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Status::Done | Status::Cancelled(_) | Status::Failed { .. }
        )
    }

    /// The transition table. Pending may start, be cancelled (dropped before submission) or
    /// fail; Running may finish, be cancelled or fail; terminal states never change. Pending
    /// never jumps to Done: a step is done only when fresh state shows it after it ran.
    pub fn allows(&self, to: &Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Pending, Running)
                | (Pending, Cancelled(_))
                | (Pending, Failed { .. })
                | (Running, Done)
                | (Running, Cancelled(_))
                | (Running, Failed { .. })
        )
    }

    /// Moves to `to` if the table allows it.
    pub fn transition(&mut self, to: Status) -> Result<(), IllegalTransition> {
        if !self.allows(&to) {
            return Err(IllegalTransition {
                from: self.name(),
                to: to.name(),
            });
        }
        *self = to;
        Ok(())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Cancelled(r) => write!(f, "cancelled: {r}"),
            Status::Failed { error } => write!(f, "failed: {error}"),
            s => f.write_str(s.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Status> {
        vec![
            Status::Pending,
            Status::Running,
            Status::Done,
            Status::Cancelled(CancelReason::Operator),
            Status::Failed { error: "x".into() },
        ]
    }

    #[test]
    fn the_transition_table_is_exactly_this() {
        let allowed = [
            ("pending", "running"),
            ("pending", "cancelled"),
            ("pending", "failed"),
            ("running", "done"),
            ("running", "cancelled"),
            ("running", "failed"),
        ];
        for from in all() {
            for to in all() {
                let expect = allowed.contains(&(from.name(), to.name()));
                let mut s = from.clone();
                let r = s.transition(to.clone());
                assert_eq!(r.is_ok(), expect, "{from} -> {to}");
                if expect {
                    assert_eq!(s, to);
                } else {
                    assert_eq!(s, from, "a refused transition changes nothing");
                }
            }
        }
    }

    #[test]
    fn terminal_states_are_final_and_pending_never_jumps_to_done() {
        for s in all().into_iter().filter(Status::is_terminal) {
            assert!(all().iter().all(|to| !s.allows(to)), "{s}");
        }
        let err = Status::Pending.transition(Status::Done).unwrap_err();
        assert_eq!(err.to_string(), "illegal status transition pending -> done");
    }
}
