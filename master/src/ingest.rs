//! Ingest: an rdkafka consumer of the stats topic feeding one model per cluster, keyed by
//! `cluster.id`.
//!
//! Records from unknown clusters and undecodable records are counted and logged at most once
//! per [`LOG_EVERY`] per kind (with the number suppressed), and never stop the loop. The
//! consumer does not join a consumer group's offsets: where to start comes from the checkpoint
//! (its watermark time, through `offsets_for_times`) or, on a cold start, from one window ago,
//! so the model is rebuilt from exactly the stats it needs.
//!
//! Each record is stamped with the master's clocks when it is handled ([`Received`]): live
//! records are evidence of life *now*; records replayed before the consumer caught up count as
//! old as their timestamps say (see `model::agent`). Records whose agent timestamp is outside
//! `ingest.max_clock_skew_secs`, and full records over the replica or topic caps, are refused,
//! counted and logged rate-limited; they change nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kmedic_common::codec;
use kmedic_common::connection::ConnectionSettings;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tracing::{debug, info, warn};

use crate::clock::Now;
use crate::config::IngestConfig;
use crate::model::{lock, Applied, Fleet, Received};
use kmedic_common::rdlog::{self, QuietContext};

/// At most one log line per kind of bad record per this period.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Errors setting up the consumer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// rdkafka refused the configuration or a metadata / offsets call failed.
    #[error("stats consumer: {what}: {source}")]
    Kafka {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: rdkafka::error::KafkaError,
    },
    /// The stats topic does not exist.
    #[error("stats topic {0:?} not found: create it or fix stats.topic")]
    NoTopic(String),
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Ingest counters (exported as metrics later).
#[derive(Debug, Default)]
pub struct Counters {
    /// Records applied to a model.
    pub applied: AtomicU64,
    /// Records that did not decode.
    pub undecodable: AtomicU64,
    /// Records naming a cluster this master does not serve.
    pub unknown_cluster: AtomicU64,
    /// Records with no payload.
    pub empty: AtomicU64,
    /// Records refused because the agent's clock is outside `ingest.max_clock_skew_secs`.
    pub skewed: AtomicU64,
    /// Records refused for more replicas or topics than the `ingest.max_*_per_record` caps.
    pub too_large: AtomicU64,
    /// Newest stats-topic record timestamp consumed (ms); the checkpoint's replay point.
    pub watermark_ms: AtomicU64,
    /// Set once the consumer has caught up with the topic's end as of start.
    pub caught_up: AtomicBool,
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied to the model of this cluster id.
    Applied(String),
    /// Did not decode; the codec's reason.
    Undecodable(String),
    /// Names a cluster this master does not serve.
    UnknownCluster(String),
    /// No payload.
    Empty,
    /// Refused: the agent's timestamp is this far (ms) from the master's reference.
    Skewed(i64),
    /// Refused: more replicas or topics than the caps.
    TooLarge,
}

#[derive(Debug)]
struct Limiter {
    last: Option<Instant>,
    suppressed: u64,
}

impl Limiter {
    /// Returns the number suppressed since the last line if a line may be written now.
    fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|l| now.duration_since(l) < LOG_EVERY) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Whether the consume loop writes a WARN line for consumer error `e`: `Some(suppressed)`
/// (the lines suppressed since the last) if it does.
///
/// A broker that cannot be reached is not: the consumer's context ([`QuietContext`]) already
/// wrote that event's line, naming the broker and librdkafka's detail (WARN once per broker per
/// `rdlog::REPEAT_WARN`), and the error `recv` returns for it says less (no broker). It goes to
/// DEBUG here, so one event is one line.
fn consume_error(log: &mut Limiter, e: &rdkafka::error::KafkaError) -> Option<u64> {
    if let rdlog::Class::Transport(_) = rdlog::classify_error(e, "") {
        debug!(error = %e, "stats consumer: a broker cannot be reached (logged by the client); retrying");
        return None;
    }
    log.allow()
}

/// Decodes and routes records to the fleet's models.
#[derive(Debug)]
pub struct Ingest {
    fleet: Fleet,
    /// The counters.
    pub counters: Arc<Counters>,
    bounds: IngestConfig,
    bad_log: Mutex<Limiter>,
    unknown_log: Mutex<Limiter>,
    skew_log: Mutex<Limiter>,
    large_log: Mutex<Limiter>,
}

impl Ingest {
    /// Ingest into `fleet` with the default [`IngestConfig`].
    pub fn new(fleet: Fleet) -> Self {
        Self::with_config(fleet, IngestConfig::default())
    }

