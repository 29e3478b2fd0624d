//! The agent's main loop: heartbeats and full stats on their own cadences, encoded and handed to
//! the publisher, until the shutdown future completes.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kmedic_common::admin::AdminClient;
use kmedic_common::codec::{self, Kind};
use kmedic_common::connection::ConnectionSettings;
use kmedic_common::stats::{FullStats, Heartbeat, Identity, StatsRecord};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::buffer::Pending;
use crate::cadence::Cadence;
use crate::collect::Sampler;
use crate::config::AgentConfig;
use crate::identity::{self, LocalBroker};
use crate::metrics::{self, Metrics};
use crate::publish::{self, Publisher};
use crate::{Error, Result};

/// How long a stopping agent keeps trying to send what is still buffered.
const DRAIN_ON_SHUTDOWN: Duration = Duration::from_secs(5);

/// A configured agent, ready to run. Built separately from [`Agent::run`] so callers (tests,
/// `check-config`) can see what it resolved and read its metrics.
pub struct Agent {
    config: AgentConfig,
    local: LocalBroker,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("local", &self.local).finish()
    }
}

/// Milliseconds since the Unix epoch.
/// An optional value for an operator's log line: the value, or `none` (never `Some("…")`).
fn shown<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "none".into(), |v| v.to_string())
}

/// Paths joined by ", " (`none` when empty), not the Debug list of quoted strings.
fn paths(p: &[std::path::PathBuf]) -> String {
    if p.is_empty() {
        return "none".into();
    }
    p.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A sampler for `local` with the configured collectors.
pub(crate) fn sampler_for(config: &AgentConfig, local: &LocalBroker) -> Sampler {
    let mut sampler = Sampler::new(
        config.collect.clone(),
        local.log_dirs.clone(),
        local.broker_id,
        local.probe_listener.as_ref().map(|l| l.address()),
    );
    sampler.set_server_properties(&local.server_properties);
    let connection = match (&config.cluster_connection, &local.probe_listener) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(l)) => Some(ConnectionSettings::plaintext([l.address()])),
        (None, None) => None,
    };
    match connection.map(AdminClient::new) {
        Some(Ok(admin)) => sampler.set_admin(Arc::new(admin)),
        Some(Err(e)) => tracing::warn!(
            error = %e,
            "cannot build the admin client for replica roles; they are reported as unknown"
        ),
        None => tracing::warn!(
            "no cluster_connection and no broker listener in server.properties: replica roles \
             are reported as unknown"
        ),
    }
    sampler
}

/// The record identity, asking IMDS once (falling back to `broker.rack`).
pub(crate) async fn resolve_identity(sampler: &Sampler, local: &LocalBroker) -> Identity {
    let cloud = match sampler.cloud().await {
        Ok(c) => {
            tracing::info!(az = %c.az, instance_type = %c.instance_type, "cloud identity from IMDS");
            Some(c)
        }
        Err(e) => {
            tracing::info!(error = %e, rack = %shown(local.rack.as_deref()), "no cloud identity; the AZ falls back to broker.rack");
            None
        }
    };
    identity::identity(local, cloud.as_ref(), identity::hostname())
}

/// A full sample as a record.
pub(crate) async fn full_record(
    sampler: &mut Sampler,
    identity: &Identity,
    seq: u64,
) -> StatsRecord {
    let timestamp_ms = now_ms();
    let s = sampler.full().await;
    StatsRecord::Full(FullStats {
        identity: identity.clone(),
        timestamp_ms,
        seq,
        interval_ms: s.interval_ms,
        process: s.process,
        host: s.host,
        log_dirs: s.log_dirs,
        topics: s.topics,
        replicas: s.replicas,
        bytes_out_provenance: s.bytes_out_provenance,
        missing: s.missing,
    })
}

async fn heartbeat_record(sampler: &mut Sampler, identity: &Identity, seq: u64) -> StatsRecord {
    let timestamp_ms = now_ms();
    let s = sampler.heartbeat().await;
    StatsRecord::Heartbeat(Heartbeat {
        identity: identity.clone(),
        timestamp_ms,
        seq,
        process: s.process,
        host: s.host,
        missing: s.missing,
    })
}

impl Agent {
    /// Resolves the broker's identity from its files. Fails with a message naming the file and
    /// key when they are wrong.
    pub fn new(config: AgentConfig) -> Result<Self> {
        config.validate()?;
        let local = identity::load(&config.server_properties)?;
        Ok(Agent {
            config,
            local,
            metrics: Arc::new(Metrics::new()),
        })
    }

