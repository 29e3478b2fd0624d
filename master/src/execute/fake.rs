//! A fake cluster for the executor's unit tests (logic only; the feature's end-to-end test
//! runs on real brokers). Each `fresh()` is one tick: every live destination of a reassignment
//! copies `copy_per_tick` bytes, and a reassignment whose new replicas all hold the leader's
//! size completes, as Kafka does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use kmedic_common::admin::{
    ConfigEntry, ConfigOp, ConfigResource, ConfigSource, ElectionOutcome, OngoingReassignment,
    PartitionResult, ResponseError,
};

use super::ops::{AdminError, ClusterOps, Fresh, PartitionState};
use crate::observe::TopicPartition;

/// The fake's state; tests reach in through [`FakeCluster::with`].
#[derive(Debug, Default)]
pub struct State {
    pub live: BTreeSet<i32>,
    pub partitions: BTreeMap<TopicPartition, PartitionState>,
    /// Target and old replicas of each reassignment.
    pub reassigning: BTreeMap<TopicPartition, (Vec<i32>, Vec<i32>)>,
    /// Reassignments started by someone else count here too (no difference to Kafka).
    pub sizes: BTreeMap<(i32, TopicPartition), u64>,
    pub copy_per_tick: u64,
    /// Partitions that copy nothing (stuck).
    pub frozen: BTreeSet<TopicPartition>,
    /// Config values by (resource, key).
    pub configs: BTreeMap<(String, String), String>,
    /// Every mutating call, in order.
    pub calls: Vec<String>,
    pub ticks: u64,
    /// A broker killed at this tick.
    pub kill_at: Option<(u64, i32)>,
}

#[derive(Debug, Default)]
pub struct FakeCluster(pub Mutex<State>);

pub fn tp(topic: &str, p: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.into(),
        partition: p,
    }
}

/// One answer per item of a per-partition call, in order: `key` names the item's partition
/// and `f` gives its result.
fn per_partition<T, R>(
    items: &[T],
    key: impl Fn(&T) -> (&String, i32),
    mut f: impl FnMut(&T, TopicPartition) -> Result<R, AdminError>,
) -> Vec<PartitionResult<R>> {
    items
        .iter()
        .map(|item| {
            let (topic, partition) = key(item);
            PartitionResult {
                topic: topic.clone(),
                partition,
                result: f(item, tp(topic, partition)),
            }
        })
        .collect()
}

fn kafka_err(api: &'static str, error: ResponseError) -> AdminError {
    AdminError::Kafka {
        api,
        broker: "fake".into(),
        resource: "fake".into(),
        error,
        code: error.code(),
        message: None,
    }
}

fn res_name(r: &ConfigResource) -> String {
    r.to_string()
}

impl FakeCluster {
    /// Brokers `live`, `copy_per_tick` bytes per destination per tick.
    pub fn new(live: &[i32], copy_per_tick: u64) -> Self {
        let s = State {
            live: live.iter().copied().collect(),
            copy_per_tick,
            ..State::default()
        };
        FakeCluster(Mutex::new(s))
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }

    /// A partition with `replicas` (first leads), `size` bytes on each replica.
    pub fn partition(&self, topic: &str, p: i32, replicas: &[i32], size: u64) {
        self.with(|s| {
            let t = tp(topic, p);
            for b in replicas {
                s.sizes.insert((*b, t.clone()), size);
            }
            s.partitions.insert(
                t,
                PartitionState {
                    replicas: replicas.to_vec(),
                    leader: replicas.first().copied(),
                    isr: replicas.to_vec(),
                },
            );
        });
    }
}

impl State {
    fn tick(&mut self) {
        self.ticks += 1;
        if let Some((at, b)) = self.kill_at {
            if self.ticks >= at {
                self.live.remove(&b);
                for p in self.partitions.values_mut() {
                    p.isr.retain(|x| *x != b);
                }
            }
        }
        let mut finished = Vec::new();
        for (t, (target, old)) in &self.reassigning {
            let Some(leader) = self.partitions[t].leader else {
                continue;
            };
            let full = self.sizes.get(&(leader, t.clone())).copied().unwrap_or(0);
            let mut all = true;
            for b in target.iter().filter(|b| !old.contains(b)) {
                let size = self.sizes.entry((*b, t.clone())).or_insert(0);
                if self.live.contains(b) && !self.frozen.contains(t) {
                    *size = (*size + self.copy_per_tick).min(full);
                }
                all &= *size >= full;
            }
            if all {
                finished.push(t.clone());
            }
        }
        for t in finished {
            let (target, old) = self.reassigning.remove(&t).unwrap();
            let p = self.partitions.get_mut(&t).unwrap();
            p.replicas = target.clone();
            p.isr = target
                .iter()
                .filter(|b| self.live.contains(b))
                .copied()
                .collect();
            if !p.leader.is_some_and(|l| target.contains(&l)) {
                p.leader = target.first().copied();
            }
            for b in old.iter().filter(|b| !target.contains(b)) {
                self.sizes.remove(&(*b, t.clone()));
            }
        }
    }
}

