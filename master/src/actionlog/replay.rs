//! Reading the action log back at start (read_committed), and folding it into what the master
//! must restore: in-flight actions (intent without outcome: tracked, never repeated), the
//! replacement history (rate-limit windows), the modes and the decommission list.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::record::{ActionKind, ActionRecord, Mode, OutcomeStatus, Phase};
use super::writer::client_config;
use super::Error;
use kmedic_common::connection::ConnectionSettings;
use kmedic_common::rdlog::QuietContext;

/// One replacement the log knows of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// The action id.
    pub action_id: String,
    /// The broker replaced.
    pub broker: i32,
    /// When its intent was written (wall ms).
    pub started_wall_ms: u64,
    /// How it ended; `None` while running (or when the master died while it ran).
    pub status: Option<OutcomeStatus>,
    /// Whether the broker was recorded caught up afterwards.
    pub caught_up: bool,
}

impl Replacement {
    /// Still counts as "being replaced": running, or succeeded and not caught up yet.
    pub fn in_progress(&self) -> bool {
        match self.status {
            None => true,
            Some(OutcomeStatus::Succeeded) => !self.caught_up,
            Some(_) => false,
        }
    }
}

/// What one cluster's records add up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterState {
    /// Intents without an outcome, in log order: resume tracking them, never repeat them.
    pub in_flight: Vec<ActionRecord>,
    /// Every replacement, in log order (the rate-limit window reads the start times).
    pub replacements: Vec<Replacement>,
    /// Maintenance mode as last recorded; `None` when never recorded.
    pub maintenance: Option<bool>,
    /// Dry-run mode as last recorded; `None` when never recorded.
    pub dry_run: Option<bool>,
    /// The mass-failure override as last recorded; `None` when never recorded.
    pub mass_failure_override: Option<bool>,
    /// Brokers on the decommission list.
    pub decommissioning: BTreeSet<i32>,
    /// Records of this cluster.
    pub records: usize,
}

/// The whole log, folded per cluster id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Restored {
    /// Per `cluster.id`.
    pub clusters: BTreeMap<String, ClusterState>,
    /// Records that did not parse (counted and logged, otherwise skipped).
    pub unparsable: usize,
}

impl Restored {
    /// The state of `cluster_id` (empty when the log has none).
    pub fn cluster(&self, cluster_id: &str) -> ClusterState {
        self.clusters.get(cluster_id).cloned().unwrap_or_default()
    }
}

/// The highest decision id any record of the log answers (every cluster's: ids are unique per
/// action log). A starting master numbers its decisions after it, so a decision, plan or
/// action id of this process never names one of an earlier process (`actions`, the API
/// history and the UI would mix them).
pub fn last_decision_id(records: &[ActionRecord]) -> Option<u64> {
    records.iter().filter_map(|r| r.decision_id).max()
}

/// Folds records (in log order) into the state to restore. Pure: the replay tests drive it.
pub fn restore(records: impl IntoIterator<Item = ActionRecord>) -> Restored {
    let mut out = Restored::default();
    for r in records {
        let c = out.clusters.entry(r.cluster_id.clone()).or_default();
        c.records += 1;
        match r.phase {
            Phase::Intent => {
                if let ActionKind::ReplaceHost { broker, .. } = &r.kind {
                    c.replacements.push(Replacement {
                        action_id: r.action_id.clone(),
                        broker: *broker,
                        started_wall_ms: r.wall_ms,
                        status: None,
                        caught_up: false,
                    });
                }
                c.in_flight.retain(|i| i.action_id != r.action_id);
                c.in_flight.push(r);
            }
            Phase::Outcome => {
                c.in_flight.retain(|i| i.action_id != r.action_id);
                let status = r.outcome.as_ref().map(|o| o.status);
                if let Some(rep) = c
                    .replacements
                    .iter_mut()
                    .find(|p| p.action_id == r.action_id)
                {
                    rep.status = status.or(Some(OutcomeStatus::Failed));
                }
            }
            Phase::State => match &r.kind {
                ActionKind::SetMode { mode, on } => match mode {
                    Mode::Maintenance => c.maintenance = Some(*on),
                    Mode::DryRun => c.dry_run = Some(*on),
                    Mode::MassFailureOverride => c.mass_failure_override = Some(*on),
                },
                ActionKind::Decommission { brokers } => c.decommissioning.extend(brokers),
                ActionKind::Recommission { brokers } => {
                    for b in brokers {
                        c.decommissioning.remove(b);
                    }
                }
                ActionKind::CaughtUp { broker } => {
                    if let Some(rep) = c
                        .replacements
                        .iter_mut()
                        .rev()
                        .find(|p| p.broker == *broker && !p.caught_up)
                    {
                        rep.caught_up = true;
                    }
                }
                _ => {}
            },
        }
    }
    out
}

