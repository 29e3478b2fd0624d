//! Per-replica figures from the log dirs (being built).

use std::path::PathBuf;

use kmedic_common::stats::ReplicaStats;

use super::Error;

/// The outcome of one scan of the log dirs.
#[derive(Debug, Default)]
pub struct ReplicaScan {
    /// Topic names that `replicas` index into.
    pub topics: Vec<String>,
    /// One entry per partition directory.
    pub replicas: Vec<ReplicaStats>,
    /// Milliseconds since the previous scan (0 on the first).
    pub interval_ms: u64,
    /// The first error met; the other log dirs were still scanned.
    pub error: Option<Error>,
}

/// Scans partition directories.
#[derive(Debug)]
pub struct ReplicaCollector {
    log_dirs: Vec<PathBuf>,
}

impl ReplicaCollector {
    /// A collector over these log dirs.
    pub fn new(log_dirs: Vec<PathBuf>) -> Self {
        Self { log_dirs }
    }

    /// Scans every log dir.
    pub fn sample(&mut self) -> ReplicaScan {
        ReplicaScan {
            error: Some(Error::Unavailable(format!(
                "replica scan of {} log dirs not built yet",
                self.log_dirs.len()
            ))),
            ..ReplicaScan::default()
        }
    }
}