    /// Ingest into `fleet` with the given skew and size bounds (the `[ingest]` config section).
    pub fn with_config(fleet: Fleet, bounds: IngestConfig) -> Self {
        let l = || {
            Mutex::new(Limiter {
                last: None,
                suppressed: 0,
            })
        };
        Self {
            fleet,
            counters: Arc::new(Counters::default()),
            bounds,
            bad_log: l(),
            unknown_log: l(),
            skew_log: l(),
            large_log: l(),
        }
    }

    /// Handles one stats-topic record: decode, route by cluster id, apply. Never fails. Reads
    /// the master's clocks; a record counts as replayed until `caught_up` is set.
    pub fn handle(&self, payload: Option<&[u8]>, record_ts_ms: Option<i64>) -> Outcome {
        self.handle_at(payload, record_ts_ms, Now::read())
    }

    /// [`Ingest::handle`] at the given clocks (tests inject them).
    pub fn handle_at(
        &self,
        payload: Option<&[u8]>,
        record_ts_ms: Option<i64>,
        now: Now,
    ) -> Outcome {
        if let Some(ts) = record_ts_ms.and_then(|t| u64::try_from(t).ok()) {
            self.counters.watermark_ms.fetch_max(ts, Ordering::Relaxed);
        }
        let Some(bytes) = payload else {
            self.counters.empty.fetch_add(1, Ordering::Relaxed);
            return Outcome::Empty;
        };
        let rec = match codec::decode(bytes) {
            Ok(r) => r,
            Err(e) => {
                let n = self.counters.undecodable.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(suppressed) = lock(&self.bad_log).allow() {
                    warn!(error = %e, bytes = bytes.len(), total_undecodable = n, suppressed,
                        "undecodable stats record skipped");
                }
                return Outcome::Undecodable(e.to_string());
            }
        };
        let id = &rec.identity().cluster_id;
        let broker = rec.identity().broker_id;
        let rx = if self.counters.caught_up.load(Ordering::Relaxed) {
            Received::live(now)
        } else {
            let kafka_ts = record_ts_ms.and_then(|t| u64::try_from(t).ok());
            Received::replayed(now, kafka_ts, rec.timestamp_ms())
        };
        match self.fleet.get(id) {
            Some(m) => match lock(&m).apply(&rec, rx, &self.bounds) {
                Applied::Applied => {
                    self.counters.applied.fetch_add(1, Ordering::Relaxed);
                    Outcome::Applied(id.clone())
                }
                Applied::Skewed { skew_ms } => {
                    let n = self.counters.skewed.fetch_add(1, Ordering::Relaxed) + 1;
                    if let Some(suppressed) = lock(&self.skew_log).allow() {
                        warn!(cluster_id = %id, broker, skew_ms,
                            max_skew_secs = self.bounds.max_clock_skew_secs,
                            agent_ts_ms = rec.timestamp_ms(), total_skewed = n, suppressed,
                            "stats record refused: the agent's clock is too far from the \
                             master's (fix NTP on that host); it updates nothing");
                    }
                    Outcome::Skewed(skew_ms)
                }
                Applied::TooLarge { replicas, topics } => {
                    let n = self.counters.too_large.fetch_add(1, Ordering::Relaxed) + 1;
                    if let Some(suppressed) = lock(&self.large_log).allow() {
                        warn!(cluster_id = %id, broker, replicas, topics,
                            max_replicas = self.bounds.max_replicas_per_record,
                            max_topics = self.bounds.max_topics_per_record,
                            total_too_large = n, suppressed,
                            "stats record refused: more replicas or topics than one broker \
                             can host (raise ingest.max_*_per_record if this is real)");
                    }
                    Outcome::TooLarge
                }
            },
            None => {
                let n = self
                    .counters
                    .unknown_cluster
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                if let Some(suppressed) = lock(&self.unknown_log).allow() {
                    warn!(cluster_id = %id, broker = rec.identity().broker_id,
                        total_unknown = n, suppressed,
                        "stats record from a cluster this master does not serve; skipped");
                }
                Outcome::UnknownCluster(id.clone())
            }
        }
    }
}

/// The stats consumer: its context logs a broker that is down at WARN once, not ERROR at every
/// reconnect (kmedic reports the dead broker itself; `kmedic_common::rdlog`).
pub type StatsConsumer = StreamConsumer<QuietContext>;

