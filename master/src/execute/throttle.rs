//! The replication throttle (DESIGN rule 10): rates on the broker-DEFAULT resource (any live
//! broker takes the change, so a dead broker never blocks it; Kafka's own tool sets them per
//! broker and hangs there), and the throttled replicas on each moving topic: the leader side on
//! the current replicas (any may lead), the follower side on the replicas being added, as
//! `kafka-reassign-partitions --throttle` does.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};
use kmedic_common::admin::{ConfigOp, ConfigResource, ConfigSource};

use super::ops::{AdminError, ClusterOps, Fresh};

/// Broker-default leader rate key.
pub const LEADER_RATE: &str = "leader.replication.throttled.rate";
/// Broker-default follower rate key.
pub const FOLLOWER_RATE: &str = "follower.replication.throttled.rate";
/// Topic leader throttled replicas key.
pub const LEADER_REPLICAS: &str = "leader.replication.throttled.replicas";
/// Topic follower throttled replicas key.
pub const FOLLOWER_REPLICAS: &str = "follower.replication.throttled.replicas";

/// A partition move as the throttle needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Replicas before.
    pub old: &'a [i32],
    /// Replicas after.
    pub new: &'a [i32],
}

/// Per topic: (leader throttled replicas, follower throttled replicas), in Kafka's
/// `partition:broker,...` format, sorted.
pub fn topic_values(moves: &[Throttled<'_>]) -> BTreeMap<String, (String, String)> {
    // (partition, broker) pairs: leader side, follower side.
    type Pairs = BTreeSet<(i32, i32)>;
    let mut by_topic: BTreeMap<&str, (Pairs, Pairs)> = BTreeMap::new();
    for m in moves {
        let (leader, follower) = by_topic.entry(m.topic).or_default();
        for b in m.old {
            leader.insert((m.partition, *b));
        }
        for b in m.new.iter().filter(|b| !m.old.contains(b)) {
            follower.insert((m.partition, *b));
        }
    }
    let join = |s: &BTreeSet<(i32, i32)>| {
        s.iter()
            .map(|(p, b)| format!("{p}:{b}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    by_topic
        .into_iter()
        .filter(|(_, (_, f))| !f.is_empty())
        .map(|(t, (l, f))| (t.to_string(), (join(&l), join(&f))))
        .collect()
}

/// Sets the rates on the broker default and the throttled replicas on each topic.
pub async fn set<O: ClusterOps>(
    ops: &O,
    rate: u64,
    topics: &BTreeMap<String, (String, String)>,
) -> Result<(), AdminError> {
    let rate = rate.to_string();
    ops.alter_configs(
        &ConfigResource::BrokerDefault,
        &[
            ConfigOp::Set(LEADER_RATE.into(), rate.clone()),
            ConfigOp::Set(FOLLOWER_RATE.into(), rate),
        ],
    )
    .await?;
    for (topic, (leader, follower)) in topics {
        ops.alter_configs(
            &ConfigResource::Topic(topic.clone()),
            &[
                ConfigOp::Set(LEADER_REPLICAS.into(), leader.clone()),
                ConfigOp::Set(FOLLOWER_REPLICAS.into(), follower.clone()),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Removes the rates from the broker default (when `rates`) and the throttled replicas from
/// `topics`. Tries every resource even when one fails, and returns the failures.
pub async fn clear<O: ClusterOps>(
    ops: &O,
    rates: bool,
    topics: &[String],
) -> Vec<(String, AdminError)> {
    let mut errors = Vec::new();
    let rate_ops = [
        ConfigOp::Delete(LEADER_RATE.into()),
        ConfigOp::Delete(FOLLOWER_RATE.into()),
    ];
    if rates {
        if let Err(e) = ops
            .alter_configs(&ConfigResource::BrokerDefault, &rate_ops)
            .await
        {
            errors.push(("broker default".to_string(), e));
        }
    }
    let replicas = [
        ConfigOp::Delete(LEADER_REPLICAS.into()),
        ConfigOp::Delete(FOLLOWER_REPLICAS.into()),
    ];
    for topic in topics {
        if let Err(e) = ops
            .alter_configs(&ConfigResource::Topic(topic.clone()), &replicas)
            .await
        {
            errors.push((format!("topic {topic}"), e));
        }
    }
    errors
}

/// The throttle configs still set, read now: `resource key` strings.
pub async fn remaining<O: ClusterOps>(
    ops: &O,
    rates: bool,
    topics: &[String],
) -> Result<Vec<String>, AdminError> {
    let mut left = Vec::new();
    let mut resources = Vec::new();
    if rates {
        resources.push((
            ConfigResource::BrokerDefault,
            [LEADER_RATE, FOLLOWER_RATE],
            ConfigSource::DynamicDefaultBroker,
        ));
    }
    for t in topics {
        resources.push((
            ConfigResource::Topic(t.clone()),
            [LEADER_REPLICAS, FOLLOWER_REPLICAS],
            ConfigSource::DynamicTopic,
        ));
    }
    for (res, keys, source) in resources {
        for e in ops.describe_configs(&res, &keys).await? {
            if e.source == source && e.value.as_deref().is_some_and(|v| !v.is_empty()) {
                left.push(format!("{res} {}", e.name));
            }
        }
    }
    Ok(left)
}

/// [`clear`], then checks on fresh reads that the configs are gone: a change reaches every
/// broker's metadata a moment after the controller commits it, so a read right after the
/// answer may still show it. Up to 5 s of reads 250 ms apart, one more clear half-way.
/// Returns what could not be removed (empty: all gone).
pub async fn clear_verified<O: ClusterOps>(ops: &O, rates: bool, topics: &[String]) -> Vec<String> {
    let mut errors: Vec<String> = clear(ops, rates, topics)
        .await
        .into_iter()
        .map(|(r, e)| format!("{r}: {e}"))
        .collect();
    let mut left = Vec::new();
    for attempt in 0..20 {
        match remaining(ops, rates, topics).await {
            Ok(l) if l.is_empty() => return errors,
            Ok(l) => left = l,
            Err(e) => left = vec![format!("could not read the configs back: {e}")],
        }
        if attempt == 10 {
            clear(ops, rates, topics).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    errors.extend(left.into_iter().map(|l| format!("{l}: still set")));
    errors
}

/// Throttle configs found at start that kmedic left behind (a crash between setting and
/// clearing them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// The broker-default rates hold exactly kmedic's configured rate.
    pub rates: bool,
    /// Topics with throttled replicas set and no reassignment in progress.
    pub topics: Vec<String>,
}

impl Leftovers {
    /// Nothing to clear.
    pub fn is_empty(&self) -> bool {
        !self.rates && self.topics.is_empty()
    }
}

/// Finds what kmedic left: the broker-default rates when they hold the rate kmedic sets and no
/// reassignment is in progress, and topic throttled-replica lists on topics with no
/// reassignment in progress (such a list throttles nothing useful; Kafka's own tool leaves the
/// same behind when `--verify` is never run). A throttle belonging to a reassignment in
/// progress is never touched.
pub async fn find_leftovers<O: ClusterOps>(
    ops: &O,
    fresh: &Fresh,
    rate: u64,
) -> Result<Leftovers, AdminError> {
    let mut out = Leftovers::default();
    let entries = ops
        .describe_configs(
            &ConfigResource::BrokerDefault,
            &[LEADER_RATE, FOLLOWER_RATE],
        )
        .await?;
    let ours = rate.to_string();
    out.rates = fresh.reassigning.is_empty()
        && entries.iter().any(|e| {
            e.source == ConfigSource::DynamicDefaultBroker && e.value.as_deref() == Some(&ours)
        });
    let moving: BTreeSet<&str> = fresh.reassigning.keys().map(|t| t.topic.as_str()).collect();
    // Owned names: a closure over `&str` makes this future not provably Send (higher-ranked
    // lifetime), and the service runs it in a spawned task.
    let topics: BTreeSet<String> = fresh
        .partitions
        .keys()
        .map(|t| t.topic.as_str())
        .filter(|t| !moving.contains(t))
        .map(str::to_string)
        .collect();
    let found: Vec<Result<Option<String>, AdminError>> = stream::iter(topics)
        .map(|t: String| async move {
            let e = ops
                .describe_configs(
                    &ConfigResource::Topic(t.clone()),
                    &[LEADER_REPLICAS, FOLLOWER_REPLICAS],
                )
                .await?;
            let set = e.iter().any(|e| {
                e.source == ConfigSource::DynamicTopic
                    && e.value.as_deref().is_some_and(|v| !v.is_empty())
            });
            Ok(set.then_some(t))
        })
        .buffered(8)
        .collect()
        .await;
    for f in found {
        if let Some(t) = f? {
            out.topics.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_side_on_current_replicas_follower_side_on_added_ones() {
        let moves = [
            Throttled {
                topic: "a",
                partition: 1,
                old: &[1, 2, 3],
                new: &[4, 2, 3],
            },
            Throttled {
                topic: "a",
                partition: 0,
                old: &[2, 3, 5],
                new: &[2, 3, 6],
            },
            // A reorder adds nothing: no throttle for its topic.
            Throttled {
                topic: "b",
                partition: 0,
                old: &[1, 2],
                new: &[2, 1],
            },
        ];
        let v = topic_values(&moves);
        assert_eq!(v.len(), 1);
        assert_eq!(
            v["a"],
            ("0:2,0:3,0:5,1:1,1:2,1:3".to_string(), "0:6,1:4".to_string())
        );
    }
}
