//! Bytes out per replica: measured from a JMX exporter when one is configured, otherwise
//! estimated. The figure is defined once in `kmedic_common::stats` ("Per-replica traffic
//! figures"): a leader's bytes out **includes** replication to its followers as well as consumer
//! fetches; the master's planner splits the two parts apart again and does not add replication
//! a second time.
//!
//! # The estimate (`Provenance::Estimated`)
//!
//! Every byte appended to a leader is read once by each follower, and by consumers some number of
//! times. So for a leader replica
//!
//! `bytes_out = bytes_in × ((RF − 1) + consumer_fanout)`
//!
//! where `bytes_in` is the replica's measured append rate from disk, `RF` its replication factor
//! from metadata, and `consumer_fanout` the configured number of times consumers read each byte
//! (default 1: one consumer group). Followers send nothing (`Some(0)`): consumers read from
//! leaders unless follower fetching is enabled, which the estimate does not model. Replicas whose
//! role or rate is unknown get `None`.
//!
//! # The measurement (`Provenance::Measured`)
//!
//! With `jmx_exporter_url` set, the agent scrapes the Prometheus text endpoint for the per-topic
//! counter `jmx_bytes_out_metric` (by default
//! `kafka_server_brokertopicmetrics_bytesout_total{topic="..."}`), and takes each topic's rate from
//! the counter's growth since the previous scrape. Kafka counts replication fetches separately
//! (`ReplicationBytesOutPerSec`), so that counter is consumer traffic only. A topic's consumer
//! rate is split across the partitions this broker leads in proportion to their bytes-in rates
//! (evenly when none grew), and each leader then adds `bytes_in × (RF − 1)` for its followers,
//! which is exact up to fetch overhead. The first scrape has no previous counter, and a failed
//! scrape has no figures: those samples fall back to the estimate and say so.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kmedic_common::stats::{Provenance, ReplicaRole, ReplicaStats};

use super::metadata::MetadataView;
use super::{CollectSettings, Error, Result};

/// Fills `bytes_out_per_sec`, keeping the previous scrape's counters.
#[derive(Debug)]
pub struct BytesOutCollector {
    url: Option<String>,
    metric: String,
    fanout: f64,
    client: Option<reqwest::Client>,
    /// Topic -> counter value at `previous_at`.
    previous: HashMap<String, f64>,
    previous_at: Option<Instant>,
    body: String,
}

impl BytesOutCollector {
    /// A collector with these settings.
    pub fn new(settings: &CollectSettings) -> Self {
        let timeout = Duration::from_millis(settings.jmx_timeout_ms.max(1));
        let client = settings.jmx_exporter_url.as_ref().and_then(|_| {
            reqwest::Client::builder()
                .no_proxy()
                .timeout(timeout)
                .build()
                .inspect_err(|e| tracing::warn!(error = %e, "cannot build the JMX exporter client"))
                .ok()
        });
        Self {
            url: settings.jmx_exporter_url.clone(),
            metric: settings.jmx_bytes_out_metric.clone(),
            fanout: settings.consumer_fanout.max(0.0),
            client,
            previous: HashMap::new(),
            previous_at: None,
            body: String::new(),
        }
    }

    /// Fills `bytes_out_per_sec` of every replica and says how. The error, if any, is why the
    /// measurement could not be used (the estimate was filled in instead) or why nothing could
    /// be filled (no metadata).
    pub async fn fill(
        &mut self,
        topics: &[String],
        replicas: &mut [ReplicaStats],
        view: Option<&MetadataView>,
    ) -> (Provenance, Option<Error>) {
        let Some(view) = view else {
            for r in replicas.iter_mut() {
                r.bytes_out_per_sec = None;
            }
            let e = Error::Unavailable("bytes out needs replica roles; metadata is missing".into());
            return (Provenance::Estimated, Some(e));
        };
        if self.url.is_none() {
            estimate(replicas, view, self.fanout);
            return (Provenance::Estimated, None);
        }
        match self.scrape().await {
            Ok(Some(rates)) => {
                apply_measured(topics, replicas, view, &rates);
                (Provenance::Measured, None)
            }
            Ok(None) => {
                // First scrape: no previous counter to take a rate from.
                estimate(replicas, view, self.fanout);
                (Provenance::Estimated, None)
            }
            Err(e) => {
                estimate(replicas, view, self.fanout);
                (Provenance::Estimated, Some(e))
            }
        }
    }

