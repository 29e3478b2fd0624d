//! The two independent signals about each broker (DESIGN.md rule 3), computed once per round.
//!
//! Silence is measured on the master's monotonic clock (`DetectInput::mono_ms` against
//! `AgentState::heard_mono_ms`, see `model::agent`), never on the agent's timestamps, so a
//! record stamped in the future cannot keep a dead agent "fresh", and a wall-clock step cannot
//! make a live one "silent".
//!
//! An agent that never reported gives no signal at all (neither alive nor dead): counting it as
//! "silent" would let Kafka's signal alone confirm a death wherever agents are not deployed.

use std::collections::BTreeMap;

use kmedic_common::stats::ProcessState;
use serde::Serialize;

use super::DetectInput;
use crate::model::AgentState;
use crate::observe::TopicPartition;

/// What Kafka says about a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KafkaSignal {
    /// Registered and unfenced.
    Healthy,
    /// Registered but fenced by the controller.
    Fenced,
    /// Not in DescribeCluster, yet replicas are assigned to it.
    Absent,
}

/// What the broker's agent says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AgentSignal {
    /// Reported recently and the process is not gone.
    Fresh,
    /// Reported recently that the Kafka process is gone.
    ProcessGone,
    /// Last report is older than the silence threshold.
    Silent {
        /// Milliseconds since the last report.
        silent_ms: u64,
    },
    /// No report ever seen for this broker id.
    NeverSeen,
    /// Silent, but so are most of the cluster's agents: the stats path (topic, its leader,
    /// the master's consumer) is broken, not the hosts. Not a "dead" signal.
    StatsPathDown {
        /// Milliseconds since the last report.
        silent_ms: u64,
    },
}

/// One broker's two signals and what it hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerHealth {
    /// Broker id.
    pub id: i32,
    /// Kafka's signal.
    pub kafka: KafkaSignal,
    /// The agent's signal.
    pub agent: AgentSignal,
    /// Replicas assigned to it.
    pub hosted: Vec<TopicPartition>,
}

impl BrokerHealth {
    /// Kafka says dead: fenced, or absent while hosting replicas.
    pub fn kafka_says_dead(&self) -> bool {
        self.kafka != KafkaSignal::Healthy
    }

    /// The agent says dead: silent, or reporting the process gone.
    pub fn agent_says_dead(&self) -> bool {
        matches!(
            self.agent,
            AgentSignal::ProcessGone | AgentSignal::Silent { .. }
        )
    }

    /// Both signals agree: the broker is confirmed dead.
    pub fn confirmed_dead(&self) -> bool {
        self.kafka_says_dead() && self.agent_says_dead()
    }

    /// Readable form of both signals, for evidence.
    pub fn describe(&self) -> String {
        let k = match self.kafka {
            KafkaSignal::Healthy => "registered and unfenced".to_string(),
            KafkaSignal::Fenced => "fenced by the controller".to_string(),
            KafkaSignal::Absent => format!(
                "absent from DescribeCluster while hosting {} replicas",
                self.hosted.len()
            ),
        };
        let a = match &self.agent {
            AgentSignal::Fresh => "agent reporting".to_string(),
            AgentSignal::ProcessGone => "agent reports the Kafka process gone".to_string(),
            AgentSignal::Silent { silent_ms } => {
                format!("agent silent for {} s", silent_ms / 1000)
            }
            AgentSignal::NeverSeen => "no agent report ever seen".to_string(),
            AgentSignal::StatsPathDown { silent_ms } => format!(
                "agent silent for {} s, as are most agents: stats path down, not counted",
                silent_ms / 1000
            ),
        };
        format!("Kafka: {k}; {a}")
    }
}

/// The agent's signal for `a` at master monotonic time `mono_ms` (not the wall clock).
pub fn agent_signal(a: Option<&AgentState>, mono_ms: u64, silence_ms: u64) -> AgentSignal {
    match a {
        None => AgentSignal::NeverSeen,
        Some(a) => {
            let silent_ms = a.silent_ms(mono_ms);
            if silent_ms > silence_ms {
                AgentSignal::Silent { silent_ms }
            } else if a.process == ProcessState::Gone {
                AgentSignal::ProcessGone
            } else {
                AgentSignal::Fresh
            }
        }
    }
}

/// Classifies every broker that is registered or hosts replicas. Agent reports for other ids
/// are ignored: ids from stats are only trusted once metadata knows them (DESIGN.md rule 8).
pub fn classify(input: &DetectInput<'_>) -> BTreeMap<i32, BrokerHealth> {
    let mut hosted: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
    for p in &input.view.partitions {
        for &r in &p.replicas {
            hosted.entry(r).or_default().push(TopicPartition {
                topic: p.topic.clone(),
                partition: p.partition,
            });
        }
    }
    for &id in input.view.brokers.keys() {
        hosted.entry(id).or_default();
    }
    // When most agents fall silent together, the stats path is down (for example the stats
    // topic's leader is the broker that just hung): silence then says nothing about hosts.
    let signals: Vec<AgentSignal> = hosted
        .keys()
        .map(|id| agent_signal(input.agents.get(id), input.mono_ms, input.agent_silence_ms))
        .collect();
    let seen = signals
        .iter()
        .filter(|s| **s != AgentSignal::NeverSeen)
        .count();
    let silent = signals
        .iter()
        .filter(|s| matches!(s, AgentSignal::Silent { .. }))
        .count();
    let path_down = seen >= 2 && silent * 2 > seen;
    hosted
        .into_iter()
        .zip(signals)
        .map(|((id, hosted), agent)| {
            let kafka = match input.view.brokers.get(&id) {
                Some(b) if b.fenced => KafkaSignal::Fenced,
                Some(_) => KafkaSignal::Healthy,
                None => KafkaSignal::Absent,
            };
            let agent = match agent {
                AgentSignal::Silent { silent_ms } if path_down => {
                    AgentSignal::StatsPathDown { silent_ms }
                }
                a => a,
            };
            (
                id,
                BrokerHealth {
                    id,
                    kafka,
                    agent,
                    hosted,
                },
            )
        })
        .collect()
}
