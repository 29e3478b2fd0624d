//! Publishing to the stats topic: a bounded buffer in front of an rdkafka producer.
//!
//! The sampler [`Publisher::enqueue`]s encoded records; one sender task moves them to rdkafka
//! one at a time and waits for each acknowledgement. One in flight is plenty at one record every
//! few seconds, and it keeps the accounting exact: every record is either acknowledged or counted
//! as dropped, so the master's `seq` gaps equal the agent's drop counter. rdkafka's own queue is
//! kept tiny (`queue.buffering.max.messages`) so that our buffer, not librdkafka's, is where
//! records wait, and `message.timeout.ms` hands a stuck record back to us for a retry.
//!
//! Both rdkafka clients (the producer and the topic check) log through
//! [`kmedic_common::rdlog::QuietContext`]: a stats cluster that cannot be reached is one WARN
//! per broker per 10 minutes (the sender's own "not delivered" lines say what it means for the
//! records), not an ERROR at every reconnect.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kmedic_common::rdlog::QuietContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, ProducerContext};
use rdkafka::ClientContext;
use tokio::sync::{oneshot, Notify};

use crate::buffer::{BoundedBuffer, Pending};
use crate::config::StatsSettings;
use crate::metrics::Metrics;

/// Why publishing could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The producer or admin client could not be created from the settings.
    #[error("cannot create the Kafka client for the stats topic (check [stats]): {0}")]
    Client(#[source] KafkaError),
    /// Creating the stats topic failed.
    #[error("cannot create stats topic {topic}: {reason}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// The broker's or client's reason.
        reason: String,
    },
}

/// Result with [`PublishError`] as the default error.
pub type Result<T, E = PublishError> = std::result::Result<T, E>;

/// Longest pause between delivery attempts while the stats cluster is unreachable.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// Largest record the producer accepts, and the stats topic's max.message.bytes when the agent
/// creates it.
const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;
/// First pause after a failure.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(200);

/// The librdkafka producer properties for `settings`: the shared connection settings (bootstrap,
/// TLS, SASL) plus the producer's own.
pub fn producer_config(settings: &StatsSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in settings.connection.rdkafka_properties() {
        c.set(k, v);
    }
    c.set("acks", "all")
        .set("compression.type", settings.compression.as_rdkafka())
        .set("enable.idempotence", settings.idempotence.to_string())
        .set(
            "message.timeout.ms",
            settings.message_timeout_ms.to_string(),
        )
        // We hand over one record at a time; a tiny librdkafka queue keeps memory bounded and
        // keeps the buffering (and the drop policy) in our hands.
        .set("queue.buffering.max.messages", "16")
        .set(
            "queue.buffering.max.kbytes",
            (settings.buffer_max_bytes / 1024).max(1024).to_string(),
        )
        .set("linger.ms", "5")
        // Full records of very large brokers exceed librdkafka's 1 MB default; the stats topic's
        // max.message.bytes still caps the compressed batch (set when the agent creates it).
        .set("message.max.bytes", MAX_RECORD_BYTES.to_string())
        // Reconnect quickly once the stats cluster is back, but do not hammer it while down.
        .set("reconnect.backoff.ms", "200")
        .set("reconnect.backoff.max.ms", "5000");
    c
}

/// Creates the stats topic if it does not exist; an existing topic is fine.
pub async fn ensure_topic(settings: &StatsSettings) -> Result<()> {
    let admin: AdminClient<QuietContext> = producer_config(settings)
        .create_with_context(QuietContext::new("agent stats topic check"))
        .map_err(PublishError::Client)?;
    let max_bytes = MAX_RECORD_BYTES.to_string();
    let topic = NewTopic::new(
        &settings.topic,
        settings.topic_partitions,
        TopicReplication::Fixed(settings.topic_replication_factor),
    )
    .set("max.message.bytes", &max_bytes);
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(30)));
    let results =
        admin
            .create_topics([&topic], &opts)
            .await
            .map_err(|e| PublishError::CreateTopic {
                topic: settings.topic.clone(),
                reason: e.to_string(),
            })?;
    for r in results {
        match r {
            Ok(name) => tracing::info!(topic = %name, "created the stats topic"),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::debug!(topic = %name, "stats topic already exists")
            }
            Err((name, code)) => {
                return Err(PublishError::CreateTopic {
                    topic: name,
                    reason: code.to_string(),
                })
            }
        }
    }
    Ok(())
}

