//! One action-log record: structured JSON that people and other tools read.
//!
//! Field names are part of the format (tests pin them). A record is an *intent* (written before
//! the action, inside a Kafka transaction), an *outcome* (written after it, same `action_id`), or
//! a *state* record (a mode or decommission change: a fact, with no outcome to follow).

use serde::{Deserialize, Serialize};

use crate::policy::DecisionId;

/// The record format's version; bumped when a field changes meaning.
pub const FORMAT_VERSION: u32 = 1;

/// One record of the action log. Reading is tolerant: fields a newer writer adds are ignored,
/// so an older master still sees every replacement and in-flight action after an upgrade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// [`FORMAT_VERSION`] when written.
    pub v: u32,
    /// The Kafka `cluster.id` the action is about.
    pub cluster_id: String,
    /// The action's id; an intent and its outcome share it.
    pub action_id: String,
    /// The policy decision the action answers (`DecisionId` as a number), if any.
    #[serde(default)]
    pub decision_id: Option<u64>,
    /// Intent, outcome or state.
    pub phase: Phase,
    /// What is done, with its own fields.
    pub kind: ActionKind,
    /// The partitions the action touches.
    #[serde(default)]
    pub partitions: Vec<PartitionRef>,
    /// The brokers the action touches.
    #[serde(default)]
    pub brokers: Vec<i32>,
    /// Why, in a sentence a person reads.
    #[serde(default)]
    pub reason: String,
    /// The figures behind the decision (free-form JSON: findings, sizes, counts).
    #[serde(default)]
    pub evidence: serde_json::Value,
    /// How it ended (outcome records only).
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// When the record was written, ms since the Unix epoch (wall clock: the outside world's).
    pub wall_ms: u64,
    /// The master process that wrote it (`host:pid` or the configured id).
    pub master_id: String,
}

/// Which step of an action a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Written before the action is taken.
    Intent,
    /// Written after it, with [`Outcome`].
    Outcome,
    /// A fact (mode, decommission) that needs no outcome.
    State,
}

/// A topic partition in a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartitionRef {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

/// The master's per-cluster modes (DESIGN rule 5: persisted, not only in memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// No actions; alerts go on.
    Maintenance,
    /// Decisions and plans recorded, nothing executed.
    DryRun,
    /// The operator's mass-failure override: heal as for single failures during a mass failure.
    MassFailureOverride,
}

/// What an action does. Serialized with a `type` tag in snake_case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ActionKind {
    /// Set replication throttles (bytes per second) for a plan.
    SetThrottle {
        /// The rate in bytes per second.
        rate_bytes_per_sec: u64,
    },
    /// Remove the throttles kmedic set.
    ClearThrottle,
    /// Submit a batch of partition reassignments (targets per partition in `targets`).
    Reassign {
        /// The target replica list per partition, in the order of `partitions`.
        targets: Vec<Vec<i32>>,
        /// Bytes to copy in total.
        #[serde(default)]
        bytes: u64,
    },
    /// Cancel reassignments (partitions in the record).
    CancelReassign,
    /// Elect preferred leaders for the record's partitions.
    ElectLeaders,
    /// Cordon a broker's log dirs (KIP-1066) so no new replicas land on it.
    Cordon,
    /// Undo [`ActionKind::Cordon`].
    Uncordon,
    /// Unregister a drained broker.
    Unregister,
    /// Run the user's host-replacement command for a broker.
    ReplaceHost {
        /// The broker whose host is replaced.
        broker: i32,
        /// Its hostname, as given to the command.
        hostname: String,
    },
    /// A replaced broker has caught up: in the ISR of all its partitions.
    CaughtUp {
        /// The broker.
        broker: i32,
    },
    /// A per-cluster mode switched on or off (a state record).
    SetMode {
        /// Which mode.
        mode: Mode,
        /// On or off.
        on: bool,
    },
    /// Brokers to drain and (if configured) unregister (a state record).
    Decommission {
        /// The brokers.
        brokers: Vec<i32>,
    },
    /// Brokers taken off the decommission list (a state record).
    Recommission {
        /// The brokers.
        brokers: Vec<i32>,
    },
}

