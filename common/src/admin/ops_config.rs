//! Configs and log dirs: IncrementalAlterConfigs, DescribeConfigs, DescribeLogDirs.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, DescribeLogDirsRequest,
    DescribeLogDirsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{AdminClient, Route};
use super::error::{Error, Result};
use super::types::{ConfigEntry, ConfigOp, ConfigResource, LogDirInfo, ReplicaLogDir};

fn s(x: impl Into<String>) -> StrBytes {
    StrBytes::from_string(x.into())
}

/// BROKER resources go to that broker: brokers refuse per-broker configs for another id.
/// The changes as a log shows them: `a=1, b removed`.
fn ops_text(ops: &[ConfigOp]) -> String {
    ops.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn route_for(resource: &ConfigResource) -> Route {
    match resource {
        ConfigResource::Broker(id) => Route::Broker(*id),
        ConfigResource::BrokerDefault | ConfigResource::Topic(_) => Route::Any,
    }
}

impl AdminClient {
    /// Applies `ops` to one resource atomically (all or nothing, as the broker does it).
    pub async fn incremental_alter_configs(
        &self,
        resource: &ConfigResource,
        ops: &[ConfigOp],
    ) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let configs: Vec<AlterableConfig> = ops
            .iter()
            .map(|op| match op {
                ConfigOp::Set(k, v) => AlterableConfig::default()
                    .with_name(s(k.clone()))
                    .with_config_operation(0)
                    .with_value(Some(s(v.clone()))),
                ConfigOp::Delete(k) => AlterableConfig::default()
                    .with_name(s(k.clone()))
                    .with_config_operation(1)
                    .with_value(None),
            })
            .collect();
        let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(resource.type_code())
                .with_resource_name(s(resource.name()))
                .with_configs(configs),
        ]);
        self.call(
            route_for(resource),
            |_| Ok(req.clone()),
            |resp: IncrementalAlterConfigsResponse, broker| {
                for r in &resp.responses {
                    Error::check(
                        r.error_code,
                        r.error_message.as_ref(),
                        "IncrementalAlterConfigs",
                        broker,
                        || resource.to_string(),
                    )?;
                }
                Ok(())
            },
        )
        .await?;
        tracing::info!(%resource, ops = %ops_text(ops), "configs altered");
        Ok(())
    }

    /// The configs of one resource: all of them (`keys` = None) or the named ones.
    pub async fn describe_configs(
        &self,
        resource: &ConfigResource,
        keys: Option<&[&str]>,
    ) -> Result<Vec<ConfigEntry>> {
        let req = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(resource.type_code())
                .with_resource_name(s(resource.name()))
                .with_configuration_keys(keys.map(|ks| ks.iter().map(|k| s(*k)).collect())),
        ]);
        self.call(
            route_for(resource),
            |_| Ok(req.clone()),
            |resp: DescribeConfigsResponse, broker| {
                let mut out = Vec::new();
                for r in &resp.results {
                    Error::check(
                        r.error_code,
                        r.error_message.as_ref(),
                        "DescribeConfigs",
                        broker,
                        || resource.to_string(),
                    )?;
                    out.extend(r.configs.iter().map(|c| ConfigEntry {
                        name: c.name.to_string(),
                        value: c.value.as_ref().map(|v| v.to_string()),
                        source: c.config_source.into(),
                        read_only: c.read_only,
                        is_sensitive: c.is_sensitive,
                    }));
                }
                out.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(out)
            },
        )
        .await
    }

    /// Every log dir of `broker_id`, with its replicas' sizes and lags.
    pub async fn describe_log_dirs(&self, broker_id: i32) -> Result<Vec<LogDirInfo>> {
        self.call(
            Route::Broker(broker_id),
            |_| Ok(DescribeLogDirsRequest::default().with_topics(None)),
            |resp: DescribeLogDirsResponse, broker| {
                Error::check(resp.error_code, None, "DescribeLogDirs", broker, || {
                    format!("broker {broker_id}")
                })?;
                let mut dirs: Vec<LogDirInfo> = resp
                    .results
                    .iter()
                    .map(|d| {
                        let mut replicas: Vec<ReplicaLogDir> = d
                            .topics
                            .iter()
                            .flat_map(|t| {
                                t.partitions.iter().map(|p| ReplicaLogDir {
                                    topic: t.name.0.to_string(),
                                    partition: p.partition_index,
                                    size_bytes: p.partition_size,
                                    offset_lag: p.offset_lag,
                                    is_future: p.is_future_key,
                                })
                            })
                            .collect();
                        replicas
                            .sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
                        LogDirInfo {
                            path: d.log_dir.to_string(),
                            error: (d.error_code != 0).then(|| {
                                ResponseError::try_from_code(d.error_code)
                                    .unwrap_or(ResponseError::Unknown(d.error_code))
                            }),
                            // -1 means the broker did not say (older versions, offline dir).
                            total_bytes: u64::try_from(d.total_bytes).ok(),
                            usable_bytes: u64::try_from(d.usable_bytes).ok(),
                            replicas,
                        }
                    })
                    .collect();
                dirs.sort_by(|a, b| a.path.cmp(&b.path));
                Ok(dirs)
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn altered_configs_log_as_name_equals_value() {
        let ops = [
            ConfigOp::Set("cordoned.log.dirs".into(), "*".into()),
            ConfigOp::Delete("leader.replication.throttled.rate".into()),
        ];
        assert_eq!(
            ops_text(&ops),
            "cordoned.log.dirs=*, leader.replication.throttled.rate removed"
        );
    }
}