/// The sampler's side: put records in the buffer.
#[derive(Debug, Clone)]
pub struct Publisher {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    buffer: Mutex<BoundedBuffer>,
    ready: Notify,
    metrics: Arc<Metrics>,
}

impl Shared {
    // A std Mutex: it is held only for a few pointer moves, never across an await.
    fn lock(&self) -> MutexGuard<'_, BoundedBuffer> {
        self.buffer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update_gauges(&self, b: &BoundedBuffer) {
        self.metrics.buffer(b.len(), b.bytes());
    }

    fn count_drops(&self, dropped: &[Pending]) {
        if dropped.is_empty() {
            return;
        }
        self.metrics.dropped(dropped.len() as u64);
        let first = dropped.first().map(|p| p.seq);
        let last = dropped.last().map(|p| p.seq);
        tracing::warn!(
            count = dropped.len(),
            first_seq = first,
            last_seq = last,
            total_dropped = self.metrics.dropped_total(),
            "stats buffer full while the stats cluster is unreachable: dropped the oldest records"
        );
    }
}

/// The sender's side: owns the producer.
pub struct Sender {
    shared: Arc<Shared>,
    producer: BaseProducer<Deliveries>,
    topic: String,
    key: String,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("topic", &self.topic)
            .field("key", &self.key)
            .finish()
    }
}

/// Creates the buffer, the producer and the two handles. `key` is `<cluster_id>/<broker_id>`.
pub fn channel(
    settings: &StatsSettings,
    key: String,
    metrics: Arc<Metrics>,
) -> Result<(Publisher, Sender)> {
    let producer: BaseProducer<Deliveries> = producer_config(settings)
        .create_with_context(Deliveries::new())
        .map_err(PublishError::Client)?;
    let shared = Arc::new(Shared {
        buffer: Mutex::new(BoundedBuffer::new(
            settings.buffer_max_records,
            settings.buffer_max_bytes,
        )),
        ready: Notify::new(),
        metrics,
    });
    Ok((
        Publisher {
            shared: shared.clone(),
        },
        Sender {
            shared,
            producer,
            topic: settings.topic.clone(),
            key,
        },
    ))
}

impl Publisher {
    /// Queues a record for sending; drops (and counts) the oldest when the buffer is full.
    pub fn enqueue(&self, p: Pending) {
        let dropped = {
            let mut b = self.shared.lock();
            let dropped = b.push_back(p);
            self.shared.update_gauges(&b);
            dropped
        };
        self.shared.count_drops(&dropped);
        self.shared.ready.notify_one();
    }

    /// Records waiting to be sent.
    pub fn depth(&self) -> usize {
        self.shared.lock().len()
    }
}