impl ActionKind {
    /// The kind's stable name, as serialized in `type`.
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::SetThrottle { .. } => "set_throttle",
            ActionKind::ClearThrottle => "clear_throttle",
            ActionKind::Reassign { .. } => "reassign",
            ActionKind::CancelReassign => "cancel_reassign",
            ActionKind::ElectLeaders => "elect_leaders",
            ActionKind::Cordon => "cordon",
            ActionKind::Uncordon => "uncordon",
            ActionKind::Unregister => "unregister",
            ActionKind::ReplaceHost { .. } => "replace_host",
            ActionKind::CaughtUp { .. } => "caught_up",
            ActionKind::SetMode { .. } => "set_mode",
            ActionKind::Decommission { .. } => "decommission",
            ActionKind::Recommission { .. } => "recommission",
        }
    }
}

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Succeeded, failed or cancelled.
    pub status: OutcomeStatus,
    /// What happened, in a sentence.
    #[serde(default)]
    pub detail: String,
    /// The external command's result, for a replacement.
    #[serde(default)]
    pub command: Option<CommandOutput>,
}

/// The end state of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// Done as intended.
    Succeeded,
    /// Tried and failed.
    Failed,
    /// Partly done (some partitions refused; see `detail`).
    Partial,
    /// Stopped on purpose (typed reasons live in `detail`).
    Cancelled,
}

/// What an external command did: captured (bounded) output and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// The argv that ran (program first).
    pub argv: Vec<String>,
    /// The exit code; `None` when killed by a signal or the timeout.
    pub exit_code: Option<i32>,
    /// Killed because it ran past its timeout.
    pub timed_out: bool,
    /// How long it ran, in ms.
    pub duration_ms: u64,
    /// Standard output, cut to the configured bound (lossy UTF-8).
    pub stdout: String,
    /// Standard error, cut to the configured bound (lossy UTF-8).
    pub stderr: String,
    /// Whether stdout or stderr was cut.
    pub truncated: bool,
}

impl CommandOutput {
    /// Exit code 0 and not timed out.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

impl ActionRecord {
    /// An intent for `kind`, with empty partitions, brokers and evidence, stamped now.
    pub fn intent(
        cluster_id: &str,
        action_id: impl Into<String>,
        decision: Option<DecisionId>,
        kind: ActionKind,
        reason: impl Into<String>,
        master_id: &str,
    ) -> Self {
        Self {
            v: FORMAT_VERSION,
            cluster_id: cluster_id.to_string(),
            action_id: action_id.into(),
            decision_id: decision.map(|d| d.0),
            phase: Phase::Intent,
            kind,
            partitions: Vec::new(),
            brokers: Vec::new(),
            reason: reason.into(),
            evidence: serde_json::Value::Null,
            outcome: None,
            wall_ms: crate::clock::wall_ms(),
            master_id: master_id.to_string(),
        }
    }

    /// A state record (mode, decommission): no outcome follows.
    pub fn state(
        cluster_id: &str,
        action_id: impl Into<String>,
        kind: ActionKind,
        reason: impl Into<String>,
        master_id: &str,
    ) -> Self {
        Self {
            phase: Phase::State,
            ..Self::intent(cluster_id, action_id, None, kind, reason, master_id)
        }
    }

    /// The outcome record answering this intent, stamped now.
    pub fn outcome_of(&self, outcome: Outcome) -> Self {
        Self {
            phase: Phase::Outcome,
            outcome: Some(outcome),
            wall_ms: crate::clock::wall_ms(),
            ..self.clone()
        }
    }

