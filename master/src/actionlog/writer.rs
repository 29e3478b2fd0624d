//! The transactional writer: every record goes to the action-log topic inside a Kafka
//! transaction, with the one `transactional.id` of the master group (DESIGN rule 8).
//!
//! When another master opens a producer with the same id, Kafka fences this one: its next
//! transaction fails with a fatal error (ProducerFenced / InvalidProducerEpoch). From then on
//! [`ActionLog::write`] returns [`Error::Fenced`] at once, forever, and [`ActionLog::is_fenced`]
//! is true: the master stops acting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

use super::record::ActionRecord;
use super::Error;
use crate::config::ActionLogConfig;
use kmedic_common::connection::ConnectionSettings;
use kmedic_common::rdlog::QuietContext;

/// The action log's writer. Cheap to share behind an `Arc`; writes are serialized.
pub struct ActionLog {
    producer: FutureProducer<QuietContext>,
    topic: String,
    transactional_id: String,
    timeout: Duration,
    fenced: Arc<AtomicBool>,
    lock: tokio::sync::Mutex<()>,
    /// Every committed record, for the HTTP server's action history.
    history: super::ActionHistory,
}

impl std::fmt::Debug for ActionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionLog")
            .field("topic", &self.topic)
            .field("transactional_id", &self.transactional_id)
            .field("fenced", &self.is_fenced())
            .finish()
    }
}

/// A client config with the connection's settings.
pub(crate) fn client_config(conn: &ConnectionSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in conn.rdkafka_properties() {
        c.set(k, v);
    }
    c
}

/// Creates the topic if it is missing (an existing one is left as it is).
pub async fn ensure_topic(conn: &ConnectionSettings, cfg: &ActionLogConfig) -> Result<(), Error> {
    let admin: Arc<AdminClient<QuietContext>> = Arc::new(
        client_config(conn)
            .create_with_context(QuietContext::new("action log topic check"))
            .map_err(|source| Error::Kafka {
                op: "create admin client",
                source,
            })?,
    );
    // Most starts find the topic: a metadata read answers that without a CreateTopics, which
    // can time out while a broker has just died.
    let exists = {
        let admin = admin.clone();
        let topic = cfg.topic.clone();
        let timeout = Duration::from_millis(cfg.write_timeout_ms);
        tokio::task::spawn_blocking(move || {
            admin
                .inner()
                .fetch_metadata(Some(&topic), timeout)
                .map(|md| {
                    md.topics().iter().any(|t| {
                        t.name() == topic && t.error().is_none() && !t.partitions().is_empty()
                    })
                })
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))?
    };
    if let Ok(true) = exists {
        return Ok(());
    }
    let min_isr = cfg.min_insync_replicas.to_string();
    let retention = cfg.retention_ms.to_string();
    let topic = NewTopic::new(
        &cfg.topic,
        cfg.partitions,
        TopicReplication::Fixed(i32::from(cfg.replication_factor)),
    )
    .set("min.insync.replicas", &min_isr)
    .set("cleanup.policy", "delete")
    .set("retention.ms", &retention);
    let opts = AdminOptions::new().operation_timeout(Some(Timeout::After(Duration::from_millis(
        cfg.write_timeout_ms,
    ))));
    let results = admin
        .create_topics([&topic], &opts)
        .await
        .map_err(|source| Error::Kafka {
            op: "create the action-log topic",
            source,
        })?;
    for r in results {
        match r {
            Ok(name) => tracing::info!(topic = %name, partitions = cfg.partitions,
                rf = cfg.replication_factor, "created the action-log topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(Error::Topic(format!(
                    "cannot create the action-log topic {name:?}: {code}; create it by hand \
                     (partitions {}, replication factor {}, min.insync.replicas {}) or fix \
                     action_log.replication_factor for a smaller cluster",
                    cfg.partitions, cfg.replication_factor, cfg.min_insync_replicas
                )))
            }
        }
    }
    Ok(())
}

/// Whether an error means this producer is fenced (or otherwise dead for good).
fn is_fatal(e: &KafkaError) -> bool {
    let fencing = |c: RDKafkaErrorCode| {
        matches!(
            c,
            RDKafkaErrorCode::ProducerFenced
                | RDKafkaErrorCode::InvalidProducerEpoch
                | RDKafkaErrorCode::Fenced
                | RDKafkaErrorCode::Fatal
                | RDKafkaErrorCode::TransactionCoordinatorFenced
        )
    };
    match e {
        KafkaError::Transaction(t) => t.is_fatal() || fencing(t.code()),
        other => other.rdkafka_error_code().is_some_and(fencing),
    }
}