impl Sender {
    /// Sends buffered records until `shutdown` completes, then tries for up to `drain` to send
    /// what is left. Never returns an error: failures are retried, logged and counted.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>, drain: Duration) {
        tokio::pin!(shutdown);
        let mut delay = FIRST_RETRY_DELAY;
        loop {
            let next = {
                let mut b = self.shared.lock();
                let p = b.pop_front();
                self.shared.update_gauges(&b);
                p
            };
            let Some(p) = next else {
                tokio::select! {
                    _ = self.shared.ready.notified() => continue,
                    _ = &mut shutdown => return,
                }
            };
            let outcome = tokio::select! {
                o = self.send_one(&p) => o,
                _ = &mut shutdown => {
                    self.requeue(p);
                    break;
                }
            };
            match outcome {
                Outcome::Delivered => {
                    delay = FIRST_RETRY_DELAY;
                    continue;
                }
                Outcome::Rejected => {
                    // Retrying cannot help, and it would block every record behind it.
                    self.shared.count_drops(std::slice::from_ref(&p));
                    continue;
                }
                Outcome::Retry => {}
            }
            self.requeue(p);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = &mut shutdown => break,
            }
            delay = (delay * 2).min(MAX_RETRY_DELAY);
        }
        self.drain(drain).await;
    }

    async fn drain(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let Some(p) = self.shared.lock().pop_front() else {
                return;
            };
            match tokio::time::timeout_at(deadline, self.send_one(&p)).await {
                Ok(Outcome::Delivered) => {}
                Ok(Outcome::Rejected) => self.shared.count_drops(std::slice::from_ref(&p)),
                _ => {
                    let left = self.shared.lock().len() + 1;
                    tracing::warn!(left, "shutting down with unsent stats records");
                    return;
                }
            }
        }
    }

    fn requeue(&self, p: Pending) {
        let res = {
            let mut b = self.shared.lock();
            let res = b.push_front(p);
            self.shared.update_gauges(&b);
            res
        };
        if let Err(p) = res {
            self.shared.count_drops(std::slice::from_ref(&p));
        }
    }

    /// One delivery attempt.
    ///
    /// The producer is polled from here, only while a delivery is pending, rather than by
    /// rdkafka's background polling thread: that thread wakes ten times a second forever and
    /// alone cost more CPU than everything else the agent does.
    async fn send_one(&self, p: &Pending) -> Outcome {
        let (tx, mut rx) = oneshot::channel();
        let record = BaseRecord::with_opaque_to(&self.topic, Box::new(tx))
            .key(self.key.as_bytes())
            .payload(p.bytes.as_slice());
        let outcome = match self.producer.send(record) {
            Ok(()) => {
                let mut wait = Duration::from_millis(2);
                loop {
                    self.producer.poll(Duration::ZERO);
                    match rx.try_recv() {
                        Ok(result) => break result,
                        Err(oneshot::error::TryRecvError::Closed) => {
                            break Err(KafkaError::Canceled)
                        }
                        Err(oneshot::error::TryRecvError::Empty) => {}
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_millis(100));
                }
            }
            Err((e, _)) => Err(e),
        };
        match outcome {
            Ok(()) => {
                self.shared.metrics.published(p.kind);
                tracing::debug!(seq = p.seq, kind = ?p.kind, bytes = p.bytes.len(), "published");
                Outcome::Delivered
            }
            Err(error) if is_permanent(&error) => {
                self.shared.metrics.publish_failed();
                tracing::error!(
                    seq = p.seq,
                    kind = ?p.kind,
                    bytes = p.bytes.len(),
                    %error,
                    "stats record rejected by the stats cluster and dropped; if it is too large, \
                     raise the stats topic's max.message.bytes"
                );
                Outcome::Rejected
            }
            Err(error) => {
                self.shared.metrics.publish_failed();
                tracing::warn!(
                    seq = p.seq,
                    kind = ?p.kind,
                    %error,
                    buffered = self.shared.lock().len(),
                    "stats record not delivered; it stays buffered and is retried"
                );
                Outcome::Retry
            }
        }
    }
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Acknowledged.
    Delivered,
    /// Failed in a way that may pass (cluster down, leader moving): retry.
    Retry,
    /// Failed in a way no retry can fix (record too large, invalid): drop and count.
    Rejected,
}

/// Errors that retrying the same record cannot fix.
fn is_permanent(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
        )
    )
}

/// Hands each delivery report to the task waiting for it; librdkafka's logs and global errors
/// go to its [`QuietContext`].
pub struct Deliveries {
    quiet: QuietContext,
}

impl Deliveries {
    /// The stats producer's context.
    pub fn new() -> Self {
        Self {
            quiet: QuietContext::new("agent stats producer"),
        }
    }

    /// The log context (what it logged so far: `quiet().tally()`).
    pub fn quiet(&self) -> &QuietContext {
        &self.quiet
    }
}

impl Default for Deliveries {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientContext for Deliveries {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.quiet.log(level, fac, log_message)
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.quiet.error(error, reason)
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<oneshot::Sender<std::result::Result<(), KafkaError>>>;

    fn delivery(&self, result: &DeliveryResult<'_>, waiter: Self::DeliveryOpaque) {
        let outcome = match result {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(e.clone()),
        };
        // The waiter may be gone (shutdown); nothing else needs the report.
        let _ = waiter.send(outcome);
    }
}
