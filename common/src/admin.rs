//! The Kafka admin client, over the `kafka-protocol` crate and tokio.
//!
//! Layers, after rskafka:
//! - [`conn`]: one connection to one broker (framing, correlation ids, ApiVersions negotiation,
//!   timeouts), generic over any async stream so tests drive it in memory;
//! - `transport`: opening a stream (TCP, TLS) and SASL authentication;
//! - [`AdminClient`]: bootstrap, routing and retries, one method per operation, typed results.

pub mod conn;
mod error;
pub mod scram;

pub use error::{Error, Result};

#[cfg(test)]
mod conn_tests;