    /// What was read from server.properties and meta.properties.
    pub fn local_broker(&self) -> &LocalBroker {
        &self.local
    }

    /// The agent's metrics (shared with the running agent).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Runs until `shutdown` completes: samples, publishes, serves metrics.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let Agent {
            config,
            local,
            metrics,
        } = self;
        let stats = &config.stats;
        let mut sampler = sampler_for(&config, &local);
        let identity = resolve_identity(&sampler, &local).await;
        let key = format!("{}/{}", identity.cluster_id, identity.broker_id);

        if stats.create_topic {
            // A stats cluster that is down at start must not stop sampling: records wait in the
            // buffer, and the next start tries again.
            if let Err(e) = publish::ensure_topic(stats).await {
                tracing::warn!(error = %e, topic = %stats.topic, "could not create the stats topic");
            }
        }
        let (publisher, sender) = publish::channel(stats, key.clone(), metrics.clone())?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            // An error means the sender side is gone, which also means stop.
            let _ = rx.wait_for(|s| *s).await;
        };

        let metrics_task = if config.metrics.enabled {
            let (addr, server) = metrics::bind(
                metrics.clone(),
                config.metrics.listen_address,
                stopped(stop_rx.clone()),
            )
            .await?;
            tracing::info!(%addr, "serving the agent's metrics at /metrics");
            Some(tokio::spawn(server))
        } else {
            None
        };
        let sender_task = tokio::spawn(sender.run(stopped(stop_rx.clone()), DRAIN_ON_SHUTDOWN));

        tracing::info!(
            cluster_id = %identity.cluster_id,
            broker_id = identity.broker_id,
            az = %shown(identity.az.as_deref()),
            topic = %stats.topic,
            key = %key,
            heartbeat_secs = stats.heartbeat_interval_secs,
            full_secs = stats.full_interval_secs,
            log_dirs = %paths(&local.log_dirs),
            probe = %shown(local.probe_listener.as_ref().map(|l| l.address())),
            "agent started"
        );

        let loop_ = sample_loop(&config, &mut sampler, &identity, &publisher, &metrics);
        tokio::select! {
            _ = loop_ => {}
            _ = shutdown => tracing::info!("shutting down"),
        }
        let _ = stop_tx.send(true);
        if let Err(e) = sender_task.await {
            tracing::error!(error = %e, "publisher task failed");
        }
        if let Some(t) = metrics_task {
            match t.await {
                Ok(Err(e)) => return Err(Error::Metrics(e)),
                Err(e) => tracing::error!(error = %e, "metrics task failed"),
                Ok(Ok(())) => {}
            }
        }
        Ok(())
    }
}

/// Samples forever on the [`Cadence`]: encodes each record and hands it to the publisher.
async fn sample_loop(
    config: &AgentConfig,
    sampler: &mut Sampler,
    identity: &Identity,
    publisher: &Publisher,
    metrics: &Metrics,
) {
    let mut cadence = Cadence::new(
        Instant::now(),
        Duration::from_secs(config.stats.heartbeat_interval_secs),
        Duration::from_secs(config.stats.full_interval_secs),
    );
    let mut seq: u64 = 0;
    loop {
        tokio::time::sleep_until(cadence.next_due()).await;
        seq += 1;
        let record = match cadence.take(Instant::now()) {
            Kind::Full => full_record(sampler, identity, seq).await,
            _ => heartbeat_record(sampler, identity, seq).await,
        };
        let kind = Kind::of(&record);
        let missing = match &record {
            StatsRecord::Heartbeat(h) => h.missing.as_slice(),
            StatsRecord::Full(f) => f.missing.as_slice(),
        };
        match codec::try_encode(&record) {
            Ok(bytes) => {
                metrics.sampled(kind, record.timestamp_ms(), bytes.len(), missing);
                tracing::debug!(seq, ?kind, bytes = bytes.len(), missing = ?missing, "sampled");
                publisher.enqueue(Pending { seq, kind, bytes });
            }
            Err(e) => tracing::error!(seq, ?kind, error = %e, "cannot encode a stats record"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start-up line reads `az=az-a probe=127.0.0.1:20901`, not `az=Some("az-a")`.
    #[test]
    fn operator_text_is_not_rust_debug() {
        assert_eq!(shown(Some("az-a")), "az-a");
        assert_eq!(shown(None::<&str>), "none");
        let dirs = [
            std::path::PathBuf::from("/data/a"),
            std::path::PathBuf::from("/data/b"),
        ];
        assert_eq!(paths(&dirs), "/data/a, /data/b");
        assert_eq!(paths(&[]), "none");
    }
}
