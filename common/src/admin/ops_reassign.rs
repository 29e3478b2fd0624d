//! Replica placement: ListPartitionReassignments, AlterPartitionReassignments (submit and
//! cancel), ElectLeaders.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ElectLeadersRequest,
    ElectLeadersResponse, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{AdminClient, Route};
use super::error::{Error, Result};
use super::types::{ElectionOutcome, ElectionType, OngoingReassignment, PartitionResult};

fn topic_name(t: &str) -> TopicName {
    StrBytes::from_string(t.to_string()).into()
}

/// Groups `(topic, partition, x)` by topic, keeping a stable order.
fn by_topic<T: Clone>(items: &[(String, i32, T)]) -> BTreeMap<&str, Vec<(i32, T)>> {
    let mut m: BTreeMap<&str, Vec<(i32, T)>> = BTreeMap::new();
    for (t, p, x) in items {
        m.entry(t.as_str()).or_default().push((*p, x.clone()));
    }
    m
}

impl AdminClient {
    /// The broker-side wait sent in requests: below our own request timeout, so the broker's
    /// answer (even a REQUEST_TIMED_OUT) arrives before we give up on the connection.
    fn timeout_ms(&self) -> i32 {
        let ms = self.settings().request_timeout_ms.saturating_mul(4) / 5;
        i32::try_from(ms.max(1)).unwrap_or(i32::MAX)
    }

    /// Reassignments in progress: all of them (`None`), or among the given partitions.
    pub async fn list_partition_reassignments(
        &self,
        partitions: Option<&[(String, i32)]>,
    ) -> Result<Vec<OngoingReassignment>> {
        let topics = partitions.map(|ps| {
            let items: Vec<(String, i32, ())> =
                ps.iter().map(|(t, p)| (t.clone(), *p, ())).collect();
            by_topic(&items)
                .into_iter()
                .map(|(t, ps)| {
                    ListPartitionReassignmentsTopics::default()
                        .with_name(topic_name(t))
                        .with_partition_indexes(ps.into_iter().map(|(p, _)| p).collect())
                })
                .collect::<Vec<_>>()
        });
        let timeout_ms = self.timeout_ms();
        self.call(
            Route::Controller,
            |_| {
                Ok(ListPartitionReassignmentsRequest::default()
                    .with_timeout_ms(timeout_ms)
                    .with_topics(topics.clone()))
            },
            |resp: ListPartitionReassignmentsResponse, broker| {
                Error::check(
                    resp.error_code,
                    resp.error_message.as_ref(),
                    "ListPartitionReassignments",
                    broker,
                    || "cluster".into(),
                )?;
                let mut out: Vec<OngoingReassignment> = resp
                    .topics
                    .iter()
                    .flat_map(|t| {
                        t.partitions.iter().map(|p| OngoingReassignment {
                            topic: t.name.0.to_string(),
                            partition: p.partition_index,
                            replicas: p.replicas.iter().map(|b| b.0).collect(),
                            adding: p.adding_replicas.iter().map(|b| b.0).collect(),
                            removing: p.removing_replicas.iter().map(|b| b.0).collect(),
                        })
                    })
                    .collect();
                out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
                Ok(out)
            },
        )
        .await
    }

    /// Submits reassignments: each partition gets the replica list given (first = preferred
    /// leader). Resubmitting a partition's target replaces its in-flight target.
    pub async fn alter_partition_reassignments(
        &self,
        moves: &[(String, i32, Vec<i32>)],
    ) -> Result<Vec<PartitionResult>> {
        let items: Vec<(String, i32, Option<Vec<i32>>)> = moves
            .iter()
            .map(|(t, p, r)| (t.clone(), *p, Some(r.clone())))
            .collect();
        self.alter_reassignments(&items).await
    }

    /// Cancels in-flight reassignments; the partitions go back to their original replicas.
    /// A partition with nothing to cancel gets NO_REASSIGNMENT_IN_PROGRESS in its result.
    pub async fn cancel_partition_reassignments(
        &self,
        partitions: &[(String, i32)],
    ) -> Result<Vec<PartitionResult>> {
        let items: Vec<(String, i32, Option<Vec<i32>>)> = partitions
            .iter()
            .map(|(t, p)| (t.clone(), *p, None))
            .collect();
        self.alter_reassignments(&items).await
    }

