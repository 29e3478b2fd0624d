//! librdkafka's own logs and global errors for every rdkafka client of kmedic: the master's
//! stats consumer, action-log producer, topic check and replay consumer, its CLI consumers
//! (`actions`, `stats tail`), and the agent's stats producer and topic check.
//!
//! rdkafka's default context logs every failed connection attempt at ERROR, twice (the `FAIL`
//! log line and the "Global error: BrokerTransportFailure" callback), at every reconnect
//! attempt: a dead broker, which kmedic detects and reports itself, would fill the log with
//! ERROR lines that say nothing new. [`QuietContext`] sorts what librdkafka says:
//!
//! - a transport failure (connection refused or reset, a resolve failure, a connect timeout,
//!   "all brokers down"): WARN once per broker per [`REPEAT_WARN`], DEBUG otherwise;
//! - a transport failure librdkafka reports below WARN (a connection closed by the peer, before
//!   the reconnect fails at WARN): DEBUG;
//! - the end of a partition (the replay asks for it, rust-rdkafka issue 820): DEBUG;
//! - a coordinator still loading or moving, which librdkafka retries by itself ("Failed to
//!   acquire transactional PID ...: Coordinator load in progress: retrying", at every master
//!   start on a fresh cluster): INFO;
//! - everything else (authentication, TLS, fatal, fenced, unknown): at its own level, ERROR for
//!   errors, as rdkafka's default does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientContext;

/// How long a broker's transport failures stay at DEBUG after one was logged at WARN.
pub const REPEAT_WARN: Duration = Duration::from_secs(600);

/// What librdkafka reported, as kmedic treats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// The end of a partition: not an error.
    PartitionEof,
    /// A broker cannot be reached; the key names it (or "all brokers").
    Transport(String),
    /// A transient broker state librdkafka retries by itself (a coordinator still loading).
    Retrying,
    /// Anything else: logged at its own level.
    Other,
}

/// Sorts a global error (the `error` callback).
pub fn classify_error(error: &KafkaError, reason: &str) -> Class {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::PartitionEOF) => Class::PartitionEof,
        Some(RDKafkaErrorCode::AllBrokersDown) => Class::Transport("all brokers".into()),
        Some(RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::Resolve)
            if !is_security(reason) =>
        {
            Class::Transport(broker_key(reason))
        }
        _ => Class::Other,
    }
}

/// Sorts a log line (the `log` callback, e.g. `FAIL` "127.0.0.1:9092/1: Connect to
/// ipv4#127.0.0.1:9092 failed: Connection refused (after 0ms in state CONNECT)").
pub fn classify_log(message: &str) -> Class {
    const TRANSPORT: &[&str] = &[
        "Connection refused",
        "Connection reset",
        "Connection setup timed out",
        "Failed to resolve",
        "No route to host",
        "Network is unreachable",
        "Broken pipe",
        "Disconnected",
    ];
    if is_security(message) {
        return Class::Other;
    }
    // A coordinator still loading or moving: retriable, and librdkafka says it retries.
    const RETRIABLE: &[&str] = &[
        "Coordinator load in progress",
        "Coordinator not available",
        "Not coordinator",
    ];
    if message.trim_end().ends_with("retrying") && RETRIABLE.iter().any(|r| message.contains(r)) {
        return Class::Retrying;
    }
    if message.contains("brokers are down") {
        return Class::Transport("all brokers".into());
    }
    // REQTMOUT: requests to a dead or stalled broker timing out, one line per batch.
    let timed_out = message.contains("Timed out")
        && (message.contains("in-flight") || message.contains("in flight"));
    if timed_out || TRANSPORT.iter().any(|t| message.contains(t)) {
        return Class::Transport(broker_key(message));
    }
    Class::Other
}

/// Authentication and TLS failures are real errors (a wrong password does not heal).
fn is_security(text: &str) -> bool {
    ["SASL", "SSL", "uthenticat", "certificate"]
        .iter()
        .any(|w| text.contains(w))
}

/// The broker a message is about: its first `name: ` part after librdkafka's `[thrd:...]: `
/// prefix ("127.0.0.1:9092/1"), or the whole text when there is none.
fn broker_key(text: &str) -> String {
    let text = match text.strip_prefix("[thrd:") {
        Some(rest) => rest.split_once("]: ").map_or(rest, |(_, r)| r),
        None => text,
    };
    let key = text.split_once(": ").map_or(text, |(k, _)| k);
    key.trim().to_string()
}