    /// The JSON bytes written to the topic.
    pub fn to_json(&self) -> Vec<u8> {
        // A record holds only strings, numbers and JSON values: serialization cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a record read from the topic.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// A fresh action id: the master id, the wall time and a process-wide sequence number, so two
/// masters (or two runs of one) never make the same id.
pub fn new_action_id(master_id: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{master_id}-{}-{n}", crate::clock::wall_ms())
}

/// One action of every kind, with values worth a round trip (a hostname with shell
/// metacharacters), for the tests here and the API's kind list.
#[cfg(test)]
pub(crate) fn one_of_each_kind() -> Vec<ActionKind> {
    vec![
        ActionKind::SetThrottle {
            rate_bytes_per_sec: 5,
        },
        ActionKind::ClearThrottle,
        ActionKind::Reassign {
            targets: vec![vec![4, 2, 3]],
            bytes: 7,
        },
        ActionKind::CancelReassign,
        ActionKind::ElectLeaders,
        ActionKind::Cordon,
        ActionKind::Uncordon,
        ActionKind::Unregister,
        ActionKind::ReplaceHost {
            broker: 3,
            hostname: "h;rm -rf".into(),
        },
        ActionKind::CaughtUp { broker: 3 },
        ActionKind::SetMode {
            mode: Mode::DryRun,
            on: true,
        },
        ActionKind::Decommission { brokers: vec![1] },
        ActionKind::Recommission { brokers: vec![1] },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ActionRecord {
        let mut r = ActionRecord::intent(
            "c1",
            "m1-1-0",
            Some(DecisionId(7)),
            ActionKind::Reassign {
                targets: vec![vec![1, 2, 3]],
                bytes: 1000,
            },
            "heal dead broker 4",
            "m1",
        );
        r.partitions = vec![PartitionRef {
            topic: "orders".into(),
            partition: 3,
        }];
        r.brokers = vec![4];
        r.evidence = serde_json::json!({"urps": 12});
        r.wall_ms = 1_700_000_000_000;
        r
    }

    #[test]
    fn json_round_trip_with_stable_field_names() {
        let r = sample();
        let v: serde_json::Value = serde_json::from_slice(&r.to_json()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "v",
            "cluster_id",
            "action_id",
            "decision_id",
            "phase",
            "kind",
            "partitions",
            "brokers",
            "reason",
            "evidence",
            "outcome",
            "wall_ms",
            "master_id",
        ] {
            assert!(keys.contains(&k), "missing {k} in {v}");
        }
        assert_eq!(v["phase"], "intent");
        assert_eq!(v["decision_id"], 7);
        assert_eq!(v["kind"]["type"], "reassign");
        assert_eq!(v["kind"]["targets"][0][2], 3);
        assert_eq!(v["partitions"][0]["topic"], "orders");
        assert_eq!(ActionRecord::from_json(&r.to_json()).unwrap(), r);

        let out = r.outcome_of(Outcome {
            status: OutcomeStatus::Failed,
            detail: "x".into(),
            command: Some(CommandOutput {
                argv: vec!["a".into(), "b c".into()],
                exit_code: None,
                timed_out: true,
                duration_ms: 5,
                stdout: "o".into(),
                stderr: "e".into(),
                truncated: false,
            }),
        });
        let v: serde_json::Value = serde_json::from_slice(&out.to_json()).unwrap();
        assert_eq!(v["phase"], "outcome");
        assert_eq!(v["outcome"]["status"], "failed");
        assert_eq!(v["outcome"]["command"]["timed_out"], true);
        assert_eq!(ActionRecord::from_json(&out.to_json()).unwrap(), out);
    }

    #[test]
    fn every_kind_round_trips_and_names_its_type() {
        let kinds = one_of_each_kind();
        for k in kinds {
            let r = ActionRecord::state("c", "a", k.clone(), "", "m");
            let v: serde_json::Value = serde_json::from_slice(&r.to_json()).unwrap();
            assert_eq!(v["kind"]["type"], k.name());
            assert_eq!(ActionRecord::from_json(&r.to_json()).unwrap(), r);
        }
    }

    #[test]
    fn a_record_from_an_older_writer_with_fewer_fields_parses() {
        let text = r#"{"v":1,"cluster_id":"c","action_id":"a","phase":"state",
            "kind":{"type":"set_mode","mode":"maintenance","on":true},"wall_ms":1,"master_id":"m"}"#;
        let r = ActionRecord::from_json(text.as_bytes()).unwrap();
        assert_eq!(
            r.kind,
            ActionKind::SetMode {
                mode: Mode::Maintenance,
                on: true
            }
        );
        assert!(r.partitions.is_empty() && r.decision_id.is_none());
    }

    #[test]
    fn fields_a_newer_writer_adds_are_ignored() {
        let text = r#"{"v":2,"cluster_id":"c","action_id":"a","phase":"intent","new":1,
            "kind":{"type":"replace_host","broker":3,"hostname":"h","zone":"z"},
            "outcome":{"status":"failed","extra":true},"wall_ms":1,"master_id":"m"}"#;
        let r = ActionRecord::from_json(text.as_bytes()).unwrap();
        assert_eq!(
            r.kind,
            ActionKind::ReplaceHost {
                broker: 3,
                hostname: "h".into()
            }
        );
    }

    #[test]
    fn action_ids_are_unique() {
        assert_ne!(new_action_id("m"), new_action_id("m"));
    }
}
