//! The Kafka admin client, over the `kafka-protocol` crate and tokio.
//!
//! Layers, after rskafka:
//! - [`conn`]: one connection to one broker (framing, correlation ids, ApiVersions negotiation,
//!   timeouts), generic over any async stream so tests drive it in memory;
//! - [`transport`]: opening a stream (TCP, TLS) and SASL authentication ([`scram`]);
//! - [`AdminClient`]: bootstrap with fallback, routing, retries through
//!   [`crate::backoff::retry`], and one method per operation returning [`types`].
//!
//! ```no_run
//! use kmedic_common::admin::{AdminClient, ElectionType};
//! use kmedic_common::connection::ConnectionSettings;
//!
//! # async fn demo() -> kmedic_common::admin::Result<()> {
//! let admin = AdminClient::new(ConnectionSettings::plaintext(["b1:9092", "b2:9092"]))?;
//! let md = admin.metadata().await?;
//! let fenced = admin.describe_cluster(true).await?;
//! let moves = admin
//!     .alter_partition_reassignments(&[("orders".into(), 0, vec![4, 5, 6])])
//!     .await?;
//! let elected = admin.elect_leaders(ElectionType::Preferred, None).await?;
//! # let _ = (md, fenced, moves, elected);
//! # Ok(())
//! # }
//! ```

mod client;
pub mod conn;
mod error;
mod ops_cluster;
mod ops_config;
mod ops_cordon;
mod ops_reassign;
pub mod scram;
mod tls;
pub mod transport;
pub mod types;

pub use client::{api_versions_probe, api_versions_probe_with, AdminClient, Route};
pub use error::{Error, Result};
pub use kafka_protocol::error::ResponseError;
pub use ops_cordon::{CORDONED_LOG_DIRS, CORDON_ALL};
pub use types::*;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod conn_tests;
#[cfg(test)]
mod sasl_tests;
#[cfg(test)]
mod tls_tests;
