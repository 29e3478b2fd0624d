//! Cluster-level operations: Metadata, DescribeCluster, UnregisterBroker.

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    DescribeClusterRequest, DescribeClusterResponse, MetadataRequest, MetadataResponse,
    UnregisterBrokerRequest,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{AdminClient, Route};
use super::error::{Error, Result};
use super::types::{
    BrokerInfo, ClusterBroker, ClusterDescription, ClusterMetadata, PartitionMetadata,
    TopicMetadata,
};

fn opt_id(id: i32) -> Option<i32> {
    (id >= 0).then_some(id)
}

fn err_of(code: i16) -> Option<ResponseError> {
    (code != 0).then(|| ResponseError::try_from_code(code).unwrap_or(ResponseError::Unknown(code)))
}

fn metadata_request(topics: Option<&[&str]>) -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(topics.map(|ts| {
            ts.iter()
                .map(|t| {
                    MetadataRequestTopic::default()
                        .with_name(Some(StrBytes::from_string(t.to_string()).into()))
                })
                .collect()
        }))
        .with_allow_auto_topic_creation(false)
}

impl AdminClient {
    /// Brokers, topics and partitions (leader, replicas, ISR, offline replicas) of every topic.
    pub async fn metadata(&self) -> Result<ClusterMetadata> {
        self.metadata_of(None).await
    }

    /// Like [`AdminClient::metadata`] for the named topics only. A missing topic comes back
    /// with `error` UNKNOWN_TOPIC_OR_PARTITION, not as a failure of the call.
    pub async fn topic_metadata(&self, topics: &[&str]) -> Result<ClusterMetadata> {
        self.metadata_of(Some(topics)).await
    }

    async fn metadata_of(&self, topics: Option<&[&str]>) -> Result<ClusterMetadata> {
        let md = self
            .call(
                Route::Any,
                |_| Ok(metadata_request(topics)),
                |resp: MetadataResponse, broker| {
                    Error::check(resp.error_code, None, "Metadata", broker, || {
                        "cluster".into()
                    })?;
                    Ok(convert_metadata(resp))
                },
            )
            .await?;
        self.learn_brokers(
            md.brokers.iter().map(|b| (b.id, b.host.clone(), b.port)),
            md.controller_id,
        );
        Ok(md)
    }

    /// One Metadata round trip on the any-broker connection, without retry (the caller is
    /// already inside a retry), to learn broker addresses and the controller-facing broker.
    pub(crate) async fn refresh_metadata(&self, timeout: Duration) -> Result<()> {
        let conn = self.any_connection(timeout).await?;
        let resp = conn.send(&metadata_request(Some(&[])), timeout).await?;
        let md = convert_metadata(resp);
        tracing::debug!(
            brokers = md.brokers.len(),
            controller = ?md.controller_id,
            via = conn.broker(),
            "refreshed broker metadata"
        );
        self.learn_brokers(
            md.brokers.iter().map(|b| (b.id, b.host.clone(), b.port)),
            md.controller_id,
        );
        Ok(())
    }

    /// DescribeCluster: the cluster id, the controller-facing broker, and registered brokers.
    /// With `include_fenced`, fenced brokers are listed too with `is_fenced` (KIP-1073, needs
    /// DescribeCluster v2, Kafka 4.0+).
    pub async fn describe_cluster(&self, include_fenced: bool) -> Result<ClusterDescription> {
        self.call(
            Route::Any,
            |conn| {
                let version = conn.version_for::<DescribeClusterRequest>()?;
                if include_fenced && version < 2 {
                    return Err(Error::UnsupportedVersion {
                        api: "DescribeCluster",
                        broker: conn.broker().to_string(),
                        ours: "2 (include_fenced_brokers)".into(),
                        theirs: format!("{version}"),
                    });
                }
                let mut req = DescribeClusterRequest::default();
                if version >= 2 {
                    req = req.with_include_fenced_brokers(include_fenced);
                }
                Ok(req)
            },
            |resp: DescribeClusterResponse, broker| {
                Error::check(
                    resp.error_code,
                    resp.error_message.as_ref(),
                    "DescribeCluster",
                    broker,
                    || "cluster".into(),
                )?;
                let mut brokers: Vec<ClusterBroker> = resp
                    .brokers
                    .iter()
                    .map(|b| ClusterBroker {
                        id: b.broker_id.0,
                        host: b.host.to_string(),
                        port: b.port,
                        rack: b.rack.as_ref().map(|r| r.to_string()),
                        is_fenced: b.is_fenced,
                    })
                    .collect();
                brokers.sort_by_key(|b| b.id);
                Ok(ClusterDescription {
                    cluster_id: resp.cluster_id.to_string(),
                    controller_id: opt_id(resp.controller_id.0),
                    brokers,
                })
            },
        )
        .await
    }

    /// Removes a broker's registration (KRaft). The broker must be stopped, or it registers
    /// again. Brokers forward this to the active controller, so any broker will do.
    pub async fn unregister_broker(&self, broker_id: i32) -> Result<()> {
        self.call(
            Route::Any,
            |_| Ok(UnregisterBrokerRequest::default().with_broker_id(broker_id.into())),
            |resp, broker| {
                Error::check(
                    resp.error_code,
                    resp.error_message.as_ref(),
                    "UnregisterBroker",
                    broker,
                    || format!("broker {broker_id}"),
                )
            },
        )
        .await?;
        tracing::info!(broker_id, "unregistered broker");
        Ok(())
    }
}

pub(crate) fn convert_metadata(resp: MetadataResponse) -> ClusterMetadata {
    let mut brokers: Vec<BrokerInfo> = resp
        .brokers
        .iter()
        .map(|b| BrokerInfo {
            id: b.node_id.0,
            host: b.host.to_string(),
            port: b.port,
            rack: b.rack.as_ref().map(|r| r.to_string()),
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    let mut topics: Vec<TopicMetadata> = resp
        .topics
        .iter()
        .map(|t| {
            let mut partitions: Vec<PartitionMetadata> = t
                .partitions
                .iter()
                .map(|p| PartitionMetadata {
                    partition: p.partition_index,
                    leader: opt_id(p.leader_id.0),
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    offline_replicas: p.offline_replicas.iter().map(|b| b.0).collect(),
                    error: err_of(p.error_code),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            TopicMetadata {
                name: t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default(),
                topic_id: t.topic_id.to_string(),
                is_internal: t.is_internal,
                error: err_of(t.error_code),
                partitions,
            }
        })
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    ClusterMetadata {
        cluster_id: resp.cluster_id.map(|c| c.to_string()),
        controller_id: opt_id(resp.controller_id.0),
        brokers,
        topics,
    }
}
