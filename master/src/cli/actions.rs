//! `kmedic-master actions`: the action log read back (read_committed), one readable line per
//! record (time, cluster, action id, decision, phase, kind, partitions/brokers, outcome), or
//! the records themselves as JSON lines. `--follow` keeps printing committed records as they
//! arrive. Read-only: it never writes to the log.

use std::fmt::Write as _;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::actionlog::record::{ActionKind, ActionRecord, Phase};
use crate::actionlog::writer::client_config;
use crate::actionlog::{replay, Error};
use crate::config::MasterConfig;
use kmedic_common::connection::ConnectionSettings;
use kmedic_common::rdlog::QuietContext;

/// How many partitions a line names before it says "and N more".
const MAX_PARTITIONS_SHOWN: usize = 4;

/// Which cluster ids to print: a config cluster name maps to its configured `cluster_id`;
/// anything else is taken as a cluster id itself. `None` prints every cluster.
pub fn cluster_filter(cfg: &MasterConfig, cluster: Option<&str>) -> Option<String> {
    let name = cluster?;
    Some(
        cfg.cluster(name)
            .and_then(|c| c.cluster_id.clone())
            .unwrap_or_else(|| name.to_string()),
    )
}

/// Whether `r` passes the filter from [`cluster_filter`].
pub fn matches(r: &ActionRecord, filter: Option<&str>) -> bool {
    filter.is_none_or(|id| r.cluster_id == id)
}

/// The connection the action log lives on (its own, or the stats connection).
pub fn connection(cfg: &MasterConfig) -> ConnectionSettings {
    cfg.action_log
        .connection
        .clone()
        .unwrap_or_else(|| cfg.stats.connection.clone())
}

/// One record as a JSON line (the record's own format, as written to the topic).
pub fn render_json(r: &ActionRecord) -> String {
    String::from_utf8_lossy(&r.to_json()).into_owned()
}

/// One record as a readable line.
pub fn render_line(r: &ActionRecord) -> String {
    let mut s = String::new();
    let phase = match r.phase {
        Phase::Intent => "intent",
        Phase::Outcome => "outcome",
        Phase::State => "state",
    };
    let decision = r
        .decision_id
        .map_or_else(|| "-".to_string(), |d| format!("#{d}"));
    let _ = write!(
        s,
        "{} {} {} decision={} {:<7} {}",
        utc(r.wall_ms),
        r.cluster_id,
        r.action_id,
        decision,
        phase,
        kind_text(&r.kind)
    );
    if !r.partitions.is_empty() {
        let shown: Vec<String> = r
            .partitions
            .iter()
            .take(MAX_PARTITIONS_SHOWN)
            .map(|p| format!("{}-{}", p.topic, p.partition))
            .collect();
        let _ = write!(s, " partitions=[{}", shown.join(","));
        if r.partitions.len() > MAX_PARTITIONS_SHOWN {
            let _ = write!(s, " and {} more", r.partitions.len() - MAX_PARTITIONS_SHOWN);
        }
        s.push(']');
    }
    if !r.brokers.is_empty() {
        let _ = write!(s, " brokers={:?}", r.brokers);
    }
    if let Some(o) = &r.outcome {
        let status = serde_json::to_value(o.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| format!("{:?}", o.status));
        let _ = write!(s, " outcome={status}");
        if !o.detail.is_empty() {
            let _ = write!(s, " ({})", o.detail);
        }
        if let Some(c) = &o.command {
            let code = c
                .exit_code
                .map_or_else(|| "none".to_string(), |c| c.to_string());
            let _ = write!(
                s,
                " command exit={code}{} in {} ms",
                if c.timed_out { " timed out" } else { "" },
                c.duration_ms
            );
        }
    }
    if !r.reason.is_empty() {
        let _ = write!(s, " reason: {}", r.reason);
    }
    s
}

