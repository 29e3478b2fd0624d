//! kmedic-agent: samples one broker's host, log dirs and process, and publishes stats records.
//!
//! - [`collect`]: one collector per source (replicas, network, cpu, memory, disk, process, probe,
//!   cloud, bytes out), all writing into one sample.
//! - [`config`]: the agent's TOML configuration.
//! - [`identity`]: broker id, cluster id, rack and listeners from server.properties and meta.properties.
//! - [`publish`] and [`buffer`]: the rdkafka producer behind a bounded, drop-oldest buffer.
//! - [`metrics`]: the agent's own Prometheus metrics.
//! - [`runtime`]: the loop tying them together on a [`cadence`]; [`run`] is the entry point.
//! - [`cli`]: what `check-config` and `sample --once` print.

pub mod buffer;
pub mod cadence;
pub mod cli;
pub mod collect;
pub mod config;
pub mod identity;
pub mod metrics;
pub mod publish;
pub mod runtime;

pub use config::AgentConfig;
pub use runtime::Agent;

/// Why the agent stopped or could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The broker's own files could not be read.
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
    /// The stats producer could not start.
    #[error(transparent)]
    Publish(#[from] publish::PublishError),
    /// The metrics endpoint failed.
    #[error(transparent)]
    Metrics(#[from] metrics::ServeError),
}

/// Result with the agent's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Runs the agent with `config` until `shutdown` completes.
pub async fn run(
    config: AgentConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    Agent::new(config)?.run(shutdown).await
}
