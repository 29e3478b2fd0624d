//! The collectors: one module per source, all writing into one sample.
//!
//! Laid out after vector's `host_metrics` source: each collector keeps its own previous counters
//! (for rates) and reads from an injectable root ([`CollectSettings`]), so tests run on temp-dir
//! fixtures. A collector that fails does not stop the sample: [`Sampler`] logs it (rate-limited),
//! counts it, and names it in the sample's `missing` list, so the master never reads "no data" as
//! "zero".
//!
//! - [`replicas`]: partition directories in the log dirs: size, segments, bytes appended per second.
//! - [`metadata`]: role, in-sync, under-replicated and reassigning from the cluster.
//! - [`network`], [`cpu`], [`memory`], [`disk`]: host figures from `/proc` and `statvfs`.
//! - [`process`]: the Kafka JVM; [`probe`]: a timed ApiVersions round trip to it.
//! - [`cloud`]: EC2 IMDSv2 identity; [`bytes_out`]: per-replica bytes out, measured or estimated.

pub mod bytes_out;
pub mod cloud;
pub mod cpu;
pub mod disk;
pub mod memory;
pub mod metadata;
pub mod network;
pub mod probe;
pub mod process;
pub mod replicas;
mod sampler;
mod settings;

use std::path::PathBuf;

pub use kmedic_common::imds::ImdsSettings;
pub use sampler::{FullSample, HostSample, Sampler};
pub use settings::CollectSettings;

/// What can go wrong in a collector.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// What was read.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file did not have the expected format.
    #[error("cannot parse {path}: {what}")]
    Parse {
        /// What was read.
        path: PathBuf,
        /// What was wrong with it.
        what: String,
    },
    /// An HTTP request (IMDS, JMX exporter) failed.
    #[error("{what}: {source}")]
    Http {
        /// What was asked.
        what: String,
        /// The client's error.
        source: reqwest::Error,
    },
    /// An HTTP server answered, but not as expected.
    #[error("{what}: {reason}")]
    BadAnswer {
        /// What was asked.
        what: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// The collector is turned off in the configuration.
    #[error("{0} is disabled")]
    Disabled(&'static str),
    /// The collector needs something it does not have yet (an admin client, metadata).
    #[error("{0}")]
    Unavailable(String),
}

/// The collectors' result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Parse`] for `path`.
    pub(crate) fn parse(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            what: what.into(),
        }
    }
}

/// The cloud identity learned from EC2 instance metadata (common's IMDSv2 client reads it).
pub use kmedic_common::imds::Identity as CloudIdentity;

/// Opens `path` and parses it with a procfs-core parser, mapping errors to [`Error`].
pub(crate) fn read_proc_file<T: procfs::FromBufRead>(path: &std::path::Path) -> Result<T> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    T::from_buf_read(std::io::BufReader::new(file)).map_err(|e| Error::parse(path, e.to_string()))
}

/// `part` per second over `interval_ms`, saturating, `None` for an empty interval.
pub(crate) fn per_sec(part: u64, interval_ms: u64) -> Option<u64> {
    if interval_ms == 0 {
        return None;
    }
    Some(((u128::from(part) * 1000) / u128::from(interval_ms)).min(u128::from(u64::MAX)) as u64)
}