    async fn alter_reassignments(
        &self,
        items: &[(String, i32, Option<Vec<i32>>)],
    ) -> Result<Vec<PartitionResult>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let topics: Vec<ReassignableTopic> = by_topic(items)
            .into_iter()
            .map(|(t, ps)| {
                ReassignableTopic::default()
                    .with_name(topic_name(t))
                    .with_partitions(
                        ps.into_iter()
                            .map(|(p, r)| {
                                ReassignablePartition::default()
                                    .with_partition_index(p)
                                    .with_replicas(
                                        r.map(|r| r.into_iter().map(Into::into).collect()),
                                    )
                            })
                            .collect(),
                    )
            })
            .collect();
        let timeout_ms = self.timeout_ms();
        let results = self
            .call(
                Route::Controller,
                |_| {
                    Ok(AlterPartitionReassignmentsRequest::default()
                        .with_timeout_ms(timeout_ms)
                        .with_topics(topics.clone()))
                },
                |resp: AlterPartitionReassignmentsResponse, broker| {
                    Error::check(
                        resp.error_code,
                        resp.error_message.as_ref(),
                        "AlterPartitionReassignments",
                        broker,
                        || "request".into(),
                    )?;
                    Ok(resp
                        .responses
                        .iter()
                        .flat_map(|t| {
                            t.partitions.iter().map(move |p| {
                                let topic = t.name.0.to_string();
                                let partition = p.partition_index;
                                let result = match Error::from_code(
                                    p.error_code,
                                    p.error_message.as_ref(),
                                    "AlterPartitionReassignments",
                                    broker,
                                    || format!("{topic}-{partition}"),
                                ) {
                                    Some(e) => Err(e),
                                    None => Ok(()),
                                };
                                PartitionResult {
                                    topic,
                                    partition,
                                    result,
                                }
                            })
                        })
                        .collect::<Vec<_>>())
                },
            )
            .await?;
        for r in &results {
            let target = items
                .iter()
                .find(|(t, p, _)| *t == r.topic && *p == r.partition)
                .and_then(|(_, _, x)| x.clone());
            match (&r.result, &target) {
                (Ok(()), Some(to)) => {
                    tracing::info!(topic = %r.topic, partition = r.partition, ?to, "reassignment submitted")
                }
                (Ok(()), None) => {
                    tracing::info!(topic = %r.topic, partition = r.partition, "reassignment cancelled")
                }
                (Err(e), _) => {
                    tracing::warn!(topic = %r.topic, partition = r.partition, ?target, error = %e, "reassignment refused")
                }
            }
        }
        Ok(results)
    }

    /// Elects leaders for the given partitions (`None`: every partition whose preferred leader
    /// is not leading, for [`ElectionType::Preferred`]). ELECTION_NOT_NEEDED is reported as
    /// [`ElectionOutcome::NotNeeded`], not as an error.
    pub async fn elect_leaders(
        &self,
        election: ElectionType,
        partitions: Option<&[(String, i32)]>,
    ) -> Result<Vec<PartitionResult<ElectionOutcome>>> {
        let topic_partitions = partitions.map(|ps| {
            let items: Vec<(String, i32, ())> =
                ps.iter().map(|(t, p)| (t.clone(), *p, ())).collect();
            by_topic(&items)
                .into_iter()
                .map(|(t, ps)| {
                    TopicPartitions::default()
                        .with_topic(topic_name(t))
                        .with_partitions(ps.into_iter().map(|(p, _)| p).collect())
                })
                .collect::<Vec<_>>()
        });
        let election_type: i8 = match election {
            ElectionType::Preferred => 0,
            ElectionType::Unclean => 1,
        };
        let timeout_ms = self.timeout_ms();
        self.call(
            Route::Controller,
            |conn| {
                if election == ElectionType::Unclean
                    && conn.version_for::<ElectLeadersRequest>()? < 1
                {
                    return Err(Error::InvalidRequest(
                        "unclean election needs ElectLeaders v1".into(),
                    ));
                }
                Ok(ElectLeadersRequest::default()
                    .with_election_type(election_type)
                    .with_topic_partitions(topic_partitions.clone())
                    .with_timeout_ms(timeout_ms))
            },
            |resp: ElectLeadersResponse, broker| {
                Error::check(resp.error_code, None, "ElectLeaders", broker, || {
                    "request".into()
                })?;
                Ok(resp
                    .replica_election_results
                    .iter()
                    .flat_map(|t| {
                        t.partition_result.iter().map(move |p| {
                            let topic = t.topic.0.to_string();
                            let partition = p.partition_id;
                            let result = if p.error_code == ResponseError::ElectionNotNeeded.code()
                            {
                                Ok(ElectionOutcome::NotNeeded)
                            } else {
                                match Error::from_code(
                                    p.error_code,
                                    p.error_message.as_ref(),
                                    "ElectLeaders",
                                    broker,
                                    || format!("{topic}-{partition}"),
                                ) {
                                    Some(e) => Err(e),
                                    None => Ok(ElectionOutcome::Elected),
                                }
                            };
                            PartitionResult {
                                topic,
                                partition,
                                result,
                            }
                        })
                    })
                    .collect())
            },
        )
        .await
    }
}
