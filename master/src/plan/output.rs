//! The planner's output: moves, elections, what could not be placed, and totals.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::reason::{ElectionReason, MoveReason, UnplaceableReason, Warning};

// serde's `rc` feature is not enabled in the workspace; topics are written as plain strings.
fn ser_topic<S: Serializer>(topic: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(topic)
}

/// One partition reassignment. Replicas are replaced in place, so an unchanged slot keeps its
/// position and the preferred-leader slot stays first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Move {
    /// Topic name.
    #[serde(serialize_with = "ser_topic")]
    pub topic: Arc<str>,
    /// Partition index.
    pub partition: i32,
    /// Replicas before.
    pub old_replicas: Vec<i32>,
    /// Replicas after (same length).
    pub new_replicas: Vec<i32>,
    /// Bytes the new replicas must copy (partition size per added replica; 0 for a reorder).
    pub bytes_to_copy: u64,
    /// Why.
    pub reason: MoveReason,
}

impl fmt::Display for Move {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{} {:?} -> {:?} ({} B): {}",
            self.topic,
            self.partition,
            self.old_replicas,
            self.new_replicas,
            self.bytes_to_copy,
            self.reason
        )
    }
}

/// A preferred-leader election. When the new leader is not first in the replica list, the plan
/// holds a zero-copy [`MoveReason::Reorder`] move for the partition that must complete first
/// (Kafka's ElectLeaders can only elect the preferred replica).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Election {
    /// Topic name.
    #[serde(serialize_with = "ser_topic")]
    pub topic: Arc<str>,
    /// Partition index.
    pub partition: i32,
    /// Leader before.
    pub old_leader: Option<i32>,
    /// Leader after (an in-sync replica).
    pub new_leader: i32,
    /// Whether a reorder move precedes this election.
    pub after_reorder: bool,
    /// Why.
    pub reason: ElectionReason,
}

impl fmt::Display for Election {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{} leader ", self.topic, self.partition)?;
        match self.old_leader {
            Some(l) => write!(f, "{l}")?,
            None => f.write_str("none")?,
        }
        write!(f, " -> {}: {}", self.new_leader, self.reason)
    }
}

/// A replica that should have moved but could not, with the reason (for an alert).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unplaceable {
    /// Topic name.
    #[serde(serialize_with = "ser_topic")]
    pub topic: Arc<str>,
    /// Partition index.
    pub partition: i32,
    /// The broker the replica stays on.
    pub replica: i32,
    /// Why it stays.
    pub reason: UnplaceableReason,
}

impl fmt::Display for Unplaceable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{} replica on broker {} not placed: {}",
            self.topic, self.partition, self.replica, self.reason
        )
    }
}

/// Moves touching one broker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BrokerMoves {
    /// Replicas it receives.
    pub incoming: u32,
    /// Replicas it gives up.
    pub outgoing: u32,
}

/// Per-resource balance figures: utilization is load / capacity, ratios are max / mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LoadSummary {
    /// Max over alive brokers of net-in utilization, divided by the cluster mean.
    pub net_in_max_over_mean: f64,
    /// Max over alive brokers of net-out utilization, divided by the cluster mean.
    pub net_out_max_over_mean: f64,
    /// Highest net-in utilization (1.0 = at capacity).
    pub net_in_max_utilization: f64,
    /// Highest net-out utilization.
    pub net_out_max_utilization: f64,
}

/// Plan totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlanTotals {
    /// Sum of `bytes_to_copy`.
    pub bytes_moved: u64,
    /// Per broker id, in id order.
    pub moves_per_broker: BTreeMap<i32, BrokerMoves>,
    /// Projected load figures before the plan (in-flight moves counted).
    pub before: LoadSummary,
    /// Projected load figures after the plan.
    pub after: LoadSummary,
}

