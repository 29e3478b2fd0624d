//! Bytes out from a JMX exporter endpoint (a local axum server), and the fallback to the
//! estimate when it fails.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use kmedic_agent::collect::bytes_out::BytesOutCollector;
use kmedic_agent::collect::metadata::MetadataView;
use kmedic_agent::collect::{CollectSettings, Error};
use kmedic_common::stats::{Provenance, ReplicaRole, ReplicaStats};

fn leader(partition: i32, bytes_in: u64) -> ReplicaStats {
    ReplicaStats {
        topic: 0,
        partition,
        log_dir: 0,
        size_bytes: 0,
        segments: 1,
        bytes_in_per_sec: Some(bytes_in),
        bytes_out_per_sec: None,
        role: ReplicaRole::Leader,
        in_sync: Some(true),
        under_replicated: Some(false),
        reassigning: Some(false),
        future: false,
    }
}

#[tokio::test]
async fn measured_from_counter_growth_after_the_first_scrape() {
    let counter = Arc::new(AtomicU64::new(1_000_000));
    let served = counter.clone();
    let router = Router::new().route(
        "/metrics",
        get(move || {
            let value = served.load(Ordering::SeqCst);
            async move {
                format!(
                    "# TYPE kafka_server_brokertopicmetrics_bytesout_total counter\n\
                     kafka_server_brokertopicmetrics_bytesout_total{{topic=\"orders\",}} {value}.0\n"
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let settings = CollectSettings {
        jmx_exporter_url: Some(format!("http://{addr}/metrics")),
        ..CollectSettings::default()
    };
    let mut c = BytesOutCollector::new(&settings);
    let topics = vec!["orders".to_string()];
    let view = MetadataView {
        replication_factor: vec![Some(1), Some(1)],
    };
    let mut replicas = vec![leader(0, 3_000), leader(1, 1_000)];

    // First scrape: no rate yet, so the estimate (fan-out 1, RF 1: bytes out = bytes in).
    let (provenance, error) = c.fill(&topics, &mut replicas, Some(&view)).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(provenance, Provenance::Estimated);
    assert_eq!(replicas[0].bytes_out_per_sec, Some(3_000));

    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    counter.fetch_add(400_000, Ordering::SeqCst);
    let (provenance, error) = c.fill(&topics, &mut replicas, Some(&view)).await;
    let secs = started.elapsed().as_secs_f64();
    assert!(error.is_none(), "{error:?}");
    assert_eq!(provenance, Provenance::Measured);
    // 400,000 bytes over about half a second, split 3:1 by bytes in.
    let topic_rate = 400_000.0 / secs;
    let got0 = replicas[0].bytes_out_per_sec.unwrap() as f64;
    let got1 = replicas[1].bytes_out_per_sec.unwrap() as f64;
    assert!(
        (got0 / (topic_rate * 0.75) - 1.0).abs() < 0.3,
        "{got0} vs {topic_rate}"
    );
    assert!((got0 / got1 - 3.0).abs() < 0.01, "{got0} / {got1}");
}

#[tokio::test]
async fn an_unreachable_exporter_falls_back_to_the_estimate() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let settings = CollectSettings {
        jmx_exporter_url: Some(format!("http://{addr}/metrics")),
        jmx_timeout_ms: 300,
        ..CollectSettings::default()
    };
    let mut c = BytesOutCollector::new(&settings);
    let view = MetadataView {
        replication_factor: vec![Some(3)],
    };
    let mut replicas = vec![leader(0, 1_000)];
    let (provenance, error) = c
        .fill(&["orders".to_string()], &mut replicas, Some(&view))
        .await;
    assert_eq!(provenance, Provenance::Estimated);
    assert!(matches!(error, Some(Error::Http { .. })), "{error:?}");
    assert_eq!(replicas[0].bytes_out_per_sec, Some(3_000));
}

#[tokio::test]
async fn without_metadata_nothing_is_claimed() {
    let mut c = BytesOutCollector::new(&CollectSettings::default());
    let mut replicas = vec![leader(0, 1_000)];
    let (_, error) = c.fill(&["orders".to_string()], &mut replicas, None).await;
    assert!(error.is_some());
    assert_eq!(replicas[0].bytes_out_per_sec, None);
}