/// Reads every committed record of `topic` (read_committed), in order, up to the end seen at
/// start. A missing topic is an empty log; any other failure is an error, because acting on a
/// log that could not be read would forget rate limits and in-flight work.
pub async fn read_all(
    conn: &ConnectionSettings,
    topic: &str,
    timeout: Duration,
) -> Result<Restored, Error> {
    let (records, unparsable) = read_records(conn, topic, timeout).await?;
    let mut restored = restore(records);
    restored.unparsable = unparsable;
    Ok(restored)
}

/// The committed records themselves, in log order, and how many did not parse (for tools and
/// tests; [`read_all`] folds them).
pub async fn read_records(
    conn: &ConnectionSettings,
    topic: &str,
    timeout: Duration,
) -> Result<(Vec<ActionRecord>, usize), Error> {
    let conn = conn.clone();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || read_blocking(&conn, &topic, timeout))
        .await
        .map_err(|e| Error::Task(e.to_string()))?
}

fn read_blocking(
    conn: &ConnectionSettings,
    topic: &str,
    timeout: Duration,
) -> Result<(Vec<ActionRecord>, usize), Error> {
    let kafka = |op: &'static str| move |source: KafkaError| Error::Kafka { op, source };
    // The end of a partition, which the replay asks librdkafka to report and handles as a
    // message, also reaches the global error callback (rust-rdkafka issue 820): the quiet
    // context logs it at DEBUG, and an unreachable broker at WARN once, not ERROR per retry.
    let consumer: BaseConsumer<QuietContext> = client_config(conn)
        .set("group.id", "kmedic-actionlog-replay")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .create_with_context(QuietContext::new("action log replay"))
        .map_err(kafka("create the replay consumer"))?;
    let deadline = Instant::now() + timeout;
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(kafka("read the action-log topic's metadata"))?;
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        tracing::info!(%topic, "no action log yet: nothing to restore");
        return Ok((Vec::new(), 0));
    }
    // Only partitions holding something need reading; an empty one never reports EOF reliably.
    let mut pending = BTreeSet::new();
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, timeout)
            .map_err(kafka("read the action log's offsets"))?;
        if high > low {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(kafka("assign the action log"))?;
            pending.insert(p);
        }
    }
    let mut records = Vec::new();
    let mut unparsable = 0;
    if pending.is_empty() {
        return Ok((records, 0));
    }
    consumer
        .assign(&tpl)
        .map_err(kafka("assign the action log"))?;
    // Errors while polling are retried until the deadline: one bootstrap broker being dead
    // (a restart during a heal) surfaces as a transport error here, and must not leave the
    // master unable to act. The deadline still bounds it: no log, no acting.
    let mut last_error: Option<KafkaError> = None;
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let why = last_error
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default();
            return Err(Error::Timeout(format!(
                "reading the action log {topic:?} back took longer than \
                 action_log.replay_timeout_secs = {}{why}",
                timeout.as_secs()
            )));
        }
        match consumer.poll(left.min(Duration::from_millis(500))) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) => {
                if last_error.is_none() {
                    tracing::info!(%topic, error = %e,
                        "reading the action log: retrying until replay_timeout_secs");
                }
                last_error = Some(e);
            }
            Some(Ok(m)) => match m.payload().map(ActionRecord::from_json) {
                Some(Ok(r)) => records.push(r),
                _ => {
                    unparsable += 1;
                    tracing::warn!(%topic, partition = m.partition(), offset = m.offset(),
                        "action-log record does not parse: skipped");
                }
            },
        }
    }
    // Debug: the master logs the open and read-back as one line; `actions` prints the records.
    tracing::debug!(%topic, records = records.len(), unparsable, "action log read back");
    Ok((records, unparsable))
}

#[cfg(test)]
mod tests {
    use super::super::record::{Outcome, PartitionRef};
    use super::*;

    fn intent(c: &str, id: &str, kind: ActionKind, wall: u64) -> ActionRecord {
        let mut r = ActionRecord::intent(c, id, None, kind, "", "m");
        r.wall_ms = wall;
        r
    }
    fn done(r: &ActionRecord, status: OutcomeStatus) -> ActionRecord {
        r.outcome_of(Outcome {
            status,
            detail: String::new(),
            command: None,
        })
    }
    fn state(c: &str, kind: ActionKind) -> ActionRecord {
        ActionRecord::state(c, "s", kind, "", "m")
    }

