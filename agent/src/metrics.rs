//! The agent's own Prometheus metrics, served on a local address by axum.
//!
//! Everything an operator needs to tell "the agent is fine" from "the agent is blind" or "the
//! stats cluster is down": samples taken, collector errors by collector, publish failures,
//! records dropped from the bounded buffer, buffer depth, last sample time and encoded sizes.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use kmedic_common::codec::Kind;
use kmedic_common::stats::Collector;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Metric, Registry};

/// Record kind label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[allow(missing_docs)]
pub enum KindLabel {
    Heartbeat,
    Full,
}

impl From<Kind> for KindLabel {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Full => KindLabel::Full,
            // Kind is non-exhaustive; anything new is at least as frequent as a heartbeat.
            _ => KindLabel::Heartbeat,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: KindLabel,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CollectorLabels {
    collector: String,
}

/// A new metric of type `M`, registered in `registry` as `name` with `help`. The registry keeps
/// one handle and the caller the other: prometheus-client metrics are shared (`Arc`) inside, so
/// both see every update.
fn registered<M: Metric + Clone + Default>(registry: &mut Registry, name: &str, help: &str) -> M {
    let metric = M::default();
    registry.register(name, help, metric.clone());
    metric
}

/// The agent's metrics. Cheap to update from any task.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    samples: Family<KindLabels, Counter>,
    collector_errors: Family<CollectorLabels, Counter>,
    published: Family<KindLabels, Counter>,
    publish_failures: Counter,
    dropped: Counter,
    buffer_records: Gauge,
    buffer_bytes: Gauge,
    last_sample: Family<KindLabels, Gauge<f64, AtomicU64>>,
    encoded_bytes: Family<KindLabels, Counter>,
    last_encoded_bytes: Family<KindLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered under the `kmedic_agent` prefix.
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("kmedic_agent");
        Metrics {
            samples: registered(&mut r, "samples", "Samples taken, by kind"),
            collector_errors: registered(
                &mut r,
                "collector_errors",
                "Samples in which a collector failed (its figures are marked missing), by \
                 collector",
            ),
            published: registered(
                &mut r,
                "records_published",
                "Records acknowledged by the stats cluster, by kind",
            ),
            publish_failures: registered(
                &mut r,
                "publish_failures",
                "Failed attempts to deliver a record to the stats cluster (the record is \
                 retried)",
            ),
            dropped: registered(
                &mut r,
                "records_dropped",
                "Records dropped, oldest first, because the buffer was full while the stats \
                 cluster was unreachable",
            ),
            buffer_records: registered(
                &mut r,
                "buffer_records",
                "Records waiting in the agent's buffer",
            ),
            buffer_bytes: registered(
                &mut r,
                "buffer_bytes",
                "Encoded bytes waiting in the agent's buffer",
            ),
            last_sample: registered(
                &mut r,
                "last_sample_timestamp_seconds",
                "Unix time of the last sample, by kind",
            ),
            encoded_bytes: registered(
                &mut r,
                "encoded_bytes",
                "Encoded record bytes produced, by kind",
            ),
            last_encoded_bytes: registered(
                &mut r,
                "last_encoded_bytes",
                "Size of the last encoded record, by kind",
            ),
            registry: r,
        }
    }

    /// A sample of `kind` was taken at `timestamp_ms`, encoding to `encoded_len` bytes, with
    /// `missing` collectors.
    pub fn sampled(
        &self,
        kind: Kind,
        timestamp_ms: u64,
        encoded_len: usize,
        missing: &[Collector],
    ) {
        let l = KindLabels { kind: kind.into() };
        self.samples.get_or_create(&l).inc();
        self.last_sample
            .get_or_create(&l)
            .set(timestamp_ms as f64 / 1000.0);
        self.encoded_bytes
            .get_or_create(&l)
            .inc_by(encoded_len as u64);
        self.last_encoded_bytes
            .get_or_create(&l)
            .set(i64::try_from(encoded_len).unwrap_or(i64::MAX));
        for c in missing {
            self.collector_errors
                .get_or_create(&CollectorLabels {
                    collector: format!("{c:?}").to_lowercase(),
                })
                .inc();
        }
    }

    /// A record of `kind` was acknowledged.
    pub fn published(&self, kind: Kind) {
        self.published
            .get_or_create(&KindLabels { kind: kind.into() })
            .inc();
    }

    /// A delivery attempt failed.
    pub fn publish_failed(&self) {
        self.publish_failures.inc();
    }

    /// `n` records were dropped from the buffer.
    pub fn dropped(&self, n: u64) {
        self.dropped.inc_by(n);
    }

    /// The buffer now holds `records` records of `bytes` bytes.
    pub fn buffer(&self, records: usize, bytes: usize) {
        self.buffer_records
            .set(i64::try_from(records).unwrap_or(i64::MAX));
        self.buffer_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Records dropped so far.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.get()
    }

    /// Delivery failures so far.
    pub fn publish_failures_total(&self) -> u64 {
        self.publish_failures.get()
    }

    /// Records acknowledged so far, of `kind`.
    pub fn published_total(&self, kind: Kind) -> u64 {
        self.published
            .get_or_create(&KindLabels { kind: kind.into() })
            .get()
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Why the metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr} for metrics (set metrics.listen_address): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("metrics server failed: {0}")]
    Serve(std::io::Error),
}

/// Binds `addr` and returns the bound address and the server future serving `/metrics` until
/// `shutdown` completes. Binding first lets the caller fail fast (and learn the port when 0).
pub async fn bind(
    metrics: Arc<Metrics>,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<
    (
        SocketAddr,
        impl std::future::Future<Output = Result<(), ServeError>>,
    ),
    ServeError,
> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let m = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    m.render(),
                )
            }
        }),
    );
    let server = async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServeError::Serve)
    };
    Ok((local, server))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_counted() {
        let m = Metrics::new();
        m.sampled(Kind::Full, 1_700_000_000_000, 1234, &[Collector::Cloud]);
        m.sampled(Kind::Heartbeat, 1_700_000_001_000, 200, &[]);
        m.dropped(3);
        m.buffer(5, 4096);
        let text = m.render();
        assert!(
            text.contains("kmedic_agent_samples_total{kind=\"Full\"} 1"),
            "{text}"
        );
        assert!(text.contains("kmedic_agent_collector_errors_total{collector=\"cloud\"} 1"));
        assert!(text.contains("kmedic_agent_records_dropped_total 3"));
        assert!(text.contains("kmedic_agent_buffer_records 5"));
        assert!(text.contains("kmedic_agent_last_encoded_bytes{kind=\"Full\"} 1234"));
        assert_eq!(m.dropped_total(), 3);
    }
}