/// What the planner proposes. Deterministic: the same input gives the same plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    /// Reassignments, in the order they were decided.
    pub moves: Vec<Move>,
    /// Leader elections, in the order they were decided.
    pub elections: Vec<Election>,
    /// Replicas that should move but cannot.
    pub unplaceable: Vec<Unplaceable>,
    /// Plan-wide notes (unknown brokers, brokers still over limit).
    pub warnings: Vec<Warning>,
    /// Totals.
    pub totals: PlanTotals,
}

impl Plan {
    /// Whether the plan does nothing.
    pub fn is_empty(&self) -> bool {
        self.moves.is_empty() && self.elections.is_empty()
    }

    /// The moves in `kafka-reassign-partitions.sh --reassignment-json-file` format, as that
    /// tool's own `--generate` writes it:
    /// `{"version":1,"partitions":[{"topic":..,"partition":..,"replicas":[..],"log_dirs":["any",..]}]}`.
    /// `"any"` lets each broker pick its log dir; a plan never moves replicas between dirs.
    /// This is the only reassignment-JSON writer (the CLI and later the executor use it).
    pub fn reassignment_json(&self) -> serde_json::Value {
        let partitions: Vec<serde_json::Value> = self
            .moves
            .iter()
            .map(|m| {
                serde_json::json!({
                    "topic": &*m.topic,
                    "partition": m.partition,
                    "replicas": m.new_replicas,
                    "log_dirs": vec!["any"; m.new_replicas.len()],
                })
            })
            .collect();
        serde_json::json!({ "version": 1, "partitions": partitions })
    }
}

/// A readable summary: one line per move, election, unplaceable replica and warning.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.totals;
        writeln!(
            f,
            "{} ({} B), {}, {} unplaceable; net in max/mean {:.3} -> {:.3}, net out max/mean {:.3} -> {:.3}",
            crate::text::count(self.moves.len(), "move", "moves"),
            t.bytes_moved,
            crate::text::count(self.elections.len(), "election", "elections"),
            self.unplaceable.len(),
            t.before.net_in_max_over_mean,
            t.after.net_in_max_over_mean,
            t.before.net_out_max_over_mean,
            t.after.net_out_max_over_mean
        )?;
        for m in &self.moves {
            writeln!(f, "move      {m}")?;
        }
        for e in &self.elections {
            writeln!(f, "elect     {e}")?;
        }
        for u in &self.unplaceable {
            writeln!(f, "unplaced  {u}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning   {w}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::MoveReason;

    /// One move, orders-2 from [1, 2, 3] to [4, 2, 3] (10 B to copy; totals left at zero).
    fn one_move() -> Plan {
        Plan {
            moves: vec![Move {
                topic: Arc::from("orders"),
                partition: 2,
                old_replicas: vec![1, 2, 3],
                new_replicas: vec![4, 2, 3],
                bytes_to_copy: 10,
                reason: MoveReason::Heal { from: 1 },
            }],
            ..Plan::default()
        }
    }

    #[test]
    fn an_election_reads_its_leaders_as_numbers_or_none() {
        let mut e = Election {
            topic: Arc::from("orders"),
            partition: 2,
            old_leader: Some(3),
            new_leader: 4,
            after_reorder: false,
            reason: crate::plan::ElectionReason::Preferred { preferred: 4 },
        };
        let text = e.to_string();
        assert!(text.starts_with("orders-2 leader 3 -> 4: "), "{text}");
        e.old_leader = None;
        let text = e.to_string();
        assert!(text.starts_with("orders-2 leader none -> 4: "), "{text}");
    }

    #[test]
    fn the_summary_counts_read_singular_for_one() {
        let plan = one_move();
        let text = plan.to_string();
        assert!(text.starts_with("1 move (0 B), 0 elections, "), "{text}");
    }

    #[test]
    fn reassignment_json_is_what_kafka_reassign_partitions_generates() {
        let plan = one_move();
        assert_eq!(
            plan.reassignment_json(),
            serde_json::json!({"version": 1, "partitions": [
                {"topic": "orders", "partition": 2, "replicas": [4, 2, 3],
                 "log_dirs": ["any", "any", "any"]}
            ]})
        );
    }
}