impl ActionLog {
    /// Creates the topic if missing, then a transactional producer, and registers it with the
    /// transaction coordinator (which fences any older producer with the same id).
    pub async fn open(conn: &ConnectionSettings, cfg: &ActionLogConfig) -> Result<Self, Error> {
        ensure_topic(conn, cfg).await?;
        let timeout = Duration::from_millis(cfg.write_timeout_ms);
        // The quiet context: a broker that is down is WARN once, not ERROR at every retry
        // (kmedic reports the dead broker itself); fenced and fatal errors stay ERROR.
        let producer: FutureProducer<QuietContext> = client_config(conn)
            .set("transactional.id", &cfg.transactional_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("transaction.timeout.ms", cfg.write_timeout_ms.to_string())
            .set("message.timeout.ms", cfg.write_timeout_ms.to_string())
            .create_with_context(QuietContext::new("action log"))
            .map_err(|source| Error::Kafka {
                op: "create the transactional producer",
                source,
            })?;
        let p = producer.clone();
        tokio::task::spawn_blocking(move || p.init_transactions(timeout))
            .await
            .map_err(|e| Error::Task(e.to_string()))?
            .map_err(|source| Error::Kafka {
                op: "init transactions",
                source,
            })?;
        tracing::info!(topic = %cfg.topic, transactional_id = %cfg.transactional_id,
            "action log open: this master now holds the fence (any older master is fenced)");
        Ok(Self {
            producer,
            topic: cfg.topic.clone(),
            transactional_id: cfg.transactional_id.clone(),
            timeout,
            fenced: Arc::new(AtomicBool::new(false)),
            lock: tokio::sync::Mutex::new(()),
            history: super::ActionHistory::default(),
        })
    }

    /// True once the producer was fenced: this master must not act again.
    pub fn is_fenced(&self) -> bool {
        self.fenced.load(Ordering::SeqCst)
    }

    /// The in-memory history every committed write is appended to (seed it with the records
    /// read back at start).
    pub fn history(&self) -> super::ActionHistory {
        self.history.clone()
    }

    /// The topic written to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Writes one record in its own transaction; returns once it is committed.
    pub async fn write(&self, rec: &ActionRecord) -> Result<(), Error> {
        self.write_all(std::slice::from_ref(rec)).await
    }

    /// Writes records in one transaction (all or none), in order.
    pub async fn write_all(&self, recs: &[ActionRecord]) -> Result<(), Error> {
        let _guard = self.lock.lock().await;
        if self.is_fenced() {
            return Err(Error::Fenced);
        }
        match self.transaction(recs).await {
            Ok(()) => {
                self.history.push(recs);
                Ok(())
            }
            Err(e) if is_fatal(&e) => {
                self.fenced.store(true, Ordering::SeqCst);
                tracing::error!(transactional_id = %self.transactional_id, error = %e,
                    "action log producer fenced: another master holds the fence; this master \
                     takes no further action");
                Err(Error::Fenced)
            }
            Err(e) => {
                let p = self.producer.clone();
                let t = self.timeout;
                let aborted = tokio::task::spawn_blocking(move || p.abort_transaction(t)).await;
                if let Ok(Err(a)) = &aborted {
                    if is_fatal(a) {
                        self.fenced.store(true, Ordering::SeqCst);
                        tracing::error!(error = %a, "action log producer fenced while aborting");
                        return Err(Error::Fenced);
                    }
                }
                Err(Error::Kafka {
                    op: "write the action log",
                    source: e,
                })
            }
        }
    }

    async fn transaction(&self, recs: &[ActionRecord]) -> Result<(), KafkaError> {
        self.producer.begin_transaction()?;
        for rec in recs {
            let payload = rec.to_json();
            let record = FutureRecord::to(&self.topic)
                .key(rec.cluster_id.as_bytes())
                .payload(&payload);
            self.producer
                .send(record, Timeout::After(self.timeout))
                .await
                .map_err(|(e, _)| e)?;
        }
        let p = self.producer.clone();
        let t = self.timeout;
        tokio::task::spawn_blocking(move || p.commit_transaction(t))
            .await
            .map_err(|_| KafkaError::Canceled)??;
        Ok(())
    }
}