/// Builds the stats consumer. Offsets are never committed: the checkpoint decides where to
/// start.
pub fn consumer(settings: &ConnectionSettings, group_id: &str) -> Result<StatsConsumer> {
    let mut c = ClientConfig::new();
    for (k, v) in settings.rdkafka_properties() {
        c.set(k, v);
    }
    c.set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest");
    c.create_with_context(QuietContext::new("stats consumer"))
        .map_err(|source| Error::Kafka {
            what: "create consumer",
            source,
        })
}

/// Assigns every partition of `topic` starting at the first record at or after `start_ms`
/// (the end where there is none). Returns the partitions with a backlog and their end offset
/// at this moment: reaching those is what "caught up" means.
pub fn assign_from(
    consumer: &StatsConsumer,
    topic: &str,
    start_ms: u64,
    timeout: Duration,
) -> Result<Vec<(i32, i64)>> {
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|source| Error::Kafka {
            what: "fetch metadata",
            source,
        })?;
    let parts: Vec<i32> = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    if parts.is_empty() {
        return Err(Error::NoTopic(topic.to_string()));
    }
    let mut want = TopicPartitionList::new();
    let mut ends = Vec::new();
    for &p in &parts {
        want.add_partition_offset(topic, p, Offset::Offset(start_ms as i64))
            .map_err(|source| Error::Kafka {
                what: "build partition list",
                source,
            })?;
        let (_, high) = consumer
            .fetch_watermarks(topic, p, timeout)
            .map_err(|source| Error::Kafka {
                what: "fetch watermarks",
                source,
            })?;
        ends.push((p, high));
    }
    let mut at = consumer
        .offsets_for_times(want, timeout)
        .map_err(|source| Error::Kafka {
            what: "offsets_for_times",
            source,
        })?;
    // A partition with nothing newer than start_ms comes back as -1 (end).
    let at_end: Vec<i32> = at
        .elements_for_topic(topic)
        .iter()
        .filter(|e| !matches!(e.offset(), Offset::Offset(o) if o >= 0))
        .map(|e| e.partition())
        .collect();
    for p in at_end {
        at.set_partition_offset(topic, p, Offset::End)
            .map_err(|source| Error::Kafka {
                what: "set offset",
                source,
            })?;
    }
    // Only partitions with a backlog between the start point and the end count for "caught
    // up"; the others are there already and may stay silent for a long time.
    let backlog: Vec<(i32, i64)> = ends
        .into_iter()
        .filter(|&(p, high)| {
            at.find_partition(topic, p)
                .is_some_and(|e| matches!(e.offset(), Offset::Offset(o) if o >= 0 && o < high))
        })
        .collect();
    consumer.assign(&at).map_err(|source| Error::Kafka {
        what: "assign",
        source,
    })?;
    info!(
        topic,
        start_ms,
        partitions = parts.len(),
        "stats consumer assigned from time"
    );
    Ok(backlog)
}

/// Consumes until `shutdown` resolves, applying every record. Sets `caught_up` once every
/// partition has reached the end offsets in `ends` (the backlog at start).
pub async fn run(
    consumer: StatsConsumer,
    ingest: Arc<Ingest>,
    ends: Vec<(i32, i64)>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let started = Instant::now();
    let mut pending: std::collections::BTreeMap<i32, i64> =
        ends.into_iter().filter(|&(_, high)| high > 0).collect();
    // Partitions whose assigned start is already at their end never deliver a message; the
    // idle check below covers them.
    let mut last_msg = Instant::now();
    tokio::pin!(shutdown);
    let mut err_log = Limiter {
        last: None,
        suppressed: 0,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {
                // Safety net: nothing arrived for 5 s although a backlog was expected (for
                // example retention deleted it meanwhile): nothing more is coming, so we are
                // as current as the topic allows.
                if !ingest.counters.caught_up.load(Ordering::Relaxed)
                    && last_msg.elapsed() > Duration::from_secs(5)
                {
                    pending.clear();
                }
            }
            m = consumer.recv() => match m {
                Ok(msg) => {
                    last_msg = Instant::now();
                    ingest.handle(msg.payload(), msg.timestamp().to_millis());
                    if let Some(&end) = pending.get(&msg.partition()) {
                        if msg.offset() + 1 >= end {
                            pending.remove(&msg.partition());
                        }
                    }
                }
                Err(e) => {
                    if let Some(suppressed) = consume_error(&mut err_log, &e) {
                        warn!(error = %e, suppressed, "stats consumer error; retrying");
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        if pending.is_empty() && !ingest.counters.caught_up.swap(true, Ordering::Relaxed) {
            info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                applied = ingest.counters.applied.load(Ordering::Relaxed),
                "stats replay caught up; the model is current"
            );
        }
    }
}

#[cfg(test)]
mod tests;
