//! kmedic-common: the parts the agent and the master share.
//!
//! - [`stats`]: the schema of what agents publish.
//! - [`codec`]: the versioned envelope around those records (the only module that uses bincode).
//! - [`connection`]: Kafka connection settings (bootstrap, TLS, SASL), written once and turned
//!   into both the admin client's and rdkafka's configuration.
//! - [`backoff`]: the one retry helper, with a deadline.
//! - `bin_support` (feature `bin`): the binaries' `--log-format`, tracing set-up and shutdown
//!   signal.
//! - `test_tls` (tests, feature `test-support`): a throwaway CA and TLS acceptor for TLS tests.
//! - [`admin`]: the admin client over the `kafka-protocol` crate: every admin request goes here.
//! - [`imds`]: EC2 instance metadata (IMDSv2): the host's AZ, for the agent and the client library.
//! - [`rdlog`]: the librdkafka context of every rdkafka client of the agent and the master: a
//!   broker that cannot be reached is WARN once per broker per 10 minutes, not ERROR at every retry.

pub mod admin;
pub mod backoff;
#[cfg(feature = "bin")]
pub mod bin_support;
pub mod codec;
pub mod connection;
pub mod imds;
pub mod rdlog;
pub mod stats;
#[cfg(any(test, feature = "test-support"))]
pub mod test_tls;
