//! `kmedic-master stats tail`: the stats topic decoded with the codec to JSON lines (a bincode
//! record cannot be read with kcat). Each line is `{"partition","offset","timestamp_ms",
//! "record"}`; a record that does not decode prints a clear error line on stderr, naming the
//! partition, offset and cause, and the tail goes on. Read-only: no group offsets are committed.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::actionlog::writer::client_config;
use crate::config::MasterConfig;
use kmedic_common::codec;
use kmedic_common::rdlog::QuietContext;

/// Errors of the stats tail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Kafka operation failed.
    #[error("stats tail: cannot {op}: {source}")]
    Kafka {
        /// What was being done.
        op: &'static str,
        /// The client's error.
        source: KafkaError,
    },
    /// The topic is missing or unreadable.
    #[error("stats tail: {0}")]
    Topic(String),
    /// The blocking task failed.
    #[error("stats tail: internal task failed: {0}")]
    Task(String),
}

/// One stats record as a JSON line, or the error line to print instead.
pub fn render(partition: i32, offset: i64, payload: Option<&[u8]>) -> Result<String, String> {
    let Some(bytes) = payload else {
        return Err(format!(
            "partition {partition} offset {offset}: empty record (no payload): skipped"
        ));
    };
    match codec::decode(bytes) {
        Ok(rec) => Ok(serde_json::json!({
            "partition": partition,
            "offset": offset,
            "timestamp_ms": rec.timestamp_ms(),
            "cluster_id": rec.identity().cluster_id,
            "broker_id": rec.identity().broker_id,
            "record": rec,
        })
        .to_string()),
        Err(e) => Err(format!(
            "partition {partition} offset {offset}: cannot decode a {} byte record as kmedic \
             stats ({e}): skipped",
            bytes.len()
        )),
    }
}

/// Tails the config's stats topic: new records only, or from the start with
/// `from_beginning`; stops after `max` records (decoded or not) when given, else runs until
/// killed.
pub async fn tail(cfg: &MasterConfig, from_beginning: bool, max: Option<u64>) -> Result<(), Error> {
    let conn = cfg.stats.connection.clone();
    let topic = cfg.stats.topic.clone();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer<QuietContext> = client_config(&conn)
            .set("group.id", "kmedic-stats-tail")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "latest")
            .create_with_context(QuietContext::new("stats tail"))
            .map_err(|source| Error::Kafka {
                op: "create the consumer",
                source,
            })?;
        tail_blocking(&consumer, &topic, from_beginning, max)
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))?
}

fn tail_blocking(
    consumer: &BaseConsumer<QuietContext>,
    topic: &str,
    from_beginning: bool,
    max: Option<u64>,
) -> Result<(), Error> {
    let kafka = |op: &'static str| move |source: KafkaError| Error::Kafka { op, source };
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .map_err(kafka("read the stats topic's metadata"))?;
    let start = if from_beginning {
        Offset::Beginning
    } else {
        Offset::End
    };
    let mut tpl = TopicPartitionList::new();
    for t in md.topics().iter().filter(|t| t.name() == topic) {
        if let Some(e) = t.error() {
            return Err(Error::Topic(format!(
                "the stats topic {topic:?} is not readable ({e:?}): check [stats] topic in the config"
            )));
        }
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), start)
                .map_err(kafka("assign the stats topic"))?;
        }
    }
    if tpl.count() == 0 {
        return Err(Error::Topic(format!(
            "the stats topic {topic:?} has no partitions: check [stats] topic in the config"
        )));
    }
    consumer
        .assign(&tpl)
        .map_err(kafka("assign the stats topic"))?;
    let mut seen = 0u64;
    while max.is_none_or(|m| seen < m) {
        match consumer.poll(Duration::from_millis(500)) {
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => return Err(kafka("read the stats topic")(e)),
            Some(Ok(m)) => {
                seen += 1;
                match render(m.partition(), m.offset(), m.payload()) {
                    Ok(line) => println!("{line}"),
                    Err(line) => eprintln!("error: {line}"),
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kmedic_common::stats::*;

    fn hb() -> StatsRecord {
        StatsRecord::Heartbeat(Heartbeat {
            identity: Identity {
                cluster_id: "c1".into(),
                broker_id: 3,
                rack: Some("az-a".into()),
                hostname: "h3".into(),
                az: None,
                az_source: AzSource::Unknown,
                instance_type: None,
                instance_id: None,
                agent_version: "0".into(),
            },
            timestamp_ms: 1_700_000_000_000,
            seq: 9,
            process: ProcessStats::bare(ProcessState::Running),
            host: HostStats::default(),
            missing: vec![],
        })
    }

    #[test]
    fn a_codec_record_becomes_one_json_line_that_round_trips() {
        let bytes = codec::encode(&hb());
        let line = render(2, 17, Some(&bytes)).expect("decodes");
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["partition"], 2);
        assert_eq!(v["offset"], 17);
        assert_eq!(v["broker_id"], 3);
        assert_eq!(v["cluster_id"], "c1");
        assert_eq!(v["timestamp_ms"], 1_700_000_000_000u64);
        let back: StatsRecord = serde_json::from_value(v["record"].clone()).expect("record");
        assert_eq!(back, hb());
    }

    #[test]
    fn undecodable_records_give_an_error_line_naming_where_and_why() {
        let err = render(1, 5, Some(b"{\"not\":\"stats\"}")).expect_err("bad magic");
        assert!(
            err.starts_with("partition 1 offset 5: cannot decode a 15 byte record"),
            "{err}"
        );
        let mut cut = codec::encode(&hb());
        cut.truncate(cut.len() - 3);
        let err = render(0, 6, Some(&cut)).expect_err("truncated");
        assert!(err.contains("offset 6") && err.contains("skipped"), "{err}");
        let err = render(0, 7, None).expect_err("no payload");
        assert!(err.contains("empty record"), "{err}");
    }
}
