//! Cordoning a broker (KIP-1066, Kafka 4.3): the per-broker dynamic config
//! `cordoned.log.dirs = *` marks every log dir of the broker cordoned, and the controller then
//! places no NEW partition on it (topic creation, partition additions). Replicas already there
//! keep serving, and reassignments may still target it: keeping drained replicas off is the
//! planner's job, cordoning only keeps Kafka's own placement away.
//!
//! Facts checked on the 4.3.1 jars and the testbed (see `tests/tests/e2e/decommission.rs`):
//! - the key is `cordoned.log.dirs`, a BROKER resource config, dynamic per broker, altered with
//!   IncrementalAlterConfigs on the broker itself (brokers refuse another id's per-broker
//!   configs, see `ops_config::route_for`); `*` cordons every dir and must stand alone;
//! - the controller refuses it below the metadata version that added cordoning
//!   ("The cordoned.log.dirs configuration value cannot be set because it requires
//!   metadata.version >= ..."): that error comes back as a Kafka error, not hidden;
//! - `*` rather than paths: KAFKA-20901 (4.3.1) ignores a cordon given as a relative path.
//!
//! Uncordoning deletes the dynamic value (the static `server.properties` value, normally empty,
//! applies again).

use super::client::AdminClient;
use super::error::Result;
use super::types::{ConfigOp, ConfigResource};

/// The broker config of KIP-1066.
pub const CORDONED_LOG_DIRS: &str = "cordoned.log.dirs";
/// The value that cordons every log dir of a broker.
pub const CORDON_ALL: &str = "*";

impl AdminClient {
    /// Cordons every log dir of `broker_id` (`cordoned.log.dirs = *`): no new partition is
    /// placed on it. Idempotent. The broker must be alive (the request goes to it).
    pub async fn cordon_broker(&self, broker_id: i32) -> Result<()> {
        self.incremental_alter_configs(
            &ConfigResource::Broker(broker_id),
            &[ConfigOp::Set(CORDONED_LOG_DIRS.into(), CORDON_ALL.into())],
        )
        .await
    }

    /// Removes the dynamic cordon of `broker_id` (deleting a value that is not set is not an
    /// error). The broker must be alive.
    pub async fn uncordon_broker(&self, broker_id: i32) -> Result<()> {
        self.incremental_alter_configs(
            &ConfigResource::Broker(broker_id),
            &[ConfigOp::Delete(CORDONED_LOG_DIRS.into())],
        )
        .await
    }

    /// The value of `cordoned.log.dirs` on `broker_id` (any source): `None` or an empty string
    /// when nothing is cordoned, `*` when the whole broker is, else the cordoned paths.
    pub async fn cordoned_log_dirs(&self, broker_id: i32) -> Result<Option<String>> {
        let entries = self
            .describe_configs(
                &ConfigResource::Broker(broker_id),
                Some(&[CORDONED_LOG_DIRS]),
            )
            .await?;
        Ok(entries
            .into_iter()
            .find(|e| e.name == CORDONED_LOG_DIRS)
            .and_then(|e| e.value)
            .filter(|v| !v.trim().is_empty()))
    }

    /// Whether every log dir of `broker_id` is cordoned (`cordoned.log.dirs = *`).
    pub async fn is_broker_cordoned(&self, broker_id: i32) -> Result<bool> {
        Ok(self.cordoned_log_dirs(broker_id).await?.as_deref() == Some(CORDON_ALL))
    }
}