    /// Scrapes the exporter; per-topic consumer bytes per second since the previous scrape, or
    /// `None` on the first one.
    async fn scrape(&mut self) -> Result<Option<HashMap<String, f64>>> {
        let (Some(url), Some(client)) = (&self.url, &self.client) else {
            return Err(Error::Unavailable("JMX exporter client not built".into()));
        };
        let what = format!("JMX exporter scrape of {url}");
        let response = client.get(url).send().await.map_err(|source| Error::Http {
            what: what.clone(),
            source,
        })?;
        if !response.status().is_success() {
            return Err(Error::BadAnswer {
                what,
                reason: format!("HTTP {}", response.status()),
            });
        }
        let now = Instant::now();
        self.body = response.text().await.map_err(|source| Error::Http {
            what: what.clone(),
            source,
        })?;
        let counters = parse_topic_counters(&self.body, &self.metric);
        if counters.is_empty() {
            return Err(Error::BadAnswer {
                what,
                reason: format!("no {}{{topic=...}} series", self.metric),
            });
        }
        let rates = self.previous_at.map(|at| {
            let secs = now.saturating_duration_since(at).as_secs_f64();
            counters
                .iter()
                .filter_map(|(topic, value)| {
                    let before = self.previous.get(topic)?;
                    // A counter that fell was reset by a broker restart: it counts from zero.
                    let delta = if value >= before {
                        value - before
                    } else {
                        *value
                    };
                    (secs > 0.0).then(|| (topic.clone(), delta / secs))
                })
                .collect()
        });
        self.previous = counters;
        self.previous_at = Some(now);
        Ok(rates)
    }
}

/// Fills the estimate described in the module docs.
fn estimate(replicas: &mut [ReplicaStats], view: &MetadataView, fanout: f64) {
    for (i, r) in replicas.iter_mut().enumerate() {
        let rf = view.replication_factor.get(i).copied().flatten();
        r.bytes_out_per_sec = match (r.role, r.bytes_in_per_sec, rf) {
            (ReplicaRole::Leader, Some(bytes_in), Some(rf)) => {
                let readers = f64::from(rf.saturating_sub(1)) + fanout;
                Some((bytes_in as f64 * readers).round() as u64)
            }
            (ReplicaRole::Follower, _, _) => Some(0),
            _ => None,
        };
    }
}

/// Fills measured figures: each topic's consumer rate split over its leaders by bytes-in share,
/// plus replication to followers.
fn apply_measured(
    topics: &[String],
    replicas: &mut [ReplicaStats],
    view: &MetadataView,
    rates: &HashMap<String, f64>,
) {
    // Per topic index: (sum of leaders' bytes-in, number of leaders).
    let mut shares: HashMap<u32, (u64, u32)> = HashMap::new();
    for r in replicas
        .iter()
        .filter(|r| r.role == ReplicaRole::Leader && !r.future)
    {
        let e = shares.entry(r.topic).or_insert((0, 0));
        e.0 = e.0.saturating_add(r.bytes_in_per_sec.unwrap_or(0));
        e.1 += 1;
    }
    for (i, r) in replicas.iter_mut().enumerate() {
        let rf = view.replication_factor.get(i).copied().flatten();
        r.bytes_out_per_sec = match r.role {
            ReplicaRole::Leader if !r.future => {
                let topic_rate = topics
                    .get(r.topic as usize)
                    .and_then(|t| rates.get(t))
                    .copied()
                    .unwrap_or(0.0);
                let (sum_in, leaders) = shares.get(&r.topic).copied().unwrap_or((0, 1));
                let share = if sum_in > 0 {
                    r.bytes_in_per_sec.unwrap_or(0) as f64 / sum_in as f64
                } else {
                    1.0 / f64::from(leaders.max(1))
                };
                let replication = match (r.bytes_in_per_sec, rf) {
                    (Some(b), Some(rf)) => b as f64 * f64::from(rf.saturating_sub(1)),
                    _ => 0.0,
                };
                Some((topic_rate * share + replication).round() as u64)
            }
            ReplicaRole::Leader | ReplicaRole::Follower => Some(0),
            _ => None,
        };
    }
}

