//! Per-replica bytes out (being built).

use kmedic_common::stats::{Provenance, ReplicaStats};

use super::metadata::MetadataView;
use super::{CollectSettings, Error, Result};

/// Fills `bytes_out_per_sec`.
#[derive(Debug)]
pub struct BytesOutCollector {}

impl BytesOutCollector {
    /// A collector with these settings.
    pub fn new(_settings: &CollectSettings) -> Self {
        Self {}
    }

    /// Fills `bytes_out_per_sec` of every replica and says how it was obtained.
    pub async fn fill(
        &mut self,
        _topics: &[String],
        _replicas: &mut [ReplicaStats],
        _view: Option<&MetadataView>,
        _interval_ms: u64,
    ) -> Result<Provenance> {
        Err(Error::Unavailable("bytes out not built yet".into()))
    }
}
