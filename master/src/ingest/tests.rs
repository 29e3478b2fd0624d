use super::*;
use crate::config::WindowConfig;
use kmedic_common::stats::*;

fn heartbeat(cluster: &str, broker: i32, ts: u64) -> StatsRecord {
    StatsRecord::Heartbeat(Heartbeat {
        identity: Identity::bare(cluster, broker, "h"),
        timestamp_ms: ts,
        seq: 1,
        process: ProcessStats::bare(ProcessState::Running),
        host: HostStats::default(),
        missing: vec![],
    })
}

#[test]
fn routes_by_cluster_id_and_counts_the_rest_without_failing() {
    let fleet = Fleet::new();
    let model = fleet.register("known", &WindowConfig::default());
    let ingest = Ingest::new(fleet);

    let ok = codec::encode(&heartbeat("known", 3, 1_000));
    assert_eq!(
        ingest.handle(Some(&ok), Some(5_000)),
        Outcome::Applied("known".into())
    );
    assert_eq!(lock(&model).agents[&3].last_seen_ms, 1_000);

    let other = codec::encode(&heartbeat("stranger", 3, 1_000));
    assert_eq!(
        ingest.handle(Some(&other), Some(4_000)),
        Outcome::UnknownCluster("stranger".into())
    );
    // Many bad records in a row: each counted, none fatal (logging is rate-limited).
    for _ in 0..100 {
        assert!(matches!(
            ingest.handle(Some(b"garbage, not a stats record"), None),
            Outcome::Undecodable(_)
        ));
    }
    let mut truncated = ok.clone();
    truncated.truncate(ok.len() - 3);
    assert!(matches!(
        ingest.handle(Some(&truncated), None),
        Outcome::Undecodable(_)
    ));
    assert_eq!(ingest.handle(None, None), Outcome::Empty);

    let c = &ingest.counters;
    assert_eq!(c.applied.load(Ordering::Relaxed), 1);
    assert_eq!(c.unknown_cluster.load(Ordering::Relaxed), 1);
    assert_eq!(c.undecodable.load(Ordering::Relaxed), 101);
    assert_eq!(c.empty.load(Ordering::Relaxed), 1);
    // The watermark is the newest record time seen, not the last.
    assert_eq!(c.watermark_ms.load(Ordering::Relaxed), 5_000);
}

#[test]
fn the_limiter_suppresses_within_the_period_and_reports_the_count() {
    let mut l = Limiter {
        last: None,
        suppressed: 0,
    };
    assert_eq!(l.allow(), Some(0));
    assert_eq!(l.allow(), None);
    assert_eq!(l.allow(), None);
    l.last = Some(Instant::now() - LOG_EVERY - Duration::from_millis(1));
    assert_eq!(l.allow(), Some(2));
}

const T0: u64 = 1_800_000_000_000;

#[test]
fn records_outside_the_skew_bound_are_counted_and_change_nothing() {
    let fleet = Fleet::new();
    let model = fleet.register("known", &WindowConfig::default());
    let ingest = Ingest::new(fleet);
    ingest.counters.caught_up.store(true, Ordering::Relaxed);
    let now = Now {
        wall_ms: T0,
        mono_ms: 50_000,
    };
    let ok = codec::encode(&heartbeat("known", 3, T0 - 1_000));
    assert_eq!(
        ingest.handle_at(Some(&ok), Some(T0 as i64), now),
        Outcome::Applied("known".into())
    );
    let day = 24 * 3600 * 1000;
    for ts in [T0 + day, T0 - day, T0 + 301_000] {
        let bad = codec::encode(&heartbeat("known", 3, ts));
        assert!(matches!(
            ingest.handle_at(Some(&bad), Some(T0 as i64), now),
            Outcome::Skewed(_)
        ));
    }
    let c = &ingest.counters;
    assert_eq!(c.skewed.load(Ordering::Relaxed), 3);
    assert_eq!(c.applied.load(Ordering::Relaxed), 1);
    let m = lock(&model);
    assert_eq!(m.agents[&3].last_seen_ms, T0 - 1_000);
    assert_eq!(m.agents[&3].heard_mono_ms, 50_000);
    assert_eq!(m.agents[&3].clock_skew_ms, -1_000);
}

#[test]
fn before_catch_up_records_count_as_replayed() {
    let fleet = Fleet::new();
    let model = fleet.register("known", &WindowConfig::default());
    let ingest = Ingest::new(fleet);
    let now = Now {
        wall_ms: T0,
        mono_ms: 2_000,
    };
    // Produced 15 minutes ago, read during the replay after a master restart.
    let old = T0 - 900_000;
    let rec = codec::encode(&heartbeat("known", 3, old));
    ingest.handle_at(Some(&rec), Some(old as i64), now);
    assert_eq!(lock(&model).agents[&3].silent_ms(now.mono_ms), 900_000);
    // Once caught up, the same kind of record is evidence of life now.
    ingest.counters.caught_up.store(true, Ordering::Relaxed);
    let rec = codec::encode(&heartbeat("known", 3, T0));
    ingest.handle_at(Some(&rec), Some(T0 as i64), now);
    assert_eq!(lock(&model).agents[&3].silent_ms(now.mono_ms), 0);
}

#[test]
fn records_over_the_caps_are_counted() {
    let fleet = Fleet::new();
    let model = fleet.register("known", &WindowConfig::default());
    let ingest = Ingest::with_config(
        fleet,
        crate::config::IngestConfig {
            max_topics_per_record: 1,
            ..crate::config::IngestConfig::default()
        },
    );
    ingest.counters.caught_up.store(true, Ordering::Relaxed);
    let StatsRecord::Heartbeat(h) = heartbeat("known", 3, T0) else {
        unreachable!()
    };
    let full = StatsRecord::Full(FullStats {
        identity: h.identity,
        timestamp_ms: T0,
        seq: 2,
        interval_ms: 60_000,
        process: h.process,
        host: h.host,
        log_dirs: vec![],
        topics: vec!["a".into(), "b".into()],
        replicas: vec![],
        bytes_out_provenance: Provenance::Estimated,
        missing: vec![],
    });
    let now = Now {
        wall_ms: T0,
        mono_ms: 1,
    };
    assert_eq!(
        ingest.handle_at(Some(&codec::encode(&full)), None, now),
        Outcome::TooLarge
    );
    assert_eq!(ingest.counters.too_large.load(Ordering::Relaxed), 1);
    assert!(lock(&model).agents.is_empty());
}

/// A broker that cannot be reached is one event: the stats consumer's context (`rdlog`)
/// already writes its WARN line, naming the broker and librdkafka's detail, once per broker
/// per 10 minutes. The consume loop's error for it writes nothing more; other errors keep
/// their rate-limited WARN with the count suppressed.
#[test]
fn a_transport_failure_is_logged_once_by_the_context_not_again_by_the_loop() {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    let mut l = Limiter {
        last: None,
        suppressed: 0,
    };
    for code in [
        RDKafkaErrorCode::BrokerTransportFailure,
        RDKafkaErrorCode::AllBrokersDown,
    ] {
        let e = KafkaError::MessageConsumption(code);
        assert_eq!(consume_error(&mut l, &e), None, "{e}");
    }
    // Other errors: a WARN, then suppressed within the period and counted.
    let other = KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition);
    assert_eq!(consume_error(&mut l, &other), Some(0));
    assert_eq!(consume_error(&mut l, &other), None);
    l.last = Some(Instant::now() - LOG_EVERY - Duration::from_millis(1));
    assert_eq!(consume_error(&mut l, &other), Some(1));
}