/// Per-topic values of `metric` in Prometheus text format: `metric{...,topic="t",...} value`.
/// Series without a `topic` label (the all-topics total) are skipped.
pub fn parse_topic_counters(text: &str, metric: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix(metric) else {
            continue;
        };
        // Not a longer metric name that merely starts with this one.
        let Some(labels_and_value) = rest.strip_prefix('{') else {
            continue;
        };
        let Some((labels, value)) = split_labels(labels_and_value) else {
            continue;
        };
        let Some(topic) = label(labels, "topic") else {
            continue;
        };
        let Some(value) = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        else {
            continue;
        };
        if value.is_finite() {
            *out.entry(topic).or_insert(0.0) += value;
        }
    }
    out
}

/// Splits `a="x",b="y"} 12` into the label text and what follows the closing brace, honouring
/// quotes (a label value may contain `}`).
fn split_labels(s: &str) -> Option<(&str, &str)> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return Some((&s[..i], &s[i + 1..])),
            _ => {}
        }
    }
    None
}

/// The unescaped value of label `name` in `a="x",b="y"`.
fn label(labels: &str, name: &str) -> Option<String> {
    let mut rest = labels;
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if rest.is_empty() {
            return None;
        }
        let (key, after) = rest.split_once('=')?;
        let after = after.strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => return None,
                },
                '"' => {
                    end = Some(i);
                    break;
                }
                _ => value.push(c),
            }
        }
        let end = end?;
        if key.trim() == name {
            return Some(value);
        }
        rest = &after[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/collect/jmx_exporter.txt"
    ));
    const METRIC: &str = "kafka_server_brokertopicmetrics_bytesout_total";

    #[test]
    fn parses_per_topic_counters_from_exporter_text() {
        let counters = parse_topic_counters(FIXTURE, METRIC);
        let mut topics: Vec<_> = counters.keys().cloned().collect();
        topics.sort();
        assert_eq!(topics, ["__consumer_offsets", "orders", "we\"ird}topic"]);
        assert_eq!(counters["orders"], 1.2345e7);
        assert_eq!(counters["__consumer_offsets"], 0.0);
        assert_eq!(counters["we\"ird}topic"], 42.0);
    }

    fn replica(topic: u32, role: ReplicaRole, bytes_in: Option<u64>) -> ReplicaStats {
        ReplicaStats {
            topic,
            partition: 0,
            log_dir: 0,
            size_bytes: 0,
            segments: 1,
            bytes_in_per_sec: bytes_in,
            bytes_out_per_sec: None,
            role,
            in_sync: Some(true),
            under_replicated: Some(false),
            reassigning: Some(false),
            future: false,
        }
    }

    #[test]
    fn estimate_counts_followers_and_consumer_fanout() {
        let mut rs = vec![
            replica(0, ReplicaRole::Leader, Some(1_000)),
            replica(0, ReplicaRole::Follower, Some(1_000)),
            replica(0, ReplicaRole::Leader, None),
            replica(0, ReplicaRole::Unknown, Some(1_000)),
        ];
        let view = MetadataView {
            replication_factor: vec![Some(3), Some(3), Some(3), None],
        };
        estimate(&mut rs, &view, 2.0);
        // (3 - 1) followers + 2 consumer reads.
        assert_eq!(rs[0].bytes_out_per_sec, Some(4_000));
        assert_eq!(rs[1].bytes_out_per_sec, Some(0));
        assert_eq!(rs[2].bytes_out_per_sec, None);
        assert_eq!(rs[3].bytes_out_per_sec, None);
    }

    #[test]
    fn measured_topic_rate_is_split_by_bytes_in_share() {
        let topics = vec!["orders".to_string(), "idle".to_string()];
        let mut rs = vec![
            replica(0, ReplicaRole::Leader, Some(300)),
            replica(0, ReplicaRole::Leader, Some(100)),
            replica(0, ReplicaRole::Follower, Some(100)),
            replica(1, ReplicaRole::Leader, Some(0)),
            replica(1, ReplicaRole::Leader, Some(0)),
        ];
        let view = MetadataView {
            replication_factor: vec![Some(3), Some(2), Some(3), Some(1), Some(1)],
        };
        let rates = HashMap::from([("orders".to_string(), 8_000.0), ("idle".to_string(), 50.0)]);
        apply_measured(&topics, &mut rs, &view, &rates);
        assert_eq!(rs[0].bytes_out_per_sec, Some(6_000 + 600));
        assert_eq!(rs[1].bytes_out_per_sec, Some(2_000 + 100));
        assert_eq!(rs[2].bytes_out_per_sec, Some(0));
        assert_eq!(rs[3].bytes_out_per_sec, Some(25), "no growth: split evenly");
        assert_eq!(rs[4].bytes_out_per_sec, Some(25));
    }
}