impl ClusterOps for FakeCluster {
    async fn fresh(&self) -> Result<Fresh, AdminError> {
        self.with(|s| {
            s.tick();
            let reassigning = s
                .reassigning
                .iter()
                .map(|(t, (target, old))| {
                    (
                        t.clone(),
                        OngoingReassignment {
                            topic: t.topic.clone(),
                            partition: t.partition,
                            replicas: s.partitions[t].replicas.clone(),
                            adding: target
                                .iter()
                                .filter(|b| !old.contains(b))
                                .copied()
                                .collect(),
                            removing: old
                                .iter()
                                .filter(|b| !target.contains(b))
                                .copied()
                                .collect(),
                        },
                    )
                })
                .collect();
            Ok(Fresh {
                live: s.live.clone(),
                partitions: s.partitions.clone(),
                reassigning,
            })
        })
    }

    async fn replica_sizes(
        &self,
        broker: i32,
    ) -> Result<BTreeMap<TopicPartition, u64>, AdminError> {
        self.with(|s| {
            if !s.live.contains(&broker) {
                return Err(AdminError::UnknownBroker { id: broker });
            }
            Ok(s.sizes
                .iter()
                .filter(|((b, _), _)| *b == broker)
                .map(|((_, t), v)| (t.clone(), *v))
                .collect())
        })
    }

    async fn submit(
        &self,
        moves: &[(String, i32, Vec<i32>)],
    ) -> Result<Vec<PartitionResult>, AdminError> {
        self.with(|s| {
            Ok(per_partition(
                moves,
                |(topic, p, _)| (topic, *p),
                |(_, _, target), t| {
                    s.calls.push(format!("submit {t} {target:?}"));
                    match s.partitions.get_mut(&t) {
                        None => Err(kafka_err("Alter", ResponseError::UnknownTopicOrPartition)),
                        // A new replica on a dead broker is refused; a reorder of current ones
                        // is not.
                        Some(part)
                            if target
                                .iter()
                                .any(|b| !s.live.contains(b) && !part.replicas.contains(b)) =>
                        {
                            Err(kafka_err("Alter", ResponseError::InvalidReplicaAssignment))
                        }
                        // A reorder (no new replica) completes at once, as in Kafka.
                        Some(part) if target.iter().all(|b| part.replicas.contains(b)) => {
                            part.replicas = target.clone();
                            Ok(())
                        }
                        Some(part) => {
                            let old = part.replicas.clone();
                            let mut union = target.clone();
                            union.extend(old.iter().filter(|b| !target.contains(b)));
                            part.replicas = union;
                            s.reassigning.insert(t, (target.clone(), old));
                            Ok(())
                        }
                    }
                },
            ))
        })
    }

    async fn cancel(
        &self,
        partitions: &[(String, i32)],
    ) -> Result<Vec<PartitionResult>, AdminError> {
        self.with(|s| {
            Ok(per_partition(
                partitions,
                |(topic, p)| (topic, *p),
                |_, t| {
                    s.calls.push(format!("cancel {t}"));
                    match s.reassigning.remove(&t) {
                        None => Err(kafka_err("Alter", ResponseError::NoReassignmentInProgress)),
                        Some((target, old)) => {
                            let adding: Vec<i32> = target
                                .iter()
                                .filter(|b| !old.contains(b))
                                .copied()
                                .collect();
                            for b in &adding {
                                s.sizes.remove(&(*b, t.clone()));
                            }
                            // As Kafka does: the adding replicas are dropped from the current list
                            // (target first, then the removing ones), so the old SET comes back
                            // in another order.
                            s.partitions
                                .get_mut(&t)
                                .unwrap()
                                .replicas
                                .retain(|b| !adding.contains(b));
                            Ok(())
                        }
                    }
                },
            ))
        })
    }

    async fn elect_preferred(
        &self,
        partitions: &[(String, i32)],
    ) -> Result<Vec<PartitionResult<ElectionOutcome>>, AdminError> {
        self.with(|s| {
            Ok(per_partition(
                partitions,
                |(topic, p)| (topic, *p),
                |_, t| {
                    s.calls.push(format!("elect {t}"));
                    let part = s.partitions.get_mut(&t).unwrap();
                    part.leader = part.replicas.first().copied();
                    Ok(ElectionOutcome::Elected)
                },
            ))
        })
    }

    async fn alter_configs(
        &self,
        resource: &ConfigResource,
        ops: &[ConfigOp],
    ) -> Result<(), AdminError> {
        self.with(|s| {
            for op in ops {
                match op {
                    ConfigOp::Set(k, v) => {
                        s.calls.push(format!("set {resource} {k}={v}"));
                        s.configs.insert((res_name(resource), k.clone()), v.clone());
                    }
                    ConfigOp::Delete(k) => {
                        s.calls.push(format!("delete {resource} {k}"));
                        s.configs.remove(&(res_name(resource), k.clone()));
                    }
                }
            }
            Ok(())
        })
    }

    async fn describe_configs(
        &self,
        resource: &ConfigResource,
        keys: &[&str],
    ) -> Result<Vec<ConfigEntry>, AdminError> {
        self.with(|s| {
            let source = match resource {
                ConfigResource::Topic(_) => ConfigSource::DynamicTopic,
                _ => ConfigSource::DynamicDefaultBroker,
            };
            Ok(keys
                .iter()
                .filter_map(|k| {
                    s.configs
                        .get(&(res_name(resource), k.to_string()))
                        .map(|v| ConfigEntry {
                            name: k.to_string(),
                            value: Some(v.clone()),
                            source,
                            read_only: false,
                            is_sensitive: false,
                        })
                })
                .collect())
        })
    }
}
