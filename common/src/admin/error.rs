//! The admin client's errors. Each carries what was asked (API, broker, resource) so a log line
//! or an alert explains itself, and says whether a retry can help.

use kafka_protocol::error::ResponseError;

/// An admin client error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The broker answered with a Kafka error code.
    #[error("{api} on {broker} for {resource}: {error:?} (code {code}){}", fmt_msg(.message))]
    Kafka {
        /// The API asked (for example `AlterPartitionReassignments`).
        api: &'static str,
        /// The broker that answered (`id@host:port` or the bootstrap address).
        broker: String,
        /// What the error is about: `cluster`, `topic t`, `t-0`, `broker 3`...
        resource: String,
        /// The decoded error.
        error: ResponseError,
        /// The raw code, kept for codes this crate does not know.
        code: i16,
        /// The broker's message, when it sent one.
        message: Option<String>,
    },
    /// Connecting, reading or writing failed.
    #[error("I/O with {broker} while {during}: {source}")]
    Io {
        /// The peer.
        broker: String,
        /// What we were doing (connect, send, receive).
        during: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A request or a connection attempt took longer than allowed.
    #[error("{what} on {broker} timed out after {timeout_ms} ms")]
    Timeout {
        /// The API or step that timed out.
        what: &'static str,
        /// The peer.
        broker: String,
        /// The limit that was hit.
        timeout_ms: u64,
    },
    /// The peer broke the protocol: bad frame length, wrong correlation id, undecodable bytes.
    #[error("protocol error with {broker} in {api}: {detail}")]
    Protocol {
        /// The API being answered.
        api: &'static str,
        /// The peer.
        broker: String,
        /// What was wrong.
        detail: String,
    },
    /// No version of this API is spoken by both sides.
    #[error("{api}: no common version with {broker} (we speak {ours}, it speaks {theirs})")]
    UnsupportedVersion {
        /// The API.
        api: &'static str,
        /// The peer.
        broker: String,
        /// Our range.
        ours: String,
        /// The broker's range, or "none".
        theirs: String,
    },
    /// None of the bootstrap servers could be used.
    #[error("no bootstrap server reachable; tried: {}", .attempts.join("; "))]
    NoBrokerReachable {
        /// One line per address: the address and why it failed.
        attempts: Vec<String>,
    },
    /// A broker id that the cluster metadata does not list.
    #[error("broker {id} is not in the cluster metadata")]
    UnknownBroker {
        /// The id asked for.
        id: i32,
    },
    /// TLS handshake or configuration failure.
    #[error("TLS with {broker}: {detail}")]
    Tls {
        /// The peer.
        broker: String,
        /// What failed.
        detail: String,
    },
    /// SASL authentication failed.
    #[error("SASL {mechanism} with {broker}: {detail}")]
    Sasl {
        /// The mechanism tried.
        mechanism: &'static str,
        /// The peer.
        broker: String,
        /// What failed, with the broker's message when there is one.
        detail: String,
    },
    /// The connection settings are invalid.
    #[error(transparent)]
    Settings(#[from] crate::connection::Error),
    /// The caller asked for something that cannot be sent (for example an empty list).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

fn fmt_msg(m: &Option<String>) -> String {
    match m {
        Some(m) if !m.is_empty() => format!(": {m}"),
        _ => String::new(),
    }
}

/// Result with the admin [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether retrying the same request can succeed: network trouble, timeouts, and the Kafka
    /// errors Kafka itself marks retriable (NOT_CONTROLLER, LEADER_NOT_AVAILABLE...). A peer that
    /// broke the protocol is retried too, because the retry uses a fresh connection.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Kafka { error, .. } => error.is_retriable(),
            Error::Io { .. }
            | Error::Timeout { .. }
            | Error::Protocol { .. }
            | Error::NoBrokerReachable { .. } => true,
            // Not retried: the client refreshed metadata before giving this answer.
            Error::UnknownBroker { .. } => false,
            _ => false,
        }
    }

    /// The Kafka error, when the broker sent one.
    pub fn kafka_error(&self) -> Option<ResponseError> {
        match self {
            Error::Kafka { error, .. } => Some(*error),
            _ => None,
        }
    }

    /// Builds [`Error::Kafka`] from a response's code, or `None` for code 0.
    pub(crate) fn from_code(
        code: i16,
        message: Option<&kafka_protocol::protocol::StrBytes>,
        api: &'static str,
        broker: &str,
        resource: impl FnOnce() -> String,
    ) -> Option<Error> {
        if code == 0 {
            return None;
        }
        let error = ResponseError::try_from_code(code).unwrap_or(ResponseError::Unknown(code));
        Some(Error::Kafka {
            api,
            broker: broker.to_string(),
            resource: resource(),
            error,
            code,
            message: message.map(|m| m.to_string()),
        })
    }

    /// Returns `Err` for a non-zero code.
    pub(crate) fn check(
        code: i16,
        message: Option<&kafka_protocol::protocol::StrBytes>,
        api: &'static str,
        broker: &str,
        resource: impl FnOnce() -> String,
    ) -> Result<()> {
        match Self::from_code(code, message, api, broker, resource) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_carry_what_was_asked_and_retriability() {
        let msg = kafka_protocol::protocol::StrBytes::from_static_str("go away");
        let e =
            Error::from_code(41, Some(&msg), "ElectLeaders", "1@h:9092", || "t-0".into()).unwrap();
        let text = e.to_string();
        assert!(
            text.contains("ElectLeaders") && text.contains("t-0") && text.contains("NotController")
        );
        assert!(
            text.contains("go away") && text.contains("code 41"),
            "{text}"
        );
        assert!(e.is_retriable());
        let e = Error::from_code(60, None, "AlterPartitionReassignments", "b", || {
            "t-1".into()
        })
        .unwrap();
        assert_eq!(e.kafka_error(), Some(ResponseError::ReassignmentInProgress));
        assert!(!e.is_retriable());
        assert!(Error::from_code(0, None, "x", "b", String::new).is_none());
        let e = Error::from_code(9999, None, "x", "b", String::new).unwrap();
        assert_eq!(e.kafka_error(), Some(ResponseError::Unknown(9999)));
        assert!(!e.is_retriable());
    }
}