/// How many lines a context logged at each level (for tests and a curious operator).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Transport failures logged at WARN (the first per broker per [`REPEAT_WARN`]).
    pub warned: u64,
    /// Transport failures and partition ends logged at DEBUG, coordinator retries at INFO.
    pub quieted: u64,
    /// Lines logged at ERROR.
    pub errors: u64,
}

/// The context of kmedic's rdkafka clients (see the module doc). A client with a context of its
/// own (the agent's producer, for its delivery reports) holds one and forwards `log` and `error`.
pub struct QuietContext {
    client: &'static str,
    last_warned: Mutex<HashMap<String, Instant>>,
    warned: AtomicU64,
    quieted: AtomicU64,
    errors: AtomicU64,
}

impl QuietContext {
    /// A context for `client` (named in every line: "stats consumer", "action log").
    pub fn new(client: &'static str) -> Self {
        Self {
            client,
            last_warned: Mutex::new(HashMap::new()),
            warned: AtomicU64::new(0),
            quieted: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    /// What this context logged so far.
    pub fn tally(&self) -> Tally {
        Tally {
            warned: self.warned.load(Ordering::Relaxed),
            quieted: self.quieted.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }

    /// Whether a transport failure of `key` at `now` is to be logged at WARN: the first, or
    /// the first after [`REPEAT_WARN`] of quiet.
    pub fn warn_now(&self, key: &str, now: Instant) -> bool {
        let mut last = self
            .last_warned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match last.get(key) {
            Some(t) if now.saturating_duration_since(*t) < REPEAT_WARN => false,
            _ => {
                last.insert(key.to_string(), now);
                true
            }
        }
    }

    fn transport(&self, key: &str, text: &dyn std::fmt::Display) {
        if self.warn_now(key, Instant::now()) {
            self.warned.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(target: "librdkafka", client = self.client, broker = key,
                detail = %text, repeats_at_debug_for_secs = REPEAT_WARN.as_secs(),
                "a Kafka broker cannot be reached (kmedic's detection reports a dead broker; \
                 the client keeps retrying)");
        } else {
            self.quieted.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(target: "librdkafka", client = self.client, broker = key,
                detail = %text, "a Kafka broker cannot be reached (repeat)");
        }
    }

    fn retrying(&self, text: &dyn std::fmt::Display) {
        self.quieted.fetch_add(1, Ordering::Relaxed);
        tracing::info!(target: "librdkafka", client = self.client, detail = %text,
            "a Kafka coordinator is still loading (a broker just started or took the \
             coordinator over); the client retries by itself");
    }
}

impl ClientContext for QuietContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        let severe = matches!(
            level,
            RDKafkaLogLevel::Emerg
                | RDKafkaLogLevel::Alert
                | RDKafkaLogLevel::Critical
                | RDKafkaLogLevel::Error
                | RDKafkaLogLevel::Warning
        );
        if severe {
            match classify_log(message) {
                Class::Transport(key) => {
                    return self.transport(&key, &format_args!("{fac} {message}"))
                }
                Class::Retrying => return self.retrying(&format_args!("{fac} {message}")),
                _ => {}
            }
        } else if let Class::Transport(key) = classify_log(message) {
            // A connection closing, reported at INFO before the reconnect fails at WARN: the
            // WARN (once per broker per window) is the event's line.
            self.quieted.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(target: "librdkafka", client = self.client, broker = key,
                "librdkafka: {fac} {message}");
            return;
        }
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(target: "librdkafka", client = self.client, "librdkafka: {fac} {message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", client = self.client, "librdkafka: {fac} {message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", client = self.client, "librdkafka: {fac} {message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(target: "librdkafka", client = self.client, "librdkafka: {fac} {message}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        match classify_error(&error, reason) {
            Class::PartitionEof => {
                self.quieted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(client = self.client, %error, reason, "end of a partition");
            }
            Class::Transport(key) => self.transport(&key, &format_args!("{error}: {reason}")),
            Class::Retrying => self.retrying(&format_args!("{error}: {reason}")),
            Class::Other => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(client = self.client, %error, reason, "librdkafka error");
            }
        }
    }
}

impl ConsumerContext for QuietContext {}

#[cfg(test)]
#[path = "rdlog_tests.rs"]
mod tests;
