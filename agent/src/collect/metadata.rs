//! Replica roles from cluster metadata (being built; waits for the admin client).

use kmedic_common::stats::ReplicaStats;

use super::{Error, Result};

/// What the metadata said about the partitions this broker hosts.
#[derive(Debug, Default, Clone)]
pub struct MetadataView {}

/// Fills role, in-sync, under-replicated and reassigning into `replicas`.
pub async fn apply(
    _broker_id: i32,
    _topics: &[String],
    _replicas: &mut [ReplicaStats],
) -> Result<MetadataView> {
    Err(Error::Unavailable("no admin client yet".into()))
}