    #[test]
    fn the_last_decision_id_is_the_highest_of_any_cluster() {
        assert_eq!(last_decision_id(&[]), None);
        let with = |c: &str, d: Option<u64>| {
            let mut r = intent(c, "a", ActionKind::ElectLeaders, 1);
            r.decision_id = d;
            r
        };
        let log = [
            with("c", Some(9)),
            with("other", Some(12)),
            with("c", Some(3)),
            with("c", None),
        ];
        assert_eq!(last_decision_id(&log), Some(12));
    }

    #[test]
    fn in_flight_is_an_intent_without_outcome_in_order() {
        let mut a = intent(
            "c",
            "a",
            ActionKind::Reassign {
                targets: vec![vec![1, 2, 3]],
                bytes: 5,
            },
            1,
        );
        a.partitions = vec![PartitionRef {
            topic: "t".into(),
            partition: 0,
        }];
        let b = intent("c", "b", ActionKind::ElectLeaders, 2);
        let t = intent(
            "c",
            "t",
            ActionKind::SetThrottle {
                rate_bytes_per_sec: 9,
            },
            0,
        );
        let r = restore(vec![
            t.clone(),
            a.clone(),
            b.clone(),
            done(&b, OutcomeStatus::Succeeded),
        ]);
        let c = r.cluster("c");
        assert_eq!(c.in_flight, vec![t, a]);
        assert_eq!(c.records, 4);
        assert!(r.cluster("other").in_flight.is_empty());
    }

    #[test]
    fn modes_and_decommission_take_the_last_word() {
        let r = restore(vec![
            state(
                "c",
                ActionKind::SetMode {
                    mode: Mode::Maintenance,
                    on: true,
                },
            ),
            state(
                "c",
                ActionKind::SetMode {
                    mode: Mode::DryRun,
                    on: true,
                },
            ),
            state(
                "c",
                ActionKind::SetMode {
                    mode: Mode::Maintenance,
                    on: false,
                },
            ),
            state(
                "c",
                ActionKind::Decommission {
                    brokers: vec![4, 5],
                },
            ),
            state("c", ActionKind::Recommission { brokers: vec![4] }),
            state(
                "d",
                ActionKind::SetMode {
                    mode: Mode::DryRun,
                    on: true,
                },
            ),
        ]);
        let c = r.cluster("c");
        assert_eq!(c.maintenance, Some(false));
        assert_eq!(c.dry_run, Some(true));
        assert_eq!(c.decommissioning, BTreeSet::from([5]));
        assert_eq!(r.cluster("d").maintenance, None);
    }

    #[test]
    fn the_mass_failure_override_takes_the_last_word_and_reads_back_from_json() {
        let set = |on| {
            state(
                "c",
                ActionKind::SetMode {
                    mode: Mode::MassFailureOverride,
                    on,
                },
            )
        };
        assert_eq!(
            restore(vec![set(true)]).cluster("c").mass_failure_override,
            Some(true)
        );
        let r = restore(vec![set(true), set(false)]);
        assert_eq!(r.cluster("c").mass_failure_override, Some(false));
        assert_eq!(r.cluster("c").dry_run, None);
        assert_eq!(restore(vec![]).cluster("c").mass_failure_override, None);
        // As written to the topic and read back.
        let json = serde_json::to_string(&set(true)).unwrap();
        assert!(json.contains("\"mass_failure_override\""), "{json}");
        let back: ActionRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(
            restore(vec![back]).cluster("c").mass_failure_override,
            Some(true)
        );
    }

    #[test]
    fn replacements_keep_their_start_and_progress() {
        let rep = |b| ActionKind::ReplaceHost {
            broker: b,
            hostname: "h".into(),
        };
        let a = intent("c", "a", rep(1), 100);
        let b = intent("c", "b", rep(2), 200);
        let r = restore(vec![
            a.clone(),
            done(&a, OutcomeStatus::Succeeded),
            b.clone(),
            done(&b, OutcomeStatus::Failed),
            state("c", ActionKind::CaughtUp { broker: 1 }),
        ]);
        let c = r.cluster("c");
        assert_eq!(c.replacements.len(), 2);
        assert_eq!(c.replacements[0].started_wall_ms, 100);
        assert!(c.replacements[0].caught_up && !c.replacements[0].in_progress());
        assert_eq!(c.replacements[1].status, Some(OutcomeStatus::Failed));
        assert!(c.in_flight.is_empty());

        // The master died while the command ran: the replacement is in progress (and in flight).
        let r = restore(vec![a.clone()]);
        assert!(r.cluster("c").replacements[0].in_progress());
        assert_eq!(r.cluster("c").in_flight.len(), 1);
    }
}
