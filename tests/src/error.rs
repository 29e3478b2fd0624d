//! The harness's error type.

use std::time::Duration;

/// Errors from starting, breaking, repairing or talking to the testbed cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Kafka jars are missing and could not be fetched.
    #[error(
        "Kafka jars are missing in {dir} and fetching them failed ({reason}); fetch them by hand with \
         tests/kafka/fetch-jars.sh (needs Maven and Java 17 on PATH and access to Maven Central)"
    )]
    Jars {
        /// The jar directory that was looked at.
        dir: String,
        /// Why the fetch failed.
        reason: String,
    },
    /// A port the cluster needs is taken by another process.
    #[error(
        "port {port} on 127.0.0.1 ({what}) is already in use: stop whatever listens there \
         (`ss -ltnp 'sport = :{port}'`) or pick another range with KMEDIC_TESTBED_PORT_BASE"
    )]
    PortInUse {
        /// The port.
        port: u16,
        /// Which node wanted it.
        what: String,
    },
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A Kafka process or tool did not behave (exited early, bad exit status).
    #[error("{what}: {detail}")]
    Process {
        /// Which process.
        what: String,
        /// What went wrong, with the tail of its log when there is one.
        detail: String,
    },
    /// A condition was not met in time.
    #[error("timed out after {timeout:?} waiting for {what}{}", last.as_ref().map(|e| format!(" (last error: {e})")).unwrap_or_default())]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        timeout: Duration,
        /// The last error the check returned, if any.
        last: Option<String>,
    },
    /// A Kafka client call failed.
    #[error("kafka client, {what}: {source}")]
    Kafka {
        /// What was asked.
        what: String,
        /// The client's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// Sending a signal failed.
    #[error("sending {signal} to {what} (pid {pid}): {source}")]
    Signal {
        /// The signal's name.
        signal: &'static str,
        /// Which node.
        what: String,
        /// The pid.
        pid: u32,
        /// The cause.
        #[source]
        source: nix::Error,
    },
    /// The node id is not part of this cluster.
    #[error("node {0} is not a broker of this testbed")]
    UnknownNode(i32),
    /// The configuration cannot work.
    #[error("invalid testbed config: {0}")]
    Config(String),
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn kafka(what: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        Error::Kafka {
            what: what.into(),
            source,
        }
    }
}

/// Result with the harness's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
