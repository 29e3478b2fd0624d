//! AZ-aware Kafka clients on top of [rdkafka](https://docs.rs/rdkafka).
//!
//! Bytes that cross availability zones cost money. Replication across AZs is wanted (fault
//! tolerance); producers writing to a leader in another AZ and consumers reading from one are
//! not. Neither librdkafka nor Kafka 4.3's Java producer picks partitions by rack, so this crate
//! does it for Rust producers:
//!
//! - [`AzProducer`] wraps a [`FutureProducer`](rdkafka::producer::FutureProducer). Unkeyed
//!   records go only to partitions whose leader is in the producer's AZ; keyed records keep
//!   librdkafka's key hashing over all partitions (ordering and placement unchanged). It follows
//!   leader changes and falls back to all partitions when its AZ leads nothing or is unknown.
//! - [`AzRouter`]: the same routing for any other producer type (set the partition it names).
//! - [`resolve_az`] finds the AZ: configuration first, then EC2 IMDSv2.
//! - [`assign_by_az`]: same-AZ partition assignment for consumers that assign partitions
//!   themselves.
//! - [`consumer_rack`]: `client.rack` for KIP-392 follower fetching (brokers need
//!   `replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector`).
//!
//! The producer's AZ names must match the brokers' `broker.rack` values.
//!
//! # Example
//!
//! ```no_run
//! use kmedic_client::{resolve_az, AzProducer, AzProducerOptions};
//! use kmedic_common::{admin::AdminClient, connection::ConnectionSettings, imds::ImdsSettings};
//! use rdkafka::{producer::FutureRecord, ClientConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let (az, _source) = resolve_az(None, &ImdsSettings::default()).await;
//! let producer = ClientConfig::new().set("bootstrap.servers", "kafka:9092").create()?;
//! let admin = AdminClient::new(ConnectionSettings::plaintext(["kafka:9092"]))?;
//! let options = AzProducerOptions { az, topics: vec!["events".into()], ..Default::default() };
//! let producer = AzProducer::new(producer, admin, options).await;
//! let record = FutureRecord::<(), _>::to("events").payload("hello");
//! producer.send(record, std::time::Duration::from_secs(5)).await.map_err(|(e, _)| e)?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod assign;
pub mod az;
pub mod leaders;
pub mod partitioner;
pub mod producer;

pub use assign::{assign_by_az, partitions_of, ConsumerAz, PartitionAz};
pub use az::{consumer_rack, resolve_az, AzSource};
pub use leaders::LeaderMap;
pub use partitioner::{AzPartitioner, Fallback, Route};
pub use producer::{AzProducer, AzProducerOptions, AzRouter};

/// What can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Metadata (leaders and racks) could not be read.
    #[error("reading leaders and racks from Metadata: {0}")]
    Metadata(#[source] kmedic_common::admin::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