fn kind_text(k: &ActionKind) -> String {
    match k {
        ActionKind::SetThrottle { rate_bytes_per_sec } => {
            format!("set_throttle {rate_bytes_per_sec} B/s")
        }
        ActionKind::Reassign { targets, bytes } => {
            format!("reassign {} partitions, {bytes} bytes", targets.len())
        }
        ActionKind::ReplaceHost { broker, hostname } => {
            format!("replace_host broker {broker} ({hostname})")
        }
        ActionKind::CaughtUp { broker } => format!("caught_up broker {broker}"),
        ActionKind::SetMode { mode, on } => format!(
            "set_mode {} {}",
            serde_json::to_value(mode)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_else(|| format!("{mode:?}")),
            if *on { "on" } else { "off" }
        ),
        ActionKind::Decommission { brokers } => format!("decommission {brokers:?}"),
        ActionKind::Recommission { brokers } => format!("recommission {brokers:?}"),
        other => other.name().to_string(),
    }
}

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn utc(wall_ms: u64) -> String {
    let secs = wall_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        wall_ms % 1000
    )
}

/// Prints every committed record (filtered), then returns; the count printed.
pub async fn print_all(
    cfg: &MasterConfig,
    filter: Option<&str>,
    json: bool,
) -> Result<usize, Error> {
    let timeout = Duration::from_secs(cfg.action_log.replay_timeout_secs);
    let (records, unparsable) =
        replay::read_records(&connection(cfg), &cfg.action_log.topic, timeout).await?;
    let mut n = 0;
    for r in records.iter().filter(|r| matches(r, filter)) {
        println!("{}", if json { render_json(r) } else { render_line(r) });
        n += 1;
    }
    if n == 0 {
        eprintln!(
            "{}",
            nothing_printed(&cfg.action_log.topic, filter, records.len())
        );
    }
    if unparsable > 0 {
        eprintln!("{unparsable} records of the action log did not parse and were skipped");
    }
    Ok(n)
}

/// The one line `actions` prints (on stderr, so `--json` output stays records only) when no
/// record passed the filter: the log is empty, or holds only other clusters' records (`total`).
pub fn nothing_printed(topic: &str, filter: Option<&str>, total: usize) -> String {
    match filter {
        None => format!("the action log {topic} is empty"),
        Some(id) if total == 0 => {
            format!("the action log {topic} is empty (asked for cluster {id})")
        }
        Some(id) => format!(
            "the action log {topic} has no record for cluster {id} ({} for other clusters)",
            crate::text::count(total, "record", "records")
        ),
    }
}

/// Prints every committed record (filtered) and keeps printing new ones until killed.
pub async fn follow(cfg: &MasterConfig, filter: Option<String>, json: bool) -> Result<(), Error> {
    let conn = connection(cfg);
    let topic = cfg.action_log.topic.clone();
    let timeout = Duration::from_secs(cfg.action_log.replay_timeout_secs);
    tokio::task::spawn_blocking(move || follow_blocking(&conn, &topic, timeout, filter, json))
        .await
        .map_err(|e| Error::Task(e.to_string()))?
}

fn follow_blocking(
    conn: &ConnectionSettings,
    topic: &str,
    timeout: Duration,
    filter: Option<String>,
    json: bool,
) -> Result<(), Error> {
    let kafka = |op: &'static str| move |source: KafkaError| Error::Kafka { op, source };
    let consumer: BaseConsumer<QuietContext> = client_config(conn)
        .set("group.id", "kmedic-actions-cli")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .create_with_context(QuietContext::new("actions --follow"))
        .map_err(kafka("create the action-log consumer"))?;
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(kafka("read the action-log topic's metadata"))?;
    let mut tpl = TopicPartitionList::new();
    for t in md.topics().iter().filter(|t| t.name() == topic) {
        if let Some(e) = t.error() {
            return Err(Error::Topic(format!(
                "the action log topic {topic:?} is not readable ({e:?}): \
                 is the master's [action_log] topic right?"
            )));
        }
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                .map_err(kafka("assign the action log"))?;
        }
    }
    consumer
        .assign(&tpl)
        .map_err(kafka("assign the action log"))?;
    loop {
        match consumer.poll(Duration::from_millis(500)) {
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => return Err(kafka("read the action log")(e)),
            Some(Ok(m)) => match m.payload().map(ActionRecord::from_json) {
                Some(Ok(r)) if matches(&r, filter.as_deref()) => {
                    println!(
                        "{}",
                        if json {
                            render_json(&r)
                        } else {
                            render_line(&r)
                        }
                    );
                }
                Some(Ok(_)) => {}
                _ => eprintln!(
                    "partition {} offset {}: record does not parse as an action record: skipped",
                    m.partition(),
                    m.offset()
                ),
            },
        }
    }
}

#[cfg(test)]
#[path = "actions_tests.rs"]
mod tests;
