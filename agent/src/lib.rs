//! kmedic-agent: samples one broker's host, log dirs and process, and publishes stats records.
//!
//! - [`collect`]: one collector per source (replicas, network, cpu, memory, disk, process, probe,
//!   cloud, bytes out), all writing into one sample.
//! - [`config`]: the agent's TOML configuration.
//! - [`identity`]: broker id, cluster id, rack and listeners from server.properties and meta.properties.
//! - [`publish`]: the rdkafka producer with a bounded buffer.
//! - [`metrics`]: the agent's own Prometheus metrics.

pub mod collect;
pub mod config;
pub mod identity;
pub mod metrics;
pub mod publish;
