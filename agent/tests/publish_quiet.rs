//! The agent's stats producer pointed at a port nobody listens on (no cluster needed): librdkafka
//! retries the connection again and again; the agent logs it as one WARN per broker, never as
//! ERROR (rdkafka's default context logged ERROR twice at every reconnect attempt).
//!
//! Its own test binary: it installs the process-wide tracing subscriber (and the `log` bridge
//! rdkafka's default context would log through) to count what is logged at each level.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kmedic_agent::buffer::Pending;
use kmedic_agent::config::AgentConfig;
use kmedic_agent::metrics::Metrics;
use kmedic_agent::publish;
use kmedic_common::codec::Kind;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Counts events: every ERROR, and the WARNs whose target is librdkafka.
#[derive(Default)]
struct Counts {
    errors: AtomicU64,
    rdkafka_warns: AtomicU64,
    error_lines: std::sync::Mutex<Vec<String>>,
}

struct Counter(Arc<Counts>);

impl<S: Subscriber> Layer<S> for Counter {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() == Level::ERROR {
            self.0.errors.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut lines) = self.0.error_lines.lock() {
                lines.push(format!("{}: {}", meta.target(), meta.name()));
            }
        } else if *meta.level() == Level::WARN && meta.target() == "librdkafka" {
            self.0.rdkafka_warns.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[tokio::test]
async fn a_producer_whose_broker_is_down_logs_no_error() {
    let counts = Arc::new(Counts::default());
    tracing_subscriber::registry()
        .with(Counter(counts.clone()))
        .try_init()
        .expect("the only subscriber of this test binary");

    let port = {
        // A port that was free a moment ago: connections to it are refused.
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        l.local_addr().expect("local addr").port()
    };
    let mut cfg = AgentConfig::with_defaults("/nonexistent".into(), &format!("127.0.0.1:{port}"));
    cfg.stats.message_timeout_ms = 500;
    let (publisher, sender) = publish::channel(
        &cfg.stats,
        "test-cluster/1".into(),
        Arc::new(Metrics::new()),
    )
    .expect("create the producer");
    publisher.enqueue(Pending {
        seq: 1,
        kind: Kind::Heartbeat,
        bytes: vec![0; 16],
    });
    // Three seconds of reconnect attempts (backoff 200 ms .. 5 s) and two or more failed
    // deliveries; then shut down without draining.
    sender
        .run(tokio::time::sleep(Duration::from_secs(3)), Duration::ZERO)
        .await;

    let errors = counts.errors.load(Ordering::Relaxed);
    let lines = counts
        .error_lines
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    assert_eq!(errors, 0, "ERROR lines: {lines:?}");
    let warns = counts.rdkafka_warns.load(Ordering::Relaxed);
    // One WARN per key: the broker, and perhaps "all brokers" (the same outage, said twice).
    assert!((1..=2).contains(&warns), "librdkafka WARN lines: {warns}");
}
